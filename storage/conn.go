package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sqlink/sqlink"
)

// Conn is a connection pinned to one client session. All of the session's
// SQL runs on SQL(). Writes are bracketed by BeginWrite and EndWrite. A Conn
// is used by one session goroutine at a time, not concurrently.
type Conn struct {
	db     *DB
	sc     *sql.Conn
	holds  bool
	closed bool
	access Access
	sb     *sandbox
	attach bool // SQLITE_LIMIT_ATTACHED is 1, for a VACUUM
}

// Conn takes a connection for one session, from the session pool: a new
// SQLite connection in the SQL sandbox (sandbox.go), discarded when the
// session closes. On a read-only database it has PRAGMA query_only on.
func (db *DB) Conn(ctx context.Context) (*Conn, error) {
	db.mu.Lock()
	closed, ro := db.closed, db.readOnly
	db.mu.Unlock()
	if closed {
		return nil, db.errClosed()
	}
	sc, err := db.sessions.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("get connection: %w", err)
	}
	sb, err := db.sandboxOf(sc)
	if err == nil {
		err = sessionLimits(sc)
	}
	c := &Conn{db: db, sc: sc, sb: sb, access: AccessWrite}
	if err == nil {
		err = c.SetQueryOnly(ctx, ro)
	}
	if err != nil {
		db.discard(sc)
		return nil, fmt.Errorf("open session connection: %w", err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		db.discard(sc)
		return nil, db.errClosed()
	}
	db.conns[c] = struct{}{}
	return c, nil
}

// SQL returns the pinned connection.
func (c *Conn) SQL() *sql.Conn { return c.sc }

// BeginWrite takes the database's write lock, waiting in line behind other
// writers (cancellable with ctx). The caller then runs BEGIN IMMEDIATE or an
// autocommit write statement, and EndWrite after COMMIT or ROLLBACK. On a
// read-only secondary it fails with EREADONLY.
func (c *Conn) BeginWrite(ctx context.Context) error {
	if c.closed {
		return sqlink.Errorf(sqlink.EINTERNAL, "", "storage: use of a closed Conn")
	}
	if c.holds {
		return nil
	}
	db := c.db
	if err := db.writable(); err != nil {
		return err
	}
	if err := db.lockWrite(ctx); err != nil {
		return err
	}
	if err := db.writable(); err != nil {
		db.unlockWrite()
		return err
	}
	c.holds = true
	c.sb.holds.Store(true)
	return nil
}

// TryBeginWrite is BeginWrite when the write lock is free: it never
// waits, and reports false when another writer holds the lock (the caller
// then waits with BeginWrite). It saves the caller a timeout context per
// write on the common, uncontended path.
func (c *Conn) TryBeginWrite() (bool, error) {
	if c.closed {
		return false, sqlink.Errorf(sqlink.EINTERNAL, "", "storage: use of a closed Conn")
	}
	if c.holds {
		return true, nil
	}
	db := c.db
	if err := db.writable(); err != nil {
		return false, err
	}
	if !db.tryLockWrite() {
		return false, nil
	}
	if err := db.writable(); err != nil {
		db.unlockWrite()
		return false, err
	}
	c.holds = true
	c.sb.holds.Store(true)
	return true, nil
}

// writable returns the error a write would get now, if any.
func (db *DB) writable() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	switch {
	case db.closed:
		return db.errClosed()
	case db.readOnly:
		return db.readOnlyErrLocked()
	case db.capErr != nil:
		return db.capErr
	}
	return nil
}

// EndWrite captures the commits made since BeginWrite (there may be none,
// after a rollback), releases the write lock and returns the LSN of the
// last captured commit. With group commit it notes the WAL's end, releases
// the lock, and returns once an fdatasync covers the commit and the sync
// goroutine captured it.
func (c *Conn) EndWrite(ctx context.Context) (sqlink.LSN, error) {
	db := c.db
	if !db.gc.on {
		err := db.capture()
		lsn := db.Pos().LSN
		c.release()
		return lsn, err
	}
	if !c.holds {
		// Nothing of this Conn's to note: wait for what others wrote.
		db.gc.mu.Lock()
		t := db.gc.written
		db.gc.mu.Unlock()
		return db.waitDurable(t, nil)
	}
	t, end, ok := db.noteWritten()
	if !ok {
		// The WAL's end is unknown: sync and capture under the lock.
		err := db.capture()
		lsn := db.Pos().LSN
		c.release()
		return lsn, err
	}
	c.release()
	return db.waitDurable(t, &end)
}

// release releases the write lock if the Conn holds it.
func (c *Conn) release() {
	if c.holds {
		c.holds = false
		c.sb.holds.Store(false)
		c.db.unlockWrite()
	}
}

// WaitOutput returns once the session may send a reply: every commit
// begun so far is durable (the output gate, groupcommit.go).
func (c *Conn) WaitOutput(ctx context.Context) error {
	db := c.db
	if db.gc.on && c.sb.holds.Load() && db.gc.begun.Load() > db.gc.durable.Load() {
		// A commit not noted yet can only be this Conn's (it holds the
		// write lock): note it, or nothing would ever sync it.
		db.noteWritten()
	}
	return db.WaitOutput(ctx)
}

// Close rolls back any open transaction, releases the write lock if held
// and returns the connection to the pool.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	db := c.db
	// "cannot rollback - no transaction is active" is the common case.
	_, _ = c.sc.ExecContext(context.Background(), "ROLLBACK")
	if c.holds {
		c.holds = false
		c.sb.holds.Store(false)
		_ = db.capture() // a caller may have committed without EndWrite
		db.unlockWrite()
	}
	db.mu.Lock()
	delete(db.conns, c)
	db.mu.Unlock()
	if err := db.discard(c.sc); err != nil {
		return fmt.Errorf("close conn: %w", err)
	}
	return nil
}

// Access is what a session's login may do in its database. The session's
// SQLite connection enforces it (its authorizer): a read-only login's write
// is refused inside SQLite, whatever the statement text looks like.
type Access int

// Access levels, each including the ones before it.
const (
	// AccessConnect may open a session and run statements that touch no
	// table (SELECT 1, SHOW, catalog queries answered in Go).
	AccessConnect Access = iota + 1
	// AccessRead may also read the database's tables.
	AccessRead
	// AccessWrite may also change them and their schema.
	AccessWrite
)

func (a Access) String() string {
	switch a {
	case AccessConnect:
		return "connect"
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// SetAccess sets what the session may do from its next statement on. A new
// Conn has AccessWrite.
func (c *Conn) SetAccess(a Access) {
	c.access = a
	c.sb.access.Store(int32(a))
}

// Access returns what the session may do.
func (c *Conn) Access() Access { return c.access }
