package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/internal/testutil"
)

// loggedPgbench is a TPC-B pgbench run in the background that logs every
// transaction it saw committed (-l).
type loggedPgbench struct {
	prefix string
	done   chan string
}

// startLoggedPgbench starts pgbench (prepared, tpcbScript) on db of in
// with the extra args (clients, jobs, duration), until ctx ends.
func startLoggedPgbench(t testing.TB, ctx context.Context, in *Instance, db string, args ...string) *loggedPgbench {
	b := &loggedPgbench{prefix: filepath.Join(t.TempDir(), "tx"), done: make(chan string, 1)}
	args = append(append([]string{"-n", "-M", "prepared"}, args...), "-l", "--log-prefix", b.prefix, "-f", tpcbScript)
	go func() {
		out, _ := in.Pgbench(ctx, db, args...)
		b.done <- out
	}()
	return b
}

// acked waits for pgbench to end (its server killed) and returns how many
// transactions it saw committed; it fails the test if none.
func (b *loggedPgbench) acked(t testing.TB) int64 {
	t.Helper()
	out := <-b.done
	n := countLoggedTransactions(t, b.prefix)
	if n == 0 {
		t.Fatalf("pgbench logged no committed transaction:\n%s", out)
	}
	return n
}

// countLoggedTransactions counts the successful transactions in pgbench's
// per-transaction logs (-l) written with --log-prefix prefix; it fails the
// test if there are none.
func countLoggedTransactions(t testing.TB, prefix string) int64 {
	t.Helper()
	if files, _ := filepath.Glob(prefix + ".*"); len(files) == 0 {
		t.Fatalf("no pgbench logs at %s.*", prefix)
	}
	return countLogged(t, prefix+".*")
}

// countLogged counts the successful transactions in the pgbench logs that
// match pattern: each line is written after the transaction's END returned,
// so it is a transaction pgbench saw committed.
func countLogged(t testing.TB, pattern string) int64 {
	t.Helper()
	files, _ := filepath.Glob(pattern)
	var n int64
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			if _, err := strconv.ParseInt(fields[2], 10, 64); err == nil {
				n++
			}
		}
		fh.Close()
	}
	return n
}

// historyRows returns the number of rows in pgbench_history.
func historyRows(t testing.TB, in *Instance, db string) (int64, error) {
	out, err := in.Psql(context.Background(), db, `SELECT count(*) FROM pgbench_history;`)
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	return strconv.ParseInt(strings.TrimSpace(out), 10, 64)
}

func TestCrash_Kill9DuringPgbench(t *testing.T) {
	requireTool(t, "pgbench")
	in := MustStartInstance(t, "crash")
	in.MustCLI("db", "create", "tpcb")
	MustInitTPCB(t, in, "tpcb")
	lsn0 := lsnOf(t, in, "tpcb")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bench := startLoggedPgbench(t, ctx, in, "tpcb", "-c", "4", "-j", "2", "-T", "120")

	// Let some work commit, then pull the plug.
	testutil.RetryUntil(t, 0, func() error {
		n, err := historyRows(t, in, "tpcb")
		if err != nil {
			return err
		}
		if n < 500 {
			return fmt.Errorf("only %d transactions so far", n)
		}
		return nil
	})
	in.Kill()
	acked := bench.acked(t)

	in.Start()
	rows := checkTPCBConsistent(t, in, "tpcb")
	if rows < acked {
		t.Fatalf("after kill -9: %d transactions in history, but pgbench saw %d committed", rows, acked)
	}
	// Every committed transaction has its LSN: no gap, no duplicate.
	lsn1 := lsnOf(t, in, "tpcb")
	if got, want := lsn1-lsn0, uint64(rows); got != want {
		t.Fatalf("LSN advanced by %d over %d committed transactions", got, want)
	}
	if got := in.MustPsql("tpcb", `PRAGMA integrity_check;`); got != "ok" {
		t.Fatalf("integrity_check: %s", got)
	}
	in.MustPsql("tpcb", `INSERT INTO pgbench_history (tid, bid, aid, delta) VALUES (1, 1, 1, 0);`)
	if got := lsnOf(t, in, "tpcb"); got != lsn1+1 {
		t.Fatalf("LSN after restart and one commit = %d, want %d", got, lsn1+1)
	}
	t.Logf("pgbench saw %d committed, %d found after kill -9, LSN %d -> %d", acked, rows, lsn0, lsn1)
}
