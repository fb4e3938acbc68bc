package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
)

// A hold at LSN L stops Apply exactly at L (a merged batch across L is
// applied up to L only), readers then see the database at L, and after the
// release (or the deadline) Apply goes on.
func TestApplyHold_StopsAtTheLSN(t *testing.T) {
	ctx := context.Background()
	p, s := mustOpenPair(t)
	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	for i := 0; i < 9; i++ {
		mustExecWrite(t, p, "INSERT INTO t(v) VALUES ('x')")
	}
	recs := readRecords(t, p, 0)
	if err := s.Harden(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if s.HoldApply(5, time.Now().Add(time.Minute)) != true {
		t.Fatal("hold at 5 refused on a copy at 0")
	}
	if err := s.Apply(ctx, recs...); !errors.Is(err, storage.ErrApplyHeld) {
		t.Fatalf("apply across the hold: %v", err)
	}
	if got := s.Redone().LSN; got != 5 {
		t.Fatalf("redone %d, want 5", got)
	}
	if err := s.Apply(ctx, recs[5:]...); !errors.Is(err, storage.ErrApplyHeld) || s.Redone().LSN != 5 {
		t.Fatalf("apply at the hold: %v, redone %d", err, s.Redone().LSN)
	}
	snap, err := s.OpenSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Pos.LSN != 5 {
		t.Fatalf("snapshot at %d, want 5", snap.Pos.LSN)
	}
	s.ReleaseApply(5)
	if err := s.Apply(ctx, recs[5:]...); err != nil || s.Redone() != p.Pos() {
		t.Fatalf("apply after the release: %v, redone %v, primary %v", err, s.Redone(), p.Pos())
	}
	snap.Close()
	if s.HoldApply(3, time.Now().Add(time.Minute)) {
		t.Fatal("hold at 3 accepted on a copy at 10")
	}
	mustComparePages(t, p.Path(), s.Path())

	// A hold nobody releases ends at its deadline.
	mustExecWrite(t, p, "INSERT INTO t(v) VALUES ('y')")
	last := p.Pos().LSN
	rec := readRecords(t, p, last-1)[0]
	if err := s.Harden(ctx, rec); err != nil {
		t.Fatal(err)
	}
	s.HoldApply(last-1, time.Now().Add(50*time.Millisecond))
	if err := s.Apply(ctx, rec); !errors.Is(err, storage.ErrApplyHeld) {
		t.Fatalf("apply past a fresh hold: %v", err)
	}
	_, done, _ := s.ApplyHold()
	select {
	case <-done:
		t.Fatal("hold ended before its deadline")
	default:
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if lsn, _, _ := s.ApplyHold(); lsn == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hold did not end at its deadline")
		}
		<-time.After(10 * time.Millisecond)
	}
	if err := s.Apply(ctx, rec); err != nil || s.Redone().LSN != sqlink.LSN(last) {
		t.Fatalf("apply after the deadline: %v, redone %d", err, s.Redone().LSN)
	}
}
