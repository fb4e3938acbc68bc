package e2e_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

// validateArgs is `link validate` of link name for db from p to s.
func validateArgs(p, s *Instance, name, db string, extra ...string) []string {
	return append(append([]string{"link", "validate", "--name", name, "--database", db, "--json"}, linkFlags(p, s)...), extra...)
}

// runValidate runs `link validate --json` and returns its exit code and
// checks.
func runValidate(t *testing.T, p *Instance, args []string) (int, []adminapi.ValidationCheck) {
	t.Helper()
	r := p.CLI(args...)
	var out struct {
		Checks []adminapi.ValidationCheck `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || len(out.Checks) == 0 {
		t.Fatalf("link validate: exit %d, no checks (%v)\nstdout: %s\nstderr: %s", r.Code, err, r.Stdout, r.Stderr)
	}
	return r.Code, out.Checks
}

// mustFailCheck asserts validate exits 6 with a failed check of that name
// whose message contains cause.
func mustFailCheck(t *testing.T, p *Instance, args []string, check, cause string) {
	t.Helper()
	code, cs := runValidate(t, p, args)
	for _, c := range cs {
		if c.Status == "fail" && c.Name == check && strings.Contains(c.Message, cause) && c.Hint != "" {
			if code != 6 {
				t.Fatalf("validate with failing %s exited %d, want 6", check, code)
			}
			return
		}
	}
	t.Fatalf("no failed %q check naming %q (exit %d): %+v", check, cause, code, cs)
}

// mustPassValidate asserts validate exits 0 with no failed check.
func mustPassValidate(t *testing.T, p *Instance, args []string) {
	t.Helper()
	code, cs := runValidate(t, p, args)
	for _, c := range cs {
		if c.Status == "fail" {
			t.Fatalf("check failed: %+v", c)
		}
	}
	if code != 0 {
		t.Fatalf("validate exited %d with no failed check", code)
	}
}

func TestGuide_ValidateNamesEachCause(t *testing.T) {
	alpha := MustStartInstance(t, "alpha")
	beta := MustStartInstance(t, "beta")
	alpha.MustCLI("db", "create", "f")
	alpha.MustPsql("f", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a');`)
	args := validateArgs(alpha, beta, "l", "f")

	// No full backup, then fixed.
	mustFailCheck(t, alpha, args, "full backup", "no full backup")
	mustFullBackup(t, alpha, "f")
	mustPassValidate(t, alpha, args)

	// The table output names each check too.
	table := append([]string{"link", "validate", "--name", "l", "--database", "f"}, linkFlags(alpha, beta)...)
	out := alpha.MustCLI(table...)
	if !strings.Contains(out, "PASS") || !strings.Contains(out, "full backup") {
		t.Fatalf("table output: %s", out)
	}
	t.Logf("link validate:\n%s", out)

	// A name already taken: link g as "l" first.
	alpha.MustCLI("db", "create", "g")
	mustFullBackup(t, alpha, "g")
	MustCreateLink(t, alpha, beta, "taken", "g")
	mustFailCheck(t, alpha, validateArgs(alpha, beta, "taken", "f"), "link name free", "taken already exists")
	mustPassValidate(t, alpha, args)
	// The database already linked in that direction.
	mustFailCheck(t, alpha, validateArgs(alpha, beta, "other", "g"), "not already linked", "already the primary of link taken")

	// A missing permission, named.
	limited := grantAllBut(t, beta, "serverTrustCertificates/write")
	lim := validateArgs(alpha, beta, "l", "f")
	for i := range lim {
		if lim[i] == "--secondary-token" {
			lim[i+1] = limited
		}
	}
	mustFailCheck(t, alpha, lim, "permissions", "serverTrustCertificates/write")
	mustPassValidate(t, alpha, args)

	// A disk too small on the secondary (test knob), then enough.
	beta.Stop()
	if err := beta.tryStart([]string{"SQLINK_TEST_FREE_DISK_BYTES=1000"}); err != nil {
		t.Fatal(err)
	}
	mustFailCheck(t, alpha, args, "free disk", "1000 B free")
	mustPassValidate(t, alpha, append(validateArgs(alpha, beta, "l", "f"), "--skip-check", "free-disk")) // a warning then
	beta.Stop()
	beta.Start()
	mustPassValidate(t, alpha, args)

	// link create refuses on a failing check and shows it.
	beta.MustCLI("db", "create", "f")
	r := alpha.CLI(append([]string{"link", "create", "--name", "l", "--database", "f"}, linkFlags(alpha, beta)...)...)
	if r.Code != 6 || !strings.Contains(r.Stdout, "FAIL database on the secondary") || !strings.Contains(r.Stderr, "step 2") {
		t.Fatalf("link create with f on beta: exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	// With --json the checks are an event of their own.
	r = alpha.CLI(append([]string{"link", "create", "--name", "l", "--database", "f", "--json"}, linkFlags(alpha, beta)...)...)
	found := false
	for _, line := range strings.Split(r.Stdout, "\n") {
		var ev struct {
			Event  string                     `json:"event"`
			Checks []adminapi.ValidationCheck `json:"checks"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "checks" {
			for _, c := range ev.Checks {
				found = found || c.Name == "database on the secondary" && c.Status == "fail"
			}
		}
	}
	if r.Code != 6 || !found {
		t.Fatalf("link create --json with f on beta: exit %d, no failed check event\n%s", r.Code, r.Stdout)
	}
	mustFailCheck(t, alpha, args, "database on the secondary", "already exists")
	beta.MustCLI("db", "drop", "f")
	mustPassValidate(t, alpha, args)

	// --seed-from-backup needs the database restored RESTORING there.
	seed := append(validateArgs(alpha, beta, "l", "f"), "--seed-from-backup")
	mustFailCheck(t, alpha, seed, "database on the secondary", "does not exist")
	file := filepath.Join(t.TempDir(), "f.bak")
	mustBackup(t, alpha, "f", file, false)
	beta.MustCLI("restore", file, "--as", "f", "--restoring")
	mustPassValidate(t, alpha, seed)
	mustFailCheck(t, alpha, args, "database on the secondary", "RESTORING")
}

// startWithCollation starts an instance initialised with a collation.
func startWithCollation(t *testing.T, name, collation string) *Instance {
	t.Helper()
	dir := t.TempDir()
	in := &Instance{t: t, Name: name, Dir: filepath.Join(dir, "data"), Token: "sqlk_test_token_" + name, Password: "pw-" + name,
		ClientAddr: testutil.FreeAddr(t), AdminAddr: testutil.FreeAddr(t), EndpointAddr: testutil.FreeAddr(t)}
	tokenFile, pwFile := filepath.Join(dir, "token"), filepath.Join(dir, "pw")
	os.WriteFile(tokenFile, []byte(in.Token+"\n"), 0o600)
	os.WriteFile(pwFile, []byte(in.Password+"\n"), 0o600)
	if out, err := exec.Command(sqlinkBin, "init", "--data-dir", in.Dir, "--name", name, "--collation", collation,
		"--admin-token-file", tokenFile, "--sql-password-file", pwFile).CombinedOutput(); err != nil {
		t.Fatalf("sqlink init: %v\n%s", err, out)
	}
	in.startFresh()
	t.Cleanup(in.Stop)
	return in
}

func TestGuide_ValidateCollationMismatch(t *testing.T) {
	alpha := MustStartInstance(t, "alpha")
	beta := startWithCollation(t, "beta", "nocase")
	alpha.MustCLI("db", "create", "f")
	mustFullBackup(t, alpha, "f")
	mustFailCheck(t, alpha, validateArgs(alpha, beta, "l", "f"), "server collations equal", "nocase")
	// An instance of the same collation passes.
	gamma := MustStartInstance(t, "gamma")
	mustPassValidate(t, alpha, validateArgs(alpha, gamma, "l", "f"))
}
