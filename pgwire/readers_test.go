package pgwire_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sqlink/sqlink/pgwire"
)

// readersServer starts a server with table t(id, v) holding one row (1, 0).
func readersServer(t *testing.T) (*testServer, *pgx.Conn) {
	t.Helper()
	s := mustStartServer(t, pgwire.Config{})
	setup := mustConnect(t, s.dsn("app"))
	mustExec(t, setup, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)", "INSERT INTO t VALUES (1, 0)")
	return s, setup
}

func mustExec(t *testing.T, c *pgx.Conn, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := c.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func readV(t *testing.T, c *pgx.Conn) int {
	t.Helper()
	var v int
	if err := c.QueryRow(context.Background(), "SELECT v FROM t WHERE id = 1").Scan(&v); err != nil {
		t.Fatalf("read: %v", err)
	}
	return v
}

// A reader's transaction neither waits for a writer's open transaction nor
// makes writers wait: a plain BEGIN takes the write lock only at its first
// write. (Before, BEGIN took the write lock: the reader's BEGIN waited for
// the writer, and psql's BEGIN; SELECT; held writers off until COMMIT.)
func TestReadTransactionsDoNotWaitForWriters(t *testing.T) {
	s, _ := readersServer(t)
	writer := mustConnect(t, s.dsn("app"))
	reader := mustConnect(t, s.dsn("app"))
	// Without a lock to wait for, a short lock_timeout never fires; with
	// one, the statement fails at once instead of hanging.
	mustExec(t, reader, "SET lock_timeout = '50ms'")
	mustExec(t, writer, "SET lock_timeout = '50ms'")

	// The writer holds a long transaction.
	mustExec(t, writer, "BEGIN", "UPDATE t SET v = 1 WHERE id = 1")
	for i := 0; i < 3; i++ {
		mustExec(t, reader, "BEGIN")
		if v := readV(t, reader); v != 0 {
			t.Fatalf("reader saw v=%d of an uncommitted transaction", v)
		}
		mustExec(t, reader, "COMMIT")
		if v := readV(t, reader); v != 0 { // autocommit read
			t.Fatalf("reader saw v=%d", v)
		}
	}
	mustExec(t, writer, "COMMIT")
	if s.b.held.Load() != 0 {
		t.Fatal("write lock still held after COMMIT")
	}

	// A reader's open transaction (BEGIN; SELECT, as psql sends them)
	// does not hold writers off; it keeps its snapshot meanwhile.
	mustExec(t, reader, "BEGIN")
	if v := readV(t, reader); v != 1 {
		t.Fatalf("reader: v=%d, want 1", v)
	}
	mustExec(t, writer, "UPDATE t SET v = 2 WHERE id = 1")
	mustExec(t, writer, "BEGIN", "UPDATE t SET v = 3 WHERE id = 1", "COMMIT")
	if v := readV(t, reader); v != 1 {
		t.Fatalf("reader's snapshot moved: v=%d, want 1", v)
	}
	mustExec(t, reader, "COMMIT")
	if v := readV(t, reader); v != 3 {
		t.Fatalf("after COMMIT: v=%d, want 3", v)
	}
	if s.b.held.Load() != 0 {
		t.Fatal("write lock held by a read transaction")
	}
}

// A transaction that reads, then writes, takes the write lock at its first
// write and commits through EndWrite (the capture).
func TestReadThenWriteTransaction(t *testing.T) {
	s, _ := readersServer(t)
	c := mustConnect(t, s.dsn("app"))
	other := mustConnect(t, s.dsn("app"))
	mustExec(t, other, "SET lock_timeout = '50ms'")
	before := s.b.writes.Load()
	mustExec(t, c, "BEGIN")
	readV(t, c)
	if n := s.b.held.Load(); n != 0 {
		t.Fatalf("%d write locks held before the first write", n)
	}
	mustExec(t, c, "UPDATE t SET v = v + 10 WHERE id = 1")
	if n := s.b.held.Load(); n != 1 {
		t.Fatalf("%d write locks held after the first write, want 1", n)
	}
	// Now another writer waits for it: lock_timeout.
	if _, err := other.Exec(context.Background(), "UPDATE t SET v = 99"); pgCode(err) != "55P03" {
		t.Fatalf("write beside a writing transaction: %v, want 55P03", err)
	}
	mustExec(t, c, "INSERT INTO t VALUES (2, 5)", "COMMIT")
	if got := s.b.writes.Load() - before; got != 1 {
		t.Fatalf("EndWrite called %d times, want once for the transaction", got)
	}
	if s.b.held.Load() != 0 {
		t.Fatal("write lock held after COMMIT")
	}
	if v := readV(t, other); v != 10 {
		t.Fatalf("v=%d, want 10", v)
	}
}

// A transaction whose snapshot is older than another session's commit
// cannot write from it: 40001 with a hint to retry, the lock released at
// ROLLBACK, and the retry succeeds.
func TestStaleSnapshotWriteIsSerializationFailure(t *testing.T) {
	s, _ := readersServer(t)
	ctx := context.Background()
	a := mustConnect(t, s.dsn("app"))
	b := mustConnect(t, s.dsn("app"))
	mustExec(t, a, "BEGIN")
	readV(t, a)
	mustExec(t, b, "UPDATE t SET v = 7 WHERE id = 1")
	_, err := a.Exec(ctx, "UPDATE t SET v = v + 1 WHERE id = 1")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "40001" || pe.Hint == "" {
		t.Fatalf("stale write: %v, want 40001 with a hint", err)
	}
	t.Logf("40001: %s (hint: %s)", pe.Message, pe.Hint)
	mustExec(t, a, "ROLLBACK")
	if s.b.held.Load() != 0 {
		t.Fatal("write lock held after ROLLBACK")
	}
	mustExec(t, a, "BEGIN")
	readV(t, a)
	mustExec(t, a, "UPDATE t SET v = v + 1 WHERE id = 1", "COMMIT")
	if v := readV(t, b); v != 8 {
		t.Fatalf("v=%d, want 8", v)
	}
}

// BEGIN IMMEDIATE takes the write lock at BEGIN, as every BEGIN did before.
func TestBeginImmediateTakesWriteLock(t *testing.T) {
	s, _ := readersServer(t)
	a := mustConnect(t, s.dsn("app"))
	b := mustConnect(t, s.dsn("app"))
	mustExec(t, b, "SET lock_timeout = '50ms'")
	mustExec(t, a, "BEGIN IMMEDIATE")
	if n := s.b.held.Load(); n != 1 {
		t.Fatalf("%d write locks held after BEGIN IMMEDIATE, want 1", n)
	}
	if _, err := b.Exec(context.Background(), "INSERT INTO t VALUES (3, 3)"); pgCode(err) != "55P03" {
		t.Fatalf("write beside BEGIN IMMEDIATE: %v, want 55P03", err)
	}
	readV(t, b) // reads still run
	// A plain BEGIN's first write waits for the lock under lock_timeout.
	mustExec(t, b, "BEGIN")
	readV(t, b)
	if _, err := b.Exec(context.Background(), "UPDATE t SET v = 9 WHERE id = 1"); pgCode(err) != "55P03" {
		t.Fatalf("first write of a transaction beside BEGIN IMMEDIATE: %v, want 55P03", err)
	}
	mustExec(t, b, "ROLLBACK")
	mustExec(t, a, "UPDATE t SET v = 4 WHERE id = 1", "COMMIT")
	if v := readV(t, b); v != 4 {
		t.Fatalf("v=%d, want 4", v)
	}
}

// BEGIN READ ONLY still refuses writes, and a plain BEGIN on a read-only
// secondary answers a write with 25006 naming the primary.
func TestDeferredBeginReadOnlyCases(t *testing.T) {
	s, _ := readersServer(t)
	ctx := context.Background()
	c := mustConnect(t, s.dsn("app"))
	mustExec(t, c, "BEGIN READ ONLY")
	if _, err := c.Exec(ctx, "UPDATE t SET v = 5"); pgCode(err) != "25006" {
		t.Fatalf("write in READ ONLY: %v, want 25006", err)
	}
	mustExec(t, c, "ROLLBACK")
	s.b.readOnly.Store(true)
	defer s.b.readOnly.Store(false)
	mustExec(t, c, "BEGIN")
	readV(t, c)
	if _, err := c.Exec(ctx, "UPDATE t SET v = 5"); pgCode(err) != "25006" {
		t.Fatalf("write on a secondary: %v, want 25006", err)
	}
	mustExec(t, c, "ROLLBACK")
	if s.b.held.Load() != 0 {
		t.Fatal("write lock held")
	}
}
