package replication

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// appendRecord appends rec, length-prefixed, to a Records payload.
func appendRecord(b []byte, rec *storage.Record) ([]byte, error) {
	n := len(b)
	b = append(b, 0, 0, 0, 0)
	b, err := rec.AppendBinary(b)
	if err != nil {
		return b[:n], err
	}
	binary.BigEndian.PutUint32(b[n:], uint32(len(b)-n-4))
	return b, nil
}

// splitRecords decodes a Records payload.
func splitRecords(b []byte) ([]*storage.Record, error) {
	var out []*storage.Record
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, sqlink.Errorf(sqlink.EINVALID, "", "records payload truncated")
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, sqlink.Errorf(sqlink.EINVALID, "", "records payload truncated")
		}
		rec := new(storage.Record)
		if err := rec.UnmarshalBinary(b[4 : 4+n]); err != nil {
			return nil, err
		}
		out = append(out, rec)
		b = b[4+n:]
	}
	return out, nil
}

// --- Secondary: harden, acknowledge, apply ---

// maxEarlyBytes bounds the Records kept while receiving is not on yet.
const maxEarlyBytes = 16 << 20

// receive takes a Records batch from the primary. A batch that arrives
// before this replica's loop has switched receiving on is kept (up to
// maxEarlyBytes) and handed on by drainEarly once it is on; anything else
// that does not follow the primary this replica follows is refused.
func (rt *Link) receive(pc *peerConn, b *transport.Records) error {
	rt.mu.Lock()
	on := rt.db != nil && rt.recvOn
	rt.mu.Unlock()
	if !on && pc.earlyBytes+len(b.Data) <= maxEarlyBytes {
		kept := *b
		kept.Data = bytes.Clone(b.Data) // b.Data points into the frame buffer
		pc.early = append(pc.early, &kept)
		pc.earlyBytes += len(kept.Data)
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
	if len(pc.early) == 0 {
		return nil
	}
	rt.mu.Lock()
	on := rt.db != nil && rt.recvOn
	rt.mu.Unlock()
	if !on {
		return nil
	}
	early := pc.early
	pc.early, pc.earlyBytes = nil, 0
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
	if pc.stream != nil && pc.stream.Epoch() != b.Epoch {
		// A new primary epoch (a role change): the stream starts again
		// from the local log.
		pc.stream = nil
	}
	if pc.stream == nil {
		hard := db.Pos().LSN
		if b.FirstLSN > hard+1 {
			return sqlink.Errorf(sqlink.ECONFLICT, "", "records start at %d, after this replica's hardened LSN %d", b.FirstLSN, hard)
		}
		pc.stream = transport.NewRecordStream(b.Epoch, b.FirstLSN-1)
	}
	if err := pc.stream.Accept(b); err != nil {
		return err
	}
	recs, err := splitRecords(b.Data)
	if err != nil {
		return err
	}
	if len(recs) == 0 || recs[0].LSN != b.FirstLSN || recs[len(recs)-1].LSN != b.LastLSN {
		return sqlink.Errorf(sqlink.EINVALID, "", "records batch %d..%d does not hold what it says", b.FirstLSN, b.LastLSN)
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
	pc.mu.Lock()
	pc.hq = append(pc.hq, recs...)
	pc.hqEpoch = b.Epoch
	start := !pc.hardening
	pc.hardening = true
	if start {
		pc.hdone = make(chan struct{})
	}
	pc.mu.Unlock()
	if start {
		pc.hwake = make(chan struct{}, 1)
		go rt.hardenLoop(pc, db)
	}
	select {
	case pc.hwake <- struct{}{}:
	default:
	}
	return nil
}

// hardenLoop hardens what the reader queued and acknowledges it, until the
// connection ends.
func (rt *Link) hardenLoop(pc *peerConn, db *storage.DB) {
	pc.mu.Lock()
	done := pc.hdone
	pc.mu.Unlock()
	defer close(done)
	var lastSync time.Time // when the last fsync started
	for {
		select {
		case <-pc.ctx.Done():
			return
		case <-pc.hwake:
		}
		if d := time.Until(lastSync.Add(rt.hardenDelay())); d > 0 {
			// Async: nothing waits for this fsync, so there is at most one
			// per delay, and what arrives meanwhile joins it. One fsync
			// per record competed with the primary's own commits for the
			// disk. After a quiet moment the fsync comes at once.
			if !sleep(pc.ctx, d) {
				return
			}
		}
		pc.mu.Lock()
		recs, ep := pc.hq, pc.hqEpoch
		pc.hq = nil
		pc.mu.Unlock()
		if len(recs) == 0 {
			continue
		}
		lastSync = time.Now()
		if err := db.Harden(pc.ctx, recs...); err != nil {
			if pc.ctx.Err() == nil {
				rt.setError(fmt.Errorf("harden records %d..%d: %w", recs[0].LSN, recs[len(recs)-1].LSN, err))
				_ = pc.c.Send(pc.ctx, transport.ErrorMessageFrom(err))
				pc.close()
			}
			return
		}
		now := rt.s.cfg.Now()
		hard := db.Pos().LSN
		if !rt.syncMode() && rt.applierWaiting.Load() {
			// Async, and the applier, woken by this harden, applies these
			// records at once and acknowledges both positions: one
			// acknowledgment instead of two (each costs the primary a
			// wake of its link loop), and it also wakes this replica's
			// loop once it has applied them.
			continue
		}
		if err := pc.c.Send(pc.ctx, &transport.Ack{Epoch: ep, Hardened: hard, Redone: db.Redone().LSN, Time: now}); err != nil {
			pc.close()
			return
		}
		rt.wake()
	}
}

// syncMode says whether the primary waits for this replica's hardened
// acknowledgments before its commits return.
func (rt *Link) syncMode() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.rec.Mode != sqlink.ModeAsync
}

// hardenDelay returns how long the hardener gathers records before an
// fsync: the configured delay for an async link, none for a sync one.
func (rt *Link) hardenDelay() time.Duration {
	if rt.syncMode() {
		return 0
	}
	return rt.s.cfg.LinkHardenDelay
}

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
	for {
		notify := db.Notify()
		batch, size, err := readApplyBatch(lr)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
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
		if err := db.Apply(ctx, batch...); errors.Is(err, storage.ErrApplyHeld) {
			// Stopped at the LSN of a digest being taken (link verify):
			// acknowledge what was applied, wait for the digest's
			// snapshot, then read on from the redone position.
			rt.afterApply(db, 0)
			if _, done, until := db.ApplyHold(); done != nil {
				t := time.NewTimer(time.Until(until))
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
		rt.afterApply(db, size)
	}
}

// afterApply records an apply of size bytes and acknowledges the redone
// position.
func (rt *Link) afterApply(db *storage.DB, size int) {
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
		pc.send(&transport.Ack{Epoch: db.Epoch(), Hardened: hard.LSN, Redone: red, Time: now, HardenedAgo: ago})
	}
	rt.wake()
}

// readApplyBatch reads the records lr has at hand, up to maxApplyBatch
// bytes, and their size.
func readApplyBatch(lr *storage.LogReader) ([]*storage.Record, int, error) {
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

// checkCatchup brings a seeded secondary ONLINE once it has redone up to
// the seed's position (on the loop).
func (rt *Link) checkCatchup() {
	rt.mu.Lock()
	db, phase, seedPos := rt.db, rt.data.Phase, rt.data.SeedPos
	rt.mu.Unlock()
	if phase != phaseCatchup || db == nil || db.Redone().LSN < seedPos.LSN {
		return
	}
	ctx := context.WithoutCancel(rt.ctx)
	if err := rt.s.cat.SetDatabaseState(ctx, rt.database(), sqlink.DatabaseOnline); err != nil {
		rt.setError(err)
		return
	}
	rt.s.failpoint(fpSeedOnline)
	rt.s.host.RegisterDatabase(rt.database(), db)
	if err := rt.markOnline(); err != nil {
		rt.setError(err)
	}
	rt.log.Info("secondary online", "redone", db.Redone().LSN)
	rt.mu.Lock()
	pc := rt.conn
	rt.mu.Unlock()
	if pc != nil {
		// The primary's view of this replica said RESTORING until the
		// next tick's status: tell it now.
		pc.control(cmdStatus, partnerStatusOf(rt.localStatus()))
	}
}

// markOnline ends a seeded secondary's catch-up: its database, now the
// server's (ONLINE in the catalog), is no longer the link's own; the
// phase is saved.
func (rt *Link) markOnline() error {
	rt.mu.Lock()
	rt.ownsDB = false
	rt.data.Phase = phaseOnline
	rt.seed.state = seedCompleted
	rt.mu.Unlock()
	return rt.save()
}

// --- Primary: log retention ---

// startFloor keeps the log the secondary may still need.
func (rt *Link) startFloor() {
	rt.floorStarted = true
	rt.mu.Lock()
	db, floor, reseed := rt.db, rt.data.FloorLSN, rt.data.ReseedRequired
	rt.mu.Unlock()
	if db == nil {
		return
	}
	db.SetRetentionFloor(floor, !reseed)
}

// checkRetention moves the retention floor up to what the secondary has
// hardened and marks the link RESEED_REQUIRED when the log kept for it
// passes the cap (on the loop).
func (rt *Link) checkRetention() {
	if rt.r == nil {
		return
	}
	hs := rt.r.HardState()
	rt.mu.Lock()
	db, reseed, floor := rt.db, rt.data.ReseedRequired, rt.data.FloorLSN
	ack := rt.lag.ackHardened
	seeding := rt.seed.active
	rt.mu.Unlock()
	if db == nil || hs.Role != sqlink.RolePrimary || hs.Dropped || reseed {
		return
	}
	st := rt.r.Status()
	partner := ack
	if st.PartnerRole == sqlink.RoleSecondary && st.PartnerLSN > partner {
		partner = st.PartnerLSN
	}
	if !seeding && partner > floor {
		floor = partner
		db.SetRetentionFloor(floor, true)
		rt.mu.Lock()
		rt.data.FloorLSN = floor
		rt.mu.Unlock()
		if now := rt.s.cfg.Now(); now.Sub(rt.floorSaved) > 5*time.Second {
			rt.floorSaved = now
			if err := rt.save(); err != nil {
				rt.setError(err)
			}
		}
	}
	if q := rt.queueBytes(db, floor); q > rt.s.cfg.LinkLogCapBytes {
		rt.markReseed(fmt.Sprintf("the log kept for the secondary (%d bytes) passed the cap of %d bytes", q, rt.s.cfg.LinkLogCapBytes))
	}
}

// queueBytes estimates the bytes of log after lsn.
func (rt *Link) queueBytes(db *storage.DB, lsn sqlink.LSN) int64 {
	st := db.Stats()
	if st.Pos.LSN <= lsn {
		return 0
	}
	n := st.Pos.LSN - lsn
	kept := st.Pos.LSN - st.LogFirstLSN + 1
	if st.LogFirstLSN == 0 || st.LogFirstLSN > st.Pos.LSN || kept == 0 {
		rt.mu.Lock()
		avg := rt.lag.avgRecord
		rt.mu.Unlock()
		return int64(float64(n) * avg)
	}
	return int64(float64(st.LogBytes) / float64(kept) * float64(n))
}

// markReseed gives up the log kept for the secondary (on the loop).
func (rt *Link) markReseed(why string) {
	rt.mu.Lock()
	if rt.data.ReseedRequired {
		rt.mu.Unlock()
		return
	}
	rt.data.ReseedRequired = true
	db, pc := rt.db, rt.conn
	rt.mu.Unlock()
	rt.stopSender()
	if db != nil {
		db.SetRetentionFloor(0, false)
	}
	err := sqlink.Errorf(sqlink.ECONFLICT, "the secondary reseeds by itself when it reconnects; check why it is away",
		"link %s is RESEED_REQUIRED: %s; the log was released", rt.id.name, why)
	rt.log.Error("link needs a reseed", "err", err)
	rt.setError(err)
	rt.mu.Lock()
	rt.reseedErr = rt.lastErr
	rt.mu.Unlock()
	if err := rt.save(); err != nil {
		rt.setError(err)
	}
	if pc != nil {
		pc.control(cmdReseed, struct{}{})
	}
}
