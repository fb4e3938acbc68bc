package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/internal/testutil"
)

// TestFailover_KilledAtRandomMoments runs planned failovers back and forth
// under a pgbench load and kills (SIGKILL) the old or the new primary at a
// random moment of each, between the failpoints TestFailover_CrashAtEachFailpoint
// stops at. After each restart there is never more than one primary,
// `link failover --resume` on the old primary finishes whatever was under
// way (or finds nothing to do), and the link settles. At the end the copies
// are equal and nothing pgbench saw committed is lost.
//
// SQLINK_SOAK_ROUNDS (default 4) and SQLINK_SOAK_SEED as for
// TestLink_KilledAtRandomMoments.
func TestFailover_KilledAtRandomMoments(t *testing.T) {
	requireTool(t, "pgbench")
	rounds, seed := soakParams(t, 4)
	t.Logf("seed %d (rerun with SQLINK_SOAK_SEED=%d), %d rounds", seed, seed, rounds)
	rng := rand.New(rand.NewPCG(seed, seed))
	alpha, beta := mustSetupTPCBLink(t, "fo", "--two-way")
	load := startLoad(t, "tpcb", 25, alpha, beta)
	waitRows(t, alpha, "tpcb", historyQ, 200, 0)
	start := time.Now()
	for r := 1; r <= rounds; r++ {
		p, s := waitSettled(t, "fo", alpha, beta, 2*time.Minute)
		settled := time.Since(start)
		n, err := historyRows(t, p, "tpcb")
		if err != nil {
			t.Fatal(err)
		}
		waitRows(t, p, "tpcb", historyQ, n+50, 2*time.Minute)
		t.Logf("round %d: settled at %.1fs, 50 more rows on %s at %.1fs", r, settled.Seconds(), p.Name, time.Since(start).Seconds())
		victim := []*Instance{p, s}[rng.IntN(2)]
		// The fault's timing, not a wait for a condition: the kill lands
		// at a random moment of the failover (or after it, when it is
		// quicker than the draw).
		delay := time.Duration(rng.IntN(40_000)) * time.Microsecond
		done := make(chan CLIResult, 1)
		go func() {
			done <- p.CLI(append([]string{"link", "failover", "fo", "--json", "--timeout", "10s"}, partnerFlags(s)...)...)
		}()
		finished := false
		select {
		case <-time.After(delay):
		case res := <-done:
			finished = true
			done <- res
		}
		victim.Kill()
		victim.Start()
		res := <-done
		t.Logf("round %d at %.1fs: failover %s -> %s, killed and restarted %s after %v (failover had finished: %v; exit %d %s)",
			r, time.Since(start).Seconds(), p.Name, s.Name, victim.Name, delay, finished, res.Code, firstLine(res.Stderr))
		waitConnected(t, "fo", alpha, beta)
		checkAtMostOnePrimary(t, "fo", alpha, beta)
		// Finish what the kill interrupted; --resume on the old primary
		// says so when there is nothing to finish.
		testutil.RetryUntil(t, time.Minute, func() error {
			out, res := runFailover(t, p, s, "fo", "--resume", "--timeout", "30s")
			if res.Code != 0 || out.Paused != "" {
				return fmt.Errorf("link failover --resume on %s: exit %d, paused %q\nstdout: %s\nstderr: %s", p.Name, res.Code, out.Paused, res.Stdout, res.Stderr)
			}
			return nil
		})
		checkAtMostOnePrimary(t, "fo", alpha, beta)
	}
	p, s := waitSettled(t, "fo", alpha, beta, 2*time.Minute)
	checkLoadLanded(t, load, p, s, "fo", 50)
	t.Logf("%d rounds: primary %s at epoch %d", rounds, p.Name, mustLinkStatus(t, p, "fo").Epoch)
}

// firstLine returns s's first line.
func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
