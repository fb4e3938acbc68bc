package e2e_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/etcdlease/etcdtest"
	"github.com/sqlink/sqlink/internal/testutil"
)

// TestAutoFailover_KillSoak repeats TestAutoFailover_KillPrimary's round
// on one sync link with --auto-failover over a real 3-member etcd
// cluster: under a write loop that follows the primary, the primary is
// killed (SIGKILL; alpha and beta in turn), the secondary takes the lease
// and writes by itself, the killed instance restarts and follows on its
// own until the link is SYNCHRONIZED again, and every write the loop saw
// acknowledged is on the new primary. At the end every acknowledged write
// is on both and `link verify` finds them equal. Each round logs kill ->
// first write acknowledged by the new primary; the end logs the median,
// min and max over the rounds and the writes acknowledged and lost.
//
// SQLINK_AF_ROUNDS sets the rounds (default 2). Issue 25's 100 rounds:
//
//	SQLINK_AF_ROUNDS=100 go test ./tests/e2e -run 'TestAutoFailover_KillSoak$' -v -count=1 -timeout 4h
func TestAutoFailover_KillSoak(t *testing.T) {
	rounds := envRounds(t, "SQLINK_AF_ROUNDS", 2)
	c := etcdtest.Start(t, 3)
	alpha, beta := mustSetupAutoLink(t, c, "af")
	loop := startAckLoop(t, multiHost("app", alpha, beta))
	start := time.Now()
	var firsts []time.Duration
	p, s := alpha, beta
	for r := 1; r <= rounds; r++ {
		// The kill lands under load: the primary has taken writes since
		// the last round ended.
		n0 := loop.On(p)
		testutil.RetryUntil(t, 2*time.Minute, func() error {
			if n := loop.On(p) - n0; n < 100 {
				codes, last := loop.Codes()
				return fmt.Errorf("round %d: %d writes acknowledged by %s (failures %v, last %s)", r, n, p.Name, codes, last)
			}
			return nil
		})
		p.Kill()
		killed := time.Now()

		st := waitLeaseHolder(t, s, "af", s.Name)
		writable := time.Since(killed)
		var first time.Time
		testutil.RetryUntil(t, time.Minute, func() error {
			if first = loop.FirstSince(s, killed); first.IsZero() {
				codes, last := loop.Codes()
				return fmt.Errorf("round %d: no write acknowledged by %s since the kill (failures %v, last %s)", r, s.Name, codes, last)
			}
			return nil
		})
		firsts = append(firsts, first.Sub(killed))
		if la := st.AutoFailover.LastAutomatic; la == nil || la.LostTransactions != 0 {
			t.Fatalf("round %d: %s's last automatic failover: %+v", r, s.Name, la)
		}

		p.Start()
		waitFollowing(t, p, s, "af")
		waitCaughtUp(t, s, p, "af", 2*time.Minute)
		waitLink(t, s, "af", 2*time.Minute, func(st adminapi.LinkStatus) error {
			if st.State != "SYNCHRONIZED" || st.SplitBrain != nil {
				return fmt.Errorf("state %s", st.State)
			}
			return nil
		})
		checkAtMostOnePrimary(t, "af", alpha, beta)
		acked := loop.Acked()
		if miss := missingNotes(t, s, acked); len(miss) > 0 {
			t.Fatalf("round %d: %d of %d acknowledged writes missing on the new primary %s, e.g. %v", r, len(miss), len(acked), s.Name, miss[:min(10, len(miss))])
		}
		t.Logf("round %d at %.0fs: killed %s; %s writable after %s, kill -> first write acknowledged by %s %s; %d writes acknowledged so far, none missing",
			r, time.Since(start).Seconds(), p.Name, s.Name, writable.Round(time.Millisecond), s.Name, firsts[r-1].Round(time.Millisecond), len(acked))
		p, s = s, p
	}
	loop.Stop()
	acked := loop.Acked()
	waitCaughtUp(t, p, s, "af", 2*time.Minute)
	lost := 0
	for _, in := range []*Instance{p, s} {
		if miss := missingNotes(t, in, acked); len(miss) > 0 {
			lost = max(lost, len(miss))
			t.Errorf("%d of %d acknowledged writes missing on %s, e.g. %v", len(miss), len(acked), in.Name, miss[:min(10, len(miss))])
		}
	}
	slices.Sort(firsts)
	median := firsts[len(firsts)/2]
	if len(firsts)%2 == 0 {
		median = (firsts[len(firsts)/2-1] + median) / 2
	}
	t.Logf("%d kill -9 rounds (lease TTL %s) in %.0fs: kill -> first write acknowledged by the new primary median %s, min %s, max %s; %d writes acknowledged, %d lost",
		rounds, autoLinkTTL, time.Since(start).Seconds(), median.Round(time.Millisecond), firsts[0].Round(time.Millisecond),
		firsts[len(firsts)-1].Round(time.Millisecond), len(acked), lost)
	if !t.Failed() {
		t.Log(mustVerify(t, p, s, "af"))
	}
}
