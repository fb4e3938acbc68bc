package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Checkpoints, log pruning and the background loop that runs them, split
// from db.go unchanged.

// Checkpoint captures every commit, syncs the log, then checkpoints the WAL
// into the database file (PASSIVE: it never waits for readers).
func (db *DB) Checkpoint(ctx context.Context) error {
	if err := db.lockWrite(ctx); err != nil {
		return err
	}
	defer db.unlockWrite()
	_, err := db.checkpointLocked(ctx)
	return err
}

// checkpointLocked runs with the write lock held and keeps it: it captures
// every commit, syncs the log, checkpoints the WAL into the database file,
// announces the WAL restart that allows, and prunes the log. It reports
// whether the checkpoint copied the whole WAL.
func (db *DB) checkpointLocked(ctx context.Context) (complete bool, err error) {
	db.capMu.Lock()
	defer db.capMu.Unlock()
	// With group commit this syncs the WAL first: the checkpoint captures
	// every commit, and only durable ones.
	if err := db.syncCaptureLocked(); err != nil {
		return false, err
	}
	if err := db.log.sync(); err != nil {
		return false, err
	}
	db.ckptAt, db.ckptCopied = db.wal.pos, false
	if err := db.clearClosedStamp(); err != nil {
		return false, err
	}
	if complete, err = db.walCheckpoint(ctx); err != nil {
		return false, err
	}
	// Everything in the WAL is captured and the log is durable: the next
	// WAL restart (if the checkpoint was complete) is announced.
	db.wal.announceRestart()
	db.mu.Lock()
	db.checkpoints++
	db.lastCkpt = db.cfg.Now()
	ro, redone := db.readOnly, db.redone
	db.mu.Unlock()
	if ro {
		// The checkpoint synced the WAL, which holds everything applied
		// up to redone: recovery re-applies from there at most.
		if err := db.log.updateMeta(func(m *logMeta) { m.Redone = redone }); err != nil {
			return complete, err
		}
	} else if complete {
		// The WAL may restart from now on: say that everything in it was
		// captured, so that a restart found at open is known to be ours.
		if err := db.log.markCaptured(nil); err != nil {
			return complete, err
		}
	}
	return complete, db.pruneLocked()
}

// clearClosedStamp drops a clean close's stamp of the database file before
// a checkpoint first writes to the file (capMu held).
func (db *DB) clearClosedStamp() error {
	if !db.closedStamp {
		return nil
	}
	if err := db.log.updateMeta(func(m *logMeta) { m.Closed, m.ClosedWAL = nil, nil }); err != nil {
		return err
	}
	db.closedStamp = false
	return nil
}

// testHookAfterUnlockedPass, when set by a test, runs between the unlocked
// and the locked pass of checkpointOnline.
var testHookAfterUnlockedPass func()

// walCheckpoint copies the WAL into the database file (PASSIVE: it never
// waits for readers, and never restarts the WAL itself) and reports whether
// it copied every frame.
func (db *DB) walCheckpoint(ctx context.Context) (complete bool, err error) {
	var busy, logFrames, done int64
	if err := db.holder.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &done); err != nil {
		return false, fmt.Errorf("checkpoint: %w", err)
	}
	return busy == 0 && logFrames == done, nil
}

// checkpointOnline is checkpointLocked for the background loop: called
// with the write lock held, it releases the lock while SQLite copies the
// bulk of the WAL into the database file, so writers (and a secondary's
// applier) go on meanwhile, then takes it again to copy what they added,
// which completes the checkpoint and lets the next writer restart the WAL.
// The first pass needs no capture: it only backfills. When it leaves
// frames behind and the WAL is short of the restart size (restartFactor),
// the checkpoint ends there: the locked pass's fsyncs would stall writers
// for nothing a later pass cannot do.
//
// The unlocked pass may copy the whole WAL (when no commit comes during
// it), and a writer that begins after that restarts the WAL, which must
// not happen before the log is synced and the restart announced (the
// locked pass does both). A write transaction restarts the WAL only when
// no reader holds a snapshot in it, so a read transaction begun before the
// write lock is released, and ended only once it is held again, keeps the
// WAL from restarting in between; the unlocked pass still copies every
// frame committed before it.
func (db *DB) checkpointOnline(ctx context.Context) error {
	db.capMu.Lock()
	err := db.clearClosedStamp()
	db.capMu.Unlock()
	if err != nil {
		db.unlockWrite()
		return err
	}
	if err := db.beginGuard(ctx); err != nil {
		db.unlockWrite()
		return err
	}
	db.unlockWrite()
	complete, err := db.walCheckpoint(ctx)
	if testHookAfterUnlockedPass != nil {
		testHookAfterUnlockedPass()
	}
	if err == nil && !complete && !db.walNeedsRestart() {
		// The pass left frames behind (commits came meanwhile), so no
		// writer can restart the WAL until a pass completes: the guard
		// can end without the lock, and the pass that completes under
		// the lock (stalling writers for its fsyncs) waits until the WAL
		// has grown to CheckpointBytes*restartFactor.
		err = db.endGuard()
		db.capMu.Lock()
		db.ckptAt, db.ckptCopied = db.wal.pos, true
		db.capMu.Unlock()
		return err
	}
	if lerr := db.lockWrite(ctx); lerr != nil {
		// Closing: Close ends the guard with the connections.
		return errors.Join(err, lerr)
	}
	defer db.unlockWrite()
	if gerr := db.endGuard(); err == nil {
		err = gerr
	}
	if err != nil {
		return err
	}
	_, err = db.checkpointLocked(ctx)
	return err
}

// beginGuard begins the guard's read transaction (write lock held).
func (db *DB) beginGuard(ctx context.Context) error {
	if db.guard == nil {
		c, err := db.sqldb.Conn(ctx)
		if err != nil {
			return fmt.Errorf("checkpoint: guard connection: %w", err)
		}
		db.guard = c
	}
	if _, err := db.guard.ExecContext(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("checkpoint: guard: %w", err)
	}
	// The first read takes the snapshot (and its lock on the WAL).
	var n int64
	if err := db.guard.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		db.guard.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("checkpoint: guard: %w", err)
	}
	return nil
}

// endGuard ends the guard's read transaction (write lock held).
func (db *DB) endGuard() error {
	if _, err := db.guard.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		// A guard that cannot end would keep every later checkpoint from
		// completing: drop the connection, the next checkpoint opens one.
		db.guard.Close()
		db.guard = nil
		return fmt.Errorf("checkpoint: end guard: %w", err)
	}
	return nil
}

// pruneLocked removes log segments beyond the retention that neither a
// secondary (the retention floor) nor this database's own recovery (on a
// secondary, the persisted redone position) needs (capMu held). Pruning
// needs no checkpoint: the segments it removes are synced (only the
// active one may not be) and recovery starts from the log's end.
func (db *DB) pruneLocked() error {
	db.mu.Lock()
	floor := db.pos.LSN
	if db.hasFloor && db.retainFloor < floor {
		floor = db.retainFloor
	}
	ro := db.readOnly
	db.mu.Unlock()
	if ro {
		floor = min(floor, db.log.persistedRedone().LSN)
	}
	return db.log.prune(db.cfg.LogRetentionBytes, floor)
}

// needCheckpoint reports whether the WAL holds CheckpointBytes of frames
// in its current generation (the file keeps its size after a restart, so
// its size says nothing) and has grown by a quarter of that since the last
// checkpoint, which readers may have kept from completing.
func (db *DB) needCheckpoint() bool {
	frame := db.walFrameBytes()
	db.capMu.Lock()
	defer db.capMu.Unlock()
	pos, last := db.wal.pos, db.ckptAt
	if int64(pos.Frame)*frame < db.cfg.CheckpointBytes {
		return false
	}
	// After a pass that only copied (the WAL not due for a restart), the
	// next waits for another CheckpointBytes: more frequent passes cost
	// fsyncs that slow the commits beside them.
	grow := db.cfg.CheckpointBytes / 4
	if db.ckptCopied {
		grow = db.cfg.CheckpointBytes
	}
	if last.Salt1 == pos.Salt1 && last.Salt2 == pos.Salt2 && int64(pos.Frame-min(pos.Frame, last.Frame))*frame < grow {
		return false
	}
	return true
}

// restartFactor: the WAL is restarted (a checkpoint completed under the
// write lock) once it holds this many times CheckpointBytes; in between,
// checkpoints copy it to the database file without stalling writers. The
// pass under the lock holds writers (a secondary's applier) for its two
// fsyncs, 6-10 ms under load; at 1 client on the rig that was ~1.2 % of
// the time at every checkpoint, and it set the secondary's lag p99.
const restartFactor = 4

// walNeedsRestart reports whether the WAL's current generation holds
// CheckpointBytes*restartFactor of frames.
func (db *DB) walNeedsRestart() bool {
	frame := db.walFrameBytes()
	db.capMu.Lock()
	defer db.capMu.Unlock()
	return int64(db.wal.pos.Frame)*frame >= db.cfg.CheckpointBytes*restartFactor
}

// walFrameBytes returns the size of one WAL frame.
func (db *DB) walFrameBytes() int64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	return int64(walFrameHeaderSize) + int64(db.pageSize)
}

func (db *DB) walSize() int64 {
	fi, err := os.Stat(db.path + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
}

// background captures commits that bypassed the write lock and checkpoints
// when the WAL grows past CheckpointBytes.
func (db *DB) background(ctx context.Context) {
	defer close(db.bgDone)
	t := time.NewTicker(db.cfg.PollInterval)
	defer t.Stop()
	pace := newFailPacer(db.cfg.PollInterval, backgroundMaxBackoff, backgroundLogEvery)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !pace.due(time.Now()) {
			continue
		}
		if !db.tryLockWrite() {
			// A writer holds the lock and captures in EndWrite. But with
			// sessions writing back to back the lock is never free, and
			// the WAL must still be checkpointed (it grew by 20 MB/s
			// under pgbench at 4 clients): queue for the lock behind the
			// writers that wait. The checkpoint releases it for its bulk.
			if !db.needCheckpoint() {
				continue
			}
			if err := db.lockWrite(ctx); err != nil {
				return // closing
			}
		}
		var err error
		if db.needCheckpoint() {
			t0 := time.Now()
			err = db.checkpointOnline(ctx) // releases the write lock
			db.cfg.Logger.Debug("checkpoint", logKeyPath, db.path, "took", time.Since(t0), logKeyErr, err)
		} else {
			err = db.backgroundCaptureLocked()
			db.unlockWrite()
			// A log that outgrows its retention between checkpoints
			// (large transactions, a secondary released) is pruned now.
			// Its size is read holding neither lock: the log's mutex waits
			// for a secondary's fsync in progress, and the applier for
			// the write lock.
			if b, _ := db.log.stats(); err == nil && b > db.cfg.LogRetentionBytes+db.cfg.SegmentBytes {
				db.capMu.Lock()
				err = db.pruneLocked()
				db.capMu.Unlock()
			}
		}
		switch {
		case ctx.Err() != nil:
		case err != nil:
			// Writers capture on their own; what fails here again and
			// again (a checkpoint on a full disk) is retried with a
			// back-off and logged once per backgroundLogEvery.
			if log, repeated := pace.failed(time.Now(), err); log {
				db.cfg.Logger.Warn("background capture or checkpoint failed; retrying", logKeyPath, db.path, logKeyErr, err, "repeated", repeated)
			}
		case pace.succeeded():
			db.cfg.Logger.Info("background capture and checkpoint work again", logKeyPath, db.path)
		}
	}
}

// backgroundCaptureLocked is the background loop's capture, write lock
// held: commits written and not durable yet are the sync goroutine's (it is
// woken, the lock is not held for an fdatasync); anything else (a commit
// that bypassed the write lock) is synced and captured here.
func (db *DB) backgroundCaptureLocked() error {
	if db.gc.on {
		if t, _, ok := db.noteWritten(); ok && t > db.gc.durable.Load() {
			db.gc.kickSync()
			return nil
		}
	}
	db.capMu.Lock()
	defer db.capMu.Unlock()
	return db.syncCaptureLocked()
}

// The background loop's pacing after a failure.
const (
	backgroundMaxBackoff = 2 * time.Second
	backgroundLogEvery   = 30 * time.Second
)
