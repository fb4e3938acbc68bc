package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/linkcreate"
)

// The Executing page shows each step as linkcreate reports it and the
// seeding's bytes, rate and ETA.
func TestWizardExecutingShowsStepsAndSeeding(t *testing.T) {
	lw := &linkWizard{seeding: map[string]*adminapi.SeedingStatus{}}
	lw.name = textField("name", "Link name", "shop", "")
	lw.dbFields = []*wizField{checkField("app", "app", true, "")}
	lw.steps = []linkcreate.Step{
		{Step: 1, Name: linkcreate.StepSignIn, Title: "Sign in to both instances", Status: linkcreate.StepOK, Detail: "primary alpha, secondary beta"},
		{Step: 4, Name: linkcreate.StepCreate, Title: "Create the link on both instances", Status: linkcreate.StepRunning},
	}
	lw.seeding["shop"] = &adminapi.SeedingStatus{State: "SEEDING", BytesDone: 50 << 20, BytesTotal: 200 << 20, RateBytes: 10 << 20,
		EstimatedEnd: time.Now().Add(15 * time.Second)}
	got := lw.executingBody()
	for _, want := range []string{"[ok]   1. Sign in to both instances: primary alpha, secondary beta", "[..]   4. Create the link",
		"Seed shop: SEEDING 50.0 MiB of 200.0 MiB (25%), 10.0 MiB/s, ETA 1"} {
		if !strings.Contains(got, want) {
			t.Fatalf("Executing page lacks %q:\n%s", want, got)
		}
	}
}

// Planned failover is offered only when the link is SYNCHRONIZED and
// connected; forced only on the secondary.
func TestWizardFailoverTypes(t *testing.T) {
	fw := &failoverWizard{}
	fw.st.Local = adminapi.ReplicaStatus{Role: sqlink.RolePrimary, SyncState: sqlink.Synchronized, Connected: true}
	if got := strings.Join(fw.kinds(), ","); got != "planned" {
		t.Fatalf("synchronized primary: %s", got)
	}
	fw.st.Local = adminapi.ReplicaStatus{Role: sqlink.RoleSecondary, SyncState: sqlink.Synchronizing, Connected: true}
	if got := strings.Join(fw.kinds(), ","); got != "forced" {
		t.Fatalf("synchronizing secondary: %s", got)
	}
	fw.st.Local = adminapi.ReplicaStatus{Role: sqlink.RoleSecondary, SyncState: sqlink.Synchronized}
	if got := strings.Join(fw.kinds(), ","); got != "forced" {
		t.Fatalf("disconnected secondary: %s", got)
	}
}

// The connection string names both hosts and asks for the read-write one;
// an instance listening on all addresses is reached at its admin host.
func TestWizardConnString(t *testing.T) {
	got := connString("app", []adminapi.InstanceStatus{{ClientAddr: "0.0.0.0:5432"}, {ClientAddr: "10.0.0.2:5433"}},
		[]string{"https://alpha.example:7433", "https://beta:7433"})
	if want := "host=alpha.example,10.0.0.2 port=5432,5433 dbname=app target_session_attrs=read-write"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// On a short terminal the passed checks take one line; failures stay.
func TestWizardFitChecks(t *testing.T) {
	cs := []adminapi.ValidationCheck{{Name: "a", Status: adminapi.CheckPass, Message: "fine"}, {Name: "b", Status: adminapi.CheckFail, Message: "broken", Hint: "fix it"},
		{Name: "c", Status: adminapi.CheckPass, Message: "fine too"}}
	if got := fitChecks(cs, 16, 100); !strings.Contains(got, "fine too") {
		t.Fatalf("tall terminal: %s", got)
	}
	got := fitChecks(cs, 16, 18)
	if strings.Contains(got, "fine") || !strings.Contains(got, "2 checks passed") || !strings.Contains(got, "Try: fix it") {
		t.Fatalf("short terminal: %s", got)
	}
}
