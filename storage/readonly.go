package storage

import (
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
