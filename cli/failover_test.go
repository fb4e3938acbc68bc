package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// fakeFailoverSide is one instance's link routes: GET the link, POST
// failover and set-role, each answering what the test set.
type fakeFailoverSide struct {
	mu          sync.Mutex
	status      adminapi.LinkStatus
	failover    adminapi.FailoverResult
	failoverErr *sqlink.Error
	setRole     adminapi.SetRoleResult
	gotFailover []adminapi.FailoverRequest
	gotSetRole  []adminapi.SetRoleRequest
}

func (f *fakeFailoverSide) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	reply := func(v any) { json.NewEncoder(w).Encode(v) }
	switch {
	case r.Method == "GET" && r.URL.Path == "/v1/links/L":
		reply(f.status)
	case r.Method == "POST" && r.URL.Path == "/v1/links/L/failover":
		var req adminapi.FailoverRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.gotFailover = append(f.gotFailover, req)
		if e := f.failoverErr; e != nil {
			w.WriteHeader(adminapi.StatusCode(e.Code))
			reply(adminapi.ErrorResponse{Error: adminapi.ErrorBody{Code: e.Code, Message: e.Message, Hint: e.Hint}})
			return
		}
		reply(f.failover)
	case r.Method == "POST" && r.URL.Path == "/v1/links/L/set-role":
		var req adminapi.SetRoleRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.gotSetRole = append(f.gotSetRole, req)
		reply(f.setRole)
	default:
		http.NotFound(w, r)
	}
}

func newFailoverPair(t *testing.T) (a, b *fakeFailoverSide, aURL, bURL string) {
	a = &fakeFailoverSide{status: adminapi.LinkStatus{Name: "L", TwoWay: true, State: "SYNCHRONIZED", Epoch: 1,
		Local:   adminapi.ReplicaStatus{Instance: "alpha", InstanceID: "alpha-id", Role: sqlink.RolePrimary},
		Partner: adminapi.ReplicaStatus{Instance: "beta", InstanceID: "beta-id", Role: sqlink.RoleSecondary}}}
	b = &fakeFailoverSide{status: adminapi.LinkStatus{Name: "L", TwoWay: true, State: "SYNCHRONIZED", Epoch: 1,
		Local:   adminapi.ReplicaStatus{Instance: "beta", InstanceID: "beta-id", Role: sqlink.RoleSecondary},
		Partner: adminapi.ReplicaStatus{Instance: "alpha", InstanceID: "alpha-id", Role: sqlink.RolePrimary}}}
	sa, sb := httptest.NewServer(a), httptest.NewServer(b)
	t.Cleanup(sa.Close)
	t.Cleanup(sb.Close)
	return a, b, sa.URL, sb.URL
}

func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	err := m.Run(context.Background(), args)
	return out.String(), errb.String(), ExitCode(err)
}

func TestFailover_PrintsStepsAndNewPrimary(t *testing.T) {
	a, b, aURL, bURL := newFailoverPair(t)
	a.failover = adminapi.FailoverResult{Steps: []adminapi.StepResult{{Name: "switch-to-sync", Status: "done", Duration: 0.002}, {Name: "swap", Status: "done", Duration: 0.01}},
		NewPrimary: "beta", Epoch: 2, Duration: 0.05, Link: adminapi.LinkStatus{Name: "L", State: "SYNCHRONIZED"}}
	b.status.Local.Role, b.status.Epoch = sqlink.RolePrimary, 2
	out, errOut, code := runCLI("link", "failover", "L", "--server", aURL, "--token", "t", "--partner", bURL, "--timeout", "5s")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"switch-to-sync", "swap", "New primary:", "beta", "Epoch:", "Partner:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := a.gotFailover; len(got) != 1 || got[0].Type != "planned" || got[0].TimeoutSeconds != 5 || got[0].DropLink {
		t.Fatalf("requests: %+v", got)
	}

	out, _, code = runCLI("link", "failover", "L", "--server", aURL, "--token", "t", "--json")
	var rep FailoverReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.NewPrimary != "beta" || len(rep.Steps) != 2 {
		t.Fatalf("--json: exit %d, %+v\n%s", code, rep, out)
	}
}

func TestFailover_ForceNeedsAcknowledgement(t *testing.T) {
	_, b, _, bURL := newFailoverPair(t)
	b.status.Local.EstimatedDataLoss = adminapi.DataLoss{Transactions: 7, Seconds: 0.25}
	_, errOut, code := runCLI("link", "failover", "L", "--server", bURL, "--token", "t", "--force")
	if code != 2 || !strings.Contains(errOut, "--allow-data-loss") || !strings.Contains(errOut, "7 transactions") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if len(b.gotFailover) != 0 {
		t.Fatalf("the refused command called the server: %+v", b.gotFailover)
	}
	b.failover = adminapi.FailoverResult{NewPrimary: "beta", Epoch: 2, EstimatedLoss: adminapi.DataLoss{Transactions: 7, Seconds: 0.25}, Lost: adminapi.DataLoss{Transactions: 7, Seconds: 0.25}}
	out, errOut, code := runCLI("link", "failover", "L", "--server", bURL, "--token", "t", "--force", "--allow-data-loss")
	if code != 0 || !strings.Contains(out, "Estimated loss before:") || !strings.Contains(out, "Recorded loss:") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if got := b.gotFailover; len(got) != 1 || got[0].Type != "forced" || !got[0].AllowDataLoss {
		t.Fatalf("requests: %+v", got)
	}
}

func TestFailover_OneWayOffersDropLink(t *testing.T) {
	a, _, aURL, _ := newFailoverPair(t)
	a.status.TwoWay = false
	a.failoverErr = sqlink.Errorf(sqlink.ECONFLICT, "fail over and drop the link (keep link: false), or recreate the link as two-way",
		"link x is one-way: it cannot replicate the other way after a failover")
	_, errOut, code := runCLI("link", "failover", "L", "--server", aURL, "--token", "t")
	if code != 6 || !strings.Contains(errOut, "one-way") || !strings.Contains(errOut, "Try:") || !strings.Contains(errOut, "--drop-link") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
}

func TestFailover_ResumeWithNothingInProgress(t *testing.T) {
	a, _, aURL, _ := newFailoverPair(t)
	a.failoverErr = sqlink.Errorf(sqlink.ECONFLICT, "", "no planned failover to resume on link x")
	out, errOut, code := runCLI("link", "failover", "L", "--server", aURL, "--token", "t", "--resume")
	if code != 0 || !strings.Contains(out, "nothing to resume") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// Abort with nothing to abort stays an error.
	a.failoverErr = sqlink.Errorf(sqlink.ECONFLICT, "", "no planned failover to abort on link x")
	if _, _, code := runCLI("link", "failover", "L", "--server", aURL, "--token", "t", "--abort"); code != 6 {
		t.Fatalf("--abort with nothing to abort: exit %d", code)
	}
	if _, _, code := runCLI("link", "failover", "L", "--server", aURL, "--token", "t", "--abort", "--resume"); code != 2 {
		t.Fatalf("--abort --resume: exit %d", code)
	}
}

func TestFailover_PausedExitsNonZero(t *testing.T) {
	a, _, aURL, _ := newFailoverPair(t)
	a.failover = adminapi.FailoverResult{Paused: "the secondary did not harden LSN 42 in 5s"}
	_, errOut, code := runCLI("link", "failover", "L", "--server", aURL, "--token", "t")
	if code != 7 || !strings.Contains(errOut, "--resume") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
}

func TestFailover_UsesPartnerWhenServerIsDown(t *testing.T) {
	_, b, _, bURL := newFailoverPair(t)
	b.failover = adminapi.FailoverResult{NewPrimary: "beta", Epoch: 2}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	out, errOut, code := runCLI("link", "failover", "L", "--server", down.URL, "--token", "t", "--partner", bURL, "--resume")
	if code != 0 || len(b.gotFailover) != 1 || !b.gotFailover[0].Resume || !strings.Contains(errOut, "running on the partner") {
		t.Fatalf("exit %d, requests %+v\n%s\n%s", code, b.gotFailover, out, errOut)
	}
}

func TestSetRole_AsksTheLosingSide(t *testing.T) {
	a, b, aURL, bURL := newFailoverPair(t)
	b.setRole = adminapi.SetRoleResult{ForkLSN: 100, Diverged: 3, DivergedFile: "/data/diverged.db", DivergedList: "/data/diverged.txt", Method: "rewind"}
	// --server alpha keeps its writes: the call goes to beta, which saves
	// its diverged transactions.
	out, errOut, code := runCLI("link", "set-role", "L", "--primary", "alpha", "--server", aURL, "--token", "t", "--partner", bURL)
	if code != 0 || len(b.gotSetRole) != 1 || len(a.gotSetRole) != 0 || b.gotSetRole[0].Primary != "alpha" {
		t.Fatalf("exit %d; alpha got %+v, beta got %+v\n%s\n%s", code, a.gotSetRole, b.gotSetRole, out, errOut)
	}
	for _, want := range []string{"Fork LSN:", "100", "/data/diverged.db", "/data/diverged.txt", "rewind", "3 (on beta)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// With nothing diverged on beta, the call goes to alpha itself.
	a.status.SplitBrain = &adminapi.SplitBrainStatus{ForkLSN: 100, DivergedLocal: 2}
	a.setRole = adminapi.SetRoleResult{ForkLSN: 100}
	if _, errOut, code := runCLI("link", "set-role", "L", "--primary", "alpha", "--server", aURL, "--token", "t", "--partner", bURL); code != 0 || len(a.gotSetRole) != 1 || len(b.gotSetRole) != 1 {
		t.Fatalf("exit %d; alpha got %+v, beta got %+v\n%s", code, a.gotSetRole, b.gotSetRole, errOut)
	}
	if _, errOut, code := runCLI("link", "set-role", "L", "--primary", "gamma", "--server", aURL, "--token", "t"); code != 2 || !strings.Contains(errOut, "alpha or beta") {
		t.Fatalf("unknown instance: exit %d\n%s", code, errOut)
	}
}
