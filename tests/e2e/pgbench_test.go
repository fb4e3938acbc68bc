package e2e_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// MustInitTPCB creates the pgbench tables at scale 1 in db.
func MustInitTPCB(t testing.TB, in *Instance, db string) {
	t.Helper()
	script, err := os.ReadFile(tpcbInit)
	if err != nil {
		t.Fatal(err)
	}
	in.MustPsql(db, string(script))
}

// tpcbTotals returns the sums that TPC-B keeps equal, and the history count.
func tpcbTotals(t testing.TB, in *Instance, db string) (accounts, tellers, branches, history, historyRows int64) {
	t.Helper()
	out := in.MustPsql(db, `SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers),
	  (SELECT sum(bbalance) FROM pgbench_branches), (SELECT coalesce(sum(delta),0) FROM pgbench_history), (SELECT count(*) FROM pgbench_history);`)
	f := strings.Split(out, "|")
	if len(f) != 5 {
		t.Fatalf("totals: %q", out)
	}
	n := make([]int64, 5)
	for i, s := range f {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			t.Fatalf("totals %q: %v", out, err)
		}
		n[i] = v
	}
	return n[0], n[1], n[2], n[3], n[4]
}

// checkTPCBConsistent fails unless all balances add up to the history.
func checkTPCBConsistent(t testing.TB, in *Instance, db string) int64 {
	t.Helper()
	a, tl, b, h, rows := tpcbTotals(t, in, db)
	if a != h || tl != h || b != h {
		t.Fatalf("inconsistent balances: accounts %d tellers %d branches %d history %d", a, tl, b, h)
	}
	return rows
}

var (
	reProcessed = regexp.MustCompile(`number of transactions actually processed: (\d+)`)
	reFailed    = regexp.MustCompile(`number of failed transactions: (\d+)`)
)

// pgbenchCounts parses processed and failed transaction counts.
func pgbenchCounts(t testing.TB, out string) (processed, failed int) {
	t.Helper()
	m := reProcessed.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no processed count in pgbench output:\n%s", out)
	}
	processed, _ = strconv.Atoi(m[1])
	if m := reFailed.FindStringSubmatch(out); m != nil {
		failed, _ = strconv.Atoi(m[1])
	}
	return processed, failed
}

func TestPgbench_ModesAndClients(t *testing.T) {
	requireTool(t, "pgbench")
	in := MustStartInstance(t, "bench")
	in.MustCLI("db", "create", "tpcb")
	MustInitTPCB(t, in, "tpcb")

	var total int64
	for _, mode := range []string{"simple", "extended", "prepared"} {
		for _, clients := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/%d", mode, clients), func(t *testing.T) {
				out, err := in.Pgbench(context.Background(), "tpcb", "-n", "-M", mode, "-c", strconv.Itoa(clients), "-j", strconv.Itoa(clients),
					"-t", "150", "-f", tpcbScript)
				if err != nil {
					t.Fatalf("pgbench: %v\n%s", err, out)
				}
				processed, failed := pgbenchCounts(t, out)
				if failed != 0 {
					t.Fatalf("%d failed transactions\n%s", failed, out)
				}
				if want := 150 * clients; processed != want {
					t.Fatalf("processed %d transactions, want %d\n%s", processed, want, out)
				}
				total += int64(processed)
			})
		}
	}
	if rows := checkTPCBConsistent(t, in, "tpcb"); rows != total {
		t.Fatalf("history has %d rows, pgbench processed %d", rows, total)
	}
}
