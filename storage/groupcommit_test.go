package storage_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

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
