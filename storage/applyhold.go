package storage

import (
	"errors"
	"sort"
	"time"

	"github.com/sqlink/sqlink"
)

// An apply hold keeps a secondary's Apply from going past an LSN for a
// while, so that a snapshot (a digest for `link verify`) can be taken at
// exactly that LSN while records keep arriving: the copy otherwise moves
// on in merged groups, and would rarely stand at the primary's LSN.

// ErrApplyHeld is what Apply returns, after applying the records up to
// the held LSN, when it may not go further: wait for ApplyHold's channel,
// then read on from the redone position.
var ErrApplyHeld = errors.New("storage: apply held at an LSN (a digest of the copy is being taken)")

type applyHold struct {
	lsn   sqlink.LSN
	until time.Time
	done  chan struct{} // closed when the hold ends
}

// HoldApply keeps Apply from going past lsn until ReleaseApply(lsn) or
// until the deadline. It reports false, and holds nothing, when the copy
// is past lsn already.
func (db *DB) HoldApply(lsn sqlink.LSN, until time.Time) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.redone.LSN > lsn {
		return false
	}
	db.endHoldLocked()
	db.hold = applyHold{lsn: lsn, until: until, done: make(chan struct{})}
	return true
}

// endHoldLocked ends the current hold, if any (mu held).
func (db *DB) endHoldLocked() {
	if db.hold.done != nil {
		close(db.hold.done)
		db.hold = applyHold{}
	}
}

// ReleaseApply ends the hold at lsn, if it is the current one.
func (db *DB) ReleaseApply(lsn sqlink.LSN) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.hold.lsn == lsn {
		db.endHoldLocked()
	}
}

// ApplyHold returns the current hold's LSN, a channel closed when it ends
// and its deadline; lsn is 0 when there is none (an expired one ends here).
func (db *DB) ApplyHold() (lsn sqlink.LSN, done <-chan struct{}, until time.Time) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.hold.done != nil && !db.cfg.Now().Before(db.hold.until) {
		db.endHoldLocked()
	}
	return db.hold.lsn, db.hold.done, db.hold.until
}

// heldPrefix returns how many of recs Apply may apply under the current
// hold, and whether the hold stops it there.
func (db *DB) heldPrefix(recs []*Record) (int, bool) {
	lsn, _, _ := db.ApplyHold()
	if lsn == 0 {
		return len(recs), false
	}
	n := sort.Search(len(recs), func(i int) bool { return recs[i].LSN > lsn })
	return n, n < len(recs)
}
