package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/sqlink/sqlink"
)

// Harden appends records received from the primary to this secondary's
// log and fsyncs it: after Harden returns, the records survive a crash.
// Records at or before the hardened position are skipped (a resend); the
// rest must continue the log's LSNs and checksum chain. Harden needs the
// database to be read-only (a secondary).
func (db *DB) Harden(ctx context.Context, recs ...*Record) error {
	// Not under capMu: a secondary's capture never appends to its log, so
	// hardening (the fsync above all) goes on while the applier applies
	// and while a checkpoint runs.
	db.hardenMu.Lock()
	defer db.hardenMu.Unlock()
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
	db.hardenedAt = db.cfg.Now()
	close(db.notify)
	db.notify = make(chan struct{})
}

// Hardened returns a secondary's hardened position and when Harden made
// it durable (zero before the first Harden since the DB was opened), read
// together.
func (db *DB) Hardened() (sqlink.Pos, time.Time) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.pos, db.hardenedAt
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
	// Checked under capMu: the background loop's capture may have found
	// another program's commit while this waited for the lock.
	if d := db.Diverged(); d != nil {
		return divergedError(d, db.path)
	}
	err := db.applyHeld(ctx, recs)
	if errors.Is(err, ErrDiverged) && db.Diverged() == nil {
		// A page delta that does not apply to the page the copy holds:
		// marked, so that it stays refused across restarts and its link
		// reseeds it.
		if _, merr := db.markDiverged(deltaMismatchWhy(err)); merr != nil {
			return errors.Join(err, merr)
		}
	}
	return err
}

// applyHeld applies recs up to a hold of the apply (ErrApplyHeld).
func (db *DB) applyHeld(ctx context.Context, recs []*Record) error {
	n, held := db.heldPrefix(recs)
	if !held {
		return db.applyLocked(ctx, recs)
	}
	if n > 0 {
		if err := db.applyLocked(ctx, recs[:n]); err != nil {
			return err
		}
	}
	return ErrApplyHeld
}

func (db *DB) applyLocked(ctx context.Context, recs []*Record) error {
	if len(recs) == 0 || db.fuzzy == 0 || recs[0].LSN > db.fuzzy {
		return db.applyAhead(ctx, recs, nil)
	}
	// A seed copied from snapshots at several positions: until the
	// records up to the last one are applied, a page may be past the
	// record at hand. Whether it is can only be told from all of them.
	if db.Pos().LSN < db.fuzzy {
		return ErrWaitForLog
	}
	if db.fuzzyAhead == nil {
		ahead, err := db.aheadIndex(ctx, db.Redone().LSN, db.fuzzy)
		if err != nil {
			return err
		}
		db.fuzzyAhead = ahead
	}
	if err := db.applyAhead(ctx, recs, db.fuzzyAhead); err != nil {
		return err
	}
	if db.Redone().LSN >= db.fuzzy {
		db.fuzzy, db.fuzzyAhead = 0, nil
	}
	return nil
}

// ErrWaitForLog is returned by Apply when the records cannot be applied
// until more have been hardened (a seeded secondary whose pages come from
// several snapshots); apply again from Redone once the log has grown.
var ErrWaitForLog = errors.New("storage: apply waits for the log to reach the seed's last snapshot")

// aheadFunc says whether a page image with checksum sum is what a change of
// page pgno at or after lsn left: the database already holds that change.
type aheadFunc func(pgno uint32, lsn sqlink.LSN, sum uint64) bool

// aheadIndex indexes the checksum each change of a page in (from, to]
// leaves, and returns the aheadFunc applyAhead needs.
func (db *DB) aheadIndex(ctx context.Context, from, to sqlink.LSN) (aheadFunc, error) {
	after := map[uint32][]lsnSum{}
	if err := db.scanLog(ctx, from, to, func(rec *Record) {
		for _, p := range rec.Pages {
			after[p.Pgno] = append(after[p.Pgno], lsnSum{rec.LSN, p.afterSum()})
		}
	}); err != nil {
		return nil, err
	}
	return func(pgno uint32, lsn sqlink.LSN, sum uint64) bool {
		for _, c := range after[pgno] {
			if c.lsn >= lsn && c.sum == sum {
				return true
			}
		}
		return false
	}, nil
}

// applyAhead is applyLocked; during recovery, ahead (if not nil) tells
// pages that already hold a change (see redoLog).
func (db *DB) applyAhead(ctx context.Context, recs []*Record, ahead aheadFunc) error {
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

	if db.applier == nil {
		a, err := db.openApplier(ctx)
		if err != nil {
			return err
		}
		db.applier = a
	}
	a := db.applier
	// Once begun, the transaction runs to its end whatever ctx says: a
	// cancellation that interrupted BEGIN could leave the transaction open
	// (every later BEGIN then fails), and one that interrupted COMMIT could
	// leave the pages committed while the redone position stays behind
	// them (deltas, unlike whole images, do not apply twice). The batch is
	// bounded, so this does not hold a stop up for long.
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	// dbpage writes bypass the b-tree layer of the applier's connection:
	// drop its page cache so a later schema load does not see stale pages.
	// (Dropping it only before batches that write page 1, where the schema
	// cookie lives, was tried: TestApply_SchemaChangesAmongDataChanges
	// then fails with a malformed schema.)
	if _, err := a.shrink.ExecContext(ctx); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if _, err := a.begin.ExecContext(ctx); err != nil {
		return fmt.Errorf("apply: begin: %w", err)
	}

	fail := func(err error) error {
		a.c.ExecContext(context.Background(), "ROLLBACK")
		if db.acache != nil {
			db.acache.reset()
		}
		return fmt.Errorf("apply records %d..%d: %w", todo[0].LSN, last.LSN, err)
	}
	if db.acache == nil || db.acache.pageSize != last.PageSize {
		db.acache = newPageCache(db.cfg.DeltaCacheBytes, last.PageSize)
	}
	pages, reads, err := resolvePages(ctx, a.read, todo, ahead, db.acache)
	db.applyBaseReads += int64(reads)
	if err != nil {
		return fail(err)
	}
	order := make([]uint32, 0, len(pages))
	for n := range pages {
		if n <= last.DBSize {
			order = append(order, n)
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	stmt := a.write
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
	if _, err := a.commit.ExecContext(ctx); err != nil {
		return fail(err)
	}
	for _, n := range order {
		db.acache.put(n, pages[n])
	}
	db.acache.cut(last.DBSize)
	// Step the capture position over the applier's commit.
	db.applierCommits = 1
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

// applyConn is the applier's connection and its statements, prepared once.
type applyConn struct {
	c                                  *sql.Conn
	read, write, begin, commit, shrink *sql.Stmt
}

func (db *DB) openApplier(ctx context.Context) (*applyConn, error) {
	c, err := db.sqldb.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply: get connection: %w", err)
	}
	a := &applyConn{c: c}
	// synchronous=NORMAL: the records are already hardened in the log,
	// and recovery redoes them from the redone position persisted at
	// checkpoints (which sync the WAL), so an fsync per applied
	// transaction would only add lag.
	if _, err := c.ExecContext(ctx, "PRAGMA query_only=OFF; PRAGMA synchronous=NORMAL"); err != nil {
		a.close()
		return nil, fmt.Errorf("apply: %w", err)
	}
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{
		{&a.read, "SELECT data FROM sqlite_dbpage WHERE pgno = ?"},
		{&a.write, "INSERT INTO sqlite_dbpage(pgno, data) VALUES (?, ?)"},
		{&a.begin, "BEGIN IMMEDIATE"},
		{&a.commit, "COMMIT"},
		{&a.shrink, "PRAGMA shrink_memory"},
	} {
		if *p.st, err = c.PrepareContext(ctx, p.sql); err != nil {
			a.close()
			return nil, fmt.Errorf("apply: prepare %q: %w", p.sql, err)
		}
	}
	return a, nil
}

func (a *applyConn) close() error {
	for _, st := range []*sql.Stmt{a.read, a.write, a.begin, a.commit, a.shrink} {
		if st != nil {
			st.Close()
		}
	}
	return a.c.Close()
}

// redoLog applies the hardened log after the redone position (recovery on
// a secondary). Called from OpenDB before the DB is shared.
func (db *DB) redoLog(ctx context.Context) error {
	if db.redone.LSN >= db.pos.LSN {
		return nil
	}
	if db.fuzzy > db.redone.LSN && db.pos.LSN < db.fuzzy {
		return nil // a fuzzy seed: the applier waits for the rest of the log
	}
	// The database may hold applied records after the redone position
	// persisted at the last checkpoint (the applier does not sync). Whole
	// images apply again harmlessly, but a delta needs the page as it was
	// before its record: index the checksum each change leaves, so that a
	// page found already past a record is recognized and kept.
	ahead, err := db.aheadIndex(ctx, db.redone.LSN, db.pos.LSN)
	if err != nil {
		return err
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
			if err := db.applyAhead(ctx, batch, ahead); err != nil {
				return err
			}
			batch, size = nil, 0
		}
	}
	if err := db.applyAhead(ctx, batch, ahead); err != nil {
		return err
	}
	db.fuzzy = 0
	return nil
}

type lsnSum struct {
	lsn sqlink.LSN
	sum uint64
}

// scanLog calls fn for each record in (from, to].
func (db *DB) scanLog(ctx context.Context, from, to sqlink.LSN, fn func(*Record)) error {
	r, err := db.ReadLog(ctx, from)
	if err != nil {
		return err
	}
	defer r.Close()
	for n := from; n < to; n++ {
		rec, err := r.TryNext()
		if err != nil {
			return err
		}
		fn(rec)
	}
	return nil
}

// resolvePages merges the pages of consecutive records into their final
// images, last image of a page wins. A delta applies to the page's image
// before its record: an earlier record of the batch, or else the database
// as the applier sees it inside its transaction (redone up to the batch),
// which cache (the images of earlier batches) usually holds. A cached
// image is only a guess: the delta's checksum of its result tells a wrong
// one, and then the page is read. A delta that does not apply to the page
// read is an error that stops the applier: the secondary's pages are not
// what the primary's history says.
func resolvePages(ctx context.Context, read *sql.Stmt, recs []*Record, ahead aheadFunc, cache *pageCache) (pages map[uint32][]byte, reads int, err error) {
	pages = map[uint32][]byte{}
	gone := uint32(math.MaxUint32) // pages above this were cut off by a shrink in the batch
	for _, r := range recs {
		for _, p := range r.Pages {
			if p.Delta == nil {
				pages[p.Pgno] = p.Data
				continue
			}
			img := make([]byte, r.PageSize)
			base, ok := pages[p.Pgno]
			if !ok && p.Pgno <= gone && cache != nil {
				if c, hit := cache.get(p.Pgno); hit && applyDelta(img, c, p.Delta) == nil {
					pages[p.Pgno] = img
					continue
				}
			}
			if !ok {
				if p.Pgno > gone {
					return nil, reads, fmt.Errorf("record %d: %w (page %d was cut off earlier in the batch)", r.LSN, errBadDelta, p.Pgno)
				}
				reads++
				if err := read.QueryRowContext(ctx, p.Pgno).Scan(&base); err != nil {
					return nil, reads, fmt.Errorf("record %d: read page %d: %w", r.LSN, p.Pgno, err)
				}
				if len(base) != int(r.PageSize) {
					return nil, reads, fmt.Errorf("record %d: %w (page %d has %d bytes)", r.LSN, errBadDelta, p.Pgno, len(base))
				}
			}
			if err := applyDelta(img, base, p.Delta); err != nil {
				if ahead != nil && ahead(p.Pgno, r.LSN, xxhash.Sum64(base)) {
					pages[p.Pgno] = base // already applied before the crash
					continue
				}
				return nil, reads, fmt.Errorf("%w: %w", ErrDiverged, sqlink.Errorf(sqlink.EINTERNAL, "the secondary's pages differ from the primary's history: its link reseeds it",
					"record %d, page %d: %v", r.LSN, p.Pgno, err))
			}
			pages[p.Pgno] = img
		}
		if r.DBSize < gone {
			for n := range pages {
				if n > r.DBSize {
					delete(pages, n)
				}
			}
			gone = r.DBSize
		}
	}
	return pages, reads, nil
}
