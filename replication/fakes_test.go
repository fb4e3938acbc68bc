package replication

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// Fakes of the engine's edges, for tests that drive its pieces through
// their synchronous steps: no sockets, no goroutines, no files.

// record makes a record at lsn of pages pages of 4 KiB.
func record(lsn sqlink.LSN, pages int) *storage.Record {
	r := &storage.Record{LSN: lsn, Epoch: 1, Time: t0.Add(time.Duration(lsn) * time.Millisecond), PageSize: 4096, DBSize: uint32(pages)}
	for i := 0; i < pages; i++ {
		data := make([]byte, 4096)
		data[0], data[1] = byte(lsn), byte(i)
		r.Pages = append(r.Pages, storage.Page{Pgno: uint32(i + 1), Data: data})
	}
	return r
}

// fakeLog is a log of records at hand (a recordLog).
type fakeLog struct{ recs []*storage.Record }

var errWouldWait = errors.New("fake log: Next would wait")

func (l *fakeLog) Next(ctx context.Context) (*storage.Record, error) {
	if len(l.recs) == 0 {
		return nil, errWouldWait
	}
	return l.TryNext()
}

func (l *fakeLog) TryNext() (*storage.Record, error) {
	if len(l.recs) == 0 {
		return nil, io.EOF
	}
	r := l.recs[0]
	l.recs = l.recs[1:]
	return r, nil
}

// fakeWire is a connection that keeps what is written to it (a
// frameWriter).
type fakeWire struct {
	frames  []transport.Message
	flushes int
}

func (w *fakeWire) WriteMessage(ctx context.Context, m transport.Message) error {
	w.frames = append(w.frames, m)
	return nil
}

func (w *fakeWire) Flush(ctx context.Context) error { w.flushes++; return nil }

// batch is a Records frame of recs.
func batch(epoch sqlink.Epoch, recs ...*storage.Record) *transport.Records {
	b := &transport.Records{Epoch: epoch, FirstLSN: recs[0].LSN, LastLSN: recs[len(recs)-1].LSN}
	for _, r := range recs {
		var err error
		if b.Data, err = appendRecord(b.Data, r); err != nil {
			panic(err)
		}
	}
	return b
}

// fakeReplica is a secondary's log and database (a replicaLog): hardening
// and applying keep the records.
type fakeReplica struct {
	hardened, applied []*storage.Record
	hardens, applies  int // calls
	fail              error
}

func (f *fakeReplica) Harden(ctx context.Context, recs ...*storage.Record) error {
	if f.fail != nil {
		return f.fail
	}
	f.hardens++
	f.hardened = append(f.hardened, recs...)
	return nil
}

func (f *fakeReplica) Apply(ctx context.Context, recs ...*storage.Record) error {
	if f.fail != nil {
		return f.fail
	}
	f.applies++
	f.applied = append(f.applied, recs...)
	return nil
}

func last(recs []*storage.Record) sqlink.Pos {
	if len(recs) == 0 {
		return sqlink.Pos{}
	}
	return recs[len(recs)-1].Pos()
}

func (f *fakeReplica) Pos() sqlink.Pos    { return last(f.hardened) }
func (f *fakeReplica) Redone() sqlink.Pos { return last(f.applied) }

// fakeSnapshot is a snapshot of pages pages of ps bytes (a pageSource);
// page n's bytes are all n.
type fakeSnapshot struct {
	ps    int64
	pages int64
	reads int
}

func (f *fakeSnapshot) ReadPages(ctx context.Context, from uint32, n int) ([]storage.Page, error) {
	f.reads++
	var out []storage.Page
	for pg := int64(from); pg < int64(from)+int64(n) && pg <= f.pages; pg++ {
		data := make([]byte, f.ps)
		for i := range data {
			data[i] = byte(pg)
		}
		out = append(out, storage.Page{Pgno: uint32(pg), Data: data})
	}
	return out, nil
}
