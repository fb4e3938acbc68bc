package replication

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCommitGate(t *testing.T) {
	g := newCommitGate()
	ctx := context.Background()
	if err := g.waitFor(ctx, 10); err != nil {
		t.Fatalf("an async gate held a commit: %v", err)
	}
	g.set(5, true)
	if err := g.waitFor(ctx, 5); err != nil {
		t.Fatalf("a hardened commit was held: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := g.waitFor(cctx, 6); !errors.Is(err, context.Canceled) {
		t.Fatalf("a commit past the hardened LSN: %v, want it held until its context ends", err)
	}
	done := make(chan error, 1)
	go func() { done <- g.waitFor(ctx, 7) }()
	g.set(6, true)
	g.set(7, true) // the waiter goes on once 7 is hardened
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter was not released when its LSN was hardened")
	}
	go func() { done <- g.waitFor(ctx, 100) }()
	g.open() // a dropped link lets its waiters go
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A shut gate (the instance is stopping) fails the commits the secondary
// has not confirmed, waiting or new, and does not open again; confirmed
// ones and an async link's go through.
func TestCommitGateShut(t *testing.T) {
	g := newCommitGate()
	ctx := context.Background()
	g.set(5, true)
	done := make(chan error, 1)
	go func() { done <- g.waitFor(ctx, 9) }()
	stop := errors.New("stopping")
	g.shut(stop)
	select {
	case err := <-done:
		if !errors.Is(err, stop) {
			t.Fatalf("a waiting commit after shut: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shut did not release the waiter")
	}
	if err := g.waitFor(ctx, 5); err != nil {
		t.Fatalf("a confirmed commit after shut: %v", err)
	}
	g.open()
	if err := g.waitFor(ctx, 6); !errors.Is(err, stop) {
		t.Fatalf("a new commit after shut and open: %v", err)
	}
	g.set(5, false)
	if err := g.waitFor(ctx, 7); err != nil {
		t.Fatalf("an async commit after shut: %v", err)
	}
}
