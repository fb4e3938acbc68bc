package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// dbShow returns `sqlink db show NAME --json` decoded.
func dbShow(t *testing.T, in *Instance, name string) map[string]any {
	t.Helper()
	var v map[string]any
	out := in.MustCLI("db", "show", name, "--json")
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("db show json: %v\n%s", err, out)
	}
	return v
}

// lsnOf returns the database's LSN from `db show --json`.
func lsnOf(t *testing.T, in *Instance, name string) uint64 {
	t.Helper()
	v := dbShow(t, in, name)
	pos, _ := v["pos"].(map[string]any)
	f, ok := pos["lsn"].(float64)
	if !ok {
		t.Fatalf("db show has no numeric lsn: %v", v)
	}
	return uint64(f)
}

func TestInstance_InitServeDatabasesPsql(t *testing.T) {
	requireTool(t, "psql")
	in := MustStartInstance(t, "alpha")

	in.MustCLI("db", "create", "shop")
	if out := in.MustCLI("db", "list"); !strings.Contains(out, "shop") {
		t.Fatalf("db list does not show shop:\n%s", out)
	}
	lsn0 := lsnOf(t, in, "shop")

	out := in.MustPsql("shop", `
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL, created TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX items_name ON items (name);
INSERT INTO items (id, name, price) VALUES (1, 'apple', 0.5), (2, 'pear', 0.75), (3, 'plum', 1.25);
UPDATE items SET price = price * 2 WHERE name = 'plum';
DELETE FROM items WHERE id = 2;
BEGIN;
INSERT INTO items (id, name, price) VALUES (4, 'fig', 3);
ROLLBACK;
BEGIN;
INSERT INTO items (id, name, price) VALUES (5, 'kiwi', 1);
COMMIT;
SELECT id, name, price FROM items ORDER BY id;
SELECT count(*) FROM items;
`)
	want := "1|apple|0.5\n3|plum|2.5\n5|kiwi|1\n3"
	if !strings.HasSuffix(out, want) {
		t.Fatalf("psql output:\n%s\nwant suffix:\n%s", out, want)
	}

	// psql's catalog commands.
	dt, err := in.Psql(context.Background(), "shop", `\dt`)
	if err != nil || !strings.Contains(dt, "items") {
		t.Fatalf(`\dt: %v\n%s`, err, dt)
	}
	d, err := in.Psql(context.Background(), "shop", `\d items`)
	if err != nil || !strings.Contains(d, "name") || !strings.Contains(d, "price") {
		t.Fatalf(`\d items: %v\n%s`, err, d)
	}
	l, err := in.Psql(context.Background(), "shop", `\l`)
	if err != nil || !strings.Contains(l, "shop") {
		t.Fatalf(`\l: %v\n%s`, err, l)
	}

	// Every committed transaction got an LSN: CREATE TABLE, CREATE INDEX,
	// INSERT, UPDATE, DELETE, the committed BEGIN block (the rolled back one
	// got none).
	lsn1 := lsnOf(t, in, "shop")
	if got, want := lsn1-lsn0, uint64(6); got != want {
		t.Fatalf("LSN advanced by %d, want %d", got, want)
	}
	// The log that holds them is shown, in JSON and as text.
	if v := dbShow(t, in, "shop"); v["log_first_lsn"] != float64(1) || v["log_bytes"].(float64) <= 0 {
		t.Fatalf("db show: log_first_lsn %v, log_bytes %v; want 1 and > 0", v["log_first_lsn"], v["log_bytes"])
	}
	if out := in.MustCLI("db", "show", "shop"); !strings.Contains(out, fmt.Sprintf("(LSN 1 to %d)", lsn1)) {
		t.Fatalf("db show does not give the log's range:\n%s", out)
	}

	// A restart keeps data and continues LSNs.
	in.Stop()
	in.Start()
	if got := lsnOf(t, in, "shop"); got != lsn1 {
		t.Fatalf("LSN after restart = %d, want %d", got, lsn1)
	}
	in.MustPsql("shop", `INSERT INTO items (id, name) VALUES (6, 'lime');`)
	if got := lsnOf(t, in, "shop"); got != lsn1+1 {
		t.Fatalf("LSN after one more commit = %d, want %d", got, lsn1+1)
	}
	if got := in.MustPsql("shop", `SELECT count(*) FROM items;`); got != "4" {
		t.Fatalf("rows after restart = %s, want 4", got)
	}

	// Drop: the database is gone, and clients are told so.
	in.MustCLI("db", "drop", "shop")
	out, err = in.Psql(context.Background(), "shop", `SELECT 1;`)
	if err == nil || !strings.Contains(out, "does not exist") {
		t.Fatalf("psql on a dropped database: %v\n%s", err, out)
	}
	r := in.CLI("db", "show", "shop")
	if r.Code == 0 || !strings.Contains(r.Stderr, "Try:") {
		t.Fatalf("db show of a dropped database: exit %d\n%s", r.Code, r.Stderr)
	}
}

func TestInstance_ConfigFileAndEnvironmentAgree(t *testing.T) {
	in := MustStartInstance(t, "cfg")
	// The same data directory given through the environment and a config
	// file is the same instance: `serve` refuses to start a second time on
	// it because the ports are taken, and `init` refuses because it exists.
	r := runBinary(t, []string{"SQLINK_DATA_DIR=" + in.Dir}, "init", "--name", "again")
	if r.Code == 0 || !strings.Contains(r.Stderr, "already holds instance") {
		t.Fatalf("init over an existing instance via env: exit %d\n%s", r.Code, r.Stderr)
	}
	cfg := writeFile(t, "sqlink.yml", "data-dir: "+in.Dir+"\n")
	r = runBinary(t, nil, "init", "--config", cfg, "--name", "again")
	if r.Code == 0 || !strings.Contains(r.Stderr, "already holds instance") {
		t.Fatalf("init over an existing instance via config: exit %d\n%s", r.Code, r.Stderr)
	}
	bad := writeFile(t, "bad.yml", "data-dir: x\nnot-a-key: 1\n")
	r = runBinary(t, nil, "serve", "--config", bad)
	if r.Code != 2 || !strings.Contains(r.Stderr, "not-a-key") || !strings.Contains(r.Stderr, "Try:") {
		t.Fatalf("serve with a bad config: exit %d\n%s", r.Code, r.Stderr)
	}
}

func TestDemo_PrintsAWorkingPsqlCommand(t *testing.T) {
	requireTool(t, "psql")
	cmd := exec.Command(sqlinkBin, "demo")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// Read until the demo says it is ready, picking out the psql line.
	var psqlLine string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "PGPASSWORD=") {
			psqlLine = line
		}
		if strings.HasPrefix(line, "Press Ctrl-C") {
			break
		}
	}
	if psqlLine == "" {
		t.Fatalf("demo printed no psql command; stderr:\n%s", stderr.String())
	}
	pw, rest, _ := strings.Cut(strings.TrimPrefix(psqlLine, "PGPASSWORD="), " psql ")
	conn := strings.Trim(rest, `"`)
	psql := exec.Command("psql", "-X", "-At", conn, "-c", "SELECT count(*) FROM orders")
	psql.Env = append(os.Environ(), "PGPASSWORD="+pw)
	out, err := psql.CombinedOutput()
	if err != nil {
		t.Fatalf("psql %s: %v\n%s", conn, err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "100" {
		t.Fatalf("demo orders = %q, want 100", got)
	}
	cmd.Process.Signal(os.Interrupt)
	go io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo did not exit cleanly on Ctrl-C: %v\n%s", err, stderr.String())
	}
}
