package pgwire_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/pgwire"
)

func needBinary(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Skipf("%s not installed", name)
	}
	return p
}

// runTool runs psql or pgbench against s with the test password.
func (s *testServer) runTool(tb testing.TB, name string, stdin string, args ...string) (string, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, needBinary(tb, name), args...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+testPassword, "PGHOST="+s.host, "PGPORT="+s.port, "PGUSER="+testUser, "PGSSLMODE=prefer", "PGCONNECT_TIMEOUT=10")
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestPsql(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	script := `
CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x', v REAL, u TEXT UNIQUE);
CREATE INDEX t_name ON t (name);
INSERT INTO t (id, name, v) VALUES (1, 'a''b', 1.5), (2, 'c', NULL);
UPDATE t SET v = 3 WHERE id = 2;
SELECT id, name, v FROM t ORDER BY id;
BEGIN;
DELETE FROM t WHERE id = 1;
ROLLBACK;
SELECT count(*) AS n FROM t;
SHOW transaction_read_only;
SELECT pg_catalog.pg_is_in_recovery();
SET application_name = 'x'; SET extra_float_digits = 3;
\dt
\d t
\l
`
	out, err := s.runTool(t, "psql", script, "-X", "-v", "ON_ERROR_STOP=1", "-d", "app")
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	for _, want := range []string{
		"CREATE TABLE", "CREATE INDEX", "INSERT 0 2", "UPDATE 1", "BEGIN", "DELETE 1", "ROLLBACK",
		"  1 | a'b  | 1.5", "  2 | c    |   3", " n \n---\n 2\n",
		" transaction_read_only \n-----------------------\n off",
		" pg_is_in_recovery \n-------------------\n f",
		" public | t    | table | alice",
		`Table "public.t"`,
		" id     | integer          |           | not null | ",
		" name   | text             |           | not null | 'x'",
		`"t_pkey" PRIMARY KEY, btree (id)`,
		`"t_name" btree (name)`,
		"List of databases",
		" app   | alice | UTF8",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("psql output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}

	// A failing script ends with exit status 3 and the SQLSTATE's message.
	out, err = s.runTool(t, "psql", "SELECT * FROM nope;\n", "-X", "-v", "ON_ERROR_STOP=1", "-d", "app")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(out, "no such table: nope") {
		t.Fatalf("psql with an error: %v\n%s", err, out)
	}
	// Unknown database: 3D000.
	out, err = s.runTool(t, "psql", "", "-X", "-d", "nosuchdb", "-c", "select 1")
	if err == nil || !strings.Contains(out, `database "nosuchdb" does not exist`) {
		t.Fatalf("psql unknown database: %v\n%s", err, out)
	}
}

const tpcbSchema = `
CREATE TABLE pgbench_branches (bid INTEGER PRIMARY KEY, bbalance INTEGER, filler CHAR(88));
CREATE TABLE pgbench_tellers (tid INTEGER PRIMARY KEY, bid INTEGER, tbalance INTEGER, filler CHAR(84));
CREATE TABLE pgbench_accounts (aid INTEGER PRIMARY KEY, bid INTEGER, abalance INTEGER, filler CHAR(84));
CREATE TABLE pgbench_history (tid INTEGER, bid INTEGER, aid INTEGER, delta INTEGER, mtime TIMESTAMP, filler CHAR(22));
INSERT INTO pgbench_branches (bid, bbalance) VALUES (1, 0);
INSERT INTO pgbench_tellers (tid, bid, tbalance) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 10) SELECT i, 1, 0 FROM n;
INSERT INTO pgbench_accounts (aid, bid, abalance, filler) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 100000) SELECT i, 1, 0, '' FROM n;
`

var reTPS = regexp.MustCompile(`tps = ([0-9.]+)`)

func TestPgbench(t *testing.T) {
	needBinary(t, "pgbench")
	s := mustStartServer(t, pgwire.Config{})
	if out, err := s.runTool(t, "psql", tpcbSchema, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "app"); err != nil {
		t.Fatalf("schema: %v\n%s", err, out)
	}
	dur := "2"
	if testing.Short() {
		dur = "1"
	}
	for _, mode := range []string{"simple", "extended", "prepared"} {
		for _, clients := range []string{"1", "4"} {
			out, err := s.runTool(t, "pgbench", "", "-n", "-M", mode, "-c", clients, "-T", dur, "app")
			if err != nil {
				t.Fatalf("pgbench -M %s -c %s: %v\n%s", mode, clients, err, out)
			}
			if !strings.Contains(out, "number of failed transactions: 0 (0.000%)") {
				t.Fatalf("pgbench -M %s -c %s had failures:\n%s", mode, clients, out)
			}
			if m := reTPS.FindStringSubmatch(out); m != nil {
				t.Logf("pgbench -M %s -c %s: %s tps", mode, clients, m[1])
			}
		}
	}
	conn := mustConnect(t, s.dsn("app"))
	var a, b, tl, h int64
	err := conn.QueryRow(context.Background(), `SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(bbalance) FROM pgbench_branches),
		(SELECT sum(tbalance) FROM pgbench_tellers), (SELECT sum(delta) FROM pgbench_history)`).Scan(&a, &b, &tl, &h)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || b != tl || tl != h {
		t.Fatalf("balances differ: accounts %d branches %d tellers %d history %d", a, b, tl, h)
	}
}

func TestWrongPassword(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	for _, dsn := range []string{
		fmt.Sprintf("host=%s port=%s user=%s password=wrong dbname=app sslmode=disable", s.host, s.port, testUser),
		fmt.Sprintf("host=%s port=%s user=bob password=wrong dbname=app sslmode=disable", s.host, s.port),
	} {
		_, err := pgx.Connect(context.Background(), dsn)
		if got, want := pgCode(err), "28P01"; got != want {
			t.Fatalf("code %q, want %q: %v", got, want, err)
		}
	}
	_, err := pgx.Connect(context.Background(), s.dsn("restoring"))
	if got, want := pgCode(err), "57P03"; got != want {
		t.Fatalf("restoring: code %q, want %q: %v", got, want, err)
	}
	_, err = pgx.Connect(context.Background(), s.dsn("nope"))
	if got, want := pgCode(err), "3D000"; got != want {
		t.Fatalf("unknown db: code %q, want %q: %v", got, want, err)
	}
	// SSL prefer and protocol 3.2 still work.
	conn := mustConnect(t, fmt.Sprintf("host=%s port=%s user=%s password='%s' dbname=app sslmode=prefer max_protocol_version=3.2", s.host, s.port, testUser, testPassword))
	if err := conn.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestReadOnlySecondary(t *testing.T) {
	b := newTestBackend(t)
	b.readOnly.Store(true)
	ro := mustStartServerWith(t, pgwire.Config{}, b)
	rw := mustStartServer(t, pgwire.Config{})
	ctx := context.Background()

	conn := mustConnect(t, ro.dsn("app"))
	if got := conn.PgConn().ParameterStatus("default_transaction_read_only"); got != "on" {
		t.Fatalf("default_transaction_read_only = %q", got)
	}
	if got := conn.PgConn().ParameterStatus("in_hot_standby"); got != "on" {
		t.Fatalf("in_hot_standby = %q", got)
	}
	var s string
	if err := conn.QueryRow(ctx, "show transaction_read_only", pgx.QueryExecModeSimpleProtocol).Scan(&s); err != nil || s != "on" {
		t.Fatalf("show transaction_read_only = %q, %v", s, err)
	}
	for _, q := range []string{"select pg_is_in_recovery()", "SELECT pg_catalog.pg_is_in_recovery()"} {
		var rec bool
		if err := conn.QueryRow(ctx, q).Scan(&rec); err != nil || !rec {
			t.Fatalf("%s = %v, %v", q, rec, err)
		}
	}
	_, err := conn.Exec(ctx, "CREATE TABLE x (a INTEGER)")
	if got, want := pgCode(err), "25006"; got != want {
		t.Fatalf("write on secondary: code %q, want %q: %v", got, want, err)
	}
	if !strings.Contains(err.Error(), "inst-a") {
		t.Fatalf("error does not name the primary: %v", err)
	}
	// A read transaction works on the secondary; its writes fail.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, "SELECT 1").Scan(new(int)); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE x (a INTEGER)"); pgCode(err) != "25006" {
		t.Fatalf("write in tx on secondary: %v", err)
	}
	tx.Rollback(ctx)

	// target_session_attrs=read-write picks the writable server, with pgx
	// and with psql.
	multi := fmt.Sprintf("host=%s,%s port=%s,%s user=%s password='%s' dbname=app sslmode=disable target_session_attrs=read-write",
		ro.host, rw.host, ro.port, rw.port, testUser, testPassword)
	mc := mustConnect(t, multi)
	if got := mc.PgConn().Conn().RemoteAddr().String(); !strings.HasSuffix(got, ":"+rw.port) {
		t.Fatalf("pgx picked %s, want port %s", got, rw.port)
	}
	out, err := rw.runTool(t, "psql", "", "-X", "-At", "-d", multi, "-c", "SHOW transaction_read_only")
	if err != nil || strings.TrimSpace(out) != "off" {
		t.Fatalf("psql multi-host: %v\n%s", err, out)
	}

	// A role change is visible to new sessions.
	b.readOnly.Store(false)
	c2 := mustConnect(t, ro.dsn("app"))
	if got := c2.PgConn().ParameterStatus("in_hot_standby"); got != "off" {
		t.Fatalf("in_hot_standby after promotion = %q", got)
	}
	if _, err := c2.Exec(ctx, "CREATE TABLE x (a INTEGER)"); err != nil {
		t.Fatal(err)
	}
}

func TestEndSessionsAndLimits(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{MaxConns: 2})
	ctx := context.Background()
	c1 := mustConnect(t, s.dsn("app"))
	c2 := mustConnect(t, s.dsn("other"))
	if got := s.srv.NumSessions(); got != 2 {
		t.Fatalf("NumSessions = %d", got)
	}
	_, err := pgx.Connect(ctx, s.dsn("app"))
	if got, want := pgCode(err), "53300"; got != want {
		t.Fatalf("over the limit: code %q, want %q: %v", got, want, err)
	}
	// A session inside a write transaction is ended: its lock is released.
	if _, err := c1.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Exec(ctx, "CREATE TABLE y (a INTEGER)"); err != nil {
		t.Fatal(err)
	}
	s.srv.EndSessions("app", "57P01", "role changed")
	testutil.RetryUntil(t, 0, func() error {
		if n := s.srv.NumSessions(); n != 1 {
			return fmt.Errorf("%d sessions", n)
		}
		if n := s.b.held.Load(); n != 0 {
			return fmt.Errorf("%d write locks held", n)
		}
		return nil
	})
	if err := c1.Ping(ctx); err == nil {
		t.Fatal("ended session still answers")
	}
	if err := c2.Ping(ctx); err != nil {
		t.Fatalf("session on another database: %v", err)
	}
	// The table was rolled back.
	c3 := mustConnect(t, s.dsn("app"))
	if _, err := c3.Exec(ctx, "SELECT * FROM y"); pgCode(err) != "42P01" {
		t.Fatalf("rolled back table: %v", err)
	}
}

func TestCancelRequest(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	conn := mustConnect(t, s.dsn("app"))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n) SELECT count(*) FROM n`)
		errc <- err
	}()
	// (pgconn's IsBusy is not safe beside a running Exec, so this does not
	// wait for the query to reach the server: the cancel may come before
	// it, or interrupt it; either way the query must end. The second part
	// below shows a running query interrupted, with its SQLSTATE.)
	cancel() // pgx sends a CancelRequest
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("query was not interrupted")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancel did not interrupt the query")
	}
	c2 := mustConnect(t, s.dsn("app"))
	var code string
	_, err := c2.Exec(context.Background(), "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	// Cancel a query over a second connection and check the SQLSTATE.
	go func() {
		_, err := c2.Exec(context.Background(), `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n) SELECT count(*) FROM n`)
		errc <- err
	}()
	// A CancelRequest that arrives before the query is ignored, as in
	// PostgreSQL: send them until the query ends.
	testutil.RetryUntil(t, 0, func() error {
		select {
		case err = <-errc:
			return nil
		default:
		}
		if err := c2.PgConn().CancelRequest(context.Background()); err != nil {
			return err
		}
		return errors.New("the query has not ended yet")
	})
	code = pgCode(err)
	if code != "57014" {
		t.Fatalf("canceled query: code %q (%v)", code, err)
	}
	if err := c2.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestServerClose(t *testing.T) {
	b := newTestBackend(t)
	ln := filepath.Join(t.TempDir(), "x") // unused; exercises Close with a live session
	_ = ln
	s := mustStartServerWith(t, pgwire.Config{}, b)
	conn := mustConnect(t, s.dsn("app"))
	if _, err := conn.Exec(context.Background(), "BEGIN"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := b.held.Load(); n != 0 {
		t.Fatalf("%d write locks held after Close", n)
	}
	err := conn.Ping(context.Background())
	if err == nil {
		t.Fatal("session survived Close")
	}
}
