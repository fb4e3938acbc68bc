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
