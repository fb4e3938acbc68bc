package pgwire_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sqlink/sqlink/pgwire"
)

func TestParseTimeout(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		show string
	}{
		{"0", 0, "0"},
		{"1s", time.Second, "1s"},
		{" 1 s ", time.Second, "1s"},
		{"500ms", 500 * time.Millisecond, "500ms"},
		{"2min", 2 * time.Minute, "2min"},
		{"1500", 1500 * time.Millisecond, "1500ms"},
		{"60000", time.Minute, "1min"},
		{"1.5s", 1500 * time.Millisecond, "1500ms"},
		{"3h", 3 * time.Hour, "3h"},
		{"1d", 24 * time.Hour, "1d"},
		{"250us", time.Millisecond, "1ms"},
		{"1500us", 2 * time.Millisecond, "2ms"},
		{"1m30s", 90 * time.Second, "90s"},
		{"5m", 5 * time.Minute, "5min"},
		{"2147483647", 2147483647 * time.Millisecond, "2147483647ms"},
	} {
		got, err := pgwire.ParseTimeout(tc.in)
		if err != nil {
			t.Errorf("ParseTimeout(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseTimeout(%q) = %v, want %v", tc.in, got, tc.want)
		}
		if s := pgwire.FormatTimeout(got); s != tc.show {
			t.Errorf("FormatTimeout(%v) = %q, want %q", got, s, tc.show)
		}
	}
	for _, in := range []string{"", "abc", "-1", "1 fortnight", "1e400", "2147483648", "25d", "1s2", "NaN"} {
		if d, err := pgwire.ParseTimeout(in); err == nil {
			t.Errorf("ParseTimeout(%q) = %v, want an error", in, d)
		}
	}
}

// TestTimeoutSettings checks SET, SHOW and RESET of the three timeouts
// and their instance defaults.
func TestTimeoutSettings(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{LockTimeout: 30 * time.Second, IdleInTxTimeout: 5 * time.Minute})
	ctx := context.Background()
	conn := mustConnect(t, s.dsn("app"))
	show := func(name string) string {
		t.Helper()
		var v string
		if err := conn.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
			t.Fatalf("SHOW %s: %v", name, err)
		}
		return v
	}
	for name, want := range map[string]string{"statement_timeout": "0", "lock_timeout": "30s", "idle_in_transaction_session_timeout": "5min"} {
		if got := show(name); got != want {
			t.Errorf("SHOW %s = %q, want %q", name, got, want)
		}
	}
	opt := mustConnect(t, s.dsn("app", "options='-c statement_timeout=1500 -c lock_timeout=bogus'"))
	for name, want := range map[string]string{"statement_timeout": "1500ms", "lock_timeout": "30s"} {
		var v string
		if err := opt.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil || v != want {
			t.Errorf("with startup options, SHOW %s = %q, %v; want %q", name, v, err, want)
		}
	}
	for _, q := range []string{"SET statement_timeout = '1s'", "SET lock_timeout TO 250", "SET idle_in_transaction_session_timeout = '2min'"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for name, want := range map[string]string{"statement_timeout": "1s", "lock_timeout": "250ms", "idle_in_transaction_session_timeout": "2min"} {
		if got := show(name); got != want {
			t.Errorf("after SET, SHOW %s = %q, want %q", name, got, want)
		}
	}
	_, err := conn.Exec(ctx, "SET statement_timeout = 'soon'")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "22023" || !strings.Contains(pe.Hint, `"ms"`) {
		t.Fatalf("SET statement_timeout = 'soon': %v, want 22023 with a hint naming the units", err)
	}
	if _, err := conn.Exec(ctx, "RESET lock_timeout"); err != nil {
		t.Fatal(err)
	}
	if got := show("lock_timeout"); got != "30s" {
		t.Errorf("after RESET, SHOW lock_timeout = %q, want the instance's 30s", got)
	}
}

// TestStatementTimeout runs an endless query under statement_timeout.
func TestStatementTimeout(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := mustConnect(t, s.dsn("app"))
	if _, err := conn.Exec(ctx, "SET statement_timeout = '200ms'"); err != nil {
		t.Fatal(err)
	}
	var n int64
	err := conn.QueryRow(ctx, "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r) SELECT count(*) FROM r").Scan(&n)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" || pe.Message != "canceling statement due to statement timeout" {
		t.Fatalf("endless query: %v, want 57014 canceling statement due to statement timeout", err)
	}
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("next query: %d, %v", n, err)
	}
}

// TestPgStatActivity reads pg_stat_activity and cancels a query with
// pg_cancel_backend.
func TestPgStatActivity(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := mustConnect(t, s.dsn("app", "application_name=looper"))
	b := mustConnect(t, s.dsn("app"))
	var apid int32
	if err := a.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&apid); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		var n int64
		done <- a.QueryRow(ctx, "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r) SELECT count(*) FROM r").Scan(&n)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var state, query, app string
		var qs time.Time
		err := b.QueryRow(ctx, "SELECT state, query, application_name, query_start FROM pg_stat_activity WHERE pid = $1", apid).Scan(&state, &query, &app, &qs)
		if err != nil {
			t.Fatal(err)
		}
		if state == "active" && strings.Contains(query, "RECURSIVE") {
			if app != "looper" || qs.IsZero() {
				t.Fatalf("application_name %q, query_start %v", app, qs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %d never showed active: state %q query %q", apid, state, query)
		}
	}
	var n int64
	if err := b.QueryRow(ctx, "SELECT count(*) FROM pg_catalog.pg_stat_activity").Scan(&n); err != nil || n != 2 {
		t.Fatalf("count = %d, %v; want 2", n, err)
	}
	var ok bool
	if err := b.QueryRow(ctx, "SELECT pg_cancel_backend("+itoa(apid)+")").Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_cancel_backend: %v, %v", ok, err)
	}
	err := <-done
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" || pe.Message != "canceling statement due to user request" {
		t.Fatalf("cancelled query: %v", err)
	}
	if err := b.QueryRow(ctx, "SELECT pg_terminate_backend(999999999)").Scan(&ok); err != nil || ok {
		t.Fatalf("pg_terminate_backend(no such pid) = %v, %v; want false", ok, err)
	}
	rows, err := b.Query(ctx, "SELECT pg_terminate_backend(pid) AS ended FROM pg_catalog.pg_stat_activity WHERE application_name = 'looper' AND pid <> pg_backend_pid()")
	if err != nil {
		t.Fatal(err)
	}
	var ended []bool
	for rows.Next() {
		if err := rows.Scan(&ok); err != nil {
			t.Fatal(err)
		}
		ended = append(ended, ok)
	}
	if rows.Err() != nil || len(ended) != 1 || !ended[0] || rows.FieldDescriptions()[0].Name != "ended" {
		t.Fatalf("pg_terminate_backend over pg_stat_activity: %v, %v", ended, rows.Err())
	}
	_, err = a.PgConn().Exec(ctx, "SELECT 1").ReadAll()
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "57P01" {
		t.Fatalf("terminated session: %v, want 57P01", err)
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// TestClientGoneMidStatement closes a client's socket while its write
// statement runs: the statement is interrupted and the write lock freed
// at once, not when the statement ends by itself (never, here).
func TestClientGoneMidStatement(t *testing.T) {
	t.Run("plain", func(t *testing.T) { clientGoneMidStatement(t, false) })
	t.Run("tls", func(t *testing.T) { clientGoneMidStatement(t, true) })
}

func clientGoneMidStatement(t *testing.T, useTLS bool) {
	cfg, ssl := pgwire.Config{}, "sslmode=disable"
	if useTLS {
		cfg.TLS, _ = mustTLSConfig(t)
		ssl = "sslmode=require"
	}
	s := mustStartServer(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := mustConnect(t, s.dsn("app", ssl))
	b := mustConnect(t, s.dsn("app", ssl))
	if useTLS {
		var on bool
		if err := a.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&on); err != nil || !on {
			t.Fatalf("session is not over TLS: %v %v", on, err)
		}
	}
	if _, err := b.Exec(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO t VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	var apid int32
	if err := a.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&apid); err != nil {
		t.Fatal(err)
	}
	// The client is taken from pgx, which would send a CancelRequest when
	// its socket closes: a killed client sends nothing.
	hj, err := a.PgConn().Hijack()
	if err != nil {
		t.Fatal(err)
	}
	hj.Frontend.Send(&pgproto3.Query{String: "UPDATE t SET v = (WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r) SELECT count(*) FROM r)"})
	if err := hj.Frontend.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		var state, query string
		if err := b.QueryRow(ctx, "SELECT state, query FROM pg_stat_activity WHERE pid = $1", apid).Scan(&state, &query); err != nil {
			t.Fatal(err)
		}
		if state == "active" && strings.Contains(query, "RECURSIVE") {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the write never showed as active")
		}
	}
	hj.Conn.Close()
	if _, err := b.Exec(ctx, "SET lock_timeout = '200ms'"); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := b.Exec(ctx, "UPDATE t SET v = 2")
		if err == nil {
			break
		}
		if pgCode(err) != "55P03" || ctx.Err() != nil {
			t.Fatalf("write after the client left: %v", err)
		}
	}
	var n int
	for {
		if err := b.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d sessions, want the gone client's ended", n)
		}
	}
}
