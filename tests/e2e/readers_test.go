package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/internal/testutil"
)

// psqlSession is a psql process fed statements one line at a time.
type psqlSession struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startPsql(t *testing.T, in *Instance, db string) *psqlSession {
	t.Helper()
	cmd := exec.Command("psql", "-X", "-v", "ON_ERROR_STOP=1", "-At")
	cmd.Env = append(in.pgEnv(db), "PGAPPNAME=reader-psql")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return &psqlSession{cmd: cmd, in: stdin, out: bufio.NewScanner(stdout)}
}

// query sends one line and returns the next line psql prints.
func (p *psqlSession) query(t *testing.T, line string) string {
	t.Helper()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
	if !p.out.Scan() {
		t.Fatalf("psql ended after %q: %v", line, p.out.Err())
	}
	return p.out.Text()
}

// TestReaders_PsqlTransactionDoesNotBlockWriters: psql's plain
// BEGIN; SELECT ...; (left open, as someone looking at data does) does not
// hold writers off, and a BEGIN; SELECT; UPDATE; COMMIT transaction is
// captured and replicated like any other. Before, BEGIN took the
// database's write lock until COMMIT: the writer got 55P03.
func TestReaders_PsqlTransactionDoesNotBlockWriters(t *testing.T) {
	requireTool(t, "psql")
	alpha, beta := startLinkedF(t, "rd", `CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO t VALUES (1, 0);`, nil)
	waitCaughtUp(t, alpha, beta, "rd", 0)

	reader := startPsql(t, alpha, "f")
	reader.query(t, "BEGIN;")
	if got := reader.query(t, "SELECT v FROM t WHERE id = 1;"); got != "0" {
		t.Fatalf("reader: %q", got)
	}
	// The reader's transaction is open (idle in transaction) while others
	// write, with a lock_timeout short enough that waiting would fail.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 1; i <= 3; i++ {
		out, err := alpha.Psql(ctx, "f", fmt.Sprintf("SET lock_timeout = '200ms'; UPDATE t SET v = %d WHERE id = 1;", i))
		if err != nil {
			t.Fatalf("write beside an open psql read transaction: %v\n%s", err, out)
		}
	}
	// The reader keeps its snapshot, then sees the writes after COMMIT.
	if got := reader.query(t, "SELECT v FROM t WHERE id = 1;"); got != "0" {
		t.Fatalf("reader's snapshot moved: %q", got)
	}
	reader.query(t, "COMMIT;")
	if got := reader.query(t, "SELECT v FROM t WHERE id = 1;"); got != "3" {
		t.Fatalf("reader after COMMIT: %q, want 3", got)
	}

	// A transaction that reads, then writes: committed, captured and
	// replicated.
	out := alpha.MustPsql("f", "BEGIN; SELECT v FROM t WHERE id = 1; UPDATE t SET v = v + 10 WHERE id = 1; INSERT INTO t VALUES (2, 42); COMMIT;")
	if !strings.HasPrefix(out, "BEGIN\n3\nUPDATE 1\nINSERT 0 1\nCOMMIT") {
		t.Fatalf("psql: %q", out)
	}
	waitRows(t, beta, "f", "SELECT v FROM t WHERE id = 1", 13, 0)
	waitRows(t, beta, "f", "SELECT v FROM t WHERE id = 2", 42, 0)

	// A read transaction overtaken by a commit cannot write: 40001.
	reader.query(t, "BEGIN;")
	reader.query(t, "SELECT v FROM t WHERE id = 1;")
	alpha.MustPsql("f", "UPDATE t SET v = 100 WHERE id = 1;")
	if _, err := io.WriteString(reader.in, "\\set VERBOSITY verbose\nUPDATE t SET v = v + 1 WHERE id = 1;\n"); err != nil {
		t.Fatal(err)
	}
	reader.in.Close()
	var rest []string
	for reader.out.Scan() {
		rest = append(rest, reader.out.Text())
	}
	if all := strings.Join(rest, "\n"); !strings.Contains(all, "40001") {
		t.Fatalf("stale write in psql: %q, want 40001", all)
	}
	waitCaughtUp(t, alpha, beta, "rd", 0)
	testutil.RetryUntil(t, 0, func() error {
		v, err := queryInt(beta, "f", "SELECT v FROM t WHERE id = 1")
		if err != nil || v != 100 {
			return fmt.Errorf("secondary v = %d (%v), want 100", v, err)
		}
		return nil
	})
	mustVerify(t, alpha, beta, "rd")
}
