// Package e2e_test runs the real sqlink binary: instances over loopback,
// driven by psql, pgbench, pgx and the sqlink CLI, and killed with SIGKILL.
package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sqlink/sqlink/internal/testutil"

	// The binary's code, not used here: the tests run the binary TestMain
	// builds, which go test cannot see, so without this import a change
	// to the server left a cached, stale pass of these tests.
	_ "github.com/sqlink/sqlink/cli"
)

// tpcbScript and tpcbInit are the benchmark's TPC-B script and tables, so
// the tests run exactly what BENCHMARKS.md measures.
const (
	tpcbScript = "../../bench/tpcb.sql"
	tpcbInit   = "../../bench/tpcb_init.sql"
)

// binary is the sqlink binary built once by TestMain.
var sqlinkBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sqlink-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sqlinkBin = filepath.Join(dir, "sqlink")
	build := exec.Command("go", "build", "-o", sqlinkBin, "../../cmd/sqlink")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sqlink:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Instance is one `sqlink serve` process with its data directory.
type Instance struct {
	t            testing.TB
	Name         string
	Dir          string
	ClientAddr   string
	AdminAddr    string
	EndpointAddr string
	Token        string
	Password     string
	ExtraArgs    []string

	mu   sync.Mutex
	hc   *http.Client // trusts the certificate of fingerprint hcFP
	hcFP string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

// MustStartInstance initialises an instance with known secrets and starts
// it; it is stopped when the test ends.
func MustStartInstance(tb testing.TB, name string, extra ...string) *Instance {
	tb.Helper()
	return mustStartInstanceWithPassword(tb, name, "pw-"+name, extra...)
}

// mustStartInstanceWithPassword is MustStartInstance with a chosen password
// for the admin SQL login.
func mustStartInstanceWithPassword(tb testing.TB, name, password string, extra ...string) *Instance {
	tb.Helper()
	dir := tb.TempDir()
	in := &Instance{
		t: tb, Name: name, Dir: filepath.Join(dir, "data"),
		Token: "sqlk_test_token_" + name, Password: password,
		ClientAddr: testutil.FreeAddr(tb), AdminAddr: testutil.FreeAddr(tb), EndpointAddr: testutil.FreeAddr(tb),
		ExtraArgs: extra,
	}
	tokenFile, pwFile := filepath.Join(dir, "token"), filepath.Join(dir, "pw")
	os.WriteFile(tokenFile, []byte(in.Token+"\n"), 0o600)
	os.WriteFile(pwFile, []byte(in.Password+"\n"), 0o600)
	out, err := exec.Command(sqlinkBin, "init", "--data-dir", in.Dir, "--name", name,
		"--admin-token-file", tokenFile, "--sql-password-file", pwFile).CombinedOutput()
	if err != nil {
		tb.Fatalf("sqlink init: %v\n%s", err, out)
	}
	in.startFresh()
	tb.Cleanup(in.Stop)
	return in
}

// Start runs `sqlink serve` and waits until the admin API answers.
func (in *Instance) Start() {
	in.t.Helper()
	if err := in.tryStart(nil); err != nil {
		in.t.Fatal(err)
	}
}

// startFresh is Start for an instance's first start: if another process
// took one of the ports FreeAddr picked in the meantime (the machine runs
// other tests too), it picks new ports and tries again.
func (in *Instance) startFresh() {
	in.t.Helper()
	for attempt := 1; ; attempt++ {
		err := in.tryStart(nil)
		if err == nil {
			return
		}
		if attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			in.t.Fatal(err)
		}
		in.ClientAddr, in.AdminAddr, in.EndpointAddr = testutil.FreeAddr(in.t), testutil.FreeAddr(in.t), testutil.FreeAddr(in.t)
	}
}

// tryStart runs `sqlink serve` with extra environment variables and waits
// until the admin API answers, or returns why it did not.
func (in *Instance) tryStart(env []string) error {
	in.mu.Lock()
	args := append([]string{"serve", "--data-dir", in.Dir, "--client-addr", in.ClientAddr,
		"--admin-addr", in.AdminAddr, "--endpoint-addr", in.EndpointAddr, "--log-level", "debug"}, in.ExtraArgs...)
	cmd := exec.Command(sqlinkBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &bytes.Buffer{}
	in.out = out
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		in.mu.Unlock()
		return fmt.Errorf("start sqlink serve: %v", err)
	}
	in.cmd = cmd
	done := make(chan struct{})
	in.done = done
	go func() { cmd.Wait(); close(done) }()
	in.mu.Unlock()

	deadline := time.Now().Add(testutil.DefaultTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		select {
		case <-done:
			in.mu.Lock()
			in.cmd = nil
			in.mu.Unlock()
			return fmt.Errorf("sqlink serve exited: %s", in.Output())
		default:
		}
		resp, err := in.healthz()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("healthz: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sqlink serve did not become healthy: %v\n%s", err, in.Output())
		}
		time.Sleep(wait)
	}
}

// Output returns what the server printed so far.
func (in *Instance) Output() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.out == nil {
		return ""
	}
	return in.out.String()
}

// Kill sends SIGKILL and waits for the process to end.
func (in *Instance) Kill() { in.signal(syscall.SIGKILL) }

// Stop sends SIGTERM and waits for a clean exit.
func (in *Instance) Stop() { in.signal(syscall.SIGTERM) }

func (in *Instance) signal(sig syscall.Signal) {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.cmd = nil
	in.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		in.t.Errorf("instance %s did not stop on %v; killed\n%s", in.Name, sig, in.Output())
	}
	if sig == syscall.SIGTERM && cmd.ProcessState != nil && cmd.ProcessState.ExitCode() != 0 {
		in.t.Errorf("instance %s exited with %d after SIGTERM\n%s", in.Name, cmd.ProcessState.ExitCode(), in.Output())
	}
}

// CLIResult is what a CLI run printed and its exit code.
type CLIResult struct {
	Stdout, Stderr string
	Code           int
}

// CLI runs the sqlink CLI against this instance's admin API.
func (in *Instance) CLI(args ...string) CLIResult {
	return in.CLIWithToken(in.Token, args...)
}

// CLIWithToken runs the CLI with another token.
func (in *Instance) CLIWithToken(token string, args ...string) CLIResult {
	in.t.Helper()
	cmd := exec.Command(sqlinkBin, args...)
	cmd.Env = append(os.Environ(), in.cliEnv(token)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := CLIResult{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		in.t.Fatalf("run sqlink %v: %v", args, err)
	}
	return res
}

// MustCLI runs the CLI and fails the test unless it exits 0.
func (in *Instance) MustCLI(args ...string) string {
	in.t.Helper()
	r := in.CLI(args...)
	if r.Code != 0 {
		in.t.Fatalf("sqlink %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// Host and Port split the client address.
func (in *Instance) Host() string { h, _, _ := strings.Cut(in.ClientAddr, ":"); return h }
func (in *Instance) Port() string { _, p, _ := strings.Cut(in.ClientAddr, ":"); return p }

// ConnString returns a libpq/pgx key-value connection string for db.
func (in *Instance) ConnString(db string) string {
	return fmt.Sprintf("host=%s port=%s user=admin password=%s dbname=%s sslmode=%s", in.Host(), in.Port(), in.Password, db, in.sslMode())
}

// pgEnv returns the environment for psql and pgbench against db.
func (in *Instance) pgEnv(db string) []string {
	return append(os.Environ(), "PGHOST="+in.Host(), "PGPORT="+in.Port(), "PGUSER=admin",
		"PGPASSWORD="+in.Password, "PGDATABASE="+db, "PGSSLMODE="+in.sslMode(), "PGCONNECT_TIMEOUT=10")
}

// Psql runs psql with the given script on stdin and returns its output.
func (in *Instance) Psql(ctx context.Context, db, script string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "psql", append([]string{"-X", "-v", "ON_ERROR_STOP=1", "-At"}, args...)...)
	cmd.Env = in.pgEnv(db)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// MustPsql runs psql and fails the test on error.
func (in *Instance) MustPsql(db, script string) string {
	in.t.Helper()
	out, err := in.Psql(context.Background(), db, script)
	if err != nil {
		in.t.Fatalf("psql: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

// Pgbench runs pgbench against db with args and returns its output.
func (in *Instance) Pgbench(ctx context.Context, db string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "pgbench", args...)
	cmd.Env = in.pgEnv(db)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func requireTool(tb testing.TB, name string) {
	tb.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not installed; .ci/run must install it", name)
		}
		tb.Skipf("%s is not installed (apt-get install postgresql-client)", name)
	}
}

// runBinary runs the sqlink binary with extra environment variables.
func runBinary(tb testing.TB, env []string, args ...string) CLIResult {
	tb.Helper()
	cmd := exec.Command(sqlinkBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := CLIResult{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("run sqlink %v: %v", args, err)
	}
	return res
}

// writeFile writes a file in a temporary directory and returns its path.
func writeFile(tb testing.TB, name, content string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}
