package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// The applier redoes a secondary's hardened log into its database: a
// goroutine per secondary role (Link.applierStop, applierDone: the loop's),
// which tells the loop it waits for more through Link.applierWaiting.

// startApplier applies hardened records to a secondary's database, merging
// records into one transaction when it is behind.
func (rt *Link) startApplier(db *storage.DB) {
	rt.stopApplier()
	ctx, cancel := context.WithCancel(rt.ctx)
	done := make(chan struct{})
	rt.applierStop, rt.applierDone = cancel, done
	go func() {
		defer close(done)
		var wait time.Duration
		for ctx.Err() == nil {
			err := rt.applyLoop(ctx, db)
			if ctx.Err() != nil {
				return
			}
			// A record of its own log damaged on disk: the copy cannot
			// go on from it (marked diverged, so reseeded).
			err = db.LogCorrupt(err)
			rt.setError(fmt.Errorf("apply replicated records: %w", err))
			if errors.Is(err, storage.ErrDiverged) {
				// Nothing more applies to this copy: the loop reseeds
				// it, which first stops this applier (so it is posted,
				// not waited for).
				why := sqlink.ErrorMessage(err)
				if d := db.Diverged(); d != nil {
					why = d.Why
				}
				select {
				case rt.events <- func() { rt.reseedDiverged(why) }:
				case <-ctx.Done():
				}
				return
			}
			wait = backoff(wait, maxReconnectDelay)
			if !sleep(ctx, wait) {
				return
			}
		}
	}()
}

func (rt *Link) stopApplier() {
	if rt.applierStop == nil {
		return
	}
	rt.applierStop()
	<-rt.applierDone
	rt.applierStop, rt.applierDone = nil, nil
}

func (rt *Link) applyLoop(ctx context.Context, db *storage.DB) error {
	lr, err := db.ReadLog(ctx, db.Redone().LSN)
	if err != nil {
		return err
	}
	defer func() { lr.Close() }()
	var aw ackWriter
	defer aw.close()
	for {
		notify := db.Notify()
		n, size, err := applyStep(ctx, db, lr)
		if n == 0 && err == nil {
			rt.applierWaiting.Store(true)
			select {
			case <-notify:
				rt.applierWaiting.Store(false)
				continue
			case <-ctx.Done():
				rt.applierWaiting.Store(false)
				return ctx.Err()
			}
		}
		if errors.Is(err, storage.ErrApplyHeld) {
			// Stopped at the LSN of a digest being taken (link verify):
			// acknowledge what was applied, wait for the digest's
			// snapshot, then read on from the redone position.
			rt.afterApply(ctx, &aw, db, 0)
			if _, done, until := db.ApplyHold(); done != nil {
				t := time.NewTimer(until.Sub(rt.s.cfg.Now()))
				select {
				case <-done:
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				}
				t.Stop()
			}
			lr.Close()
			if lr, err = db.ReadLog(ctx, db.Redone().LSN); err != nil {
				return err
			}
			continue
		} else if errors.Is(err, storage.ErrWaitForLog) {
			// A seed from several snapshots: wait for the log to reach the
			// last one, then read again from the redone position.
			select {
			case <-notify:
			case <-ctx.Done():
				return ctx.Err()
			}
			lr.Close()
			if lr, err = db.ReadLog(ctx, db.Redone().LSN); err != nil {
				return err
			}
			continue
		} else if err != nil {
			return err
		}
		rt.afterApply(ctx, &aw, db, size)
	}
}

// afterApply records an apply of size bytes and acknowledges the redone
// position through aw (the applier's; ctx is the applier's).
func (rt *Link) afterApply(ctx context.Context, aw *ackWriter, db *storage.DB, size int) {
	red := db.Redone().LSN
	now := rt.s.cfg.Now()
	rt.mu.Lock()
	rt.lag.redone(size, now)
	pc := rt.conn
	rt.mu.Unlock()
	hard, hardAt := db.Hardened()
	var ago time.Duration // unknown (hardened before a restart): as a 1.0 Ack
	if !hardAt.IsZero() {
		ago = max(0, now.Sub(hardAt))
	}
	if pc != nil {
		// This acknowledgment may be the only one for these records
		// (see hardenLoop): it says how long ago they were hardened,
		// so the primary's harden lag is the fsync's, not the apply's.
		// Written here, as the hardener writes its own: queued for the
		// connection's writer it waited for that goroutine's wake, a
		// hand-off that was most of the ack's way back to the primary
		// (0.12 ms p50, 1.2 ms p99 at 4 clients, against 0.04 ms from
		// the primary's sender to the secondary's reader).
		aw.send(ctx, pc, &transport.Ack{Epoch: db.Epoch(), Hardened: hard.LSN, Redone: red, Time: now, HardenedAgo: ago})
	}
	rt.wake()
}

// ackWriter writes the applier's acknowledgments on the connection
// itself. Its write ends when the connection or the applier does, so a
// stop of the applier (which the loop waits for) never waits on a
// partner that stopped reading. Owner: the applier goroutine.
type ackWriter struct {
	pc     *peerConn
	ctx    context.Context
	cancel context.CancelFunc
	stop   func() bool
}

// send writes m to pc and flushes it; a failed write ends the connection
// (the link reconnects).
func (w *ackWriter) send(ctx context.Context, pc *peerConn, m transport.Message) {
	if w.pc != pc {
		w.close()
		w.pc = pc
		w.ctx, w.cancel = context.WithCancel(ctx)
		w.stop = context.AfterFunc(pc.ctx, w.cancel)
	}
	if err := pc.c.Send(w.ctx, m); err != nil {
		pc.close()
	}
}

func (w *ackWriter) close() {
	if w.cancel != nil {
		w.stop()
		w.cancel()
	}
	*w = ackWriter{}
}

// applyLog is the hardened log an applier reads (*storage.LogReader).
type applyLog interface {
	TryNext() (*storage.Record, error)
}

// applyStep redoes the records lr has at hand, up to maxApplyBatch bytes,
// in one transaction, and returns how many and their size (none: nothing
// was at hand).
func applyStep(ctx context.Context, db replicaLog, lr applyLog) (n, size int, err error) {
	batch, size, err := readApplyBatch(lr)
	if err != nil || len(batch) == 0 {
		return 0, 0, err
	}
	return len(batch), size, db.Apply(ctx, batch...)
}

// readApplyBatch reads the records lr has at hand, up to maxApplyBatch
// bytes, and their size.
func readApplyBatch(lr applyLog) ([]*storage.Record, int, error) {
	var batch []*storage.Record
	size := 0
	for size < maxApplyBatch {
		rec, err := lr.TryNext()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		batch = append(batch, rec)
		size += rec.Size()
	}
	return batch, size, nil
}
