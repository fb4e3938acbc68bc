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
