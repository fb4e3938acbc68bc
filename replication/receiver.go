package replication

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// --- Secondary: receive, harden, acknowledge ---

// recordReceiver checks the Records batches a secondary receives: in
// order, from one primary epoch, each holding what it says. It also keeps
// the batches that come before the loop has switched receiving on, and
// puts records sent in parts back together.
//
// Owner: the connection's reader goroutine (or a test driving accept).
type recordReceiver struct {
	// stream is the replay protection.
	stream *transport.RecordStream
	// asm puts a record sent in parts back together.
	asm transport.RecordAssembler
	// early holds Records batches that arrived before this replica's
	// loop switched receiving on (right after seeding, the primary starts
	// streaming while the secondary is still taking its new role); the
	// reader hands them on, in order, once it is on.
	early      []*transport.Records
	earlyBytes int
}

// accept checks b and returns its records. hardened returns the replica's
// hardened LSN: a stream (re)starts there, at a new primary epoch.
func (r *recordReceiver) accept(b *transport.Records, hardened func() sqlink.LSN) ([]*storage.Record, error) {
	if r.stream != nil && r.stream.Epoch() != b.Epoch {
		// A new primary epoch (a role change): the stream starts again
		// from the local log.
		r.stream = nil
	}
	if r.stream == nil {
		if hard := hardened(); b.FirstLSN > hard+1 {
			return nil, sqlink.Errorf(sqlink.ECONFLICT, "", "records start at %d, after this replica's hardened LSN %d", b.FirstLSN, hard)
		}
		r.stream = transport.NewRecordStream(b.Epoch, b.FirstLSN-1)
	}
	if err := r.stream.Accept(b); err != nil {
		return nil, err
	}
	recs, err := splitRecords(b.Data)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || recs[0].LSN != b.FirstLSN || recs[len(recs)-1].LSN != b.LastLSN {
		return nil, sqlink.Errorf(sqlink.EINVALID, "", "records batch %d..%d does not hold what it says", b.FirstLSN, b.LastLSN)
	}
	return recs, nil
}

// replicaLog is the part of a secondary's database the hardener and the
// applier use (*storage.DB).
type replicaLog interface {
	// Harden appends records to the log, durably.
	Harden(ctx context.Context, recs ...*storage.Record) error
	// Apply redoes hardened records into the database.
	Apply(ctx context.Context, recs ...*storage.Record) error
	// Pos is the hardened position, Redone the redone one.
	Pos() sqlink.Pos
	Redone() sqlink.Pos
}

// hardener makes the records a secondary receives durable and says what
// to acknowledge: batches that arrive during an fsync are hardened
// together by the next one (group commit), and the reader keeps reading
// meanwhile.
//
// Owner: mu guards the queue, its epoch, running and done (the reader
// pushes, the hardener goroutine takes); wake is set before the goroutine
// starts and never changed.
type hardener struct {
	mu      sync.Mutex
	queue   []*storage.Record
	epoch   sqlink.Epoch
	running bool
	done    chan struct{} // closed when the hardener goroutine returns
	wake    chan struct{}
}

// push queues records of epoch for hardening and wakes the hardener. It
// reports whether the hardener goroutine must be started (the first push).
func (h *hardener) push(recs []*storage.Record, epoch sqlink.Epoch) (start bool) {
	h.mu.Lock()
	h.queue = append(h.queue, recs...)
	h.epoch = epoch
	start = !h.running
	if start {
		h.running = true
		h.done = make(chan struct{})
		h.wake = make(chan struct{}, 1)
	}
	wake := h.wake
	h.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
	return start
}

// doneCh returns the channel closed when the hardener goroutine returns
// (nil if it never started).
func (h *hardener) doneCh() chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.done
}

// step hardens what is queued and returns the acknowledgment to send (nil
// when nothing was queued).
func (h *hardener) step(ctx context.Context, db replicaLog, now func() time.Time) (*transport.Ack, error) {
	h.mu.Lock()
	recs, ep := h.queue, h.epoch
	h.queue = nil
	h.mu.Unlock()
	if len(recs) == 0 {
		return nil, nil
	}
	if err := db.Harden(ctx, recs...); err != nil {
		return nil, fmt.Errorf("harden records %d..%d: %w", recs[0].LSN, recs[len(recs)-1].LSN, err)
	}
	return &transport.Ack{Epoch: ep, Hardened: db.Pos().LSN, Redone: db.Redone().LSN, Time: now()}, nil
}

// receive takes a Records batch from the primary. A batch that arrives
// before this replica's loop has switched receiving on is kept (up to
// maxEarlyBytes) and handed on by drainEarly once it is on; anything else
// that does not follow the primary this replica follows is refused.
func (rt *Link) receive(pc *peerConn, b *transport.Records) error {
	rt.mu.Lock()
	on := rt.db != nil && rt.recvOn
	rt.mu.Unlock()
	if !on && pc.recv.earlyBytes+len(b.Data) <= maxEarlyBytes {
		kept := *b
		kept.Data = bytes.Clone(b.Data) // b.Data points into the frame buffer
		pc.recv.early = append(pc.recv.early, &kept)
		pc.recv.earlyBytes += len(kept.Data)
		return nil
	}
	if err := rt.drainEarly(pc); err != nil {
		return err
	}
	return rt.receiveOn(pc, b)
}

// drainEarly hands the kept early batches on once receiving is on; it is
// called by the reader for every message, so kept batches wait at most a
// heartbeat on an idle link.
func (rt *Link) drainEarly(pc *peerConn) error {
	if len(pc.recv.early) == 0 {
		return nil
	}
	rt.mu.Lock()
	on := rt.db != nil && rt.recvOn
	rt.mu.Unlock()
	if !on {
		return nil
	}
	early := pc.recv.early
	pc.recv.early, pc.recv.earlyBytes = nil, 0
	for _, b := range early {
		if err := rt.receiveOn(pc, b); err != nil {
			return err
		}
	}
	return nil
}

// receiveOn checks, hardens (in the hardener) and queues a batch for a
// replica that receives.
func (rt *Link) receiveOn(pc *peerConn, b *transport.Records) error {
	rt.mu.Lock()
	db, on, ep := rt.db, rt.recvOn, rt.recvEp
	rt.mu.Unlock()
	if db == nil || !on || b.Epoch != ep {
		return sqlink.Errorf(sqlink.ECONFLICT, "wait until the replicas agree on roles; the link reconnects by itself",
			"refused records %d..%d of epoch %d: this replica is not following a primary at that epoch", b.FirstLSN, b.LastLSN, b.Epoch)
	}
	recs, err := pc.recv.accept(b, func() sqlink.LSN { return db.Pos().LSN })
	if err != nil {
		return err
	}
	now := rt.s.cfg.Now()
	rt.mu.Lock()
	ts := make([]lsnTime, len(recs))
	for i, r := range recs {
		ts[i] = lsnTime{r.LSN, r.Time}
	}
	rt.lag.received(b.LastLSN, len(b.Data), ts, now)
	rt.mu.Unlock()
	// Harden in the connection's hardener goroutine: batches that arrive
	// during an fsync are hardened together by the next one (group
	// commit), and the reader keeps reading meanwhile.
	if pc.hard.push(recs, b.Epoch) {
		go rt.hardenLoop(pc, db)
	}
	return nil
}

// hardenLoop hardens what the reader queued and acknowledges it, until the
// connection ends (the connection's hardener goroutine).
func (rt *Link) hardenLoop(pc *peerConn, db *storage.DB) {
	h := &pc.hard
	defer close(h.doneCh())
	var lastSync time.Time // when the last fsync started
	for {
		select {
		case <-pc.ctx.Done():
			return
		case <-h.wake:
		}
		if d := lastSync.Add(rt.hardenDelay()).Sub(rt.s.cfg.Now()); d > 0 {
			// Async: nothing waits for this fsync, so there is at most one
			// per delay, and what arrives meanwhile joins it. One fsync
			// per record competed with the primary's own commits for the
			// disk. After a quiet moment the fsync comes at once.
			if !sleep(pc.ctx, d) {
				return
			}
		}
		started := rt.s.cfg.Now()
		ack, err := h.step(pc.ctx, db, rt.s.cfg.Now)
		if err != nil {
			if pc.ctx.Err() == nil {
				rt.setError(err)
				_ = pc.c.Send(pc.ctx, transport.ErrorMessageFrom(err))
				pc.close()
			}
			return
		}
		if ack == nil {
			continue // woken with nothing queued
		}
		lastSync = started
		if !rt.syncMode() && rt.applierWaiting.Load() {
			// Async, and the applier, woken by this harden, applies these
			// records at once and acknowledges both positions: one
			// acknowledgment instead of two (each costs the primary a
			// wake of its link loop), and it also wakes this replica's
			// loop once it has applied them.
			continue
		}
		if err := pc.c.Send(pc.ctx, ack); err != nil {
			pc.close()
			return
		}
		rt.wake()
	}
}
