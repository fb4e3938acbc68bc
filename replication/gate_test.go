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
	g.open() // a stopped link lets its waiters go
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
