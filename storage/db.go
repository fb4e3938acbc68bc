package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sqlink/sqlink"

	"modernc.org/sqlite"
)

// DB is one SQLite database in WAL mode whose commits are captured, in WAL
// order, into a replication log. See the package documentation for the
// model. A DB is safe for concurrent use.
type DB struct {
	path string
	cfg  DBConfig

	sqldb *sql.DB
	// sessions is the pool of client sessions' connections, sandboxed
	// (sandbox.go); sandboxes holds their authorizers' state by driver
	// connection.
	sessions  *sql.DB
	sandboxes sync.Map
	holder    *sql.Conn // always open, so SQLite never checkpoints and deletes the WAL behind us
	// guard holds a read transaction while a checkpoint runs without the
	// write lock, so no writer restarts the WAL meanwhile (see
	// checkpointOnline); opened at the first such checkpoint.
	guard *sql.Conn

	// wlock is the Go-level write lock: a send acquires it, a receive
	// releases it. Blocked senders wake in FIFO order.
	wlock chan struct{}

	hardenMu       sync.Mutex // serializes Harden and role changes (taken before capMu)
	capMu          sync.Mutex // serializes capture, apply and checkpoint
	wal            *walScanner
	log            *segLog
	dcache         *pageCache // last captured page images, for deltas (capMu)
	acache         *pageCache // last applied page images, delta bases (capMu)
	applyBaseReads int64      // delta bases read from the database (capMu)
	// On a secondary every commit in the WAL is the applier's: after the
	// recovery at open (strictSteps), a scan may step over as many as
	// applierCommits says; any other is another program's (capMu).
	strictSteps    bool
	applierCommits int

	mu          sync.Mutex
	pos         sqlink.Pos
	epoch       sqlink.Epoch
	readOnly    bool
	primary     string
	roWhy       ReadOnlyReason
	capErr      error // sticky: capture stopped
	closed      bool
	conns       map[*Conn]struct{}
	notify      chan struct{}
	pageSize    uint32
	pageCount   uint32
	lastCommit  time.Time
	hardenedAt  time.Time // on a secondary: when the last Harden made pos durable
	checkpoints int64
	lastCkpt    time.Time
	ckptAt      walPos     // capture position when the last checkpoint started (guarded by capMu)
	ckptCopied  bool       // the last checkpoint only copied (no restart due) (capMu)
	closedStamp bool       // a clean close's stamp still describes the file (capMu)
	redone      sqlink.Pos // on a secondary: last record applied to the database
	fuzzy       sqlink.LSN // on a secondary: records up to here may already be in some pages (capMu)
	fuzzyAhead  aheadFunc
	applier     *applyConn // on a secondary: the only connection that writes
	retainFloor sqlink.LSN // log after this LSN is kept regardless of size (0: no floor)
	hasFloor    bool

	closing chan struct{}
	cancel  context.CancelFunc
	bgDone  chan struct{}

	// For the transaction size guard (txguard.go), which runs inside
	// SQLite's commit and cannot take mu: readOnly and pageSize.
	txUnguarded atomic.Bool
	txPageSize  atomic.Uint32

	hold applyHold // on a secondary: Apply goes no further than this (mu)

	gc groupCommit // group commit and the output gate (groupcommit.go)
}

// OpenDB opens the database at path, creating it when missing (page_size
// 4096, journal_mode WAL), opens its replication log in path+"-log" and
// captures any commit in the WAL that the log does not have yet (after a
// crash), so LSNs continue without gaps or duplicates.
func OpenDB(ctx context.Context, path string, cfg DBConfig) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open db: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, sqlink.Errorf(sqlink.EINVALID, "give the path of a database file", "%s is a directory", path)
	}
	if err := claimPath(path); err != nil {
		return nil, err
	}
	db, err := openDB(ctx, path, cfg)
	if err != nil {
		releasePath(path)
		return nil, err
	}
	return db, nil
}

// openPaths are the databases open in this process. A second DB on the
// same files would capture, checkpoint and prune the log behind the first
// one's back, so OpenDB refuses it.
var openPaths = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

func claimPath(path string) error {
	openPaths.Lock()
	defer openPaths.Unlock()
	if openPaths.m[path] {
		return sqlink.Errorf(sqlink.ECONFLICT, "close the database first: it may be opened once per process",
			"database %s is already open", path)
	}
	openPaths.m[path] = true
	return nil
}

func releasePath(path string) {
	openPaths.Lock()
	defer openPaths.Unlock()
	delete(openPaths.m, path)
}

// openDB is OpenDB once the path is claimed.
func openDB(ctx context.Context, path string, cfg DBConfig) (_ *DB, err error) {
	lg, err := openLog(path+"-log", cfg.SegmentBytes)
	if err != nil {
		return nil, err
	}
	sqlOpen := false
	var db *DB
	defer func() {
		// One cleanup for every failure below.
		if err == nil {
			return
		}
		if sqlOpen {
			db.closeSQL()
		}
		lg.close()
	}()
	db = &DB{
		path:    path,
		cfg:     cfg,
		wlock:   make(chan struct{}, 1),
		log:     lg,
		conns:   map[*Conn]struct{}{},
		notify:  make(chan struct{}),
		closing: make(chan struct{}),
		bgDone:  make(chan struct{}),
	}
	db.gc.init(cfg.Synchronous == "FULL")
	db.pos, db.epoch = lg.last, lg.lastEp
	db.readOnly, db.primary = lg.meta.Secondary != "", lg.meta.Secondary
	db.txUnguarded.Store(db.readOnly)
	switch db.redone = lg.meta.Redone; {
	case !db.readOnly:
		db.redone = db.pos
	case db.redone.LSN < lg.meta.Base.LSN:
		db.redone = lg.meta.Base
	}
	if db.readOnly && lg.meta.Fuzzy > db.redone.LSN {
		db.fuzzy = lg.meta.Fuzzy
	}
	var gapWhy, divergedWhy string
	switch {
	case !db.readOnly:
		// Before SQLite opens the file: did it change behind the log?
		if gapWhy, err = checkWALAtOpen(path, lg.meta, lg.lastWAL); err != nil {
			return nil, err
		}
	case lg.meta.Diverged == nil:
		if divergedWhy, err = checkSecondaryAtOpen(path, lg.meta); err != nil {
			return nil, err
		}
	}
	if err := db.openSQL(ctx); err != nil {
		return nil, err
	}
	sqlOpen = true
	// Recovery: resume capture where the log ends. A WAL generation change
	// since then was checked above (checkWALAtOpen): either it followed a
	// checkpoint through the capture path, which synced the log first, or
	// it is a gap, marked now, and the capture reads the WAL from its start.
	startWAL := lg.lastWAL
	if gapWhy != "" {
		if startWAL, err = db.markGap(gapWhy); err != nil {
			return nil, err
		}
	} else if divergedWhy != "" {
		if _, err := db.markDiverged(divergedWhy); err != nil {
			return nil, err
		}
	} else if lg.meta.Closed != nil && db.readOnly {
		// The stamp describes the file as the last close left it; from
		// now on the instance changes it.
		if err := lg.updateMeta(func(m *logMeta) { m.Closed, m.ClosedWAL = nil, nil }); err != nil {
			return nil, err
		}
	} else if lg.meta.Closed != nil {
		// A primary changes the file only by checkpoints: the stamp stays
		// true until the first one (clearClosedStamp), so a crash before
		// it, with commits in a new WAL not captured yet (group commit
		// captures after the sync), is not taken for a gap.
		db.closedStamp = true
	}
	db.wal = newWALScanner(path+"-wal", startWAL)
	db.wal.announceRestart()
	n0 := db.pos.LSN
	if err := db.capture(); err != nil {
		return nil, fmt.Errorf("recover from wal: %w", err)
	}
	// From here on a secondary's WAL gets only the applier's commits.
	db.strictSteps = true
	if err := lg.sync(); err != nil {
		return nil, err
	}
	if n := db.pos.LSN - n0; n > 0 {
		cfg.Logger.Info("recovered commits from the wal", logKeyPath, path, "count", n, logKeyLSN, db.pos.LSN)
	}
	if db.readOnly && db.Diverged() == nil {
		// Redo what the log hardened beyond the last persisted redo
		// position; page images make re-applying idempotent. (A diverged
		// copy is reseeded instead: its pages are not the deltas' bases.)
		err := db.redoLog(ctx)
		switch {
		case errors.Is(err, ErrDiverged):
			// Changed outside sqlink after a crash (no stamp to tell):
			// the database opens all the same, marked, and its link
			// reseeds it. One such copy must not stop the instance.
			_, err = db.markDiverged(deltaMismatchWhy(err))
		case errors.Is(err, ErrCorruptRecord):
			// A hardened record it has not redone is damaged on disk:
			// the copy cannot go on from its log, nor stop the instance.
			_, err = db.markDiverged(corruptLogWhy(err))
		}
		if err != nil {
			return nil, fmt.Errorf("redo hardened log: %w", err)
		}
	}
	bg, cancel := context.WithCancel(context.Background())
	db.cancel = cancel
	go db.background(bg)
	go db.syncLoop()
	return db, nil
}

func (db *DB) dsn() string {
	sync := db.cfg.Synchronous
	if db.gc.on {
		// Group commit: the sync goroutine makes commits durable.
		sync = "NORMAL"
	}
	return fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=synchronous(%s)&_pragma=wal_autocheckpoint(0)",
		db.path, db.cfg.BusyTimeout.Milliseconds(), sync)
}

func (db *DB) openSQL(ctx context.Context) error {
	conn, err := sqlite.NewConnector(db.dsn())
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	sqldb := sql.OpenDB(guardedConnector{conn, db})
	sqldb.SetMaxIdleConns(16)
	db.sqldb = sqldb
	sconn, err := sqlite.NewConnector(db.sessionDSN())
	if err != nil {
		sqldb.Close()
		return fmt.Errorf("open sqlite: %w", err)
	}
	db.sessions = sql.OpenDB(sessionConnector{sconn, db})
	holder, err := sqldb.Conn(ctx)
	if err != nil {
		sqldb.Close()
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "check the path and its permissions", "open database %s: %v", db.path, err)
	}
	db.holder = holder
	var mode string
	if _, err := holder.ExecContext(ctx, "PRAGMA page_size=4096"); err != nil {
		db.closeSQL()
		return fmt.Errorf("set page size: %w", err)
	}
	if err := holder.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil || mode != "wal" {
		db.closeSQL()
		if err == nil {
			err = fmt.Errorf("journal mode is %q", mode)
		}
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "make sure the file is a SQLite database and no other program holds it", "set WAL mode on %s: %v", db.path, err)
	}
	var ps, pc int64
	if err := holder.QueryRowContext(ctx, "PRAGMA page_size").Scan(&ps); err != nil {
		db.closeSQL()
		return fmt.Errorf("read page size: %w", err)
	}
	if err := holder.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pc); err != nil {
		db.closeSQL()
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "make sure the file is a SQLite database", "read %s: %v", db.path, err)
	}
	db.pageSize, db.pageCount = uint32(ps), uint32(pc)
	db.txPageSize.Store(uint32(ps))
	return nil
}

func (db *DB) closeSQL() error {
	var err error
	if db.applier != nil {
		db.applier.close()
	}
	if db.guard != nil {
		db.guard.Close()
	}
	if db.holder != nil {
		err = db.holder.Close()
	}
	if err2 := db.sqldb.Close(); err == nil {
		err = err2
	}
	if err2 := db.sessions.Close(); err == nil {
		err = err2
	}
	return err
}

// Path returns the database file's absolute path.
func (db *DB) Path() string { return db.path }

// Pos returns the position of the last captured commit.
func (db *DB) Pos() sqlink.Pos {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.pos
}

// Epoch returns the epoch that new records are written in.
func (db *DB) Epoch() sqlink.Epoch {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.epoch
}

// SetEpoch persists e as the epoch of the records captured from now on.
func (db *DB) SetEpoch(e sqlink.Epoch) error {
	db.capMu.Lock()
	defer db.capMu.Unlock()
	if err := db.log.setEpoch(e); err != nil {
		return fmt.Errorf("set epoch: %w", err)
	}
	db.mu.Lock()
	db.epoch = e
	db.mu.Unlock()
	return nil
}

// Notify returns a channel that is closed when the position next advances
// (or the DB closes). Take a new channel after each wake-up.
func (db *DB) Notify() <-chan struct{} {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.notify
}

// WaitLSN blocks until the position reaches lsn, ctx ends or the DB closes.
func (db *DB) WaitLSN(ctx context.Context, lsn sqlink.LSN) error {
	for {
		db.mu.Lock()
		cur, ch, closed, capErr := db.pos.LSN, db.notify, db.closed, db.capErr
		db.mu.Unlock()
		if cur >= lsn {
			return nil
		}
		if closed {
			return db.errClosed()
		}
		if capErr != nil {
			return capErr
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (db *DB) errClosed() error {
	return sqlink.Errorf(sqlink.EUNAVAILABLE, "reconnect; the database was closed", "database %s is closed", filepath.Base(db.path))
}

// SetRetentionFloor keeps the log after lsn regardless of
// LogRetentionBytes (e.g. what a secondary has not hardened yet). Clear it
// with ok false.
func (db *DB) SetRetentionFloor(lsn sqlink.LSN, ok bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.retainFloor, db.hasFloor = lsn, ok
}

// lockWrite takes the write lock.
func (db *DB) lockWrite(ctx context.Context) error {
	select {
	case db.wlock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the write lock: %w", ctx.Err())
	case <-db.closing:
		return db.errClosed()
	}
}

func (db *DB) unlockWrite() { <-db.wlock }

func (db *DB) tryLockWrite() bool {
	select {
	case db.wlock <- struct{}{}:
		return true
	default:
		return false
	}
}

// capture reads new commits from the WAL into the log, after syncing the
// WAL (group commit). The caller holds the write lock, or the DB is not
// shared yet.
func (db *DB) capture() error {
	db.capMu.Lock()
	defer db.capMu.Unlock()
	return db.syncCaptureLocked()
}

func (db *DB) captureLocked() error {
	allowed := db.applierCommits // on a secondary: commits to step over
	db.applierCommits = 0
	db.mu.Lock()
	err := db.capErr
	db.mu.Unlock()
	if err != nil {
		return err
	}
	n := 0
	db.mu.Lock()
	skip := db.readOnly
	db.mu.Unlock()
	db.wal.skipPages = skip
	foreign := false
	err = db.wal.scan(func(c walCommit) error {
		if skip {
			// The applier's commit: its record is already in the log. (The
			// capture's page images were dropped when the database became
			// a secondary, and nothing is encoded while it is one.)
			if db.strictSteps && allowed == 0 {
				foreign = true
			}
			allowed = max(0, allowed-1)
			return nil
		}
		db.mu.Lock()
		rec := &Record{LSN: db.pos.LSN + 1, Epoch: db.epoch, Time: db.cfg.Now().UTC(), PageSize: c.PageSize, DBSize: c.DBSize, Pages: c.Pages}
		db.mu.Unlock()
		if db.dcache == nil || db.dcache.pageSize != c.PageSize {
			db.dcache = newPageCache(db.cfg.DeltaCacheBytes, c.PageSize)
			db.dcache.recycle = func(b []byte) { db.wal.recycle(b) }
		}
		db.dcache.encode(rec)
		if err := db.log.append(rec, c.End, true); err != nil {
			return err
		}
		db.advance(rec)
		db.gc.captured(c.End, rec.LSN)
		n++
		return nil
	})
	switch {
	case err == nil && foreign:
		// Another program committed to a secondary while it ran: its
		// copy is no longer what its log says.
		return db.divergeLocked("another program committed to the secondary's database while the instance ran")
	case err == nil:
		return nil
	case errors.Is(err, errRecordTooLarge):
		// The size guard refuses such a commit; one got past it (written
		// by another program): it cannot be logged, and skipping it would
		// leave a gap. Stop, as for a lost WAL.
		return db.stopCapture(sqlink.Errorf(sqlink.EINTERNAL, "stop the other program that writes this file (through sqlink such a transaction is refused at COMMIT); that commit cannot be replicated, so neither this database's links nor its backups can go past it",
			"database %s: capture stopped: a commit changed more pages than one replication record holds: %v", filepath.Base(db.path), err))
	case errors.Is(err, errWALRestart) && skip:
		// On a secondary: whether the other program committed in the
		// generation it ended cannot be told, so the copy cannot be
		// trusted to be the primary's any more.
		return db.divergeLocked("another program checkpointed and restarted the secondary's WAL while the instance ran")
	case errors.Is(err, errWALRestart):
		// Commits were lost to the log: a gap nothing can fill. Stop, and
		// make sure the next open finds it (checkWALAtOpen) whatever the
		// WAL then looks like.
		if merr := db.log.updateMeta(func(m *logMeta) { m.Captured, m.Closed = nil, nil }); merr != nil {
			db.cfg.Logger.Error("cannot record the gap in the log's metadata", logKeyPath, db.path, logKeyErr, merr)
		}
		return db.stopCapture(sqlink.Errorf(sqlink.EINTERNAL, "stop the other program that writes or checkpoints this file, then restart the instance: the replication log misses that program's changes, so the restart marks a gap in the history, this database's links reseed by themselves, and its backup chain starts again with the next full backup",
			"database %s: capture stopped: %v", filepath.Base(db.path), err))
	default:
		// Reading the WAL or appending to the log failed (a full disk,
		// say). The scan resumes at the same commit next time; the delta
		// cache may already hold that commit's pages, so it starts over
		// (whole images) rather than encode deltas against them.
		if db.dcache != nil {
			db.dcache.reset()
		}
		return notLoggedError{sqlink.Errorf(sqlink.EUNAVAILABLE, "free space on the volume of the instance's data directory: the commit is durable in the database, and its record is written by the next write or the background capture",
			"database %s: a commit could not be added to the replication log: %v", filepath.Base(db.path), err), err}
	}
}

// stopCapture makes err the capture's sticky error: writes fail with it
// from now on.
func (db *DB) stopCapture(err error) error {
	db.mu.Lock()
	db.capErr = err
	db.mu.Unlock()
	db.cfg.Logger.Error("capture stopped", logKeyPath, db.path, logKeyErr, err)
	return err
}

// CaptureStopped returns why the capture stopped for good (every write
// fails with it until the instance restarts), or nil.
func (db *DB) CaptureStopped() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.capErr
}

// ErrCommitNotLogged is in the chain of the error a capture returns when a
// commit, durable in the database, could not be added to the replication
// log yet (a full disk): the next capture retries it.
var ErrCommitNotLogged = errors.New("storage: a commit is not in the replication log yet")

type notLoggedError struct {
	err   *sqlink.Error
	cause error
}

func (e notLoggedError) Error() string   { return e.err.Error() }
func (e notLoggedError) Unwrap() []error { return []error{e.err, ErrCommitNotLogged, e.cause} }

// advance publishes a record appended to the log.
func (db *DB) advance(rec *Record) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.pos = rec.Pos()
	db.pageSize, db.pageCount = rec.PageSize, rec.DBSize
	db.txPageSize.Store(rec.PageSize)
	db.lastCommit = rec.Time
	close(db.notify)
	db.notify = make(chan struct{})
}

// Stats describes a database's storage.
type Stats struct {
	Pos            sqlink.Pos   `json:"pos"`
	Epoch          sqlink.Epoch `json:"epoch"`
	PageSize       int64        `json:"page_size"`
	PageCount      int64        `json:"page_count"`
	SizeBytes      int64        `json:"size_bytes"` // page size x page count
	WALBytes       int64        `json:"wal_bytes"`
	LogBytes       int64        `json:"log_bytes"`
	LogFirstLSN    sqlink.LSN   `json:"log_first_lsn"` // oldest record the log can still serve
	LastCommit     time.Time    `json:"last_commit"`
	Checkpoints    int64        `json:"checkpoints"`
	LastCheckpoint time.Time    `json:"last_checkpoint"`
	ReadOnly       bool         `json:"read_only"`
	Primary        string       `json:"primary,omitempty"`
	ReadOnlyWhy    string       `json:"read_only_why,omitempty"` // why read-only when Primary is "" (SetReadOnlyReason)
	OpenConns      int          `json:"open_conns"`
	Redone         sqlink.Pos   `json:"redone"`               // on a secondary: applied to the database; Pos is hardened
	HardenedAt     time.Time    `json:"hardened_at,omitzero"` // on a secondary: when Pos was made durable (zero before the first Harden since open)
	CaptureError   string       `json:"capture_error,omitempty"`
	Gap            *LogGap      `json:"gap,omitempty"`      // the latest gap in the history (changes made outside sqlink)
	Diverged       *LogGap      `json:"diverged,omitempty"` // a secondary whose copy no longer matches its log (see DB.Diverged)
}

// Stats returns the database's current statistics.
func (db *DB) Stats() Stats {
	logBytes, first := db.log.stats()
	gap, diverged := db.Gap(), db.Diverged()
	wal := db.walSize()
	db.mu.Lock()
	defer db.mu.Unlock()
	s := Stats{
		Pos:            db.pos,
		Epoch:          db.epoch,
		PageSize:       int64(db.pageSize),
		PageCount:      int64(db.pageCount),
		SizeBytes:      int64(db.pageSize) * int64(db.pageCount),
		WALBytes:       wal,
		LogBytes:       logBytes,
		LogFirstLSN:    first,
		LastCommit:     db.lastCommit,
		HardenedAt:     db.hardenedAt,
		Checkpoints:    db.checkpoints,
		LastCheckpoint: db.lastCkpt,
		ReadOnly:       db.readOnly,
		Primary:        db.primaryLocked(),
		ReadOnlyWhy:    db.roWhy.Why,
		OpenConns:      len(db.conns),
		Redone:         db.redone,
		Gap:            gap,
		Diverged:       diverged,
	}
	if db.capErr != nil {
		s.CaptureError = db.capErr.Error()
	}
	return s
}

// Close waits (within ctx) for the current writer, captures everything,
// syncs the log, checkpoints, and closes every connection. Sessions still
// open get errors afterwards.
func (db *DB) Close(ctx context.Context) error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	conns := make([]*Conn, 0, len(db.conns))
	for c := range db.conns {
		conns = append(conns, c)
	}
	db.mu.Unlock()

	db.cancel()
	<-db.bgDone
	var errs []error
	locked := false
	if db.applier != nil {
		defer func() { db.applier = nil }()
	}
	select {
	case db.wlock <- struct{}{}:
		locked = true
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("close: wait for writer: %w", ctx.Err()))
	}
	close(db.closing)
	captured := false
	if locked {
		if _, err := db.checkpointLocked(ctx); err != nil {
			errs = append(errs, err)
		} else {
			captured = db.CaptureStopped() == nil
		}
	} else if err := db.captureUnlocked(); err != nil {
		errs = append(errs, err)
	}
	// Commits still waiting were made durable above, or fail now.
	db.closeGroupCommit()
	// Close sessions' connections; a running query finishes first.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, c := range conns {
			c.sc.Close()
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("close: sessions still running: %w", ctx.Err()))
	}
	// A Harden that began before closed was set finishes first; a later
	// one sees closed.
	db.hardenMu.Lock()
	err := db.log.close()
	db.hardenMu.Unlock()
	if err != nil {
		errs = append(errs, err)
	}
	db.capMu.Lock()
	db.wal.close()
	db.capMu.Unlock()
	if err := db.closeSQL(); err != nil {
		errs = append(errs, fmt.Errorf("close sqlite: %w", err))
	} else if captured {
		// Everything was captured (a secondary: applied) and SQLite is
		// done with the file: stamp it, so the next open can tell
		// whether it changed since.
		stamp := db.stampClosed
		if db.readOnly {
			stamp = db.stampSecondaryClosed
		}
		if err := stamp(); err != nil {
			errs = append(errs, err)
		}
	}
	db.mu.Lock()
	close(db.notify)
	db.notify = make(chan struct{})
	db.mu.Unlock()
	releasePath(db.path)
	return errors.Join(errs...)
}
