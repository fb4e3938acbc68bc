package e2e_test

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlink/sqlink/guide"
	"github.com/sqlink/sqlink/internal/testutil"
)

// runTroubleshoot runs `link troubleshoot --json` and returns its exit
// code and directions.
func runTroubleshoot(t *testing.T, p, s *Instance, extra ...string) (int, []guide.Direction) {
	t.Helper()
	r := p.CLI(append(append([]string{"link", "troubleshoot", "--json"}, linkFlags(p, s)...), extra...)...)
	var out struct {
		Directions []guide.Direction `json:"directions"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || len(out.Directions) != 2 {
		t.Fatalf("troubleshoot: exit %d (%v)\nstdout: %s\nstderr: %s", r.Code, err, r.Stdout, r.Stderr)
	}
	return r.Code, out.Directions
}

func stepOf(d guide.Direction, name string) guide.ProbeStep {
	for _, s := range d.Steps {
		if s.Name == name {
			return s
		}
	}
	return guide.ProbeStep{}
}

func TestGuide_Troubleshoot(t *testing.T) {
	alpha, beta := startLinkedF(t, "l", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, nil)
	waitCaughtUp(t, alpha, beta, "l", 0)

	// A healthy pair: every step passes, with a time, both ways.
	code, ds := runTroubleshoot(t, alpha, beta)
	if code != 0 {
		t.Fatalf("healthy pair: exit %d: %+v", code, ds)
	}
	for _, d := range ds {
		if len(d.Steps) != 6 {
			t.Fatalf("%s -> %s: %d steps: %+v", d.From, d.To, len(d.Steps), d.Steps)
		}
		for _, s := range d.Steps {
			if s.Status != "pass" {
				t.Fatalf("%s -> %s: step %s is %s: %+v", d.From, d.To, s.Name, s.Status, s)
			}
		}
		if stepOf(d, guide.StepTLS).DurationMS <= 0 || !strings.Contains(stepOf(d, guide.StepTLS).Detail, d.Fingerprint) {
			t.Fatalf("%s -> %s: TLS step: %+v", d.From, d.To, stepOf(d, guide.StepTLS))
		}
	}
	out := alpha.MustCLI(append([]string{"link", "troubleshoot"}, linkFlags(alpha, beta)...)...)
	if !strings.Contains(out, "alpha -> beta") || !strings.Contains(out, "beta -> alpha") {
		t.Fatalf("table output: %s", out)
	}
	t.Logf("link troubleshoot:\n%s", out)

	// A wrong endpoint address for alpha: beta's TCP connect to it fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	code, ds = runTroubleshoot(t, alpha, beta, "--primary-endpoint", closed)
	if code == 0 || !ds[0].OK() || ds[1].Failed != guide.StepConnect || ds[1].From != "beta" || !strings.Contains(ds[1].Hint, "TCP connect from beta to") {
		t.Fatalf("wrong address: exit %d: %+v", code, ds)
	}

	// An untrusted certificate: a third instance listens where beta's
	// endpoint is expected; the TLS step names the fingerprints.
	gamma := MustStartInstance(t, "gamma")
	code, ds = runTroubleshoot(t, alpha, beta, "--secondary-endpoint", gamma.EndpointAddr)
	if code == 0 || ds[0].Failed != guide.StepTLS || !strings.Contains(ds[0].Hint, beta.Fingerprint()) && !strings.Contains(ds[0].Hint, ds[0].Fingerprint) || ds[0].Presented == "" ||
		!strings.Contains(ds[0].Hint, ds[0].Presented) {
		t.Fatalf("wrong certificate: exit %d: %+v", code, ds)
	}

	// A certificate the partner no longer trusts: the TLS step fails in
	// that direction, naming the certificate.
	beta.MustCLI("cert", "untrust", "alpha")
	code, ds = runTroubleshoot(t, alpha, beta)
	if code == 0 || ds[0].Failed != guide.StepTLS || !strings.Contains(ds[0].Hint, "beta refused alpha's endpoint certificate") ||
		!strings.Contains(ds[0].Hint, ds[1].Fingerprint) {
		t.Fatalf("untrusted certificate: exit %d: %+v", code, ds)
	}
	pem := writeFile(t, "alpha.pem", alpha.MustCLI("cert", "show", "--pem"))
	beta.MustCLI("cert", "trust", "alpha", pem)
	if code, ds = runTroubleshoot(t, alpha, beta); code != 0 {
		t.Fatalf("trusted again: exit %d: %+v", code, ds)
	}

	// A skewed clock (test knob) warns, and does not fail.
	beta.Stop()
	if err := beta.tryStart([]string{"SQLINK_TEST_CLOCK_SKEW=90s"}); err != nil {
		t.Fatal(err)
	}
	code, ds = runTroubleshoot(t, alpha, beta)
	for _, d := range ds {
		if s := stepOf(d, guide.StepSkew); s.Status != "warning" || !strings.Contains(s.Detail, "1m") || d.SkewMS > -60000 && d.SkewMS < 60000 {
			t.Fatalf("skewed clock: exit %d: %s -> %s: %+v", code, d.From, d.To, s)
		}
	}
	if code != 0 {
		t.Fatalf("a skewed clock failed troubleshoot: exit %d", code)
	}
}

// TestGuide_Script: --script prints a script without secrets that changes
// nothing, and running it creates the same link and fails it over.
func TestGuide_Script(t *testing.T) {
	alpha := MustStartInstance(t, "alpha")
	beta := MustStartInstance(t, "beta")
	alpha.MustCLI("db", "create", "f")
	alpha.MustPsql("f", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a');`)
	mustFullBackup(t, alpha, "f")

	create := alpha.MustCLI(append([]string{"link", "create", "--name", "l", "--database", "f", "--two-way", "--mode", "sync", "--script"}, linkFlags(alpha, beta)...)...)
	for _, secret := range []string{alpha.Token, beta.Token} {
		if strings.Contains(create, secret) {
			t.Fatalf("the create script holds a token:\n%s", create)
		}
	}
	if !strings.Contains(create, "SQLINK_PRIMARY_TOKEN") || !strings.Contains(create, "link validate") {
		t.Fatalf("create script:\n%s", create)
	}
	t.Logf("link create --script:\n%s", create)
	for _, in := range []*Instance{alpha, beta} {
		if out := in.MustCLI("link", "list", "--json"); strings.Contains(out, `"name"`) {
			t.Fatalf("--script created a link on %s", in.Name)
		}
	}
	runScript(t, create, "SQLINK_PRIMARY_TOKEN="+alpha.Token, "SQLINK_SECONDARY_TOKEN="+beta.Token)
	st := mustLinkStatus(t, alpha, "l")
	if !st.TwoWay || !strings.EqualFold(string(st.Mode), "sync") || st.Partner.Instance != "beta" {
		t.Fatalf("the script made %+v", st)
	}
	waitCaughtUp(t, alpha, beta, "l", 0)

	failover := beta.MustCLI("link", "failover", "l", "--script")
	if strings.Contains(failover, beta.Token) || !strings.Contains(failover, "SQLINK_TOKEN") {
		t.Fatalf("failover script:\n%s", failover)
	}
	if st := mustLinkStatus(t, beta, "l"); !strings.EqualFold(string(st.Local.Role), "secondary") {
		t.Fatalf("--script failed over: %+v", st.Local)
	}
	runScript(t, failover, "SQLINK_TOKEN="+beta.Token)
	if st := mustLinkStatus(t, beta, "l"); !strings.EqualFold(string(st.Local.Role), "primary") {
		t.Fatalf("the failover script left beta %s", st.Local.Role)
	}
}

// runScript runs a generated script with bash, the sqlink under test and
// env; the test's own SQLINK_* variables are left out.
func runScript(t *testing.T, script string, env ...string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", path)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "SQLINK") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, append(env, "SQLINK="+sqlinkBin)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script failed: %v\n%s\nscript:\n%s", err, out, script)
	}
	_ = testutil.DefaultTimeout
}

// TestGuide_TroubleshootBeforeCreate: before link create the instances do
// not trust each other yet: reachable with the expected certificates is a
// warning, not a failure.
func TestGuide_TroubleshootBeforeCreate(t *testing.T) {
	alpha := MustStartInstance(t, "alpha")
	beta := MustStartInstance(t, "beta")
	code, ds := runTroubleshoot(t, alpha, beta)
	if code != 0 {
		t.Fatalf("fresh pair: exit %d: %+v", code, ds)
	}
	for _, d := range ds {
		tls, hello := stepOf(d, guide.StepTLS), stepOf(d, guide.StepHello)
		if tls.Status != "warning" || !strings.Contains(tls.Detail, d.Fingerprint) || !strings.Contains(tls.Hint, "link create") || hello.Status != "skipped" ||
			stepOf(d, guide.StepConnect).Status != "pass" {
			t.Fatalf("%s -> %s: %+v", d.From, d.To, d.Steps)
		}
	}
}
