package e2e_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/transport"
)

// The admin listener serves HTTPS by default; the harness trusts each
// instance's certificate by its fingerprint, as an operator pins the one
// `sqlink init` printed, so every e2e test speaks HTTPS to the admin API.

// AdminURL returns the instance's admin API URL: https:// unless it was
// started with --insecure-admin-http.
func (in *Instance) AdminURL() string {
	if slices.Contains(in.ExtraArgs, "--insecure-admin-http") {
		return "http://" + in.AdminAddr
	}
	return "https://" + in.AdminAddr
}

// TLSCertFile returns the certificate the instance's client and admin
// listeners serve: --tls-cert if given, else the self-signed one in its
// data directory.
func (in *Instance) TLSCertFile() string {
	if i := slices.Index(in.ExtraArgs, "--tls-cert"); i >= 0 && i+1 < len(in.ExtraArgs) {
		return in.ExtraArgs[i+1]
	}
	return filepath.Join(in.Dir, "tls.crt")
}

// Fingerprint returns the SHA-256 fingerprint of the certificate the
// instance serves now, or "" before it has one.
func (in *Instance) Fingerprint() string {
	b, err := os.ReadFile(in.TLSCertFile())
	if err != nil {
		return ""
	}
	ci, err := transport.Info(b)
	if err != nil {
		return ""
	}
	return ci.Fingerprint
}

// HTTPClient returns an HTTP client that trusts the instance's admin
// listener certificate.
func (in *Instance) HTTPClient(tb testing.TB) *http.Client {
	tb.Helper()
	fp := in.Fingerprint()
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.hc == nil || in.hcFP != fp {
		hc, err := adminapi.NewHTTPClient(in.AdminURL(), adminapi.TLSOptions{Fingerprint: fp})
		if err != nil {
			tb.Fatal(err)
		}
		in.hc, in.hcFP = hc, fp
	}
	return in.hc
}

// healthz asks the admin API whether the instance is up.
func (in *Instance) healthz() (*http.Response, error) {
	if strings.HasPrefix(in.AdminURL(), "https:") && in.Fingerprint() == "" {
		return nil, errors.New("no TLS certificate yet")
	}
	return in.HTTPClient(in.t).Get(in.AdminURL() + "/healthz")
}

// sslMode is the libpq sslmode the harness's psql, pgbench and pgx use:
// disable (the plain-text path most tests keep), or require for an
// instance that refuses sessions without TLS.
func (in *Instance) sslMode() string {
	if slices.Contains(in.ExtraArgs, "--require-client-tls") {
		return "require"
	}
	return "disable"
}

// sendSignal sends sig to the running instance without waiting.
func (in *Instance) sendSignal(tb testing.TB, sig os.Signal) {
	tb.Helper()
	in.mu.Lock()
	cmd := in.cmd
	in.mu.Unlock()
	if cmd == nil {
		tb.Fatalf("instance %s is not running", in.Name)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
}

// cliEnv is the environment that points the CLI at the instance.
func (in *Instance) cliEnv(token string) []string {
	env := []string{"SQLINK_SERVER=" + in.AdminURL(), "SQLINK_TOKEN=" + token}
	if fp := in.Fingerprint(); fp != "" {
		env = append(env, "SQLINK_FINGERPRINT="+fp)
	}
	return env
}
