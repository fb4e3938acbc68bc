package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/etcdlease/etcdtest"
	"github.com/sqlink/sqlink/internal/testutil"
)

// A killed primary's lease is not waited out: the secondary sees its link
// connection reset and its endpoint refusing connections, and takes over
// the live lease at once (the lease TTL here is a minute). Every
// acknowledged write survives; the old primary restarts and follows. Then
// the new primary is stopped cleanly (SIGTERM): its endpoint keeps
// listening until its databases are closed, after which the other side
// takes over the same way, again losing nothing.
func TestAutoFailover_KillPrimaryTakesOverLiveLease(t *testing.T) {
	c := etcdtest.Start(t, 3)
	alpha, beta := mustSetupAutoLink(t, c, "af", "--lease-ttl", "60s")
	if st := mustLinkStatus(t, alpha, "af"); st.AutoFailover == nil || st.AutoFailover.LeaseTTLSeconds != 60 {
		t.Fatalf("lease TTL: %+v", st.AutoFailover)
	}
	loop := startAckLoop(t, multiHost("app", alpha, beta))
	waitAcks(t, loop, alpha, 200)

	alpha.Kill()
	killed := time.Now()
	bst := waitLeaseHolder(t, beta, "af", "beta")
	took := time.Since(killed)
	la := bst.AutoFailover.LastAutomatic
	if la == nil || !strings.Contains(la.Reason, "process of alpha gone") || !strings.Contains(la.Reason, "taken over") || la.LostTransactions != 0 {
		t.Fatalf("beta's last automatic failover: %+v", la)
	}
	waitAcks(t, loop, beta, 50)
	t.Logf("kill -9 of the primary, lease TTL 60 s: beta holds the lease after %s, first write acknowledged by beta %s after the kill",
		took.Round(time.Millisecond), loop.FirstOn(beta).Sub(killed).Round(time.Millisecond))
	if a := auditActions(t, beta, "link.failover.automatic"); len(a) != 1 || !strings.Contains(a[0], "gone") {
		t.Fatalf("beta's audit log of automatic failovers: %q", a)
	}
	if miss := missingNotes(t, beta, loop.Acked()); len(miss) > 0 {
		t.Fatalf("%d acknowledged transactions missing on beta, e.g. %v", len(miss), miss[:min(10, len(miss))])
	}

	// The old primary restarts, finds epoch and holder changed, follows.
	alpha.Start()
	waitFollowing(t, alpha, beta, "af")
	// ... until the primary shares its epoch with it again (after the
	// failover it acknowledged alone, at a solo epoch): only then may
	// alpha take over without a loss.
	waitLink(t, beta, "af", 2*time.Minute, func(st adminapi.LinkStatus) error {
		if st.State != "SYNCHRONIZED" || st.SplitBrain != nil || st.AutoFailover == nil || st.AutoFailover.Solo || st.AutoFailover.Claiming {
			return fmt.Errorf("state %s, %+v", st.State, st.AutoFailover)
		}
		if ast := mustLinkStatus(t, alpha, "af"); ast.Epoch != st.Epoch || ast.State != "SYNCHRONIZED" {
			return fmt.Errorf("alpha at epoch %d (%s), beta at %d", ast.Epoch, ast.State, st.Epoch)
		}
		return nil
	})

	// A clean stop of the primary: the same, the other way.
	n := loop.On(alpha)
	beta.Stop()
	ast := waitLeaseHolder(t, alpha, "af", "alpha")
	if la := ast.AutoFailover.LastAutomatic; la == nil || !strings.Contains(la.Reason, "process of beta gone") {
		t.Fatalf("alpha's last automatic failover: %+v", la)
	}
	waitAcks(t, loop, alpha, n+50)
	loop.Stop()
	acked := loop.Acked()
	if miss := missingNotes(t, alpha, acked); len(miss) > 0 {
		t.Fatalf("%d of %d acknowledged transactions missing on alpha, e.g. %v", len(miss), len(acked), miss[:min(10, len(miss))])
	}
	beta.Start()
	waitFollowing(t, beta, alpha, "af")
	waitCaughtUp(t, alpha, beta, "af", 2*time.Minute)
	t.Log(mustVerify(t, alpha, beta, "af"))
	if miss := missingNotes(t, beta, acked); len(miss) > 0 {
		t.Fatalf("%d acknowledged transactions missing on beta after it followed, e.g. %v", len(miss), miss[:min(10, len(miss))])
	}
}

// waitAcks waits until the loop has n writes acknowledged by in.
func waitAcks(t testing.TB, loop *ackLoop, in *Instance, n int) {
	t.Helper()
	testutil.RetryUntil(t, 2*time.Minute, func() error {
		if got := loop.On(in); got < n {
			codes, last := loop.Codes()
			return fmt.Errorf("%d writes acknowledged by %s, want %d (failures %v, last %s)", got, in.Name, n, codes, last)
		}
		return nil
	})
}

// Done-when's wording: kill -9 of the primary under sync pgbench (TPC-B,
// logging every transaction it saw committed). The secondary takes over
// by itself and holds every one of them; pgbench then runs against it;
// the old primary restarts and follows; the copies are equal.
func TestAutoFailover_KillPrimaryUnderPgbench(t *testing.T) {
	requireTool(t, "pgbench")
	c := etcdtest.Start(t, 3)
	alpha := MustStartFailoverInstance(t, "alpha", etcdFlags(c)...)
	beta := MustStartFailoverInstance(t, "beta", etcdFlags(c)...)
	logOnFailure(t, alpha, beta)
	alpha.MustCLI("db", "create", "tpcb")
	MustInitTPCB(t, alpha, "tpcb")
	mustFullBackup(t, alpha, "tpcb")
	MustCreateLink(t, alpha, beta, "afb", "tpcb", "--mode", "sync", "--auto-failover", "--lease-ttl", autoLinkTTL)
	waitCaughtUp(t, alpha, beta, "afb", 0)
	waitLeaseHolder(t, alpha, "afb", "alpha")
	const rowsQ = `SELECT count(*) FROM pgbench_history;`

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bench := startLoggedPgbench(t, ctx, alpha, "tpcb", "-c", "4", "-j", "2", "-T", "240")
	waitRows(t, beta, "tpcb", rowsQ, 300, 0)
	alpha.Kill()
	acked := bench.acked(t)
	bst := waitLeaseHolder(t, beta, "afb", "beta")
	if la := bst.AutoFailover.LastAutomatic; la == nil || la.LostTransactions != 0 {
		t.Fatalf("beta's last automatic failover: %+v", la)
	}
	got := waitRows(t, beta, "tpcb", rowsQ, acked, 0)
	t.Logf("pgbench saw %d committed on alpha; beta, primary by itself (%s), has %d", acked, bst.AutoFailover.LastAutomatic.Reason, got)
	if bench, err := beta.Pgbench(ctx, "tpcb", "-n", "-M", "prepared", "-c", "2", "-j", "2", "-t", "100", "-f", tpcbScript); err != nil {
		t.Fatalf("pgbench on the new primary: %v\n%s", err, bench)
	}

	alpha.Start()
	waitFollowing(t, alpha, beta, "afb")
	waitCaughtUp(t, beta, alpha, "afb", 2*time.Minute)
	t.Log(mustVerify(t, beta, alpha, "afb"))
	if a, b := checkTPCBConsistent(t, alpha, "tpcb"), checkTPCBConsistent(t, beta, "tpcb"); a != b || b < acked+200 {
		t.Fatalf("history rows: alpha %d, beta %d, acknowledged before the kill %d (+200 after)", a, b, acked)
	}
}
