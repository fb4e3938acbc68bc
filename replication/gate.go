package replication

import (
	"context"
	"sync"

	"github.com/sqlink/sqlink"
)

// commitGate holds the commits of a sync primary's sessions until the
// secondary has hardened them: a session's commit at LSN n returns once
// the gate's commit LSN reaches n, or the gate stops waiting (an async
// link, a secondary marked disconnected, a dropped link), or fails when the
// gate is shut (the instance is stopping).
//
// Owner: its own mutex; the loop sets it (applySoft), session goroutines
// wait on it (EndWrite), nothing else touches it.
type commitGate struct {
	mu     sync.Mutex
	commit sqlink.LSN
	ch     chan struct{} // closed at every change
	wait   bool
	closed error // shut: every commit that would wait fails with it
}

func newCommitGate() *commitGate { return &commitGate{ch: make(chan struct{})} }

// set makes commits wait (wait) until commit reaches them, waking the
// waiters when anything changed.
func (g *commitGate) set(commit sqlink.LSN, wait bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if commit != g.commit || wait != g.wait {
		g.commit, g.wait = commit, wait
		g.changed()
	}
}

// open lets every commit through, waking the waiters (a dropped link: the
// database is independent now). A shut gate stays shut.
func (g *commitGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed != nil {
		return
	}
	g.wait = false
	g.changed()
}

// shut fails every commit that waits for the secondary, now and later,
// with err (the instance is stopping: nobody will confirm them, and the
// partner may take over without them). Commits the secondary holds, and
// those of an async link, go through.
func (g *commitGate) shut(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = err
	g.changed()
}

// stopWaiting lets new commits through without waking the waiters, which
// go on at the next change (a reseed).
func (g *commitGate) stopWaiting() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.wait = false
}

func (g *commitGate) changed() {
	close(g.ch)
	g.ch = make(chan struct{})
}

// waitFor blocks a commit at lsn until the gate lets it through or ctx
// ends.
func (g *commitGate) waitFor(ctx context.Context, lsn sqlink.LSN) error {
	for {
		g.mu.Lock()
		c, ch, wait, closed := g.commit, g.ch, g.wait, g.closed
		g.mu.Unlock()
		if !wait || c >= lsn {
			return nil
		}
		if closed != nil {
			return closed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
