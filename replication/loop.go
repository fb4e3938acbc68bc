package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

func (rt *Link) loop() {
	defer rt.wg.Done()
	defer func() {
		rt.mu.Lock()
		pc := rt.conn
		rt.conn = nil
		rt.mu.Unlock()
		if pc != nil {
			pc.close()
		}
		rt.stopSender()
	}()
	t := time.NewTicker(rt.s.cfg.LinkTick)
	defer t.Stop()
	notify := rt.commitNotify()
	rt.process()
	for {
		select {
		case <-rt.ctx.Done():
			return
		case fn := <-rt.events:
			rt.syncLocal()
			rt.process()
			fn()
		case <-rt.kick:
		case <-notify:
		case <-t.C:
			rt.onTick()
		}
		// Taken before syncLocal reads the position: a commit after that
		// read closes this channel.
		notify = rt.commitNotify()
		rt.syncLocal()
		rt.process()
	}
}

// commitNotify returns the channel the database closes at its next
// commit when the loop should wake for it, else nil. An async primary that
// is streaming does not wake per commit: the records go out on the
// sender's goroutine and each acknowledgment (one per group the secondary
// hardens) wakes the loop, which then steps every commit made since; the
// tick does when no acknowledgment comes. A wake per commit cost the
// primary a goroutine hand-off and a pass of the state machine per
// transaction (about 4 % of its CPU at one client, by profile). A sync link
// (commits wait on the loop), a primary without a partner connected and a
// link in a failover wake per commit.
func (rt *Link) commitNotify() <-chan struct{} {
	rt.mu.Lock()
	db, op := rt.db, rt.status.Op.Active()
	receiving := rt.recvOn && rt.conn != nil && rt.data.Phase == phaseOnline
	rt.mu.Unlock()
	if db == nil || rt.r == nil {
		return nil
	}
	if op {
		return db.Notify()
	}
	if rt.sender != nil && !rt.syncMode() {
		return nil
	}
	if receiving {
		// A secondary streaming: the hardener (after its acknowledgment)
		// or the applier (after applying) wakes the loop for every
		// group, so a wake at the log's append as well is one too many.
		return nil
	}
	return db.Notify()
}

// syncLocal steps what storage and the partner's acks did since the last
// look: commits (primary), hardened and applied records (secondary).
func (rt *Link) syncLocal() {
	r := rt.r
	if r == nil {
		rt.checkCatchup()
		return
	}
	rt.mu.Lock()
	db, ack, ackEp := rt.db, rt.lag.ackHardened, rt.partnerMsg
	rt.mu.Unlock()
	if db == nil {
		return
	}
	hs := r.HardState()
	pos := db.Pos().LSN
	switch hs.Role {
	case sqlink.RolePrimary:
		if ro, _ := db.ReadOnly(); !ro && pos > hs.Hardened && !hs.Dropped {
			if err := r.Step(link.Message{Type: link.MsgCommitted, LSN: pos}); err != nil {
				rt.log.Debug("step committed", "err", err)
			}
		}
		if ack > rt.stepped.ack && ackEp != nil {
			m := *ackEp
			m.Type = link.MsgHeartbeat
			m.LSN = ack
			rt.stepped.ack = ack
			if err := r.Step(m); err != nil {
				rt.log.Debug("step ack", "err", err)
			}
		}
	case sqlink.RoleSecondary:
		if pos > rt.stepped.hardened {
			if err := r.Step(link.Message{Type: link.MsgHardened, LSN: pos}); err == nil {
				rt.stepped.hardened = pos
			}
		}
		if red := db.Redone().LSN; red > rt.stepped.applied && red <= rt.stepped.hardened {
			if err := r.Step(link.Message{Type: link.MsgApplied, LSN: red}); err == nil {
				rt.stepped.applied = red
			}
		}
		rt.checkCatchup()
	}
}

// process runs the Ready loop: persist, send, apply, publish, Advance.
func (rt *Link) process() {
	r := rt.r
	if r == nil || rt.drain != nil {
		// A drain in progress holds its Ready: the rest waits for it.
		return
	}
	for r.HasReady() {
		rd := r.Ready()
		if rd.HardState != nil && rt.mustPersist(rd.HardState) {
			// The catalog write (an fsync) stays on the loop: link/doc.go
			// wants the HardState durable before rd's messages go out and
			// its soft state is applied, so a worker would only hold this
			// Ready as a drain does while the loop waits for it anyway.
			// It is rare (a role, epoch, mode or history change: the
			// hardened LSN alone is never written, the storage log
			// recovers it) and short (one small SQLite transaction). The
			// long blocking work, the failover drain, has its worker.
			prev := rt.persisted
			if err := rt.persistState(rd.HardState); err != nil {
				// Nothing may be sent or applied before the state is
				// durable: try again at the next event.
				rt.setError(fmt.Errorf("persist link state: %w", err))
				return
			}
			rt.afterPersist(prev, rd.HardState)
			rt.afterLeasePersist(prev, rd.HardState)
		}
		rt.leaseRequests(rd)
		rt.mu.Lock()
		pc := rt.conn
		rt.mu.Unlock()
		for i := range rd.Messages {
			m := rd.Messages[i]
			// The state machine queues a heartbeat at every commit or
			// harden; between ticks only those that change the role state
			// go out (positions travel in Records and Acks).
			skip := m.Type == link.MsgHeartbeat && !rt.heartbeatDue && rt.lastSelfMsg != nil &&
				rt.lastSelfMsg.Version == m.Version && rt.lastSelfMsg.Epoch == m.Epoch && rt.lastSelfMsg.Role == m.Role
			rt.lastSelfMsg = &m
			if pc != nil && !skip {
				pc.control(cmdLink, m)
			}
		}
		rt.heartbeatDue = false
		// The status first: a commit the soft state releases (a sync wait
		// that ended) then finds the link's status already saying why.
		if rd.Status != nil {
			rt.mu.Lock()
			prevErr := rt.status.LastError
			rt.status = *rd.Status
			rt.mu.Unlock()
			if e := rd.Status.LastError; e != "" && e != prevErr {
				// A refused or cancelled operation: show it as the link's
				// last error here and, through the status, on the partner.
				rt.setError(sqlink.Errorf(sqlink.ECONFLICT, "check the link's status on both instances", "%s", rt.named(errors.New(rt.names(e))).Error()))
			}
		}
		rt.afterLeaseSoft(rd)
		if rt.applySoft(rd) {
			return // a drain began: drained finishes rd
		}
		if !rt.finishReady(rd) {
			return
		}
	}
}

// finishReady ends the processing of rd once its soft state is applied:
// it publishes the status and history and advances the replica. It
// reports false when the replica is being replaced (a rewind).
func (rt *Link) finishReady(rd link.Ready) bool {
	r := rt.r
	if rd.Status != nil {
		rt.changed()
	}
	hs := r.HardState()
	rt.mu.Lock()
	rt.history = slices.Clone(hs.History)
	rt.mu.Unlock()
	r.Advance(rd)
	if rd.Rewind != nil && !rt.rewindTried {
		// Save the diverged transactions, then reseed: the replica is
		// replaced.
		rt.rewindTried = true
		rt.rewind(*rd.Rewind)
		return false
	}
	return true
}

// mustPersist reports whether hs differs from the persisted state in more
// than the hardened LSN, which the storage log recovers by itself.
func (rt *Link) mustPersist(hs *link.HardState) bool {
	if rt.persisted == nil {
		return true
	}
	a, b := hs.Clone(), rt.persisted.Clone()
	a.Hardened, b.Hardened = 0, 0
	if len(a.History) == 0 && len(b.History) == 0 {
		a.History, b.History = nil, nil
	}
	return !reflect.DeepEqual(a, b)
}

func (rt *Link) persistState(hs *link.HardState) error {
	h := hs.Clone()
	rt.mu.Lock()
	rt.data.State = &h
	rt.rec.Role, rt.rec.Epoch, rt.rec.Mode, rt.rec.TwoWay = h.Role, h.Epoch, h.Mode, h.TwoWay
	if h.Role != sqlink.RolePrimary && rt.data.ReseedRequired {
		// RESEED_REQUIRED says this replica, as primary, released the log
		// its secondary needed; as a secondary it has nothing to keep.
		rt.data.ReseedRequired = false
		rt.reseedErr = nil
	}
	rt.mu.Unlock()
	if err := rt.save(); err != nil {
		return err
	}
	rt.persisted = &h
	return nil
}

// save writes the link's catalog record (durable on return). Saves are
// serialized (saveMu): each writes the record as it read it, so they land
// in the order they read.
func (rt *Link) save() error {
	rt.saveMu.Lock()
	defer rt.saveMu.Unlock()
	rt.mu.Lock()
	rec := rt.rec
	rec.UpdatedAt = time.Time{}
	rec.State = rt.stateLocked()
	b, err := json.Marshal(rt.data)
	rt.mu.Unlock()
	if err != nil {
		return err
	}
	rec.Data = b
	return rt.s.cat.PutLink(context.WithoutCancel(rt.ctx), rec)
}

// applySoft makes the database and the data path match rd's soft state.
// Stopping writes (which waits for the transaction in flight, up to
// FailoverDrainTimeout) runs on a worker: applySoft then returns true and
// the rest of rd's processing waits for drained, while the loop goes on
// stepping events (the replica is not advanced, so it still counts the
// database as writable and takes the commits that make it in).
func (rt *Link) applySoft(rd link.Ready) (draining bool) {
	soft := rd.SoftState
	hs := rt.r.HardState()
	rt.mu.Lock()
	db := rt.db
	rt.mu.Unlock()
	if db != nil && !soft.Dropped {
		if hs.Role == sqlink.RolePrimary && rt.applierStop != nil {
			// Stop redoing before the database takes writes.
			rt.stopApplier()
			rt.floorStarted = false
		}
		ro, _ := db.ReadOnly()
		switch {
		case soft.Writable && ro:
			rt.takeWrites(db, hs)
		case !soft.Writable && !ro:
			rt.startDrain(db, hs, rd)
			return true
		}
	}
	rt.applySoftRest(db, hs, soft)
	return false
}

// drain is a stop of writes in progress on its worker (loop-owned).
type drain struct {
	r    *link.Replica // the replica whose Ready it holds
	rd   link.Ready
	hs   link.HardState
	db   *storage.DB
	done chan struct{} // closed once the database is read-only
}

// startDrain stops writes on a worker, which hands back to the loop
// (drained) once the database is read-only.
func (rt *Link) startDrain(db *storage.DB, hs link.HardState, rd link.Ready) {
	d := &drain{r: rt.r, rd: rd, hs: hs, db: db, done: make(chan struct{})}
	rt.drain = d
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		rt.stopWrites(db, hs)
		close(d.done)
		select {
		case rt.events <- rt.drained:
		case <-rt.ctx.Done():
		}
	}()
}

// awaitDrain waits, on the loop, for a drain in progress to end and
// finishes it: for a caller that must see the database read-only.
func (rt *Link) awaitDrain() {
	if d := rt.drain; d != nil {
		<-d.done
		rt.drained()
	}
}

// drained finishes the Ready a drain held, on the loop (a second call,
// the worker's after awaitDrain's, finds no drain and only processes).
func (rt *Link) drained() {
	d := rt.drain
	rt.drain = nil
	if d == nil || rt.r != d.r {
		rt.process() // the replica was replaced meanwhile
		return
	}
	// Commits that made it in before the switch.
	if pos := d.db.Pos().LSN; d.hs.Role == sqlink.RolePrimary && pos > rt.r.HardState().Hardened {
		_ = rt.r.Step(link.Message{Type: link.MsgCommitted, LSN: pos})
	}
	rt.applySoftRest(d.db, d.hs, d.rd.SoftState)
	if rt.finishReady(d.rd) {
		rt.process()
	}
}

// applySoftRest is applySoft past the database's writability: epoch,
// applier or retention floor, commit gate, receiving and sending.
func (rt *Link) applySoftRest(db *storage.DB, hs link.HardState, soft link.SoftState) {
	if db != nil && !soft.Dropped {
		if ro, _ := db.ReadOnly(); ro || !soft.Writable {
			db.SetReadOnlyReason(rt.readOnlyReason(hs, soft.Writable))
		}
		if hs.Role == sqlink.RolePrimary && db.Epoch() < hs.Epoch {
			if err := db.SetEpoch(hs.Epoch); err != nil {
				rt.setError(err)
			}
		}
		// A role change at run time (failover): a secondary redoes what
		// it hardens; a primary keeps log for its partner.
		switch {
		case hs.Role == sqlink.RoleSecondary && rt.applierStop == nil:
			db.SetRetentionFloor(0, false)
			rt.startApplier(db)
		case hs.Role == sqlink.RolePrimary && !rt.floorStarted:
			rt.startFloor()
		}
	}
	// Sync commits.
	rt.gate.set(soft.Commit, hs.Role == sqlink.RolePrimary && hs.Mode == sqlink.ModeSync && !soft.Dropped)
	// Receiving.
	rt.mu.Lock()
	rt.recvOn, rt.recvEp = soft.Replication.Receive, soft.Replication.ReceiveEpoch
	reseed := rt.data.ReseedRequired
	rt.mu.Unlock()
	// Sending.
	want := soft.Replication.Send && !reseed && db != nil
	rt.mu.Lock()
	pc := rt.conn
	rt.mu.Unlock()
	if rt.sender != nil && (!want || rt.sender.pc != pc || rt.sender.epoch != soft.Replication.SendEpoch) {
		rt.stopSender()
	}
	if want && pc != nil && rt.sender == nil {
		rt.startSender(pc, db, soft.Replication.SendFrom-1, soft.Replication.SendEpoch)
	}
	rt.soft = soft
	if soft.Dropped {
		rt.mu.Lock()
		already := rt.dropping
		rt.dropping = true
		rt.mu.Unlock()
		if !already {
			// The state machine dropped the link (the partner dropped it,
			// or a failover ended with drop): finish outside the loop,
			// once the partner knows (it may wait for our answer to
			// finish its side of a failover).
			go func() {
				rt.awaitPartnerDropped()
				if err := rt.s.dropLocal(context.Background(), rt, "the link was dropped"); err != nil {
					rt.log.Error("drop link", "err", err)
				}
			}()
		}
	}
}

// takeWrites makes a read-only replica's database writable (on the loop):
// it redoes every hardened record first, sets the epoch new records are
// written in, and ends the sessions opened read-only so they reconnect
// read-write.
func (rt *Link) takeWrites(db *storage.DB, hs link.HardState) {
	rt.stopApplier()
	forced := hs.LastFailover.Epoch == hs.Epoch && hs.LastFailover.Kind == link.FailoverForced
	if err := redoForWrites(rt.ctx, db, forced); err != nil {
		// Never take writes over a copy that misses hardened records: the
		// next Ready tries again.
		rt.setError(fmt.Errorf("redo before taking writes: %w", err))
		return
	}
	if hs.Role == sqlink.RolePrimary && db.Epoch() < hs.Epoch {
		if err := db.SetEpoch(hs.Epoch); err != nil {
			rt.setError(err)
			return
		}
	}
	db.SetReadOnly("")
	rt.log.Info("database writable", "role", hs.Role, "epoch", hs.Epoch)
	rt.s.endSessions(rt.database(), "57P01", fmt.Sprintf("database %q is now the primary of link %s (epoch %d): reconnect for read-write sessions", rt.database(), rt.id.name, hs.Epoch))
	rt.noteEvent(evWritable)
	rt.failoverFailpoint(&hs, fpAfterSwap, fpForcedWritable)
}

// stopWrites makes the database read-only (on the drain's worker). The
// transaction in flight may finish; one that does not within
// FailoverDrainTimeout has its session ended, which rolls it back. The
// remaining sessions are ended too, so pools reconnect and find the
// primary.
func (rt *Link) stopWrites(db *storage.DB, hs link.HardState) {
	why := fmt.Sprintf("a planned failover of link %s to instance %s is in progress", rt.id.name, rt.id.partnerName)
	switch {
	case hs.SplitBrain.Active:
		why = fmt.Sprintf("split brain on link %s: instance %s is primary at a higher epoch", rt.id.name, rt.id.partnerName)
	case hs.Role == sqlink.RoleSecondary:
		why = fmt.Sprintf("this replica of link %s is now a secondary of instance %s", rt.id.name, rt.id.partnerName)
	case hs.AutoFailover && !hs.Op.Active():
		why = fmt.Sprintf("the primary of link %s fenced itself: its etcd lease is not confirmed", rt.id.name)
	}
	done := make(chan struct{})
	db.SetReadOnlyReason(rt.readOnlyReason(hs, false))
	go func() {
		db.SetReadOnly(rt.id.partnerName)
		close(done)
	}()
	t := time.NewTimer(rt.s.cfg.FailoverDrainTimeout)
	select {
	case <-done:
		t.Stop()
	case <-t.C:
		rt.log.Warn("transactions still in flight after the drain timeout: ending their sessions", "timeout", rt.s.cfg.FailoverDrainTimeout)
		rt.s.endSessions(rt.database(), "57P01", fmt.Sprintf("terminating connection: its transaction was rolled back because %s", why))
		<-done
	}
	rt.log.Info("database read-only", "role", hs.Role, "epoch", hs.Epoch, "why", why)
	rt.s.endSessions(rt.database(), "25006", fmt.Sprintf("database %q no longer takes writes: %s; reconnect to the primary (target_session_attrs=read-write)", rt.database(), why))
	if hs.Op.Step == link.StepDraining {
		rt.noteEvent(evWritesOff)
		rt.s.failpoint(fpAfterDrain)
	}
}

// awaitPartnerDropped waits, up to partnerGoneAfter, until the partner
// reports the link dropped too or the connection ends.
func (rt *Link) awaitPartnerDropped() {
	ctx, cancel := context.WithTimeout(rt.ctx, partnerGoneAfter)
	defer cancel()
	rt.waitFor(ctx, func() bool {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		return rt.conn == nil || rt.partnerMsg != nil && rt.partnerMsg.Dropped
	})
}

// waitCommit blocks a session's commit at lsn until the link allows it:
// at once for async links, else until the secondary hardened it or was
// marked disconnected.
func (rt *Link) waitCommit(ctx context.Context, lsn sqlink.LSN) error {
	return rt.gate.waitFor(ctx, lsn)
}

func (rt *Link) onTick() {
	now := rt.s.cfg.Now()
	rt.heartbeatDue = true
	if rt.r != nil {
		for range rt.ticksDue(now) {
			rt.r.Tick()
		}
	}
	rt.mu.Lock()
	rt.lag.tick(now)
	if rt.seed.state == seedSeeding {
		rt.seed.rate.sample(rt.seed.done, now)
	}
	pc, db := rt.conn, rt.db
	rt.mu.Unlock()
	rt.checkRetention()
	if pc == nil {
		return
	}
	if db != nil && rt.r != nil && rt.r.HardState().Role == sqlink.RolePrimary {
		st := db.Stats()
		pc.send(&transport.Heartbeat{Time: now, LastCommitLSN: st.Pos.LSN, LastCommitTime: st.LastCommit})
		rt.mu.Lock()
		reseed := rt.data.ReseedRequired
		rt.mu.Unlock()
		if reseed {
			// A secondary that is seeding already ignores it.
			pc.control(cmdReseed, struct{}{})
		}
	} else if db != nil && rt.r != nil && rt.r.HardState().Role == sqlink.RoleSecondary {
		if d := divergedSecondary(db); d != nil {
			// Changed outside sqlink while it ran (the background
			// capture found it): reseed now, not when the next record
			// fails to apply. Once per copy; a failed save of the copy
			// retries on its own.
			if rt.divergedCopy.db != db {
				rt.reseedDiverged(d.Why)
			}
		} else {
			rt.tickAck(pc, db, now)
		}
	}
	pc.control(cmdStatus, partnerStatusOf(rt.localStatus()))
}
