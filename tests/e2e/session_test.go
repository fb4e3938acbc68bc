package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/internal/testutil"
)

// endless is a query that never ends by itself: it counts the rows of an
// infinite recursive CTE, burning CPU and writing nothing.
const endless = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r) SELECT count(*) FROM r"

// endlessWrite is an autocommit write statement that never ends by
// itself: it holds the database's write lock while it runs.
const endlessWrite = "UPDATE t SET v = (WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r) SELECT count(*) FROM r)"

func mustPgx(t *testing.T, ctx context.Context, connString string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func backendPID(t *testing.T, ctx context.Context, conn *pgx.Conn) int {
	t.Helper()
	var pid int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatalf("pg_backend_pid: %v", err)
	}
	return pid
}

func pgError(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// awaitEnded waits for the result of a statement that was cancelled or
// whose session was ended. One still running after
// testutil.DefaultTimeout fails the test with the server's goroutines
// (SIGQUIT makes it print them and exit), so a lost cancel shows where
// the server is stuck instead of hanging the test.
func awaitEnded(t *testing.T, in *Instance, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(testutil.DefaultTimeout):
	}
	in.signal(syscall.SIGQUIT)
	t.Fatalf("the statement still ran %s after it was cancelled; the server's output and goroutines:\n%s", testutil.DefaultTimeout, in.Output())
	return nil
}

// waitActive polls pg_stat_activity on conn until session pid runs a
// statement containing text.
func waitActive(t *testing.T, ctx context.Context, conn *pgx.Conn, pid int, text string) {
	t.Helper()
	testutil.RetryUntil(t, 0, func() error {
		var state, query string
		err := conn.QueryRow(ctx, "SELECT state, query FROM pg_stat_activity WHERE pid = $1", pid).Scan(&state, &query)
		if err != nil {
			return err
		}
		if state != "active" || !strings.Contains(query, text) {
			return fmt.Errorf("session %d: state %q, query %q", pid, state, query)
		}
		return nil
	})
}

// sessionInstance starts an instance with database app and table t, with
// a short instance-wide idle-in-transaction timeout.
func sessionInstance(t *testing.T) *Instance {
	t.Helper()
	in := MustStartInstance(t, "sessions", "--idle-in-transaction-session-timeout", "700ms", "--lock-timeout", "20s")
	in.MustCLI("db", "create", "app")
	in.MustPsql("app", "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO t VALUES (0, 0);")
	return in
}

func TestSession_TimeoutsAndSignals(t *testing.T) {
	requireTool(t, "psql")
	in := sessionInstance(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin := mustPgx(t, ctx, in.ConnString("app"))

	t.Run("InstanceSettingsShow", func(t *testing.T) {
		out := in.MustPsql("app", "SHOW idle_in_transaction_session_timeout; SHOW lock_timeout; SHOW statement_timeout; SET statement_timeout = 1500; SHOW statement_timeout;")
		if got, want := out, "700ms\n20s\n0\nSET\n1500ms"; got != want {
			t.Fatalf("SHOW:\n%s\nwant\n%s", got, want)
		}
	})

	t.Run("PsqlReadsPgStatActivity", func(t *testing.T) {
		out := in.MustPsql("app", "SELECT * FROM pg_stat_activity;")
		if !strings.Contains(out, "|admin|") || !strings.Contains(out, "|active|") || !strings.Contains(out, "client backend") {
			t.Fatalf("SELECT * FROM pg_stat_activity:\n%s", out)
		}
		out = in.MustPsql("app", "SELECT usename, datname, state, backend_type FROM pg_catalog.pg_stat_activity WHERE pid = pg_backend_pid();")
		if got, want := out, "admin|app|active|client backend"; got != want {
			t.Fatalf("own row: %q, want %q", got, want)
		}
	})

	t.Run("StatementTimeout", func(t *testing.T) {
		out, err := in.Psql(ctx, "app", "\\set VERBOSITY verbose\nSET statement_timeout = '1s';\n"+endless+";\n")
		if err == nil || !strings.Contains(out, "57014") || !strings.Contains(out, "canceling statement due to statement timeout") {
			t.Fatalf("endless query under statement_timeout: %v\n%s", err, out)
		}
	})

	t.Run("LockTimeout", func(t *testing.T) {
		holder := mustPgx(t, ctx, in.ConnString("app"))
		holderPID := backendPID(t, ctx, holder)
		for _, q := range []string{"SET idle_in_transaction_session_timeout = 0", "BEGIN", "INSERT INTO t VALUES (100, 1)"} {
			if _, err := holder.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		waiter := mustPgx(t, ctx, in.ConnString("app"))
		if _, err := waiter.Exec(ctx, "SET lock_timeout = '300ms'"); err != nil {
			t.Fatal(err)
		}
		_, err := waiter.Exec(ctx, "INSERT INTO t VALUES (101, 1)")
		pe := pgError(err)
		if pe == nil || pe.Code != "55P03" || pe.Message != "canceling statement due to lock timeout" || !strings.Contains(pe.Hint, strconv.Itoa(holderPID)) {
			t.Fatalf("write behind a held lock: %v (%+v), want 55P03 naming session %d", err, pe, holderPID)
		}

		// Without a lock timeout the waiter shows as waiting for the
		// write lock, and goes on once the holder commits.
		if _, err := waiter.Exec(ctx, "SET lock_timeout = 0"); err != nil {
			t.Fatal(err)
		}
		waiterPID := backendPID(t, ctx, waiter)
		done := make(chan error, 1)
		go func() { _, err := waiter.Exec(ctx, "INSERT INTO t VALUES (102, 1)"); done <- err }()
		testutil.RetryUntil(t, 0, func() error {
			var typ, ev *string
			if err := admin.QueryRow(ctx, "SELECT wait_event_type, wait_event FROM pg_catalog.pg_stat_activity WHERE pid = $1", waiterPID).Scan(&typ, &ev); err != nil {
				return err
			}
			if typ == nil || ev == nil || *typ != "Lock" || *ev != "write_lock" {
				return fmt.Errorf("session %d does not show as waiting for the write lock", waiterPID)
			}
			return nil
		})
		if _, err := holder.Exec(ctx, "COMMIT"); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("waiter after the commit: %v", err)
		}
	})

	t.Run("IdleInTransaction", func(t *testing.T) {
		idle := mustPgx(t, ctx, in.ConnString("app"))
		idlePID := backendPID(t, ctx, idle)
		// One Query message: no idle moment between BEGIN and INSERT.
		if _, err := idle.Exec(ctx, "BEGIN; INSERT INTO t VALUES (200, 1)"); err != nil {
			t.Fatal(err)
		}
		// The instance's 700ms ends the session: it leaves
		// pg_stat_activity, and another writer gets the lock.
		testutil.RetryUntil(t, 0, func() error {
			var n int
			if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", idlePID).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				return fmt.Errorf("session %d is still there", idlePID)
			}
			return nil
		})
		if _, err := admin.Exec(ctx, "INSERT INTO t VALUES (201, 1)"); err != nil {
			t.Fatalf("write after the idle session ended: %v", err)
		}
		_, err := idle.Exec(ctx, "COMMIT")
		if pe := pgError(err); pe == nil || pe.Code != "25P03" || pe.Severity != "FATAL" {
			t.Fatalf("the idle session's next statement: %v, want FATAL 25P03", err)
		}
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM t WHERE id = 200").Scan(&n); err != nil || n != 0 {
			t.Fatalf("the idle transaction's row: count %d, %v; want rolled back", n, err)
		}
	})

	t.Run("ClientKilledMidWrite", func(t *testing.T) {
		// psql runs a write that never ends, holding the write lock.
		cmd := exec.Command("psql", "-X", "-c", endlessWrite)
		cmd.Env = append(in.pgEnv("app"), "PGAPPNAME=doomed")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Kill()
			cmd.Wait()
		}()
		var pid int
		testutil.RetryUntil(t, 0, func() error {
			return admin.QueryRow(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = 'doomed' AND state = 'active'").Scan(&pid)
		})
		waitActive(t, ctx, admin, pid, "RECURSIVE")
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		// Another writer commits within a few seconds: each try waits at
		// most 500ms for the lock.
		if _, err := admin.Exec(ctx, "SET lock_timeout = '500ms'"); err != nil {
			t.Fatal(err)
		}
		testutil.RetryUntil(t, 30*time.Second, func() error {
			_, err := admin.Exec(ctx, "UPDATE t SET v = 7 WHERE id = 0")
			return err
		})
		if _, err := admin.Exec(ctx, "RESET lock_timeout"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("CancelBackend", func(t *testing.T) {
		victim := mustPgx(t, ctx, in.ConnString("app"))
		pid := backendPID(t, ctx, victim)
		done := make(chan error, 1)
		// Bounded by awaitEnded, not by ctx: a lost cancel fails with
		// the server's goroutines.
		go func() { _, err := victim.Exec(t.Context(), endless); done <- err }()
		waitActive(t, ctx, admin, pid, "RECURSIVE")
		var ok bool
		if err := admin.QueryRow(ctx, "SELECT pg_cancel_backend("+strconv.Itoa(pid)+")").Scan(&ok); err != nil || !ok {
			t.Fatalf("pg_cancel_backend: %v, %v", ok, err)
		}
		err := awaitEnded(t, in, done)
		if pe := pgError(err); pe == nil || pe.Code != "57014" || pe.Message != "canceling statement due to user request" {
			t.Fatalf("cancelled query: %v", err)
		}
		// The session stays.
		if _, err := victim.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatalf("after the cancel: %v", err)
		}
	})

	t.Run("SessionKill", func(t *testing.T) {
		victim := mustPgx(t, ctx, in.ConnString("app"))
		pid := backendPID(t, ctx, victim)
		done := make(chan error, 1)
		go func() { _, err := victim.Exec(t.Context(), endless); done <- err }()
		waitActive(t, ctx, admin, pid, "RECURSIVE")
		var list []adminapi.SessionInfo
		if err := json.Unmarshal([]byte(in.MustCLI("session", "list", "--json")), &list); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range list {
			if int(s.PID) == pid {
				found = s.State == "active" && strings.Contains(s.Query, "RECURSIVE") && s.Usename == "admin" && s.Datname == "app"
			}
		}
		if !found {
			t.Fatalf("session list does not show session %d running its query: %+v", pid, list)
		}
		if out := in.MustCLI("session", "list"); !strings.Contains(out, strconv.Itoa(pid)) || !strings.Contains(out, "active") {
			t.Fatalf("session list table:\n%s", out)
		}
		in.MustCLI("session", "kill", strconv.Itoa(pid))
		err := awaitEnded(t, in, done)
		if pe := pgError(err); pe == nil || pe.Code != "57P01" || pe.Severity != "FATAL" {
			t.Fatalf("killed session's query: %v, want FATAL 57P01", err)
		}
		r := in.CLI("session", "kill", strconv.Itoa(pid))
		if r.Code != 5 || !strings.Contains(r.Stderr, "Try:") {
			t.Fatalf("kill of a gone session: exit %d, want 5 with a hint\n%s", r.Code, r.Stderr)
		}
		if r := in.CLI("session", "kill", "abc"); r.Code != 2 || !strings.Contains(r.Stderr, "Try:") {
			t.Fatalf("kill abc: exit %d, want 2 with a hint\n%s", r.Code, r.Stderr)
		}
	})

	t.Run("NonAdminLogin", func(t *testing.T) {
		c := in.API()
		if err := c.CreateLogin(ctx, "bob", "pw-bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GrantRight(ctx, "bob", "app", catalog.RightRead); err != nil {
			t.Fatal(err)
		}
		bob := mustPgx(t, ctx, fmt.Sprintf("host=%s port=%s user=bob password=pw-bob dbname=app sslmode=disable", in.Host(), in.Port()))
		adminPID := backendPID(t, ctx, admin)
		var ok bool
		err := bob.QueryRow(ctx, "SELECT pg_cancel_backend("+strconv.Itoa(adminPID)+")").Scan(&ok)
		if pe := pgError(err); pe == nil || pe.Code != "42501" {
			t.Fatalf("pg_cancel_backend as bob: %v, want 42501", err)
		}
		err = bob.QueryRow(ctx, "SELECT pg_terminate_backend("+strconv.Itoa(adminPID)+")").Scan(&ok)
		if pe := pgError(err); pe == nil || pe.Code != "42501" {
			t.Fatalf("pg_terminate_backend as bob: %v, want 42501", err)
		}
		var query string
		if err := bob.QueryRow(ctx, "SELECT query FROM pg_stat_activity WHERE pid = $1", adminPID).Scan(&query); err != nil || query != "<insufficient privilege>" {
			t.Fatalf("bob sees the admin's query as %q, %v", query, err)
		}
		// bob may cancel his own sessions, as in PostgreSQL.
		bobPID := backendPID(t, ctx, bob)
		if err := bob.QueryRow(ctx, "SELECT pg_cancel_backend("+strconv.Itoa(bobPID)+")").Scan(&ok); err != nil || !ok {
			t.Fatalf("pg_cancel_backend of his own session as bob: %v, %v", ok, err)
		}
	})
}
