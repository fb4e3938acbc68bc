package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// serverMemKiB returns the server's resident set size and its peak
// (VmRSS, VmHWM) in KiB.
func serverMemKiB(t *testing.T, in *Instance) (rss, peak int64) {
	t.Helper()
	in.mu.Lock()
	pid := in.cmd.Process.Pid
	in.mu.Unlock()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			peak = v
		}
	}
	return rss, peak
}

// pgbench -i (DROP TABLE a, b, CREATE TABLE ... WITH (fillfactor), COPY
// of 1M rows in one transaction, VACUUM ANALYZE t, ALTER TABLE ... ADD
// PRIMARY KEY) and then the built-in TPC-B script run unchanged, and the
// COPY of 1M pgbench_accounts rows keeps the server's memory bounded.
func TestCopy_PgbenchInitAndBuiltinScript(t *testing.T) {
	requireTool(t, "pgbench")
	in := MustStartInstance(t, "pgbinit")
	in.MustCLI("db", "create", "bench")
	ctx := context.Background()
	// Scale 1 first, so that the scale 10 run drops and replaces tables.
	if out, err := in.Pgbench(ctx, "bench", "-i", "-s", "1", "-q"); err != nil {
		t.Fatalf("pgbench -i -s 1: %v\n%s", err, out)
	}
	before, _ := serverMemKiB(t, in)
	out, err := in.Pgbench(ctx, "bench", "-i", "-s", "10", "-q")
	if err != nil {
		t.Fatalf("pgbench -i -s 10: %v\n%s", err, out)
	}
	_, peak := serverMemKiB(t, in)
	if growth := (peak - before) / 1024; growth > 150 {
		t.Errorf("server memory grew by %d MiB during the COPY of 1M rows (RSS %d KiB before, peak %d KiB)", growth, before, peak)
	}
	if n := in.MustPsql("bench", "SELECT count(*) FROM pgbench_accounts"); n != "1000000" {
		t.Fatalf("pgbench_accounts has %s rows", n)
	}
	if n := in.MustPsql("bench", "SELECT count(*) FROM pgbench_branches"); n != "10" {
		t.Fatalf("pgbench_branches has %s rows", n)
	}
	// The primary keys are there: a duplicate key is refused.
	if out, err := in.Psql(ctx, "bench", "INSERT INTO pgbench_accounts VALUES (1, 1, 0, '')"); err == nil || !strings.Contains(out, "UNIQUE") {
		t.Fatalf("duplicate aid accepted: %v\n%s", err, out)
	}
	out, err = in.Pgbench(ctx, "bench", "-n", "-M", "prepared", "-c", "2", "-j", "2", "-t", "100")
	if err != nil {
		t.Fatalf("pgbench: %v\n%s", err, out)
	}
	processed, failed := pgbenchCounts(t, out)
	if processed != 200 || failed != 0 {
		t.Fatalf("processed %d, failed %d\n%s", processed, failed, out)
	}
	if rows := checkTPCBConsistent(t, in, "bench"); rows != 200 {
		t.Fatalf("history has %d rows, want 200", rows)
	}
}

// psql's \copy round-trips CSV and text files byte for byte: quotes,
// delimiters, newlines, empty strings and NULLs.
func TestCopy_PsqlRoundTripByteForByte(t *testing.T) {
	requireTool(t, "psql")
	in := MustStartInstance(t, "copyrt")
	in.MustCLI("db", "create", "d")
	dir := t.TempDir()
	csv := "id,name,note\n" +
		"1,\"a, b\",\"line1\nline2\"\n" +
		"2,\"\",\n" +
		"3,\"say \"\"hi\"\"\",x\n" +
		"4,ünïcödé,\"\r\n\"\n"
	text := "1\ta, b\tline1\\nline2\n" +
		"2\t\t\\N\n" +
		"3\tback\\\\slash\ttab\\there\n"
	in1, out1 := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.csv")
	in2, out2 := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	os.WriteFile(in1, []byte(csv), 0o644)
	os.WriteFile(in2, []byte(text), 0o644)
	in.MustPsql("d", `CREATE TABLE c (id int, name text, note text);
CREATE TABLE x (id int, name text, note text);
\copy c from '`+in1+`' csv header
\copy c to '`+out1+`' with (format csv, header)
\copy x from '`+in2+`'
\copy x to '`+out2+`'`)
	for _, f := range [][2]string{{in1, out1}, {in2, out2}} {
		a, _ := os.ReadFile(f[0])
		b, err := os.ReadFile(f[1])
		if err != nil || string(a) != string(b) {
			t.Errorf("%s differs from %s: %v\n%q\n%q", f[1], f[0], err, a, b)
		}
	}
	got := in.MustPsql("d", `SELECT id, quote(name), quote(note) FROM c ORDER BY id`)
	want := "1|'a, b'|'line1\nline2'\n2|''|NULL\n3|'say \"hi\"'|'x'\n4|'ünïcödé'|'\r\n'"
	if got != want {
		t.Errorf("stored rows:\n%q\nwant\n%q", got, want)
	}
	// COPY (query) TO STDOUT and the old WITH CSV HEADER syntax.
	got = in.MustPsql("d", `COPY (SELECT id, name FROM x WHERE id < 3 ORDER BY id) TO STDOUT WITH CSV HEADER`)
	if want := "id,name\n1,\"a, b\"\n2,\"\""; got != want {
		t.Errorf("COPY (query) TO STDOUT:\n%q\nwant\n%q", got, want)
	}
}

// A malformed row fails the COPY with 22P04 naming its line, and nothing
// of the COPY is committed; in a transaction block it fails the
// transaction.
func TestCopy_MalformedRowCommitsNothing(t *testing.T) {
	requireTool(t, "psql")
	in := MustStartInstance(t, "copybad")
	in.MustCLI("db", "create", "d")
	in.MustPsql("d", "CREATE TABLE t (a int, b text); INSERT INTO t VALUES (0, 'kept')")
	ctx := context.Background()
	script := "\\set VERBOSITY verbose\nCOPY t FROM STDIN;\n1\tone\n2\ttwo\n3\tthree\textra\n4\tfour\n\\.\n"
	out, err := in.Psql(ctx, "d", script)
	if err == nil || !strings.Contains(out, "22P04") || !strings.Contains(out, "line 3") {
		t.Fatalf("malformed COPY: %v\n%s", err, out)
	}
	if n := in.MustPsql("d", "SELECT count(*) FROM t"); n != "1" {
		t.Fatalf("after the failed COPY t has %s rows, want 1", n)
	}
	out, err = in.Psql(ctx, "d", "\\set VERBOSITY verbose\nCOPY t FROM STDIN WITH (FORMAT csv);\n1,one\n\"2,two\n")
	if err == nil || !strings.Contains(out, "unterminated CSV quoted field") {
		t.Fatalf("unterminated CSV: %v\n%s", err, out)
	}
	out, _ = in.Psql(ctx, "d", "BEGIN;\nINSERT INTO t VALUES (5, 'in tx');\nCOPY t FROM STDIN;\n6\n\\.\nSELECT 1;\n", "-v", "ON_ERROR_STOP=0")
	if !strings.Contains(out, `missing data for column "b"`) || !strings.Contains(out, "current transaction is aborted") {
		t.Fatalf("COPY in a transaction block:\n%s", out)
	}
	if n := in.MustPsql("d", "SELECT count(*) FROM t"); n != "1" {
		t.Fatalf("t has %s rows, want 1", n)
	}
	// A good COPY in a transaction block commits with it.
	in.MustPsql("d", "BEGIN;\nCOPY t (b, a) FROM STDIN WITH (FORMAT csv, NULL 'n');\nx,7\nn,8\n\\.\nCOMMIT;")
	if got := in.MustPsql("d", "SELECT a, quote(b) FROM t ORDER BY a"); got != "0|'kept'\n7|'x'\n8|NULL" {
		t.Fatalf("rows: %q", got)
	}
}

// DECLARE / FETCH / MOVE / CLOSE, as psycopg's named cursors use them.
func TestCursor_DeclareFetchMoveClose(t *testing.T) {
	requireTool(t, "psql")
	in := MustStartInstance(t, "cursors")
	in.MustCLI("db", "create", "d")
	in.MustPsql("d", "CREATE TABLE t (a int); INSERT INTO t VALUES (1),(2),(3),(4),(5)")
	got := in.MustPsql("d", `BEGIN;
DECLARE c NO SCROLL CURSOR FOR SELECT a FROM t ORDER BY a;
FETCH 2 FROM c;
FETCH NEXT c;
MOVE FORWARD 1 IN c;
FETCH ALL c;
FETCH c;
CLOSE c;
DECLARE h CURSOR WITH HOLD FOR SELECT a * 10 FROM t WHERE a < 3 ORDER BY a;
COMMIT;
FETCH FORWARD 5 FROM h;
DISCARD ALL;`)
	want := "BEGIN\nDECLARE CURSOR\n1\n2\n3\nMOVE 1\n5\nCLOSE CURSOR\nDECLARE CURSOR\nCOMMIT\n10\n20\nDISCARD ALL"
	// psql -At prints tags only for statements without rows.
	if strings.ReplaceAll(got, "\n\n", "\n") != want {
		t.Fatalf("cursor session:\n%s\nwant\n%s", got, want)
	}
	ctx := context.Background()
	for _, tc := range []struct{ script, want string }{
		{"DECLARE c CURSOR FOR SELECT 1", "DECLARE CURSOR can only be used in transaction blocks"},
		{"BEGIN; FETCH 1 FROM nope", `cursor "nope" does not exist`},
		{"DECLARE h CURSOR WITH HOLD FOR SELECT 1; CLOSE ALL; FETCH h", `cursor "h" does not exist`},
		{"BEGIN; DECLARE c SCROLL CURSOR FOR SELECT 1", "SCROLL cursor"},
		{"BEGIN; DECLARE c CURSOR FOR SELECT 1; FETCH PRIOR FROM c", "cursor can only scan forward"},
	} {
		out, err := in.Psql(ctx, "d", tc.script)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %v\n%s", tc.script, err, out)
		}
	}
}

// The PostgreSQL forms drivers send are translated; a construct with no
// SQLite equivalent gets 0A000 naming it.
func TestTranslate_PostgresForms(t *testing.T) {
	requireTool(t, "psql")
	in := MustStartInstance(t, "translate")
	in.MustCLI("db", "create", "d")
	got := in.MustPsql("d", `CREATE UNLOGGED TABLE t (id serial PRIMARY KEY, b bytea, ts timestamp, v text) WITH (fillfactor=90);
INSERT INTO t (b, ts, v) VALUES ('\x0001ff'::bytea, '2026-01-02 03:04:05'::timestamp, 'Abc');
SELECT id, hex(b), ts, v ILIKE 'abc', '12'::int + 1, 't'::boolean FROM t;
SELECT set_config('search_path', '', false), current_setting('server_version_num') > '0', length(gen_random_uuid()::text);
CREATE TABLE u (a int NOT NULL, b int);
INSERT INTO u VALUES (1, 1), (2, NULL);
ALTER TABLE u ADD PRIMARY KEY (a);
CREATE TABLE w (a int, b int);
INSERT INTO w VALUES (1, 1);
ALTER TABLE w ADD PRIMARY KEY (a);
SELECT sql FROM sqlite_schema WHERE name IN ('u_pkey', 'w') ORDER BY name;
TRUNCATE u, w;
DROP TABLE IF EXISTS u, w, missing;
SELECT count(*) FROM sqlite_schema WHERE name IN ('u', 'w');`)
	want := "CREATE TABLE\nINSERT 0 1\n1|0001FF|2026-01-02 03:04:05|1|13|1\n|t|36\nCREATE TABLE\nINSERT 0 2\nALTER TABLE\nCREATE TABLE\nINSERT 0 1\nALTER TABLE\n" +
		"CREATE UNIQUE INDEX \"u_pkey\" ON \"u\" (\"a\")\nCREATE TABLE \"w\" (a int NOT NULL, b int, PRIMARY KEY (\"a\"))\nTRUNCATE TABLE\nDROP TABLE\n0"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	ctx := context.Background()
	for _, tc := range []struct{ script, want string }{
		{"CREATE SEQUENCE s", "0A000"},
		{"SELECT ARRAY[1]::int[]", "0A000"},
		{"CREATE TABLE z (id serial, v text)", "0A000"},
		{"CREATE TABLE n (a int); INSERT INTO n VALUES (NULL); ALTER TABLE n ADD PRIMARY KEY (a)", "23502"},
	} {
		out, err := in.Psql(ctx, "d", "\\set VERBOSITY verbose\n"+tc.script)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %v\n%s", tc.script, err, out)
		}
	}
}

// A COPY larger than --max-transaction-size is refused at its COMMIT with
// 54000, and nothing of it is written.
func TestCopy_OverTransactionLimitRefused(t *testing.T) {
	requireTool(t, "psql")
	in := MustStartInstance(t, "copybig", "--max-transaction-size", "16MiB")
	in.MustCLI("db", "create", "d")
	in.MustPsql("d", "CREATE TABLE t (a int, filler text)")
	var b strings.Builder
	b.WriteString("\\set VERBOSITY verbose\nCOPY t FROM STDIN;\n")
	filler := strings.Repeat("x", 100)
	for i := range 300000 {
		b.WriteString(strconv.Itoa(i) + "\t" + filler + "\n")
	}
	b.WriteString("\\.\n")
	out, err := in.Psql(context.Background(), "d", b.String())
	if err == nil || !strings.Contains(out, "54000") {
		t.Fatalf("COPY over the transaction limit: %v\n%s", err, out)
	}
	if n := in.MustPsql("d", "SELECT count(*) FROM t"); n != "0" {
		t.Fatalf("t has %s rows after the refused COPY", n)
	}
}
