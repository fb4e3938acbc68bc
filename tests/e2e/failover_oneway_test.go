package e2e_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/testutil"
)

// TestFailover_OneWayLinkDropsOrRefuses checks that a one-way link refuses
// a failover that keeps the link, from either side, with a message that
// offers --drop-link; with --drop-link both databases become independent
// and writable and keep every committed transaction.
func TestFailover_OneWayLinkDropsOrRefuses(t *testing.T) {
	alpha, beta := mustSetupTPCBLink(t, "fo")
	mustWrite(t, alpha, "before")
	waitCaughtUp(t, alpha, beta, "fo", 0)

	for _, on := range []*Instance{alpha, beta} {
		partner := beta
		if on == beta {
			partner = alpha
		}
		_, r := runFailover(t, on, partner, "fo")
		if (r.Code != 6 && r.Code != 2) || !strings.Contains(r.Stderr, "--drop-link") || !strings.Contains(r.Stderr, "one-way") {
			t.Fatalf("failover keeping a one-way link, on %s: exit %d, want 6 or 2 with a hint offering --drop-link\nstdout: %s\nstderr: %s",
				on.Name, r.Code, r.Stdout, r.Stderr)
		}
	}
	// Nothing changed.
	if p, _ := waitSettled(t, "fo", alpha, beta, 0); p != alpha {
		t.Fatalf("a refused failover changed the primary to %s", p.Name)
	}
	mustWrite(t, alpha, "still primary")
	waitRows(t, beta, "tpcb", `SELECT count(*) FROM notes;`, 2, 0)

	// The table output names each step, the new primary and the drop.
	out := alpha.MustCLI(append([]string{"link", "failover", "fo", "--drop-link"}, partnerFlags(beta)...)...)
	t.Logf("link failover --drop-link:\n%s", out)
	for _, want := range []string{"Planned failover of link fo", "STEP", "drop the link", "New primary:", "beta", "Epoch:", "Link:", "dropped", "Partner:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("link failover --drop-link output lacks %q:\n%s", want, out)
		}
	}
	// Both are independent and writable, with everything alpha committed.
	for _, in := range []*Instance{beta, alpha} {
		testutil.RetryUntil(t, 0, func() error {
			if out, err := writeErr(in, "independent "+in.Name); err != nil {
				return fmt.Errorf("write on %s: %v: %s", in.Name, err, out)
			}
			return nil
		})
	}
	for _, in := range []*Instance{alpha, beta} {
		if got := in.MustPsql("tpcb", `SELECT count(*) FROM notes;`); got != "3" {
			t.Fatalf("%s has %s notes, want 3 (2 replicated, 1 of its own)", in.Name, got)
		}
		testutil.RetryUntil(t, 0, func() error {
			if out := in.MustCLI("link", "list", "--json"); strings.Contains(out, `"fo"`) {
				return fmt.Errorf("link list on %s still shows fo:\n%s", in.Name, out)
			}
			return nil
		})
		if d := dbShow(t, in, "tpcb"); d["read_only"] == true || d["state"] != string(sqlink.DatabaseOnline) {
			t.Fatalf("tpcb on %s after the drop: %v", in.Name, d)
		}
	}
}
