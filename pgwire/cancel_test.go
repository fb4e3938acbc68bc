package pgwire_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sqlink/sqlink/pgwire"
)

// endlessQuery never ends by itself.
const endlessQuery = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r) SELECT count(*) FROM r"

// hangBound bounds the wait for a cancelled statement to end: far longer
// than any cancel takes on a loaded machine (a few interrupt retries), so
// that a lost cancel fails the test with a goroutine dump instead of
// hanging it until go test's own timeout.
const hangBound = 30 * time.Second

// waitShownActive polls the server's sessions, without pausing, until
// session pid shows query as active (what pg_stat_activity shows): a
// cancel sent right then lands as early as a client can send it, in the
// moment between the Query's arrival and the statement's start.
func waitShownActive(t *testing.T, s *testServer, pid uint32, query string) {
	t.Helper()
	deadline := time.Now().Add(hangBound)
	for {
		for _, si := range s.srv.Sessions() {
			if si.PID == pid && si.State == pgwire.StateActive && strings.Contains(si.Query, query) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %d never showed %q active", pid, query)
		}
		runtime.Gosched()
	}
}

// awaitEnd waits for a cancelled statement's result; a statement still
// running after hangBound fails the test with the goroutines' stacks and
// its session ended, so the test ends.
func awaitEnd(t *testing.T, s *testServer, pid uint32, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(hangBound):
	}
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	s.srv.TerminateSession(pid)
	<-done
	t.Fatalf("%s: the statement of session %d still ran %s after it was cancelled; goroutines:\n%s", what, pid, hangBound, b.String())
	return nil
}

func backendPIDOf(t *testing.T, ctx context.Context, c *pgx.Conn) uint32 {
	t.Helper()
	var pid int32
	if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return uint32(pid)
}

// TestCancelAtStatementStart cancels a statement again and again as soon
// as its session shows it active, by pg_cancel_backend's path
// (Server.CancelSession) and by a CancelRequest: each cancel that lands
// between the Query's arrival and the statement's start must still cancel
// it (it used to be dropped: the session had no statement running yet,
// and the endless statement then ran forever while pg_cancel_backend had
// answered true).
func TestCancelAtStatementStart(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	victim := mustConnect(t, s.dsn("app"))
	pid := backendPIDOf(t, ctx, victim)
	rounds := 100
	if testing.Short() {
		rounds = 20
	}
	for i := range rounds {
		done := make(chan error, 1)
		go func() { _, err := victim.Exec(ctx, endlessQuery); done <- err }()
		waitShownActive(t, s, pid, "RECURSIVE")
		how := "pg_cancel_backend"
		if i%4 == 3 {
			how = "CancelRequest"
			if err := victim.PgConn().CancelRequest(ctx); err != nil {
				t.Fatal(err)
			}
		} else if !s.srv.CancelSession(pid) {
			t.Fatalf("round %d: CancelSession(%d) = false", i, pid)
		}
		err := awaitEnd(t, s, pid, done, fmt.Sprintf("round %d, %s", i, how))
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57014" || pe.Message != "canceling statement due to user request" {
			t.Fatalf("round %d, %s: %v, want 57014 canceling statement due to user request", i, how, err)
		}
	}
	// The session stays, and a cancel while it is idle is a no-op: the
	// next statement runs, as in PostgreSQL.
	if !s.srv.CancelSession(pid) {
		t.Fatal("CancelSession of an idle session = false")
	}
	var n int64
	if err := victim.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after a cancel while idle: %d, %v", n, err)
	}
}

// TestCancelCarriesToNextStatement cancels a Query of many quick
// statements and an endless one, as soon as the session shows it active:
// the cancel lands before, during or between the quick statements, and
// one that a quick statement outran must cancel the next statement of the
// same Query, as in PostgreSQL, where a cancel stays pending until the
// backend checks for it. (It used to end with the quick statement, and
// the endless one ran on.)
func TestCancelCarriesToNextStatement(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	victim := mustConnect(t, s.dsn("app"))
	pid := backendPIDOf(t, ctx, victim)
	query := strings.Repeat("SELECT 1; ", 20) + endlessQuery
	rounds := 50
	if testing.Short() {
		rounds = 10
	}
	for i := range rounds {
		done := make(chan error, 1)
		go func() { _, err := victim.Exec(ctx, query); done <- err }()
		waitShownActive(t, s, pid, "RECURSIVE")
		if !s.srv.CancelSession(pid) {
			t.Fatalf("round %d: CancelSession(%d) = false", i, pid)
		}
		err := awaitEnd(t, s, pid, done, fmt.Sprintf("round %d", i))
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57014" || pe.Message != "canceling statement due to user request" {
			t.Fatalf("round %d: %v, want 57014 canceling statement due to user request", i, err)
		}
	}
	// A cancel kept for a statement that never came ends with its Query:
	// the next Query runs.
	var n int64
	if err := victim.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after the cancels: %d, %v", n, err)
	}
}

// TestTerminateAtStatementStart ends sessions as soon as they show their
// statement active: a terminate that lands before the statement starts
// must still interrupt it, and the client gets FATAL 57P01.
func TestTerminateAtStatementStart(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	for i := range rounds {
		victim := mustConnect(t, s.dsn("app"))
		pid := backendPIDOf(t, ctx, victim)
		done := make(chan error, 1)
		go func() { _, err := victim.Exec(ctx, endlessQuery); done <- err }()
		waitShownActive(t, s, pid, "RECURSIVE")
		if !s.srv.TerminateSession(pid) {
			t.Fatalf("round %d: TerminateSession(%d) = false", i, pid)
		}
		err := awaitEnd(t, s, pid, done, fmt.Sprintf("round %d, terminate", i))
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57P01" || pe.Severity != "FATAL" {
			t.Fatalf("round %d: %v, want FATAL 57P01", i, err)
		}
	}
}
