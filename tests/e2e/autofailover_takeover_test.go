package e2e_test

import (
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
