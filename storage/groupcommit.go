package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/sqlink/sqlink"
)

// Group commit. With Synchronous FULL (the default) SQLite commits at
// synchronous=NORMAL: COMMIT writes the transaction's frames to the WAL
// without an fdatasync, the writer notes the WAL's end and releases the
// write lock, and its acknowledgement waits until one fdatasync of the WAL
// covers that end. One syncer at a time (g.syncing) serves every commit
// written at that moment with one fdatasync (a batch), then captures the
// batch into the replication log, bounded by the WAL end it read before the
// sync: the log, and what links ship, never get ahead of the durable WAL,
// as when every commit synced under the lock. The syncer (the leader) is
// the first waiting goroutine, a commit's or a reply's at the gate, that
// finds no batch under way (a lone commit costs no hand-over between
// goroutines; commits that come during a batch wait, and one of them syncs
// them all next: whoever ends a batch wakes them if any is left, lead), or
// the sync goroutine (syncLoop) for commits nobody waits on.
//
// The output gate: a commit is visible to other connections as soon as its
// frames are in the WAL, before it is durable. Every commit counts itself
// in begun from SQLite's commit hook, before its frames are written; a
// reply leaving the server waits (WaitOutput) until the commits begun
// before it are durable, so no client sees data a power loss could erase.
//
// Every capture follows an fdatasync covering what it captures: the sync
// goroutine's, or syncCaptureLocked's under the write lock (checkpoints,
// the background loop, backups, role changes, Close), which notes, syncs
// and captures everything in one step: a checkpoint therefore captures
// only durable commits, and a WAL restart still follows a full capture.
type groupCommit struct {
	on bool // Synchronous FULL on a writable database: SQLite at NORMAL, synced here

	begun   atomic.Uint64 // commits begun (commit hook), writable database only
	durable atomic.Uint64 // commits covered by an fdatasync and captured (or tried)

	mu       sync.Mutex
	written  uint64     // commits whose frames are in the WAL (noted under the write lock)
	end      walPos     // the WAL's end after commit written (salts, Frame)
	lsn      sqlink.LSN // captured through durable
	capErr   error      // the last batch's capture error (a commit not logged yet)
	syncErr  error      // sticky: an fdatasync of the WAL failed
	closed   bool
	advanced chan struct{} // closed when durable advances, a sync fails or the DB closes
	ends     []endLSN      // the recent captured commits' ends, a ring
	endsNext int

	syncing sync.Mutex    // held by whoever syncs a batch: one at a time
	kick    chan struct{} // wakes syncLoop (buffered 1)
	stop    chan struct{} // ends syncLoop (Close, once it captured everything)
	done    chan struct{} // closed when syncLoop returned

	shm *os.File // the WAL index, read for the WAL's end (mu)

	syncs atomic.Int64 // fdatasyncs of the WAL made for commits
}

func (g *groupCommit) init(on bool) {
	g.on = on
	g.advanced = make(chan struct{})
	g.kick = make(chan struct{}, 1)
	g.stop = make(chan struct{})
	g.done = make(chan struct{})
}

// FailpointWALSync is the failpoint (DBConfig.Failpoint) the sync goroutine
// passes between a batch's WAL writes and its fdatasync.
const FailpointWALSync = "storage/wal-sync"

// countCommit is called from SQLite's commit hook when a commit goes ahead.
func (g *groupCommit) countCommit() {
	if g.on {
		g.begun.Add(1)
	}
}

// noteWritten records, under the write lock, what was committed since the
// last note as written, with the WAL's end, and returns the last written
// commit and that end. It returns false when the WAL's end cannot be read
// (the caller then syncs and captures under the lock). A commit that
// bypassed the commit hook (VACUUM commits without it) is seen from the
// WAL's end and counted here.
func (db *DB) noteWritten() (uint64, walPos, bool) {
	g := &db.gc
	g.mu.Lock()
	defer g.mu.Unlock()
	end, ok := db.readWALEnd()
	if !ok {
		return 0, walPos{}, false
	}
	b := g.begun.Load()
	if end != g.end && b <= g.written && !db.txUnguarded.Load() {
		// Frames with no commit counted: count one, for the gate too.
		for b <= g.written && !g.begun.CompareAndSwap(b, g.written+1) {
			b = g.begun.Load()
		}
		b = max(b, g.written+1)
	}
	if b > g.written {
		g.written, g.end = b, end
	}
	return g.written, end, true
}

// endLSN maps a captured commit's WAL end to its LSN, so a commit's waiter
// gets its own LSN.
type endLSN struct {
	end walPos
	lsn sqlink.LSN
}

// maxEnds bounds the recent commits kept in groupCommit.ends.
const maxEnds = 1024

// captured records a commit the capture appended (capMu held).
func (g *groupCommit) captured(end walPos, lsn sqlink.LSN) {
	if !g.on {
		return
	}
	end.CkptSeq, end.Ck1, end.Ck2 = 0, 0, 0
	g.mu.Lock()
	if len(g.ends) < maxEnds {
		g.ends = append(g.ends, endLSN{end, lsn})
	} else {
		g.ends[g.endsNext] = endLSN{end, lsn}
		g.endsNext = (g.endsNext + 1) % maxEnds
	}
	g.mu.Unlock()
}

// lsnOf returns the LSN of the commit that ended at end, or the last
// captured one when it is not among the recent ones (g.mu held). It looks
// from the newest: a waiter's commit is nearly always among the last few.
func (g *groupCommit) lsnOf(end walPos) sqlink.LSN {
	n := len(g.ends)
	newest := n - 1
	if n == maxEnds {
		newest = (g.endsNext + maxEnds - 1) % maxEnds
	}
	for k := range n {
		if e := g.ends[(newest-k+n)%n]; e.end == end {
			return e.lsn
		}
	}
	return g.lsn
}

// pendingSync reports whether commits are written and not durable yet.
func (g *groupCommit) pendingSync() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.written > g.durable.Load()
}

// kickSync wakes the sync goroutine.
func (g *groupCommit) kickSync() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// syncLoop is the sync goroutine for commits nobody waits on (the
// background loop's, a gate's): woken by kickSync, it syncs and captures
// what was written and not durable yet, in batches. A commit's own waiter
// does the same work itself when no sync is under way (waitDurable), so a
// lone commit costs no hand-over between goroutines.
func (db *DB) syncLoop() {
	g := &db.gc
	defer close(g.done)
	for {
		select {
		case <-g.kick:
		case <-g.stop:
			return
		}
		g.syncing.Lock()
		for db.syncWritten() {
		}
		g.syncing.Unlock()
		db.handOn()
	}
}

// lead syncs, when no sync is under way, every commit written so far as
// one batch in the calling goroutine (the leader), and reports whether it
// did. Commits that come while a batch syncs wait for it to end, and one
// of them leads the next: one fdatasync per batch, and none of a
// goroutine's hand-over to a sync goroutine when commits do not overlap.
func (db *DB) lead() bool {
	g := &db.gc
	if !g.syncing.TryLock() {
		return false
	}
	db.syncWritten()
	if testHookBatchEnd != nil {
		testHookBatchEnd()
	}
	g.syncing.Unlock()
	db.handOn()
	return true
}

// handOn, called by whoever let go of g.syncing, wakes the waiters when
// commits written are still not durable: a commit noted while the last
// batch ended found the sync taken and waits, and would otherwise wait
// for the next publish (another commit, or the background loop's kick).
// Woken, its waiter leads the next batch.
func (db *DB) handOn() {
	g := &db.gc
	g.mu.Lock()
	if g.written > g.durable.Load() && g.syncErr == nil && !g.closed {
		close(g.advanced)
		g.advanced = make(chan struct{})
	}
	g.mu.Unlock()
}

// syncWritten makes one batch durable: every commit written so far, with
// one fdatasync, then captured up to the WAL end read before the sync. It
// reports false when there was nothing to do (g.syncing held: one batch
// at a time).
func (db *DB) syncWritten() bool {
	g := &db.gc
	g.mu.Lock()
	t, end, failed := g.written, g.end, g.syncErr != nil
	g.mu.Unlock()
	if failed || t <= g.durable.Load() {
		return false
	}
	if db.cfg.Failpoint != nil {
		db.cfg.Failpoint(FailpointWALSync)
	}
	db.capMu.Lock()
	defer db.capMu.Unlock()
	if t > g.durable.Load() {
		db.syncBatchLocked(t, &end)
	}
	return true
}

// syncBatchLocked (capMu held) syncs the WAL, captures it up to end (all of
// it when end is nil: the write lock is held) and publishes commits up to t
// as durable.
func (db *DB) syncBatchLocked(t uint64, end *walPos) error {
	size, err := db.syncWAL()
	if err != nil {
		db.syncFailed(err)
		return err
	}
	db.gc.syncs.Add(1)
	if size >= 0 {
		db.wal.checked = &size
	}
	db.wal.limit = end
	err = db.captureLocked()
	db.wal.limit, db.wal.checked = nil, nil
	db.publishDurable(t, err)
	return err
}

// syncCaptureLocked is the capture under the write lock (and capMu): with
// group commit it notes what was written, syncs the WAL unless everything
// in it is captured (hence synced) already, captures everything and
// publishes it as durable.
func (db *DB) syncCaptureLocked() error {
	g := &db.gc
	if !g.on {
		return db.captureLocked()
	}
	g.mu.Lock()
	serr := g.syncErr
	g.mu.Unlock()
	if serr != nil {
		return serr
	}
	t, end, ok := db.noteWritten()
	if !ok {
		t = g.begun.Load()
	}
	p := db.wal.pos
	if ok && end.Salt1 == p.Salt1 && end.Salt2 == p.Salt2 && end.Frame == p.Frame && p.known() {
		// Nothing beyond what was captured, which was synced first.
		err := db.captureLocked()
		db.publishDurable(t, err)
		return err
	}
	return db.syncBatchLocked(t, nil)
}

// captureUnlocked syncs and captures what was written, without the write
// lock (Close, when the writer does not let go): bounded by the last noted
// WAL end, as the sync goroutine's batches are.
func (db *DB) captureUnlocked() error {
	db.capMu.Lock()
	defer db.capMu.Unlock()
	g := &db.gc
	if !g.on {
		return db.captureLocked()
	}
	g.mu.Lock()
	t, end := g.written, g.end
	g.mu.Unlock()
	return db.syncBatchLocked(t, &end)
}

// publishDurable makes commits up to t durable and wakes their waiters.
func (db *DB) publishDurable(t uint64, capErr error) {
	g := &db.gc
	lsn := db.Pos().LSN
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lsn, g.capErr = lsn, capErr
	if t > g.durable.Load() {
		g.durable.Store(t)
	}
	close(g.advanced)
	g.advanced = make(chan struct{})
}

// syncFailed makes a failed fdatasync sticky: the WAL's pages in the
// kernel may have been dropped, so no commit since the last good sync can
// be called durable, nor captured; writes stop until a restart.
func (db *DB) syncFailed(err error) {
	g := &db.gc
	e := sqlink.Errorf(sqlink.EUNAVAILABLE, "check the volume of the instance's data directory, then restart the instance: commits not acknowledged may be lost",
		"database %s: fdatasync of the WAL failed: %v", filepath.Base(db.path), err)
	g.mu.Lock()
	if g.syncErr == nil {
		g.syncErr = e
		close(g.advanced)
		g.advanced = make(chan struct{})
	}
	g.mu.Unlock()
	_ = db.stopCapture(e)
}

// syncWAL fdatasyncs the WAL file (capMu held): its data and size. It
// returns the file's size before the sync (-1: no file).
func (db *DB) syncWAL() (int64, error) {
	size, exists, err := db.wal.open()
	if err != nil || !exists {
		return -1, err
	}
	return size, fdatasync(db.wal.f)
}

// waitDurable waits until commit t is durable and returns the LSN of the
// commit that ended the WAL at end (nil: the last captured), with the
// capture's error if any.
func (db *DB) waitDurable(t uint64, end *walPos) (sqlink.LSN, error) {
	g := &db.gc
	for {
		g.mu.Lock()
		// Durable is published under g.mu after the capture recorded
		// the batch's LSNs: checked here, a commit that is durable has
		// its own LSN among the ends.
		durable := g.durable.Load() >= t
		lsn, capErr, serr, closed, ch := g.lsn, g.capErr, g.syncErr, g.closed, g.advanced
		if durable && end != nil {
			lsn = g.lsnOf(*end)
		}
		g.mu.Unlock()
		switch {
		case durable:
			return lsn, capErr
		case serr != nil:
			return lsn, serr
		case closed:
			return lsn, db.errClosed()
		}
		if db.lead() {
			// No sync was under way: this commit's goroutine synced
			// the batch (everything written so far) itself.
			continue
		}
		if testHookSyncTaken != nil {
			testHookSyncTaken()
		}
		<-ch
	}
}

// WaitOutput returns once every commit begun so far is durable: a reply
// sent after it can show no data a power loss could erase (see the output
// gate above). It returns at once when nothing is pending, and with an
// error when ctx ends, a sync failed or the database closed.
func (db *DB) WaitOutput(ctx context.Context) error {
	g := &db.gc
	if !g.on {
		return nil
	}
	t := g.begun.Load()
	for g.durable.Load() < t {
		if testHookGateWait != nil {
			testHookGateWait()
		}
		g.mu.Lock()
		serr, closed, ch := g.syncErr, g.closed, g.advanced
		g.mu.Unlock()
		// Read after the channel: a publish in between closed it.
		switch {
		case g.durable.Load() >= t:
			return nil
		case serr != nil:
			return serr
		case closed:
			return db.errClosed()
		case ctx.Err() != nil:
			return fmt.Errorf("wait for a commit to be durable: %w", ctx.Err())
		}
		if db.gc.pendingSync() && db.lead() {
			// Written, not durable, no sync under way: the gate's
			// goroutine syncs the batch itself. (A commit begun and
			// not written yet is its committer's to note and sync.)
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for a commit to be durable: %w", ctx.Err())
		}
	}
	return nil
}

// testHookGateWait, when set by a test, runs in WaitOutput between its
// check of the durable commits and its taking the channel to wait on.
var testHookGateWait func()

// testHookBatchEnd, when set by a test, runs in lead after the leader's
// batch, before it lets go of the sync; testHookSyncTaken in waitDurable
// when a commit found the sync taken, before it waits.
var testHookBatchEnd, testHookSyncTaken func()

// closeGroupCommit ends the sync goroutine and wakes every waiter (Close,
// after its last capture).
func (db *DB) closeGroupCommit() {
	g := &db.gc
	close(g.stop)
	<-g.done
	g.mu.Lock()
	g.closed = true
	close(g.advanced)
	g.advanced = make(chan struct{})
	shm := g.shm
	g.shm = nil
	g.mu.Unlock()
	if shm != nil {
		shm.Close()
	}
}

// The WAL index header (https://sqlite.org/walformat.html#the_wal_index_file_format):
// two copies of 48 bytes at the start of the -shm file, in native byte
// order, the second written first.
const (
	walIndexHdrSize   = 48
	walIndexVersion   = 3007000
	walIndexMaxFrame  = 16
	walIndexSalt      = 32
	walIndexCksumOff  = 40
	walIndexReadTries = 100
)

// readWALEnd reads the WAL's end from the WAL index header: the salts of
// the current generation and the index of its last committed frame. Called
// under the write lock, after a commit: no writer changes it meanwhile.
// (g.mu held.)
func (db *DB) readWALEnd() (walPos, bool) {
	g := &db.gc
	if g.shm == nil {
		f, err := os.Open(db.path + "-shm")
		if err != nil {
			return walPos{}, false
		}
		g.shm = f
	}
	var b [2 * walIndexHdrSize]byte
	for range walIndexReadTries {
		if _, err := g.shm.ReadAt(b[:], 0); err != nil {
			return walPos{}, false
		}
		h1, h2 := b[:walIndexHdrSize], b[walIndexHdrSize:]
		if string(h1) != string(h2) || h1[12] != 1 || binary.NativeEndian.Uint32(h1) != walIndexVersion {
			continue // being written (a reader's recovery)
		}
		s1, s2 := walIndexChecksum(h1[:walIndexCksumOff])
		if s1 != binary.NativeEndian.Uint32(h1[walIndexCksumOff:]) || s2 != binary.NativeEndian.Uint32(h1[walIndexCksumOff+4:]) {
			continue
		}
		return walPos{
			// The salts are the WAL header's bytes, copied as they are.
			Salt1: binary.BigEndian.Uint32(h1[walIndexSalt:]),
			Salt2: binary.BigEndian.Uint32(h1[walIndexSalt+4:]),
			Frame: binary.NativeEndian.Uint32(h1[walIndexMaxFrame:]),
		}, true
	}
	return walPos{}, false
}

// walIndexChecksum is SQLite's checksum of the WAL index header, over
// native-order words.
func walIndexChecksum(b []byte) (uint32, uint32) {
	var s1, s2 uint32
	for i := 0; i+8 <= len(b); i += 8 {
		s1 += binary.NativeEndian.Uint32(b[i:]) + s2
		s2 += binary.NativeEndian.Uint32(b[i+4:]) + s1
	}
	return s1, s2
}
