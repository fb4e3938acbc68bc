package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
)

const historyQ = `SELECT count(*) FROM pgbench_history;`

// checkFailoverResult checks what a finished failover reported.
func checkFailoverResult(t testing.TB, out failoverOut, newPrimary string, prevEpoch sqlink.Epoch) {
	t.Helper()
	if out.NewPrimary != newPrimary || out.Epoch <= prevEpoch {
		t.Fatalf("failover: new primary %q at epoch %d, want %s above epoch %d\n%+v", out.NewPrimary, out.Epoch, newPrimary, prevEpoch, out)
	}
	if len(out.Steps) == 0 {
		t.Fatalf("failover reported no steps: %+v", out)
	}
	for _, s := range out.Steps {
		if s.Status != "done" && s.Status != "skipped" {
			t.Fatalf("failover step %s is %s: %+v", s.Name, s.Status, out.Steps)
		}
		t.Logf("  step %-24s %-8s %.3fs", s.Name, s.Status, s.Duration)
	}
	t.Logf("failover to %s at epoch %d in %.3fs (first write at %s)", out.NewPrimary, out.Epoch, out.Duration, out.FirstWriteAt.Format(time.RFC3339Nano))
}

// TestFailover_PlannedUnderLoadAndFailBack fails a two-way link over while
// pgbench runs against a multi-host connection string, then fails it back
// the same way. Every transaction pgbench saw committed, before and after
// each failover, is on the new primary; the copies are page-for-page equal
// after each; pgx with the same multi-host string finds the new primary.
func TestFailover_PlannedUnderLoadAndFailBack(t *testing.T) {
	requireTool(t, "pgbench")
	alpha, beta := mustSetupTPCBLink(t, "fo", "--two-way")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn := multiHost("tpcb", alpha, beta)

	// pgx with the multi-host string picks the writable primary.
	port, c, err := pgxPrimaryPort(ctx, conn)
	if err != nil {
		t.Fatalf("pgx multi-host connect: %v", err)
	}
	defer c.Close(ctx)
	if port != alpha.Port() {
		t.Fatalf("pgx connected to port %s, want alpha's %s", port, alpha.Port())
	}
	if _, err := c.Exec(ctx, `INSERT INTO notes (body) VALUES ('pgx before')`); err != nil {
		t.Fatal(err)
	}

	// Planned failover started on the primary, mid-load.
	load := startLoad(t, "tpcb", 25, alpha, beta)
	n := waitRows(t, alpha, "tpcb", historyQ, 300, 0)
	epoch := mustLinkStatus(t, alpha, "fo").Epoch
	out := mustFailover(t, alpha, beta, "fo")
	checkFailoverResult(t, out, "beta", epoch)
	if out.Partner == nil || out.Partner.Local.Role != sqlink.RolePrimary {
		t.Fatalf("the partner beta's view after the failover: %+v (error %q)", out.Partner, out.PartnerError)
	}
	// The load goes on against beta with no change to the connection string.
	waitRows(t, beta, "tpcb", historyQ, n+300, 2*time.Minute)
	acked := load.Stop(t)
	runs, ok, last := load.Runs()
	t.Logf("pgbench: %d invocations (%d clean), %d transactions acknowledged; last:\n%s", runs, ok, acked, tail(last, 5))

	if p, _ := waitSettled(t, "fo", alpha, beta, 0); p != beta {
		t.Fatalf("primary after the failover is %s, want beta", p.Name)
	}
	checkAtMostOnePrimary(t, "fo", alpha, beta)
	waitCaughtUp(t, beta, alpha, "fo", 0)
	t.Log(mustVerify(t, beta, alpha, "fo"))
	rowsB, rowsA := checkTPCBConsistent(t, beta, "tpcb"), checkTPCBConsistent(t, alpha, "tpcb")
	if rowsB < acked || rowsA != rowsB {
		t.Fatalf("history rows: new primary beta %d, alpha %d; pgbench acknowledged %d", rowsB, rowsA, acked)
	}

	// The old primary refuses writes now, naming beta; a new pgx connection
	// with the same string lands on beta.
	if _, err := c.Exec(ctx, `INSERT INTO notes (body) VALUES ('pgx stale')`); err == nil {
		t.Fatalf("a write on the old primary alpha's connection succeeded after the failover")
	} else if code := pgErrCode(err); code != "" && code != "25006" {
		t.Fatalf("write on the old primary: %v (SQLSTATE %s), want 25006 or a closed connection", err, code)
	}
	port, c2, err := pgxPrimaryPort(ctx, conn)
	if err != nil {
		t.Fatalf("pgx multi-host reconnect: %v", err)
	}
	defer c2.Close(ctx)
	if port != beta.Port() {
		t.Fatalf("pgx reconnected to port %s, want beta's %s", port, beta.Port())
	}
	if _, err := c2.Exec(ctx, `INSERT INTO notes (body) VALUES ('pgx after')`); err != nil {
		t.Fatalf("write through the reconnected pgx: %v", err)
	}
	if r, err := writeErr(alpha, "psql on alpha"); err == nil || !strings.Contains(r, "beta") {
		t.Fatalf("psql write on the new secondary alpha: %v: %s (want a read-only error naming beta)", err, r)
	}

	// Fail back, started on the secondary this time, mid-load.
	load = startLoad(t, "tpcb", 25, alpha, beta)
	n = waitRows(t, beta, "tpcb", historyQ, rowsB+300, 0)
	epoch = out.Epoch
	out = mustFailover(t, alpha, beta, "fo")
	checkFailoverResult(t, out, "alpha", epoch)
	waitRows(t, alpha, "tpcb", historyQ, n+300, 2*time.Minute)
	acked += load.Stop(t)

	if p, _ := waitSettled(t, "fo", alpha, beta, 0); p != alpha {
		t.Fatalf("primary after the fail back is %s, want alpha", p.Name)
	}
	waitCaughtUp(t, alpha, beta, "fo", 0)
	t.Log(mustVerify(t, alpha, beta, "fo"))
	rowsA, rowsB = checkTPCBConsistent(t, alpha, "tpcb"), checkTPCBConsistent(t, beta, "tpcb")
	if rowsA < acked || rowsA != rowsB {
		t.Fatalf("history rows after fail back: alpha %d, beta %d; pgbench acknowledged %d", rowsA, rowsB, acked)
	}
	if got := alpha.MustPsql("tpcb", `SELECT count(*) FROM notes WHERE body LIKE 'pgx %';`); got != "2" {
		t.Fatalf("alpha has %s notes written through pgx, want 2", got)
	}
	port, c3, err := pgxPrimaryPort(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close(ctx)
	if port != alpha.Port() {
		t.Fatalf("pgx connected to port %s after fail back, want alpha's %s", port, alpha.Port())
	}
}
