package storage

import (
	"context"
	"fmt"
	"sort"

	"github.com/sqlink/sqlink"
)

// Harden appends records received from the primary to this secondary's
// log and fsyncs it: after Harden returns, the records survive a crash.
// Records at or before the hardened position are skipped (a resend); the
// rest must continue the log's LSNs and checksum chain. Harden needs the
// database to be read-only (a secondary).
func (db *DB) Harden(ctx context.Context, recs ...*Record) error {
	db.capMu.Lock()
	defer db.capMu.Unlock()
	db.mu.Lock()
	ro, closed := db.readOnly, db.closed
	db.mu.Unlock()
	if closed {
		return db.errClosed()
	}
	if !ro {
		return sqlink.Errorf(sqlink.ECONFLICT, "make the database a secondary first", "cannot harden replicated records on a writable database")
	}
	// Records appended before an error (or a cancellation) are still
	// synced and published, so the position never lags the log.
	var last *Record
	var ferr error
	for _, rec := range recs {
		if err := ctx.Err(); err != nil {
			ferr = err
			break
		}
		cur := db.log.lastPos()
		if rec.LSN <= cur.LSN {
			continue
		}
		if rec.LSN != cur.LSN+1 {
			ferr = sqlink.Errorf(sqlink.ECONFLICT, "resume replication from the hardened LSN",
				"record %d does not follow the hardened LSN %d", rec.LSN, cur.LSN)
			break
		}
		if err := rec.validate(); err != nil {
			ferr = fmt.Errorf("harden: %w", err)
			break
		}
		if err := db.log.append(rec, walPos{}, false); err != nil {
			ferr = err
			break
		}
		last = rec
	}
	if last == nil {
		return ferr
	}
	if err := db.log.sync(); err != nil {
		return err
	}
	db.mu.Lock()
	if last.Epoch > db.epoch {
		db.epoch = last.Epoch
	}
	db.mu.Unlock()
	db.advanceHardened(last)
	return ferr
}

func (db *DB) advanceHardened(rec *Record) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.pos = rec.Pos()
	db.lastCommit = rec.Time
	close(db.notify)
	db.notify = make(chan struct{})
}

// Redone returns the position of the last record applied to a secondary's
// database (on a primary, the same as Pos).
func (db *DB) Redone() sqlink.Pos {
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.readOnly {
		return db.pos
	}
	return db.redone
}

// Apply applies hardened records to a read-only secondary, in LSN order.
// Consecutive records are merged into one SQLite transaction (last image
// of a page wins), so readers see either all of them or none. Records at
// or before the redone position are skipped; the rest must continue it and
// be hardened already.
func (db *DB) Apply(ctx context.Context, recs ...*Record) error {
	if err := db.lockWrite(ctx); err != nil {
		return err
	}
	defer db.unlockWrite()
	db.capMu.Lock()
	defer db.capMu.Unlock()
	return db.applyLocked(ctx, recs)
}

func (db *DB) applyLocked(ctx context.Context, recs []*Record) error {
	db.mu.Lock()
	ro, redone, hardened, curSize := db.readOnly, db.redone, db.pos, db.pageCount
	db.mu.Unlock()
	if !ro {
		return sqlink.Errorf(sqlink.ECONFLICT, "make the database a secondary first", "cannot apply replicated records to a writable database")
	}
	var todo []*Record
	next := redone.LSN + 1
	for _, r := range recs {
		if r.LSN < next {
			continue
		}
		if r.LSN != next {
			return sqlink.Errorf(sqlink.ECONFLICT, "resume from the redone LSN", "record %d does not follow the redone LSN %d", r.LSN, next-1)
		}
		if r.LSN > hardened.LSN {
			return sqlink.Errorf(sqlink.EINVALID, "harden records before applying them", "record %d is not hardened (hardened LSN %d)", r.LSN, hardened.LSN)
		}
		todo = append(todo, r)
		next++
	}
	if len(todo) == 0 {
		return nil
	}
	last := todo[len(todo)-1]
	pages := map[uint32][]byte{}
	for _, r := range todo {
		for _, p := range r.Pages {
			pages[p.Pgno] = p.Data
		}
	}
	order := make([]uint32, 0, len(pages))
	for n := range pages {
		if n <= last.DBSize {
			order = append(order, n)
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })

	if db.applier == nil {
		c, err := db.sqldb.Conn(ctx)
		if err != nil {
			return fmt.Errorf("apply: get connection: %w", err)
		}
		// synchronous=NORMAL: the records are already hardened in the log,
		// and recovery redoes them from the redone position persisted at
		// checkpoints (which sync the WAL), so an fsync per applied
		// transaction would only add lag.
		if _, err := c.ExecContext(ctx, "PRAGMA query_only=OFF; PRAGMA synchronous=NORMAL"); err != nil {
			c.Close()
			return fmt.Errorf("apply: %w", err)
		}
		db.applier = c
	}
	a := db.applier
	// dbpage writes bypass the applier's page cache: drop it so a later
	// schema load does not see stale pages.
	if _, err := a.ExecContext(ctx, "PRAGMA shrink_memory"); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if _, err := a.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("apply: begin: %w", err)
	}
	fail := func(err error) error {
		a.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("apply records %d..%d: %w", todo[0].LSN, last.LSN, err)
	}
	stmt, err := a.PrepareContext(ctx, "INSERT INTO sqlite_dbpage(pgno, data) VALUES (?, ?)")
	if err != nil {
		return fail(err)
	}
	defer stmt.Close()
	// Pages 2..N ascending, page 1 (the schema cookie) last, then the
	// shrink, which a later page write would cancel.
	for _, n := range order {
		if n == 1 {
			continue
		}
		if _, err := stmt.ExecContext(ctx, n, pages[n]); err != nil {
			return fail(err)
		}
	}
	if d, ok := pages[1]; ok {
		if _, err := stmt.ExecContext(ctx, 1, d); err != nil {
			return fail(err)
		}
	}
	if last.DBSize < curSize {
		if _, err := stmt.ExecContext(ctx, last.DBSize+1, nil); err != nil {
			return fail(err)
		}
	}
	if _, err := a.ExecContext(ctx, "COMMIT"); err != nil {
		return fail(err)
	}
	// Step the capture position over the applier's commit.
	if err := db.captureLocked(); err != nil {
		return err
	}
	db.mu.Lock()
	db.redone = last.Pos()
	db.pageSize, db.pageCount = last.PageSize, last.DBSize
	close(db.notify)
	db.notify = make(chan struct{})
	db.mu.Unlock()
	return nil
}

// redoLog applies the hardened log after the redone position (recovery on
// a secondary). Called from OpenDB before the DB is shared.
func (db *DB) redoLog(ctx context.Context) error {
	if db.redone.LSN >= db.pos.LSN {
		return nil
	}
	r, err := db.ReadLog(ctx, db.redone.LSN)
	if err != nil {
		return err
	}
	defer r.Close()
	var batch []*Record
	size := 0
	for db.redone.LSN+sqlink.LSN(len(batch)) < db.pos.LSN {
		rec, err := r.TryNext()
		if err != nil {
			return err
		}
		batch = append(batch, rec)
		size += rec.Size()
		if size > 64<<20 {
			// Intermediate states are not shown to readers yet (OpenDB has
			// not returned), so splitting is safe.
			if err := db.applyLocked(ctx, batch); err != nil {
				return err
			}
			batch, size = nil, 0
		}
	}
	return db.applyLocked(ctx, batch)
}
