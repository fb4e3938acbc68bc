package replication

import (
	"context"
	"testing"

	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// newTestSender is a sender to a partner of this build's protocol.
func newTestSender() (*recordSender, *fakeWire) {
	w := &fakeWire{}
	return &recordSender{pc: &peerConn{hello: &transport.Hello{Major: transport.ProtocolMajor, Minor: transport.ProtocolMinor}}, epoch: 3, w: w}, w
}

// A step sends what the log has at hand in one Records frame, flushed, and
// nothing when it has nothing.
func TestSender_StepSendsWhatIsAtHand(t *testing.T) {
	s, w := newTestSender()
	lr := &fakeLog{recs: []*storage.Record{record(1, 1), record(2, 2), record(3, 1)}}
	ctx := context.Background()
	b, err := s.step(ctx, lr, false)
	if err != nil {
		t.Fatal(err)
	}
	if b.last != 3 || len(b.times) != 3 || b.times[0].t != record(1, 1).Time || b.bytes == 0 {
		t.Fatalf("batch up to %d, %d times, %d bytes", b.last, len(b.times), b.bytes)
	}
	if len(w.frames) != 1 || w.flushes != 1 {
		t.Fatalf("%d frames, %d flushes; want one of each", len(w.frames), w.flushes)
	}
	m, ok := w.frames[0].(*transport.Records)
	if !ok || m.Epoch != 3 || m.FirstLSN != 1 || m.LastLSN != 3 || len(m.Data) != b.bytes {
		t.Fatalf("frame %+v", w.frames[0])
	}
	recs, err := splitRecords(m.Data)
	if err != nil || len(recs) != 3 || recs[1].LSN != 2 || len(recs[1].Pages) != 2 {
		t.Fatalf("payload: %d records, %v", len(recs), err)
	}
	if b, err := s.step(ctx, lr, false); err != nil || b.last != 0 || len(w.frames) != 1 {
		t.Fatalf("a step with nothing at hand sent up to %d (%v), %d frames", b.last, err, len(w.frames))
	}
}

// A batch stops short of maxRecordsBatch: the record that does not fit
// starts the next step's frame.
func TestSender_StepKeepsFramesUnderTheBatchSize(t *testing.T) {
	s, w := newTestSender()
	pages := maxRecordsBatch/4096/3 - 4 // three records fill a batch, a bit short
	lr := &fakeLog{recs: []*storage.Record{record(1, pages), record(2, pages), record(3, pages), record(4, pages), record(5, pages)}}
	ctx := context.Background()
	for _, want := range [][2]int{{1, 3}, {4, 5}} {
		b, err := s.step(ctx, lr, false)
		if err != nil {
			t.Fatal(err)
		}
		m := w.frames[len(w.frames)-1].(*transport.Records)
		if int(m.FirstLSN) != want[0] || int(m.LastLSN) != want[1] || int(b.last) != want[1] || len(m.Data) > maxRecordsBatch {
			t.Fatalf("frame %d..%d (%d bytes), want %d..%d", m.FirstLSN, m.LastLSN, len(m.Data), want[0], want[1])
		}
	}
}

// A record larger than a batch goes in RecordParts that put it back
// together whole.
func TestSender_StepSendsAHugeRecordInParts(t *testing.T) {
	s, w := newTestSender()
	big := record(7, maxRecordsBatch/4096+10)
	lr := &fakeLog{recs: []*storage.Record{big, record(8, 1)}}
	b, err := s.step(context.Background(), lr, false)
	if err != nil {
		t.Fatal(err)
	}
	if b.last != 7 || len(w.frames) != 2 || w.flushes != 1 {
		t.Fatalf("sent up to %d in %d frames (%d flushes); want record 7 in 2 parts", b.last, len(w.frames), w.flushes)
	}
	var asm transport.RecordAssembler
	var whole *transport.Records
	for _, f := range w.frames {
		p, ok := f.(*transport.RecordPart)
		if !ok {
			t.Fatalf("frame %T, want RecordPart", f)
		}
		if whole, err = asm.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := splitRecords(whole.Data)
	if err != nil || len(recs) != 1 || recs[0].LSN != 7 || len(recs[0].Pages) != len(big.Pages) {
		t.Fatalf("reassembled: %v, %v", recs, err)
	}
	if b, err := s.step(context.Background(), lr, false); err != nil || b.last != 8 {
		t.Fatalf("the record after it: sent up to %d, %v", b.last, err)
	}
}
