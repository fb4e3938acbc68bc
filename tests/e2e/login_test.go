package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CLIStdin runs the CLI against this instance with stdin as its standard
// input.
func (in *Instance) CLIStdin(stdin string, args ...string) CLIResult {
	in.t.Helper()
	cmd := exec.Command(sqlinkBin, args...)
	cmd.Env = append(os.Environ(), in.cliEnv(in.Token)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := CLIResult{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		in.t.Fatalf("run sqlink %v: %v", args, err)
	}
	return res
}

// loginConnString is ConnString for another login.
func (in *Instance) loginConnString(user, password, db string) string {
	return "host=" + in.Host() + " port=" + in.Port() + " user=" + user + " password=" + password + " dbname=" + db + " sslmode=disable"
}

// mustConnectAs signs in as user and fails the test if that is refused.
func mustConnectAs(tb testing.TB, in *Instance, user, password, db string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, in.loginConnString(user, password, db))
	if err != nil {
		tb.Fatalf("connect as %s to %s: %v", user, db, err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// wantConnectRefused checks that user cannot open a session on db: FATAL
// 42501 naming the database, with the grant command as hint.
func wantConnectRefused(tb testing.TB, in *Instance, user, password, db string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, in.loginConnString(user, password, db))
	if err == nil {
		conn.Close(ctx)
		tb.Fatalf("%s connected to %s; want it refused with 42501", user, db)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		tb.Fatalf("connect as %s to %s: %v; want a 42501 error", user, db, err)
	}
	if pe.Code != "42501" || pe.Severity != "FATAL" || pe.Message != `permission denied for database "`+db+`"` ||
		!strings.Contains(pe.Hint, "sqlink login grant "+user) {
		tb.Fatalf("connect as %s to %s: %s %s %q hint %q; want FATAL 42501 permission denied with a grant hint", user, db, pe.Severity, pe.Code, pe.Message, pe.Hint)
	}
}

// wantSQLState runs sql on conn and checks it fails with code; it returns
// false when it succeeded instead, so the caller can tell "not enforced
// yet" from a wrong error.
func wantSQLState(tb testing.TB, conn *pgx.Conn, sql, code string) bool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := conn.Exec(ctx, sql)
	if err == nil {
		return false
	}
	if got := pgErrCode(err); got != code {
		tb.Fatalf("%s: %v (SQLSTATE %q); want SQLSTATE %s", sql, err, got, code)
	}
	return true
}

func mustExec(tb testing.TB, conn *pgx.Conn, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

func TestLogin_RightsPerDatabase(t *testing.T) {
	in := MustStartInstance(t, "rights")
	for _, db := range []string{"a", "b"} {
		in.MustCLI("db", "create", db)
		in.MustPsql(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'one');")
	}

	// Passwords come from standard input; --password is for scripts.
	for _, l := range []string{"ro", "rw", "co"} {
		if r := in.CLIStdin("pw-"+l+"\n", "login", "create", l, "--password-stdin"); r.Code != 0 || !strings.Contains(r.Stdout, "no rights yet") {
			t.Fatalf("login create %s: exit %d\n%s%s", l, r.Code, r.Stdout, r.Stderr)
		}
	}
	in.MustCLI("login", "create", "nr", "--password", "pw-nr")

	// A new login has no right: refused at connect, with the grant command.
	wantConnectRefused(t, in, "nr", "pw-nr", "a")
	wantConnectRefused(t, in, "ro", "pw-ro", "a")

	in.MustCLI("login", "grant", "ro", "read", "--database", "a")
	in.MustCLI("login", "grant", "rw", "write", "--database", "a")
	in.MustCLI("login", "grant", "co", "connect", "--database", "a,b")

	// login list shows each login's rights.
	var logins []struct {
		Name   string `json:"name"`
		Rights []struct {
			Database string `json:"database"`
			Right    string `json:"right"`
		} `json:"rights"`
	}
	if err := json.Unmarshal([]byte(in.MustCLI("login", "list", "--json")), &logins); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range logins {
		var parts []string
		for _, r := range l.Rights {
			parts = append(parts, r.Right+":"+r.Database)
		}
		got[l.Name] = strings.Join(parts, ",")
	}
	want := map[string]string{"admin": "write:*", "co": "connect:a,connect:b", "nr": "", "ro": "read:a", "rw": "write:a"}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("login list rights = %v, want %v", got, want)
		}
	}
	if table := in.MustCLI("login", "list"); !strings.Contains(table, "write on *") || !strings.Contains(table, "connect on a, connect on b") {
		t.Fatalf("login list table:\n%s", table)
	}

	// The admin login init created has write on every database.
	admin := mustConnectAs(t, in, "admin", in.Password, "b")
	mustExec(t, admin, "INSERT INTO t VALUES (2, 'two')")

	// Write on a but nothing on b: a works, b is refused at connect.
	rw := mustConnectAs(t, in, "rw", "pw-rw", "a")
	mustExec(t, rw, "INSERT INTO t VALUES (10, 'rw')")
	mustExec(t, rw, "CREATE TABLE rw_made (x)")
	mustExec(t, rw, "DROP TABLE rw_made")
	wantConnectRefused(t, in, "rw", "pw-rw", "b")

	ro := mustConnectAs(t, in, "ro", "pw-ro", "a")
	var n int
	if err := ro.QueryRow(context.Background(), "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("read-only login's SELECT = %d, %v; want 2 rows", n, err)
	}
	co := mustConnectAs(t, in, "co", "pw-co", "b")
	mustExec(t, co, "SELECT 1")

	// Bad input exits with the error's code and a hint.
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"login", "grant", "ro", "read", "--database", "nodb"}, 5},
		{[]string{"login", "grant", "nobody", "read", "--database", "a"}, 5},
		{[]string{"login", "grant", "ro", "admin", "--database", "a"}, 2},
		{[]string{"login", "grant", "ro", "read"}, 2},
		{[]string{"login", "create", "x", "--password", "p", "--password-stdin"}, 2},
		{[]string{"login", "create", "ro", "--password", "p"}, 6},
	} {
		if r := in.CLI(tc.args...); r.Code != tc.code || !strings.Contains(r.Stderr, "Try: ") {
			t.Errorf("sqlink %s: exit %d, want %d with a hint\n%s", strings.Join(tc.args, " "), r.Code, tc.code, r.Stderr)
		}
	}
	if r := in.CLIWithToken("", "login", "list"); r.Code != 3 {
		t.Errorf("login list without a token: exit %d, want 3", r.Code)
	}
	if r := in.CLIStdin("", "login", "create", "empty"); r.Code != 2 || !strings.Contains(r.Stderr, "no password") {
		t.Errorf("login create with an empty stdin: exit %d\n%s", r.Code, r.Stderr)
	}

	// What the SQLite authorizer enforces inside the session.
	t.Run("ReadOnlyLoginCannotWrite", func(t *testing.T) {
		for i, q := range []string{"INSERT INTO t VALUES (3, 'ro')", "CREATE TABLE ro_made (x)", "DROP TABLE t"} {
			if !wantSQLState(t, ro, q, "42501") {
				t.Fatalf("read-only login ran %s (statement %d)", q, i)
			}
		}
		// The refusal names the right that is missing.
		if _, err := ro.Exec(context.Background(), "DELETE FROM t"); err == nil || !strings.Contains(err.Error(), "write right") {
			t.Errorf("read-only login's DELETE: %v; want a refusal naming the write right", err)
		}
		if err := ro.QueryRow(context.Background(), "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
			t.Fatalf("after the refused writes: %d rows, %v; want 2", n, err)
		}
	})
	t.Run("ConnectOnlyLoginCannotRead", func(t *testing.T) {
		if !wantSQLState(t, co, "SELECT * FROM t", "42501") {
			t.Fatal("a connect-only login read a table")
		}
		if _, err := co.Exec(context.Background(), "SELECT * FROM t"); err == nil || !strings.Contains(err.Error(), "read right") {
			t.Errorf("connect-only login's SELECT: %v; want a refusal naming the read right", err)
		}
	})
	t.Run("ReadOnWriteElsewhere", func(t *testing.T) {
		in.MustCLI("login", "grant", "rw", "read", "--database", "b")
		rwb := mustConnectAs(t, in, "rw", "pw-rw", "b")
		if err := rwb.QueryRow(context.Background(), "SELECT count(*) FROM t").Scan(&n); err != nil {
			t.Fatalf("rw reads b: %v", err)
		}
		if !wantSQLState(t, rwb, "INSERT INTO t VALUES (20, 'rw')", "42501") {
			t.Fatal("a login with read on b wrote to b")
		}
	})
}

// TestLogin_ChangesApplyToNewSessions checks that rights and passwords are
// read when a session starts: a revoke leaves open sessions as they were
// and refuses the next ones.
func TestLogin_ChangesApplyToNewSessions(t *testing.T) {
	in := MustStartInstance(t, "changes")
	in.MustCLI("db", "create", "a")
	in.MustPsql("a", "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);")
	if r := in.CLIStdin("pw-1\n", "login", "create", "app"); r.Code != 0 {
		t.Fatalf("login create from stdin without the flag: exit %d\n%s", r.Code, r.Stderr)
	}
	in.MustCLI("login", "grant", "app", "write", "--all-databases")
	open := mustConnectAs(t, in, "app", "pw-1", "a")

	// Revoke every right on '*': the open session goes on, a new one is
	// refused.
	out := in.MustCLI("login", "revoke", "app", "--all-databases")
	if !strings.Contains(out, "Rights of app:  none") {
		t.Fatalf("login revoke output:\n%s", out)
	}
	mustExec(t, open, "INSERT INTO t VALUES (2)")
	wantConnectRefused(t, in, "app", "pw-1", "a")

	// A right on '*' still covers a database after a revoke there.
	in.MustCLI("login", "grant", "app", "read", "--database", "*")
	in.MustCLI("login", "grant", "app", "write", "--database", "a")
	out = in.MustCLI("login", "revoke", "app", "write", "--database", "a")
	if !strings.Contains(out, "still has read on every database") {
		t.Fatalf("login revoke output:\n%s", out)
	}
	mustConnectAs(t, in, "app", "pw-1", "a")

	// set-password: the open session stays, new ones need the new one.
	if r := in.CLIStdin("pw-2\n", "login", "set-password", "app", "--password-stdin"); r.Code != 0 {
		t.Fatalf("set-password: exit %d\n%s", r.Code, r.Stderr)
	}
	ctx := context.Background()
	if _, err := pgx.Connect(ctx, in.loginConnString("app", "pw-1", "a")); pgErrCode(err) != "28P01" {
		t.Fatalf("old password after set-password: %v", err)
	}
	mustConnectAs(t, in, "app", "pw-2", "a")
	mustExec(t, open, "SELECT 1")

	// A dropped database takes its grants with it.
	in.MustCLI("db", "create", "c")
	in.MustCLI("login", "revoke", "app", "--all-databases")
	in.MustCLI("login", "grant", "app", "read", "--database", "c")
	in.MustCLI("db", "drop", "c")
	in.MustCLI("db", "create", "c")
	wantConnectRefused(t, in, "app", "pw-2", "c")

	// drop: the login is gone.
	in.MustCLI("login", "drop", "app")
	if _, err := pgx.Connect(ctx, in.loginConnString("app", "pw-2", "a")); pgErrCode(err) != "28P01" {
		t.Fatalf("dropped login: %v", err)
	}
	if r := in.CLI("login", "drop", "app"); r.Code != 5 {
		t.Fatalf("drop a dropped login: exit %d", r.Code)
	}
}
