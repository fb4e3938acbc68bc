package replication

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// The receiver takes batches in order from one epoch and refuses replays,
// gaps, batches that do not hold what they say and a stream that starts
// past the hardened log; a new primary epoch starts the stream again from
// the hardened LSN.
func TestReceiver_Accept(t *testing.T) {
	at := func(lsn sqlink.LSN) func() sqlink.LSN { return func() sqlink.LSN { return lsn } }
	var r recordReceiver
	r1, r2, r3, r4, r5 := record(1, 1), record(2, 1), record(3, 1), record(4, 1), record(5, 1)
	if _, err := r.accept(batch(1, r2, r3), at(0)); sqlink.ErrorCode(err) != sqlink.ECONFLICT {
		t.Fatalf("a stream starting past the hardened log: %v", err)
	}
	recs, err := r.accept(batch(1, r1, r2), at(0))
	if err != nil || len(recs) != 2 || recs[1].LSN != 2 || len(recs[1].Pages) != 1 {
		t.Fatalf("first batch: %v, %v", recs, err)
	}
	for name, b := range map[string]*transport.Records{
		"a replay": batch(1, r2, r3),
		"a gap":    batch(1, r4),
	} {
		if _, err := r.accept(b, at(2)); err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
	if recs, err := r.accept(batch(1, r3), at(2)); err != nil || recs[0].LSN != 3 {
		t.Fatalf("the next batch: %v, %v", recs, err)
	}
	// A new primary at epoch 2 resends from the hardened LSN, 3.
	if _, err := r.accept(batch(2, r5), at(3)); err == nil {
		t.Fatal("a new epoch's stream with a gap after the hardened log was accepted")
	}
	if recs, err := r.accept(batch(2, r4, r5), at(3)); err != nil || len(recs) != 2 {
		t.Fatalf("a new epoch's stream: %v, %v", recs, err)
	}
	// A batch that does not hold what it says (an error ends the
	// connection, and the stream with it).
	var fresh recordReceiver
	if _, err := fresh.accept(&transport.Records{Epoch: 1, FirstLSN: 1, LastLSN: 2, Data: batch(1, r1).Data}, at(0)); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("a batch with a false range: %v", err)
	}
}

// Batches pushed while the hardener works are hardened together by its
// next step, which says what to acknowledge.
func TestHardener_StepHardensWhatWasPushed(t *testing.T) {
	var h hardener
	db := &fakeReplica{}
	if !h.push([]*storage.Record{record(1, 1), record(2, 1)}, 4) {
		t.Fatal("the first push did not ask for the hardener to start")
	}
	if h.push([]*storage.Record{record(3, 1)}, 4) {
		t.Fatal("a second push asked for a second hardener")
	}
	ack, err := h.step(context.Background(), db, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	if db.hardens != 1 || len(db.hardened) != 3 {
		t.Fatalf("%d fsyncs for %d records; want one for 3", db.hardens, len(db.hardened))
	}
	if ack == nil || ack.Epoch != 4 || ack.Hardened != 3 || ack.Redone != 0 || !ack.Time.Equal(t0) {
		t.Fatalf("ack %+v", ack)
	}
	if ack, err := h.step(context.Background(), db, func() time.Time { return t0 }); ack != nil || err != nil || db.hardens != 1 {
		t.Fatalf("a step with nothing queued: ack %+v, %v, %d fsyncs", ack, err, db.hardens)
	}
	boom := errors.New("disk full")
	db.fail = boom
	h.push([]*storage.Record{record(4, 1)}, 4)
	if _, err := h.step(context.Background(), db, func() time.Time { return t0 }); !errors.Is(err, boom) {
		t.Fatalf("a failed fsync: %v", err)
	}
}

// The applier redoes what is hardened in one transaction per step.
func TestApplier_StepRedoesWhatIsAtHand(t *testing.T) {
	db := &fakeReplica{}
	lr := &fakeLog{recs: []*storage.Record{record(1, 1), record(2, 3), record(3, 1)}}
	n, size, err := applyStep(context.Background(), db, lr)
	if err != nil || n != 3 || db.applies != 1 || db.Redone().LSN != 3 {
		t.Fatalf("applied %d records in %d transactions (%v), redone %d", n, db.applies, err, db.Redone().LSN)
	}
	if want := record(1, 1).Size() + record(2, 3).Size() + record(3, 1).Size(); size != want {
		t.Fatalf("size %d, want %d", size, want)
	}
	if n, _, err := applyStep(context.Background(), db, lr); n != 0 || err != nil || db.applies != 1 {
		t.Fatalf("a step with nothing hardened applied %d (%v)", n, err)
	}
}
