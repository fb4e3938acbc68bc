package storage_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/storage"
)

// commitOne inserts k as one write on a fresh Conn and returns EndWrite's
// LSN.
func commitOne(db *storage.DB, k int) (sqlink.LSN, error) {
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.BeginWrite(ctx); err != nil {
		return 0, err
	}
	err = c.Statement(storage.StatementWrite)
	if err == nil {
		_, err = c.SQL().ExecContext(ctx, "INSERT INTO t(k) VALUES (?)", k)
	}
	lsn, err2 := c.EndWrite(ctx)
	if err == nil {
		err = err2
	}
	return lsn, err
}

// TestGroupCommit_HeldSync holds the sync goroutine at the failpoint
// between the WAL write and the fdatasync: the commit is in the WAL (and
// SQLite shows it to readers), but no reply may leave (the output gate),
// it is not acknowledged, and it is not in the replication log. Commits
// that come meanwhile are made durable together, by one more fdatasync,
// each acknowledged with its own LSN.
func TestGroupCommit_HeldSync(t *testing.T) {
	ctx := context.Background()
	var armed, watch atomic.Bool
	reached, hold := make(chan struct{}, 16), make(chan struct{})
	var db *storage.DB
	var atSecond atomic.Int64 // the log's end when the second batch is about to sync
	calls := 0
	db = MustOpenDB(t, storage.DBConfig{Failpoint: func(name string) {
		if name != storage.FailpointWALSync || !watch.Load() {
			return
		}
		if calls++; calls == 2 {
			atSecond.Store(int64(db.Pos().LSN))
		}
		if armed.Load() {
			reached <- struct{}{}
			<-hold
		}
	}})
	released := false
	release := func() {
		if !released {
			released = true
			armed.Store(false)
			close(hold)
		}
	}
	defer release() // before the DB closes (cleanup), or Close waits on the held sync
	mustExecWrite(t, db, "CREATE TABLE t (k INTEGER)")
	mustExecWrite(t, db, "INSERT INTO t(k) VALUES (0)")
	pos0, syncs0, written0 := db.Pos(), storage.WALSyncs(db), storage.CommitsWritten(db)

	reader, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := reader.WaitOutput(ctx); err != nil {
		t.Fatalf("gate with nothing pending: %v", err)
	}

	armed.Store(true)
	watch.Store(true)
	const writers = 8
	type result struct {
		lsn sqlink.LSN
		err error
	}
	results := make(chan result, writers)
	go func() {
		lsn, err := commitOne(db, 1)
		results <- result{lsn, err}
	}()
	<-reached // the first commit is written, its sync held

	// SQLite shows the commit to a reader: the gate must hold its reply.
	var n int
	if err := reader.SQL().QueryRowContext(ctx, "SELECT count(*) FROM t WHERE k = 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("reader: %d rows, %v; want the written commit", n, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := reader.WaitOutput(cancelled); err == nil {
		t.Fatal("the output gate let a reply go while a commit it shows is not durable")
	}
	if got := db.Pos(); got != pos0 {
		t.Fatalf("an unsynced commit reached the replication log: pos %s, was %s", got, pos0)
	}
	select {
	case r := <-results:
		t.Fatalf("commit acknowledged before its fdatasync: %+v", r)
	default:
	}

	// More commits while the sync is held: they wait for the next batch.
	for i := 2; i <= writers; i++ {
		go func() {
			lsn, err := commitOne(db, i)
			results <- result{lsn, err}
		}()
	}
	testutil.RetryUntil(t, 0, func() error {
		if w := storage.CommitsWritten(db) - written0; w < writers {
			return fmt.Errorf("%d of %d commits written", w, writers)
		}
		return nil
	})
	release()

	seen := map[sqlink.LSN]bool{}
	for range writers {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.lsn <= pos0.LSN || r.lsn > pos0.LSN+writers || seen[r.lsn] {
			t.Fatalf("LSN %d: want distinct LSNs after %d", r.lsn, pos0.LSN)
		}
		seen[r.lsn] = true
	}
	if got := db.Pos().LSN; got != pos0.LSN+writers {
		t.Fatalf("pos %d, want %d", got, pos0.LSN+writers)
	}
	// The held batch, then one for the seven that waited behind it. The
	// first captured only up to the WAL end it read before its sync,
	// though the others were in the WAL by then.
	if got := atSecond.Load(); got != int64(pos0.LSN)+1 {
		t.Fatalf("log at LSN %d after the first batch, want %d: the capture went past the end its sync covered", got, pos0.LSN+1)
	}
	if got := storage.WALSyncs(db) - syncs0; got > 2 {
		t.Fatalf("%d fdatasyncs for %d commits, want at most 2 (one batch)", got, writers)
	}
	if err := reader.WaitOutput(ctx); err != nil {
		t.Fatal(err)
	}
	if err := reader.SQL().QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != writers+1 {
		t.Fatalf("%d rows, %v; want %d", n, err, writers+1)
	}
}

// TestGroupCommit_GateUnderLoad runs readers through the output gate while
// writers commit back to back: every wait ends (a publish between reading
// the durable count and taking the channel to wait on must not be lost),
// and every commit is acknowledged with its own LSN.
func TestGroupCommit_GateUnderLoad(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t, storage.DBConfig{})
	mustExecWrite(t, db, "CREATE TABLE t (k INTEGER)")
	pos0 := db.Pos().LSN
	const writers, each = 4, 150
	errs := make(chan error, writers+2)
	lsns := make(chan sqlink.LSN, writers*each)
	done := make(chan struct{})
	for w := range writers {
		go func() {
			for i := range each {
				lsn, err := commitOne(db, w*each+i)
				if err != nil {
					errs <- err
					return
				}
				lsns <- lsn
			}
			errs <- nil
		}()
	}
	for range 2 {
		go func() {
			c, err := db.Conn(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				wctx, cancel := context.WithTimeout(ctx, testutil.DefaultTimeout)
				err := c.WaitOutput(wctx)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("reader at the gate: %w", err)
					return
				}
			}
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(lsns)
	seen := map[sqlink.LSN]bool{}
	for l := range lsns {
		if seen[l] || l <= pos0 || l > pos0+writers*each {
			t.Fatalf("LSN %d returned twice or out of range", l)
		}
		seen[l] = true
	}
}

// TestGroupCommit_GateSeesAPublishWhileGettingReady makes the commit the
// gate waits for durable just between the gate's check and its wait: the
// wait must end at once, not at the next commit (there may be none).
func TestGroupCommit_GateSeesAPublishWhileGettingReady(t *testing.T) {
	ctx := context.Background()
	var armed atomic.Bool
	reached, hold := make(chan struct{}, 1), make(chan struct{})
	db := MustOpenDB(t, storage.DBConfig{Failpoint: func(name string) {
		if name == storage.FailpointWALSync && armed.Load() {
			reached <- struct{}{}
			<-hold
		}
	}})
	released := false
	release := func() {
		if !released {
			released = true
			armed.Store(false)
			close(hold)
		}
	}
	defer release()
	mustExecWrite(t, db, "CREATE TABLE t (k INTEGER)")
	reader, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()

	armed.Store(true)
	committed := make(chan error, 1)
	go func() {
		_, err := commitOne(db, 1)
		committed <- err
	}()
	<-reached
	want := storage.CommitsWritten(db)
	// A writer holds the lock meanwhile, as a transaction does whose own
	// reply waits at the gate: nothing else publishes (the background
	// loop's capture needs the lock).
	writer, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	storage.SetGateWaitHook(func() {
		storage.SetGateWaitHook(nil)
		release()
		testutil.RetryUntil(t, 0, func() error {
			if got := storage.CommitsDurable(db); got < want {
				return fmt.Errorf("%d commits durable, want %d", got, want)
			}
			return nil
		})
		if err := writer.BeginWrite(ctx); err != nil {
			t.Error(err)
		}
	})
	defer storage.SetGateWaitHook(nil)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second) // a bound for a hang, not a timing
	defer cancel()
	if err := reader.WaitOutput(wctx); err != nil {
		t.Fatalf("the gate missed the commit made durable while it got ready: %v", err)
	}
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommit_CommitNotedAsABatchEnds writes a commit just as the
// leader of the batch before it ends: it found the sync taken and waits.
// The leader must hand on when it lets go of the sync, or the commit
// waits for an unrelated publish (here none: the background loop, which
// would kick the sync goroutine, is off).
func TestGroupCommit_CommitNotedAsABatchEnds(t *testing.T) {
	db := MustOpenDB(t, storage.DBConfig{PollInterval: time.Hour})
	mustExecWrite(t, db, "CREATE TABLE t (k INTEGER)")
	second := make(chan error, 1)
	waiting := make(chan struct{}, 1)
	var once atomic.Bool
	storage.SetBatchEndHooks(func() {
		if !once.CompareAndSwap(false, true) {
			return
		}
		go func() {
			_, err := commitOne(db, 2)
			second <- err
		}()
		select {
		case <-waiting: // the second commit is written and waits
		case err := <-second:
			t.Errorf("the second commit ended while the first batch held the sync: %v", err)
		}
	}, func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	})
	defer storage.SetBatchEndHooks(nil, nil)
	if _, err := commitOne(db, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-second:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second): // a bound for a hang, not a timing
		t.Fatal("the commit noted as the batch before it ended was never synced")
	}
}
