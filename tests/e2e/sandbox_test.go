package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The SQL session is a trust boundary (issue 17): these are the attacks
// that turned an ordinary SQL login into the instance's sysadmin, stopped
// every write, or leaked one session's settings into the next. Each runs
// over the simple and the extended query protocol.

var protocols = []struct {
	name string
	mode pgx.QueryExecMode
}{
	{"simple", pgx.QueryExecModeSimpleProtocol},
	{"extended", pgx.QueryExecModeDescribeExec},
}

func connectMode(tb testing.TB, ctx context.Context, dsn string, mode pgx.QueryExecMode) *pgx.Conn {
	tb.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func tokenCount(tb testing.TB, ctx context.Context, in *Instance) int {
	tb.Helper()
	toks, err := in.API().ListTokens(ctx, "")
	if err != nil {
		tb.Fatal(err)
	}
	return len(toks)
}

func TestSandbox_StatementSmugglingIsRefused(t *testing.T) {
	in := MustStartInstance(t, "smuggle")
	in.MustCLI("db", "create", "app")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	catalog := filepath.Join(in.Dir, "catalog.db")
	tokens := tokenCount(t, ctx, in)
	attacks := []string{
		// $t$ is an identifier to SQLite, a dollar quote to PostgreSQL.
		"SELECT 1 AS a$t$; ATTACH '" + catalog + "' AS c; INSERT INTO c.tokens SELECT * FROM c.tokens LIMIT 0; SELECT 2 AS b$t$",
		// "trigger" as a table name once made the splitter wait for END.
		"CREATE TABLE trigger(x); ATTACH '" + catalog + "' AS c; SELECT 1 AS end;",
		"SELECT 1 AS a$t$; PRAGMA locking_mode=EXCLUSIVE; SELECT 2 AS b$t$",
		"SELECT 1 AS a$t$; PRAGMA query_only=OFF; SELECT 2 AS b$t$",
		"SELECT 1 AS a$t$; VACUUM INTO '" + filepath.Join(in.Dir, "stolen.db") + "'; SELECT 2 AS b$t$",
		"SELECT * FROM pragma_database_list",
		"SELECT file FROM pragma_database_list WHERE name = 'main'",
		"SELECT * FROM sqlite_dbpage",
		"SELECT load_extension('/tmp/x')",
		"ATTACH ('" + catalog + "') AS c",
		"ATTACH '' || '" + catalog + "' AS c",
		"PRAGMA main.locking_mode = 'exclusive'",
		"PRAGMA wal_checkpoint(TRUNCATE)",
		"PRAGMA writable_schema = 1",
		"PRAGMA max_page_count = 8",
		"PRAGMA ignore_check_constraints = 1",
	}
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			c := connectMode(t, ctx, in.ConnString("app"), proto.mode)
			for _, q := range attacks {
				var err error
				if proto.mode == pgx.QueryExecModeSimpleProtocol {
					_, err = c.Exec(ctx, q)
				} else {
					// Parse, Bind, Execute: pgx's Exec of a text without
					// arguments would use the simple protocol.
					_, err = c.PgConn().ExecParams(ctx, q, nil, nil, nil, nil).Close()
				}
				code := pgErrCode(err)
				if err == nil || code != "42501" && code != "42601" {
					t.Errorf("%s: err %v (SQLSTATE %q), want 42501 or 42601", q, err, code)
				}
				if err != nil && strings.Contains(err.Error(), in.Dir) {
					t.Errorf("%s: error shows the data directory: %v", q, err)
				}
			}
			// The session is still usable and writes still go through.
			if _, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS ok (x)"); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(in.Dir, "stolen.db")); err == nil {
		t.Error("VACUUM INTO wrote a copy of the database")
	}
	if got := tokenCount(t, ctx, in); got != tokens {
		t.Errorf("tokens: %d, want %d (a token was minted through SQL)", got, tokens)
	}
	// Another session can still write: no exclusive lock was left behind.
	c := connectMode(t, ctx, in.ConnString("app"), pgx.QueryExecModeSimpleProtocol)
	if _, err := c.Exec(ctx, "INSERT INTO ok VALUES (1)"); err != nil {
		t.Fatalf("write after the attacks: %v", err)
	}
}

func TestSandbox_WhatSessionsMayStillDo(t *testing.T) {
	in := MustStartInstance(t, "sbok")
	in.MustCLI("db", "create", "app")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			c := connectMode(t, ctx, in.ConnString("app"), proto.mode)
			for _, q := range []string{
				"CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT CHECK (v <> 'bad'))",
				"INSERT INTO t (v) VALUES ('a')",
				"PRAGMA foreign_keys = ON",
				"PRAGMA table_info(t)",
				"SELECT * FROM pragma_table_info('t')",
				"PRAGMA integrity_check",
				"PRAGMA user_version = 7",
				"CREATE TEMP TABLE scratch (x)",
				"INSERT INTO scratch VALUES (1)",
				"CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5(body)",
				"VACUUM",
				"ANALYZE",
				"SELECT 'semi;colon', \"t\".v FROM t",
			} {
				if _, err := c.Exec(ctx, q); err != nil {
					t.Errorf("%s: %v", q, err)
				}
			}
			var v int
			if err := c.QueryRow(ctx, "PRAGMA user_version").Scan(&v); err != nil || v != 7 {
				t.Errorf("user_version = %d, %v; want 7", v, err)
			}
		})
	}
}

func TestSandbox_HugeValuesAreRefusedNotAllocated(t *testing.T) {
	in := MustStartInstance(t, "huge", "--sqlite-heap-limit", "64MiB")
	in.MustCLI("db", "create", "app")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before := serverRSS(t, in)
	c := connectMode(t, ctx, in.ConnString("app"), pgx.QueryExecModeSimpleProtocol)
	for q, want := range map[string]string{
		"SELECT zeroblob(900000000)":              "54000",
		"SELECT length(printf('%.*c', 1e9, 'x'))": "54000|53200",
		"SELECT length(randomblob(200000000))":    "53200", // under the 256 MiB value limit, over the heap limit
		"SELECT length(group_concat(zeroblob(1000000))) FROM (WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r LIMIT 300) SELECT i FROM r)": "54000|53200",
	} {
		_, err := c.Exec(ctx, q)
		if code := pgErrCode(err); err == nil || !strings.Contains(want, code) {
			t.Errorf("%s: err %v (SQLSTATE %q), want %s", q, err, code, want)
		}
	}
	if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("session after the refusals: %v", err)
	}
	if after := serverRSS(t, in); after > before+200<<20 {
		t.Errorf("server RSS grew from %d MiB to %d MiB", before>>20, after>>20)
	}
}

// serverRSS returns the resident memory of the instance's process.
func serverRSS(tb testing.TB, in *Instance) int64 {
	tb.Helper()
	in.mu.Lock()
	pid := in.cmd.Process.Pid
	in.mu.Unlock()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

// TestSandbox_NextSessionStartsClean: one login sets every PRAGMA it can,
// creates temporary objects and a temporary trigger on a main table, and
// disconnects; the next session, another login's, sees the defaults and no
// trigger.
func TestSandbox_NextSessionStartsClean(t *testing.T) {
	in := MustStartInstance(t, "clean", "--max-conns", "4")
	in.MustCLI("db", "create", "app")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := in.API().CreateLogin(ctx, "bob", "bob-pw"); err != nil {
		t.Fatal(err)
	}
	grantForTest(t, in, "bob", "app", "write")
	settable := map[string]string{
		"foreign_keys": "1", "defer_foreign_keys": "1", "recursive_triggers": "1", "case_sensitive_like": "1",
		"automatic_index": "0", "reverse_unordered_selects": "1", "legacy_alter_table": "1", "analysis_limit": "7",
		"temp_store": "2",
	}
	refused := []string{"max_page_count = 8", "ignore_check_constraints = 1", "busy_timeout = 1", "cache_size = 1",
		"query_only = 1", "locking_mode = exclusive", "mmap_size = 1000000", "cell_size_check = 1", "trusted_schema = 1", "threads = 4"}
	defaults := map[string]string{}
	for i := 0; i < 6; i++ { // more sessions than --max-conns: none is kept
		a := connectMode(t, ctx, in.ConnString("app"), pgx.QueryExecModeSimpleProtocol)
		if i == 0 {
			for name := range settable {
				var v string
				if err := a.QueryRow(ctx, "PRAGMA "+name).Scan(&v); err != nil && name != "case_sensitive_like" {
					t.Fatalf("read %s: %v", name, err)
				}
				defaults[name] = v
			}
		}
		for name, v := range settable {
			if _, err := a.Exec(ctx, "PRAGMA "+name+" = "+v); err != nil {
				t.Fatalf("set %s: %v", name, err)
			}
		}
		for _, p := range refused {
			if _, err := a.Exec(ctx, "PRAGMA "+p); pgErrCode(err) != "42501" {
				t.Errorf("PRAGMA %s: %v, want 42501", p, err)
			}
		}
		for _, q := range []string{
			"CREATE TABLE IF NOT EXISTS t (x)",
			"CREATE TABLE IF NOT EXISTS seen (x)",
			"CREATE TEMP TABLE mine (x)",
			"CREATE TEMP VIEW myview AS SELECT 1",
			"CREATE TEMP TRIGGER spy AFTER INSERT ON main.t BEGIN INSERT INTO seen VALUES (new.x); END",
		} {
			if _, err := a.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		a.Close(ctx)

		b := connectMode(t, ctx, "host="+in.Host()+" port="+in.Port()+" user=bob password=bob-pw dbname=app sslmode=disable", pgx.QueryExecModeSimpleProtocol)
		for name := range settable {
			if name == "case_sensitive_like" {
				continue // write-only: checked below through LIKE
			}
			var v string
			if err := b.QueryRow(ctx, "PRAGMA "+name).Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v != defaults[name] {
				t.Errorf("session %d: PRAGMA %s = %s in the next session, want the default %s", i, name, v, defaults[name])
			}
		}
		var like bool
		if err := b.QueryRow(ctx, "SELECT 'A' LIKE 'a'").Scan(&like); err != nil || !like {
			t.Errorf("case_sensitive_like carried over: %v %v", like, err)
		}
		var temps int
		if err := b.QueryRow(ctx, "SELECT count(*) FROM sqlite_temp_master").Scan(&temps); err != nil || temps != 0 {
			t.Errorf("session %d: %d temporary objects in the next session (%v)", i, temps, err)
		}
		if _, err := b.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		var seen int
		if err := b.QueryRow(ctx, "SELECT count(*) FROM seen").Scan(&seen); err != nil || seen != 0 {
			t.Errorf("session %d: the other login's temporary trigger fired %d times (%v)", i, seen, err)
		}
		b.Close(ctx)
	}
}

// TestSandbox_SecondaryStaysReadOnly: the smuggled PRAGMA query_only=OFF
// once wrote to a secondary (forcing a reseed); every form of it is
// refused, and the secondary stays equal to its primary.
func TestSandbox_SecondaryStaysReadOnly(t *testing.T) {
	alpha, beta := startLinkedF(t, "sro", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');`, nil)
	waitRows(t, beta, "f", "SELECT count(*) FROM t", 1, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, proto := range protocols {
		c := connectMode(t, ctx, beta.ConnString("f"), proto.mode)
		for _, q := range []string{
			"SELECT 1 AS a$t$; PRAGMA query_only=OFF; INSERT INTO t VALUES (2, 'smuggled'); SELECT 2 AS b$t$",
			"PRAGMA query_only = 0",
			"BEGIN READ ONLY; COMMIT; INSERT INTO t VALUES (3, 'after a read-only transaction')",
		} {
			if proto.mode == pgx.QueryExecModeSimpleProtocol {
				_, _ = c.Exec(ctx, q)
			} else {
				_, _ = c.PgConn().ExecParams(ctx, q, nil, nil, nil, nil).Close()
			}
		}
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
			t.Errorf("%s: secondary has %d rows (%v), want 1", proto.name, n, err)
		}
	}
	alpha.MustPsql("f", "INSERT INTO t VALUES (4, 'from the primary')")
	waitRows(t, beta, "f", "SELECT count(*) FROM t", 2, time.Minute)
	if out := mustVerify(t, alpha, beta, "sro"); !strings.Contains(out, "equal") {
		t.Fatalf("link verify: %s", out)
	}
}
