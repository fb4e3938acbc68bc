package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sqlink dump writes SQL text that psql -f restores into an empty
// database with the same schema and the same values, type for type.
func TestDump_RestoresWithPsql(t *testing.T) {
	requireTool(t, "psql")
	in := MustStartInstance(t, "dump")
	in.MustCLI("db", "create", "src")
	in.MustCLI("db", "create", "dst")
	in.MustPsql("src", `CREATE TABLE p (id integer PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE ch (id integer PRIMARY KEY, p int REFERENCES p(id), r real, b blob, t text, x, g int GENERATED ALWAYS AS (id * 2));
CREATE TABLE "odd ""name""" ("a b" text);
INSERT INTO p VALUES (1, 'one'), (2, 'it''s "two"');
INSERT INTO ch (id, p, r, b, t, x) VALUES (1, 1, 1.0, x'00ff', 'multi
line; with \backslash', 5), (2, 2, 0.1, x'', '', '7'), (3, NULL, 1e300, NULL, NULL, 2.5), (4, 1, -0.000123456789012345, x'41', 'ünï', 9223372036854775807);
INSERT INTO "odd ""name""" VALUES ('x'), (NULL);
CREATE INDEX ch_p ON ch(p);
CREATE VIEW v AS SELECT p.name, ch.r FROM p JOIN ch ON ch.p = p.id;
WITH RECURSIVE n(i) AS (SELECT 5 UNION ALL SELECT i + 1 FROM n WHERE i < 1300) INSERT INTO ch (id, t) SELECT i, 'row ' || i FROM n;`)
	// psql splits statements at every semicolon: a trigger goes in whole with -c.
	if out, err := in.Psql(context.Background(), "src", "", "-c",
		"CREATE TRIGGER tr AFTER INSERT ON p BEGIN INSERT INTO ch (p, t) VALUES (new.id, 'auto; made'); END;"); err != nil {
		t.Fatalf("trigger: %v\n%s", err, out)
	}
	dir := t.TempDir()
	f1, f2 := filepath.Join(dir, "src.sql"), filepath.Join(dir, "dst.sql")
	in.MustCLI("dump", "src", "--to", f1)
	cmd := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", f1)
	cmd.Env = in.pgEnv("dst")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psql -f: %v\n%s", err, out)
	}
	in.MustCLI("dump", "dst", "--to", f2)
	a, _ := os.ReadFile(f1)
	b, _ := os.ReadFile(f2)
	body := func(s []byte) string { _, rest, _ := strings.Cut(string(s), "\n"); return rest }
	if body(a) != body(b) {
		t.Fatalf("the restored database dumps differently:\n%s\n----\n%s", a, b)
	}
	// Row by row, with each value's type.
	for _, q := range []string{
		"SELECT type, name, sql FROM sqlite_schema ORDER BY name",
		"SELECT id, quote(p), quote(r), quote(b), quote(t), quote(x), typeof(x), g FROM ch ORDER BY id",
		"SELECT quote(\"a b\") FROM \"odd \"\"name\"\"\" ORDER BY rowid",
		"SELECT * FROM v ORDER BY 1, 2",
	} {
		if x, y := in.MustPsql("src", q), in.MustPsql("dst", q); x != y {
			t.Errorf("%s:\nsrc %q\ndst %q", q, x, y)
		}
	}
	if r := in.CLI("dump", "nosuch"); r.Code != 5 || !strings.Contains(r.Stderr, `database "nosuch" does not exist`) {
		t.Errorf("dump of a missing database: %+v", r)
	}
	if r := in.CLI("dump", "src", "--to", f1); r.Code != 6 || !strings.Contains(r.Stderr, "already exists") {
		t.Errorf("dump over an existing file: %+v", r)
	}
	// The trigger came back.
	in.MustPsql("dst", "INSERT INTO p VALUES (3, 'three')")
	if got := in.MustPsql("dst", "SELECT t FROM ch WHERE p = 3"); got != "auto; made" {
		t.Fatalf("trigger after restore: %q", got)
	}
}

// pg_dump stops at its first catalog query with an error that points at
// sqlink dump.
func TestDump_PgDumpFailsClearly(t *testing.T) {
	requireTool(t, "pg_dump")
	in := MustStartInstance(t, "pgdump")
	in.MustCLI("db", "create", "d")
	cmd := exec.Command("pg_dump", "d")
	cmd.Env = in.pgEnv("d")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "pg_dump is not supported") || !strings.Contains(string(out), "sqlink dump") {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
}
