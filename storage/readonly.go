package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/sqlink/sqlink"
)

// ReadOnlyReason says why a read-only database is read-only when it is
// not a secondary replicating from the instance SetReadOnly named: e.g. a
// primary that fenced itself because its etcd lease was not renewed.
type ReadOnlyReason struct {
	Why  string // completes "database is read-only: ..."
	Hint string // what to do
}

// SetReadOnlyReason records why the database is (or is about to be made)
// read-only, for the error writes get and for Stats; the zero value
// clears it (the database is a secondary of the instance SetReadOnly
// named). SetReadOnly("") clears it too. It is not persisted.
func (db *DB) SetReadOnlyReason(r ReadOnlyReason) {
	db.mu.Lock()
	db.roWhy = r
	db.mu.Unlock()
}

// readOnlyErrLocked is the error a write gets on the read-only database.
// db.mu is held.
func (db *DB) readOnlyErrLocked() error {
	if db.roWhy.Why == "" {
		return ReadOnlyError("", db.primary)
	}
	return &sqlink.Error{
		Code:    sqlink.EREADONLY,
		Message: fmt.Sprintf("cannot execute a write in a read-only transaction: database is read-only: %s", db.roWhy.Why),
		Hint:    db.roWhy.Hint,
	}
}

// primaryLocked is the instance the read-only database follows, "" when
// it is read-only for another reason (SetReadOnlyReason). db.mu is held.
func (db *DB) primaryLocked() string {
	if db.roWhy.Why != "" {
		return ""
	}
	return db.primary
}

// ReadOnlyError returns the error for a write attempted on a secondary of
// instance primary; what names the statement (e.g. "INSERT").
func ReadOnlyError(what, primary string) error {
	if what == "" {
		what = "a write"
	}
	return &sqlink.Error{
		Code:    sqlink.EREADONLY,
		Message: fmt.Sprintf("cannot execute %s in a read-only transaction: database is a secondary replica of instance %s", what, primary),
		Hint:    fmt.Sprintf("connect to the primary instance %s, or use target_session_attrs=read-write", primary),
	}
}

// SetReadOnly makes the database a read-only secondary of instance primary,
// or writable again when primary is "". It waits for the current writer,
// captures its commits first, and persists the setting so the database
// reopens read-only. New Conns get PRAGMA query_only. On a read-only
// database, commits in the WAL are the applier's and are not captured.
func (db *DB) SetReadOnly(primary string) {
	if err := db.lockWrite(context.Background()); err != nil {
		// Closed: just record the setting.
		db.mu.Lock()
		db.readOnly, db.primary = primary != "", primary
		db.txUnguarded.Store(db.readOnly)
		db.mu.Unlock()
		return
	}
	defer db.unlockWrite()
	db.hardenMu.Lock() // no batch is half hardened while the role changes
	defer db.hardenMu.Unlock()
	db.capMu.Lock()
	defer db.capMu.Unlock()
	if err := db.syncCaptureLocked(); err != nil && !errors.Is(err, ErrDiverged) {
		db.cfg.Logger.Error("capture before role change", logKeyPath, db.path, logKeyErr, err)
	}
	if db.dcache != nil {
		db.dcache.reset() // a secondary's pages change under the applier
	}
	db.acache = nil // the applier's images are only of use to the applier
	db.mu.Lock()
	wasRO := db.readOnly
	db.readOnly, db.primary = primary != "", primary
	if primary == "" {
		db.roWhy = ReadOnlyReason{}
	}
	db.txUnguarded.Store(db.readOnly)
	db.endHoldLocked() // a role change ends any hold of the apply (a digest's)
	notRedone := db.pos.LSN - min(db.pos.LSN, db.redone.LSN)
	if primary == "" || !wasRO {
		// Writable, or a primary turning secondary: the database holds
		// every captured commit.
		db.redone = db.pos
	}
	redone := db.redone
	db.mu.Unlock()
	if d := db.Diverged(); d != nil && primary == "" && wasRO {
		if err := db.divergedToGapLocked(d, notRedone); err != nil {
			db.cfg.Logger.Error("mark the gap of a diverged copy that became writable", logKeyPath, db.path, logKeyErr, err)
		}
		db.mu.Lock()
		db.redone = db.pos
		redone = db.redone
		db.mu.Unlock()
	}
	stamp := db.closedStamp
	db.closedStamp = false
	if err := db.log.updateMeta(func(m *logMeta) {
		m.Secondary = primary
		if !wasRO {
			m.Redone = redone
		}
		if stamp {
			m.Closed, m.ClosedWAL = nil, nil
		}
	}); err != nil {
		db.cfg.Logger.Error("persist read-only setting", logKeyPath, db.path, logKeyErr, err)
	}
}

// ReadOnly reports whether the database is read-only, and the instance
// it is a secondary of ("" when read-only for another reason, see
// SetReadOnlyReason).
func (db *DB) ReadOnly() (bool, string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.readOnly, db.primaryLocked()
}
