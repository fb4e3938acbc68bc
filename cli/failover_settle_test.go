package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// TestFailover_SummaryShowsSettledRoles: the link a failover returns holds
// the partner's role as last reported before the swap; the summary shows
// the roles once settled, never two secondaries (or two primaries) that
// read as a split brain (issue 18, item 5).
func TestFailover_SummaryShowsSettledRoles(t *testing.T) {
	a, _, aURL, _ := newFailoverPair(t)
	stale := adminapi.LinkStatus{Name: "L", TwoWay: true, State: "SYNCHRONIZED", Epoch: 2, Mode: sqlink.ModeAsync,
		Local:   adminapi.ReplicaStatus{Instance: "alpha", Role: sqlink.RoleSecondary, Connected: true},
		Partner: adminapi.ReplicaStatus{Instance: "beta", Role: sqlink.RoleSecondary, Connected: true}}
	a.failover = adminapi.FailoverResult{NewPrimary: "beta", Epoch: 2, Link: stale}
	settled := stale
	settled.Partner.Role = sqlink.RolePrimary
	a.status = settled

	out, errOut, code := runCLI("link", "failover", "L", "--server", aURL, "--token", "t")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "alpha is SECONDARY, beta is PRIMARY") {
		t.Fatalf("summary does not show the settled roles:\n%s", out)
	}
	out, _, code = runCLI("link", "failover", "L", "--server", aURL, "--token", "t", "--json")
	var rep FailoverReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Link.Partner.Role != sqlink.RolePrimary || rep.Link.Local.Role != sqlink.RoleSecondary {
		t.Fatalf("--json link: exit %d, %+v\n%s", code, rep.Link, out)
	}

	// A partner that never confirms is shown as such, not as a second
	// secondary.
	a.status = stale
	a.status.Local.Connected = false
	out, _, code = runCLI("link", "failover", "L", "--server", aURL, "--token", "t")
	if code != 0 || strings.Contains(out, "beta is SECONDARY") || !strings.Contains(out, "beta is not connected (last reported SECONDARY)") {
		t.Fatalf("unconfirmed partner: exit %d\n%s", code, out)
	}
}

// TestSetRole_OnTheWinnerShowsTheLosersPath: set-role run on the instance
// that keeps its writes (as the README shows it) prints the path the other
// instance reported for its saved transactions (issue 18, item 8).
func TestSetRole_OnTheWinnerShowsTheLosersPath(t *testing.T) {
	a, _, aURL, _ := newFailoverPair(t)
	a.setRole = adminapi.SetRoleResult{ForkLSN: 100, Diverged: 2, DivergedFile: "/data/beta/diverged/L-shop-fork100.db", DivergedList: "/data/beta/diverged/L-shop-fork100.txt", Method: "rewind"}
	out, errOut, code := runCLI("link", "set-role", "L", "--primary", "alpha", "--server", aURL, "--token", "t")
	if code != 0 || len(a.gotSetRole) != 1 {
		t.Fatalf("exit %d, alpha got %+v\n%s\n%s", code, a.gotSetRole, out, errOut)
	}
	if !strings.Contains(out, "/data/beta/diverged/L-shop-fork100.db on beta") || strings.Contains(out, "Saved to:\t-") {
		t.Fatalf("set-role does not show the path beta reported:\n%s", out)
	}
}
