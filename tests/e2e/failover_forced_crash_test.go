package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

// TestFailover_ForcedKilledPartWay forces a failover on the secondary after
// the primary died under load, and kills the secondary (SIGKILL, at its own
// failpoint) at each step of taking over: once its promotion is persisted
// (still read-only, its log at the old epoch), and once it is writable.
// Restarted, it is the primary at the new epoch, with exactly the rows it
// had hardened, its log at that epoch, and it takes writes. The old primary
// then returns: split brain, resolved by set-role in favour of the new
// primary, after which both copies are equal and replicate.
func TestFailover_ForcedKilledPartWay(t *testing.T) {
	requireTool(t, "pgbench")
	for _, fp := range []string{"forced/after-promote", "forced/after-writable"} {
		t.Run(strings.TrimPrefix(fp, "forced/"), func(t *testing.T) { testForcedKilled(t, fp) })
	}
}

func testForcedKilled(t *testing.T, fp string) {
	alpha, beta := mustSetupTPCBLink(t, "fo", "--two-way")
	beta.Stop()
	beta.StartEnv("SQLINK_FAILPOINT=" + fp)
	waitConnected(t, "fo", alpha, beta)

	load := startLoad(t, "tpcb", 25, alpha)
	waitRows(t, beta, "tpcb", historyQ, 300, 0)
	alpha.Kill()
	load.Stop(t)

	// Everything beta hardened is redone before it takes over: wait for
	// that here, so the rows it has now are exactly what it must keep.
	before := waitLink(t, beta, "fo", 0, func(st adminapi.LinkStatus) error {
		if l := st.Local; l.LastRedoneLSN != l.LastHardenedLSN {
			return fmt.Errorf("redone %d, hardened %d", l.LastRedoneLSN, l.LastHardenedLSN)
		}
		return nil
	})
	hb, err := historyRows(t, beta, "tpcb")
	if err != nil {
		t.Fatal(err)
	}
	r := beta.CLI("link", "failover", "fo", "--force", "--allow-data-loss")
	t.Logf("forced failover with %s armed: exit %d\nstdout: %s\nstderr: %s", fp, r.Code, r.Stdout, r.Stderr)
	// The CLI lost its instance mid-call: it says the failover may have
	// happened and how to find out, not that the instance is unreachable.
	if r.Code != 7 || !strings.Contains(r.Stderr, "lost the connection") || !strings.Contains(r.Stderr, "link status fo") {
		t.Errorf("link failover --force killed mid-call: exit %d, want 7 and a hint to check the status\nstderr: %s", r.Code, r.Stderr)
	}
	restartAfterFailpoint(t, beta, fp)

	st := waitLink(t, beta, "fo", 0, func(st adminapi.LinkStatus) error {
		if st.Local.Role != sqlink.RolePrimary || st.Epoch <= before.Epoch {
			return fmt.Errorf("role %s at epoch %d (was %d)", st.Local.Role, st.Epoch, before.Epoch)
		}
		return nil
	})
	testutil.RetryUntil(t, 0, func() error {
		out, err := writeErr(beta, "after forced")
		if err != nil {
			return fmt.Errorf("write on the new primary: %v: %s", err, out)
		}
		return nil
	})
	if got, err := historyRows(t, beta, "tpcb"); err != nil || got != hb {
		t.Fatalf("beta has %d history rows after the restart (%v), %d before the forced failover", got, err, hb)
	}
	info := dbShow(t, beta, "tpcb")
	if ep, _ := info["epoch"].(float64); sqlink.Epoch(ep) != st.Epoch {
		t.Fatalf("beta's log is at epoch %v, the link at %d", info["epoch"], st.Epoch)
	}
	t.Logf("beta: primary at epoch %d (was %d), %d history rows, log at %v", st.Epoch, before.Epoch, hb, info["pos"])

	// The old primary returns with what beta never received.
	alpha.Start()
	for _, in := range []*Instance{alpha, beta} {
		waitLink(t, in, "fo", 0, func(st adminapi.LinkStatus) error {
			if st.State != "SPLIT_BRAIN" {
				return fmt.Errorf("state %s", st.State)
			}
			return nil
		})
	}
	if r := beta.CLI(append([]string{"link", "set-role", "fo", "--primary", beta.Name}, partnerFlags(alpha)...)...); r.Code != 0 {
		t.Fatalf("link set-role --primary beta: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	p, s := waitSettled(t, "fo", alpha, beta, 2*time.Minute)
	if p != beta {
		t.Fatalf("after set-role --primary beta the primary is %s", p.Name)
	}
	waitCaughtUp(t, p, s, "fo", 0)
	t.Log(mustVerify(t, p, s, "fo"))
	if got := checkTPCBConsistent(t, alpha, "tpcb"); got != hb {
		t.Fatalf("alpha has %d history rows after the rewind, beta %d", got, hb)
	}
	mustWrite(t, beta, "replicated after set-role")
	waitRows(t, alpha, "tpcb", `SELECT count(*) FROM notes WHERE body LIKE '%after%';`, 2, 0)
}
