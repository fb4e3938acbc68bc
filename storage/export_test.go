package storage

import "context"

// ApplyDelta exposes applyDelta to the package's external tests.
var ApplyDelta = applyDelta

// AppendDelta exposes appendDelta to the package's external tests.
func AppendDelta(old, cur []byte) []byte {
	d, _ := appendDelta(nil, old, cur)
	return d
}

// PoisonApplyCache overwrites every page image the applier keeps as a
// delta base with garbage of the right size.
func PoisonApplyCache(db *DB) {
	db.capMu.Lock()
	defer db.capMu.Unlock()
	if db.acache == nil {
		return
	}
	for n := range db.acache.pages {
		junk := make([]byte, db.acache.pageSize)
		for i := range junk {
			junk[i] = byte(n) + byte(i)
		}
		db.acache.pages[n] = junk
	}
}

// ApplyBaseReads returns how many delta bases the applier has read from
// the database (cache misses).
func ApplyBaseReads(db *DB) int64 {
	db.capMu.Lock()
	defer db.capMu.Unlock()
	return db.applyBaseReads
}

// ExecTrusted runs q on a session's connection as sqlink itself, outside
// the SQL sandbox: for tests that need what a session may not do.
func ExecTrusted(c *Conn, q string) error {
	return c.trusted(func() error {
		_, err := c.sc.ExecContext(context.Background(), q)
		return err
	})
}

// WALSyncs returns how many fdatasyncs of the WAL group commit made.
func WALSyncs(db *DB) int64 { return db.gc.syncs.Load() }

// CommitsWritten returns how many commits group commit has seen written
// to the WAL (noted under the write lock).
func CommitsWritten(db *DB) uint64 {
	db.gc.mu.Lock()
	defer db.gc.mu.Unlock()
	return db.gc.written
}

// SetGateWaitHook sets the hook WaitOutput runs between its check of the
// durable commits and its taking the channel to wait on (nil: none).
func SetGateWaitHook(f func()) { testHookGateWait = f }

// CommitsDurable returns how many commits group commit has made durable.
func CommitsDurable(db *DB) uint64 { return db.gc.durable.Load() }

// SetBatchEndHooks sets the hook a leader runs after its batch, before it
// lets go of the sync, and the hook a commit runs when it found the sync
// taken, before it waits (nil: none).
func SetBatchEndHooks(batchEnd, syncTaken func()) {
	testHookBatchEnd, testHookSyncTaken = batchEnd, syncTaken
}
