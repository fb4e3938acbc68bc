package replication

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// Seeding
//
// The secondary asks (seedRequest) on every connection while it has no
// consistent copy. The primary answers with a seedPlan, then streams
// SeedChunk frames of a read snapshot and a SeedDone:
//
//   - fresh: a new snapshot from page 1;
//   - resume: the snapshot the secondary was receiving is still open here:
//     continue at its next page;
//   - rebase: that snapshot is gone (the primary restarted) but the log
//     still reaches back to the secondary's seed base: continue at its next
//     page from a newer snapshot (storage.SeedWriter.Rebase). Pages from
//     the older snapshots are brought up to date by replaying the log from
//     the base, which the secondary does anyway while it is RESTORING;
//   - log: the secondary holds a restored backup; only the log after it is
//     shipped (the primary refuses if its log no longer reaches back);
//   - error: the primary cannot seed (a *sqlink.Error for the operator).
//
// The primary keeps the log from the seed base (retention floor) until the
// secondary has hardened past it.

// seedRequest is what a secondary without a consistent copy asks for;
// seedPlan is the primary's answer (the peer protocol's types).
type (
	seedRequest = transport.SeedRequest
	seedPlan    = transport.SeedPlan
)

// seedState is where a replica's seeding stands (adminapi.SeedingStatus.State).
type seedState string

// Seed states.
const (
	seedPending   seedState = "PENDING"   // secondary: waiting for the primary
	seedSeeding   seedState = "SEEDING"   // pages being copied
	seedCatchup   seedState = "CATCHUP"   // secondary: copied, RESTORING until redone to the seed's position
	seedCompleted seedState = "COMPLETED" // done
	seedFailed    seedState = "FAILED"    // the last attempt failed (see the link's last error)
)

// Seed plans (seedPlan.Kind; see Seeding above): the peer protocol's.
const (
	planFresh  = transport.SeedFresh
	planResume = transport.SeedResume
	planRebase = transport.SeedRebase
	planLog    = transport.SeedLog
	planRewind = transport.SeedRewind
	planError  = transport.SeedError
)

func (rt *Link) setSeedState(state seedState) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.seed.state != state && state == seedSeeding {
		rt.seed.started = rt.s.cfg.Now()
		rt.seed.startBytes = rt.seed.done
		rt.seed.rate = rate{}
	}
	rt.seed.state = state
}

// requestSeed asks the primary for a seed (secondary, on the loop).
func (rt *Link) requestSeed(pc *peerConn) {
	rt.mu.Lock()
	req := seedRequest{FromBackup: rt.data.SeedFromBackup}
	db := rt.db
	rt.mu.Unlock()
	if req.FromBackup {
		if db == nil {
			rt.setError(sqlink.Errorf(sqlink.EINTERNAL, "drop and recreate the link", "restored database %s is not open", rt.database()))
			return
		}
		req.BackupPos = db.Pos()
	} else {
		rt.seedMu.Lock()
		if rt.writer != nil {
			if err := rt.flushSeed(); err != nil {
				rt.setError(err)
			}
			st := rt.writer.State()
			req.Have, req.Base, req.Pos, req.Next = true, st.Base, st.Pos, st.Next
			rt.mu.Lock()
			req.Rewind = rt.rewindReq
			rt.mu.Unlock()
		}
		rt.seedMu.Unlock()
	}
	pc.control(cmdSeedRequest, req)
}

// startSeedSender answers a seed request (primary), replacing any seed
// sender still running.
func (rt *Link) startSeedSender(pc *peerConn, req seedRequest) {
	rt.seedMu.Lock()
	defer rt.seedMu.Unlock()
	if rt.seedStop != nil {
		rt.seedStop()
		<-rt.seedDone
	}
	ctx, cancel := context.WithCancel(pc.ctx)
	done := make(chan struct{})
	rt.seedStop, rt.seedDone = cancel, done
	go func() {
		defer close(done)
		err := rt.sendSeed(ctx, pc, req)
		rt.mu.Lock()
		rt.seed.active = false
		rt.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			rt.setError(fmt.Errorf("seed the secondary: %w", err))
			rt.setSeedState(seedFailed)
		}
	}()
}

// setFloor keeps the log after lsn for the secondary and clears a pending
// reseed: the secondary is about to get a copy it can continue from.
func (rt *Link) setFloor(db *storage.DB, lsn sqlink.LSN) {
	db.SetRetentionFloor(lsn, true)
	rt.mu.Lock()
	rt.data.FloorLSN = lsn
	rt.data.ReseedRequired = false
	rt.mu.Unlock()
	if err := rt.save(); err != nil {
		rt.setError(err)
	}
}

// snapshotInfo is what a seed plan needs to know of a snapshot. A value:
// planSeed reads it, nothing keeps it.
type snapshotInfo struct {
	Pos       sqlink.Pos
	PageSize  int64
	PageCount int64
}

// planSeed decides how to answer a request for pages (not a backup's log,
// not a rewind): resume from cur, the snapshot still open here, when it is
// the one the secondary was receiving; else from a new snapshot (open),
// rebased when the secondary holds pages of an older snapshot and the log
// still reaches back to its base (logFrom), else fresh. base is the LSN
// the log must be kept from for the secondary.
func planSeed(req seedRequest, cur *snapshotInfo, epoch sqlink.Epoch, open func() (snapshotInfo, error), logFrom func(sqlink.LSN) bool) (plan seedPlan, base sqlink.LSN, err error) {
	if req.Have && cur != nil && cur.Pos == req.Pos && int64(req.Next) <= cur.PageCount+1 {
		return seedPlan{Kind: planResume, Pos: cur.Pos, Epoch: epoch, PageSize: cur.PageSize, PageCount: cur.PageCount, Next: req.Next}, req.Base.LSN, nil
	}
	snap, err := open()
	if err != nil {
		return seedPlan{}, 0, err
	}
	if req.Have && req.Next > 1 && req.Pos.LSN <= snap.Pos.LSN && req.Base.LSN <= snap.Pos.LSN && logFrom(req.Base.LSN) {
		return seedPlan{Kind: planRebase, Pos: snap.Pos, Epoch: epoch, PageSize: snap.PageSize, PageCount: snap.PageCount,
			Next: uint32(min(int64(req.Next), snap.PageCount+1))}, req.Base.LSN, nil
	}
	return seedPlan{Kind: planFresh, Pos: snap.Pos, Epoch: epoch, PageSize: snap.PageSize, PageCount: snap.PageCount, Next: 1}, snap.Pos.LSN, nil
}

func (rt *Link) sendSeed(ctx context.Context, pc *peerConn, req seedRequest) error {
	rt.mu.Lock()
	db, hist := rt.db, rt.history
	if len(hist) == 0 && rt.data.State != nil {
		// The loop has not published a Ready yet (an auto-failover
		// primary holds its first one while it stops writes until etcd
		// grants its lease): the persisted history is as good.
		hist = rt.data.State.History
	}
	rt.mu.Unlock()
	if db == nil || len(hist) == 0 {
		// Say so: the secondary asks again after a back-off.
		e := sqlink.Errorf(sqlink.EUNAVAILABLE, "the secondary asks again by itself", "this replica cannot seed its partner now")
		_ = pc.c.Send(ctx, controlOf(cmdSeedPlan, seedPlan{Kind: planError, Code: e.Code, Message: e.Message, Hint: e.Hint}))
		return e
	}
	epoch := hist[len(hist)-1].Epoch
	if req.FromBackup {
		lr, err := db.ReadLog(ctx, req.BackupPos.LSN)
		if err != nil {
			e := sqlink.Errorf(sqlink.ECONFLICT,
				"take a new full backup on the primary and restore it on the secondary with --restoring, or drop the link and create it with automatic seeding",
				"cannot seed from the backup at LSN %d: the primary's log no longer reaches back to it (%s)", req.BackupPos.LSN, sqlink.ErrorMessage(err))
			_ = pc.c.Send(ctx, controlOf(cmdSeedPlan, seedPlan{Kind: planError, Code: sqlink.ECONFLICT, Message: e.Message, Hint: e.Hint}))
			return e
		}
		lr.Close()
		rt.setFloor(db, req.BackupPos.LSN)
		return pc.c.Send(ctx, controlOf(cmdSeedPlan, seedPlan{Kind: planLog, Pos: db.Pos(), Epoch: epoch, History: hist}))
	}

	rt.mu.Lock()
	rt.seed.active = true
	rt.mu.Unlock()
	if req.Rewind != nil {
		if ok, err := rt.sendRewind(ctx, pc, db, req.Rewind, epoch, hist); ok || err != nil {
			return err
		}
		req.Have = false // the log no longer reaches the fork: seed in full
	}
	var cur *snapshotInfo
	if rt.snap != nil {
		cur = &snapshotInfo{Pos: rt.snap.Pos, PageSize: rt.snap.PageSize, PageCount: rt.snap.PageCount}
	}
	openSnap := func() (snapshotInfo, error) {
		if rt.snap != nil {
			rt.snap.Close()
			rt.snap = nil
		}
		snap, err := db.OpenSnapshot(ctx)
		if err != nil {
			return snapshotInfo{}, err
		}
		rt.snap = snap
		return snapshotInfo{Pos: snap.Pos, PageSize: snap.PageSize, PageCount: snap.PageCount}, nil
	}
	logFrom := func(lsn sqlink.LSN) bool {
		lr, err := db.ReadLog(ctx, lsn)
		if err != nil {
			return false
		}
		lr.Close()
		return true
	}
	plan, base, err := planSeed(req, cur, epoch, openSnap, logFrom)
	if err != nil {
		_ = pc.c.Send(ctx, controlOf(cmdSeedPlan, seedPlan{Kind: planError, Code: sqlink.ErrorCode(err), Message: sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)}))
		return err
	}
	snap := rt.snap
	rt.setFloor(db, base)
	rt.log.Info("seeding the secondary", "plan", plan.Kind, "seed_lsn", plan.Pos.LSN, "next_page", plan.Next, "pages", plan.PageCount)
	if err := pc.c.Send(ctx, controlOf(cmdSeedPlan, plan)); err != nil {
		return err
	}
	ps := snap.PageSize
	total := uint64(snap.PageCount * ps)
	rt.mu.Lock()
	rt.seed.total, rt.seed.done, rt.seed.seedLSN = int64(total), int64(plan.Next-1)*ps, snap.Pos.LSN
	rt.mu.Unlock()
	rt.setSeedState(seedSeeding)
	sd := newSeedSender(snap, pc.c, epoch, snap.Pos, ps, snap.PageCount, plan.Next)
	limit := rt.s.cfg.LinkSeedBytesPerSecond
	start, sent := rt.s.cfg.Now(), int64(0)
	for {
		n, err := sd.step(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if sent += int64(n); uint64(2*sent) >= total {
			rt.s.failpoint(fpSeedSending)
		}
		if limit > 0 {
			if ahead := time.Duration(float64(sent)/float64(limit)*float64(time.Second)) - rt.s.cfg.Now().Sub(start); ahead > 0 {
				if !sleep(ctx, ahead) {
					return ctx.Err()
				}
			}
		}
		rt.mu.Lock()
		rt.seed.done = int64(sd.next-1) * ps
		rt.seed.sent += int64(n)
		rt.mu.Unlock()
	}
	if err := pc.c.Send(ctx, &transport.SeedDone{Epoch: epoch, Pos: snap.Pos, TotalSize: total, History: hist}); err != nil {
		return err
	}
	// The secondary has every page; a later request starts a new snapshot.
	rt.snap = nil
	snap.Close()
	rt.setSeedState(seedCompleted)
	rt.log.Info("seed sent", "seed_lsn", snap.Pos.LSN, "bytes", total)
	return nil
}

// pageSource is the snapshot a seed sender reads (*storage.Snapshot).
type pageSource interface {
	ReadPages(ctx context.Context, from uint32, n int) ([]storage.Page, error)
}

// seedSender sends a snapshot's pages to a secondary, one SeedChunk per
// step.
//
// Owner: the seed sender goroutine (started and stopped under
// Link.seedMu), or a test driving step.
type seedSender struct {
	snap      pageSource
	w         frameWriter
	epoch     sqlink.Epoch
	pos       sqlink.Pos
	ps        int64
	pageCount int64
	next      uint32 // the next page to send
	per       int    // pages per chunk
	buf       []byte
}

func newSeedSender(snap pageSource, w frameWriter, epoch sqlink.Epoch, pos sqlink.Pos, ps, pageCount int64, next uint32) *seedSender {
	per := max(1, seedChunkBytes/int(ps))
	return &seedSender{snap: snap, w: w, epoch: epoch, pos: pos, ps: ps, pageCount: pageCount, next: next, per: per, buf: make([]byte, 0, per*int(ps))}
}

// step sends the next chunk of pages, flushed, and returns its size (0:
// every page is sent).
func (s *seedSender) step(ctx context.Context) (int, error) {
	if int64(s.next) > s.pageCount {
		return 0, nil
	}
	pages, err := s.snap.ReadPages(ctx, s.next, s.per)
	if err != nil || len(pages) == 0 {
		return 0, err
	}
	s.buf = s.buf[:0]
	for _, p := range pages {
		s.buf = append(s.buf, p.Data...)
	}
	total := uint64(s.pageCount * s.ps)
	if err := s.w.WriteMessage(ctx, &transport.SeedChunk{Epoch: s.epoch, LSN: s.pos.LSN, Offset: uint64(s.next-1) * uint64(s.ps), TotalSize: total, Data: s.buf}); err != nil {
		return 0, err
	}
	if err := s.w.Flush(ctx); err != nil {
		return 0, err
	}
	s.next += uint32(len(pages))
	return len(s.buf), nil
}

func controlOf(cmd string, body any) *transport.ControlRequest {
	return transport.MustControl(0, cmd, body)
}

// changedCopy is a secondary's copy that no longer matches its log, being
// saved (saving) or saved (file) before its reseed.
//
// Owner: the loop goroutine (Link.divergedCopy); the goroutine that saves
// the copy reports back through Link.events (changedCopySaved).
type changedCopy struct {
	db     *storage.DB
	saving bool
	file   string
}

// reseedDiverged reseeds a secondary whose copy no longer matches its log
// (storage.DB.Diverged: changed outside sqlink, or its log damaged) from
// its primary (on the loop), saving the copy to
// <data-dir>/diverged/<link>-<database>-changed-<time>.db first. Without a
// connection to the primary it keeps the copy, readable, and only says so:
// throwing it away then would leave nothing if the primary never comes
// back, and a forced failover can still make it writable as it stands.
// attach calls it again when the primary is reachable. The copy is saved
// off the loop (a large database takes a while, and the link's heartbeats
// go on meanwhile); changedCopySaved goes on from there.
func (rt *Link) reseedDiverged(why string) {
	rt.mu.Lock()
	db, pc, phase := rt.db, rt.conn, rt.data.Phase
	rt.mu.Unlock()
	if divergedSecondary(db) == nil || phase == phaseSeeding || rt.r == nil || rt.r.HardState().Role != sqlink.RoleSecondary {
		return
	}
	if pc == nil {
		rt.setError(sqlink.Errorf(sqlink.ECONFLICT, "the link saves the copy and reseeds it once it reaches the primary (or fail over forced to keep it as it stands); stop any other program that writes to the secondary's files",
			"the secondary's copy no longer matches its log (%s): it applies nothing more and is reseeded once the primary is reachable", why))
		rt.log.Warn("the secondary's copy no longer matches its log: keeping it until the primary is reachable, then reseeding", "why", why)
		return
	}
	cc := &rt.divergedCopy
	if cc.db != db {
		*cc = changedCopy{db: db}
	}
	switch {
	case cc.saving:
		return
	case cc.file != "":
		rt.changedCopySaved(db, why, cc.file, nil) // saved on an earlier connection
		return
	}
	cc.saving = true
	dir := divergedDir(rt.s.cfg.DataDir)
	file := filepath.Join(dir, fmt.Sprintf("%s-%s-changed-%s.db", rt.id.name, rt.database(), rt.s.cfg.Now().UTC().Format("20060102T150405.000Z")))
	rt.log.Warn("the secondary's copy no longer matches its log: saving it before reseeding", "why", why, "file", file)
	go func() {
		err := os.MkdirAll(dir, 0o700)
		if err == nil {
			_, err = copyDatabase(rt.ctx, db, file)
		}
		select {
		case rt.events <- func() { rt.changedCopySaved(db, why, file, err) }:
		case <-rt.ctx.Done():
		}
	}()
}

// changedCopySaved reseeds the secondary once its changed copy db was
// saved to file (err: it could not be) (on the loop), unless the copy is
// no longer the link's or no longer diverged (a forced failover or a drop
// came first), or the primary cannot be reached any more (attach calls
// reseedDiverged again, which reseeds without saving the copy twice).
func (rt *Link) changedCopySaved(db *storage.DB, why, file string, err error) {
	cc := &rt.divergedCopy
	if cc.db == db {
		cc.saving = false
	}
	rt.mu.Lock()
	cur, pc, phase := rt.db, rt.conn, rt.data.Phase
	rt.mu.Unlock()
	if err != nil {
		// Never throw the copy away unsaved: try again in a while.
		os.Remove(file)
		rt.setError(sqlink.Errorf(sqlink.EUNAVAILABLE, fmt.Sprintf("free space under the data directory; the link tries again every %s", changedCopyRetry),
			"the secondary's copy no longer matches its log (%s); saving it to %s before reseeding failed: %v", why, file, err))
		time.AfterFunc(changedCopyRetry, func() {
			select {
			case rt.events <- func() { rt.reseedDiverged(why) }:
			case <-rt.ctx.Done():
			}
		})
		return
	}
	if cc.db == db {
		cc.file = file
	}
	if cur != db || divergedSecondary(db) == nil || phase == phaseSeeding || rt.r == nil || rt.r.HardState().Role != sqlink.RoleSecondary {
		return
	}
	if pc == nil {
		rt.setError(sqlink.Errorf(sqlink.ECONFLICT, "the link reseeds it once it reaches the primary again", "the secondary's copy no longer matches its log (%s): it was saved to %s", why, file))
		return
	}
	rt.log.Warn("the secondary's copy no longer matches its log: saved it, reseeding", "why", why, "file", file)
	*cc = changedCopy{}
	rt.restartSeeding(pc, fmt.Sprintf("the copy no longer matches its log (%s); it was saved to %s", why, file))
}

// restartSeeding throws away this secondary's copy and asks for a new seed
// (on the loop).
func (rt *Link) restartSeeding(pc *peerConn, why string) {
	rt.restartSeedingWith(pc, why, false)
}

// restartSeedingWith is restartSeeding; keepSeed keeps the seed in
// progress (a rewind's copy of the database).
func (rt *Link) restartSeedingWith(pc *peerConn, why string, keepSeed bool) {
	rt.mu.Lock()
	phase := rt.data.Phase
	rt.mu.Unlock()
	if phase == phaseSeeding || rt.r == nil || rt.r.HardState().Role != sqlink.RoleSecondary {
		return
	}
	rt.setError(sqlink.Errorf(sqlink.ECONFLICT, "", "reseeding: %s", why))
	rt.log.Warn("reseeding the secondary", "why", why)
	prev := rt.r.HardState().Version
	rt.stopApplier()
	rt.r, rt.persisted = nil, nil
	rt.mu.Lock()
	db := rt.db
	rt.db, rt.ownsDB, rt.recvOn = nil, false, false
	rt.data.Phase = phaseSeeding
	rt.data.State = nil
	rt.data.PrevVersion = prev
	rt.data.SeedFromBackup = false
	if !keepSeed {
		rt.reseedAt = rt.s.cfg.Now()
	}
	rt.mu.Unlock()
	// The seeding phase is saved before the database goes: a crash from
	// here on restarts seeding (clearForSeed), never an online link
	// without its database.
	if err := rt.save(); err != nil {
		rt.setError(err)
	}
	rt.s.failpoint(fpReseedSaved)
	ctx := context.WithoutCancel(rt.ctx)
	rt.s.host.UnregisterDatabase(rt.database(), db)
	rt.s.endSessions(rt.database(), "57P03", fmt.Sprintf("database %q is being reseeded", rt.database()))
	if db != nil {
		db.Close(ctx)
	}
	if err := rt.s.cat.SetDatabaseState(ctx, rt.database(), sqlink.DatabaseRestoring); err != nil {
		rt.setError(err)
	}
	path := databasePath(rt.s.cfg.DataDir, rt.database())
	removeDatabaseFiles(path)
	if !keepSeed {
		removeSeedFiles(path)
	}
	rt.s.failpoint(fpReseedRemoved)
	rt.setSeedState(seedPending)
	rt.gate.stopWaiting()
	if pc != nil {
		rt.requestSeed(pc)
	}
}

// removeSeedFiles removes a seed in progress for path.
func removeSeedFiles(path string) {
	os.Remove(path + ".seed")
	os.Remove(path + ".seed.json")
}

// seedETA estimates when a seed finishes.
func seedETA(done, total int64, bps float64, now time.Time) time.Time {
	if bps <= 0 || total <= done {
		return time.Time{}
	}
	return now.Add(time.Duration(float64(total-done) / bps * float64(time.Second)))
}
