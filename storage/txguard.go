package storage

import (
	"context"
	"database/sql/driver"
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// A committed transaction becomes one log record, and a log entry holds at
// most maxEntrySize bytes: a transaction that changed more pages than that
// could commit in SQLite yet never reach the log (nor a secondary). So each
// connection of a writable database carries a commit hook that refuses, as
// the COMMIT, a transaction that may not fit: SQLite rolls it back and the
// client gets an error saying why, before anything is durable.
//
// The hook cannot see the transaction's pages; it bounds them from SQLite's
// per-connection counters: the pages written to the WAL since the last
// commit or rollback (spilled by this transaction, plus at most a cache's
// worth flushed by the one before it after its hook ran) and the page cache
// in use (the dirty pages the commit is about to write). Both only
// overestimate, so a transaction the hook lets through always fits; one
// within about a page cache of the limit, or that spilled the same pages
// many times, may be refused although it would have fitted.

// MaxRecordBytes is the largest transaction record the replication log
// holds, and the upper bound of DBConfig.MaxTransactionBytes.
const MaxRecordBytes = maxEntrySize - walPosSize

// ErrTransactionTooLarge is in the chain of the error a commit gets when the
// transaction changed more than DBConfig.MaxTransactionBytes of pages.
var ErrTransactionTooLarge = errors.New("storage: transaction too large for one replication record")

// IsTransactionTooLarge reports whether err is SQLite's refusal of a commit
// by the transaction size guard (the only commit hook sqlink installs).
func IsTransactionTooLarge(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_COMMITHOOK
}

// guardedConnector opens the database's connections with the guard.
type guardedConnector struct {
	driver.Connector
	db *DB
}

func (g guardedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := g.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	g.db.guardConn(c)
	return c, nil
}

// guardConn installs the size guard on a new connection.
func (db *DB) guardConn(c driver.Conn) {
	hr, ok := c.(sqlite.HookRegisterer)
	st, ok2 := c.(sqlite.DBStatus)
	if !ok || !ok2 {
		// A driver without hooks: the log append still refuses an
		// oversized record (and the capture stops loudly).
		return
	}
	hr.RegisterCommitHook(func() int32 {
		written, _, _ := st.Status(sqlite.DBStatusCacheWrite, true)
		if db.txUnguarded.Load() {
			// A secondary: its only writer is the applier, whose records
			// are in the log already.
			return 0
		}
		cached, _, _ := st.Status(sqlite.DBStatusCacheUsed, false)
		if txRecordBound(int64(written), int64(cached), int64(db.txPageSize.Load())) > db.cfg.MaxTransactionBytes {
			return 1
		}
		// The commit goes ahead: its frames are about to be written,
		// and visible (the output gate, groupcommit.go).
		db.gc.countCommit()
		return 0
	})
	hr.RegisterRollbackHook(func() {
		_, _, _ = st.Status(sqlite.DBStatusCacheWrite, true)
	})
}

// txRecordBound bounds the record of a transaction from the pages written
// to the WAL since the last commit and the page cache's size in bytes.
func txRecordBound(written, cacheBytes, pageSize int64) int64 {
	if pageSize <= 0 {
		pageSize = 4096
	}
	pages := written + cacheBytes/pageSize + 1
	return pages*(pageSize+8) + recordHeaderSize + recordTrailerSize
}
