package adminapi_test

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// healthServer is an HTTPS server answering /healthz as an instance does.
func healthServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adminapi.WriteJSON(w, http.StatusOK, adminapi.HealthStatus{})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTLSClient_Trust(t *testing.T) {
	srv := healthServer(t)
	fp := adminapi.CertFingerprint(srv.Certificate())
	ctx := context.Background()
	health := func(o adminapi.TLSOptions) error {
		c, err := adminapi.NewClientTLS(srv.URL, "tok", o)
		if err != nil {
			return err
		}
		return c.Health(ctx)
	}

	// Pinned, in either spelling.
	if err := health(adminapi.TLSOptions{Fingerprint: fp}); err != nil {
		t.Fatalf("pinned: %v", err)
	}
	var colons []string
	for i := 0; i < len(fp); i += 2 {
		colons = append(colons, strings.ToUpper(fp[i:i+2]))
	}
	if err := health(adminapi.TLSOptions{Fingerprint: "sha256:" + strings.Join(colons, ":")}); err != nil {
		t.Fatalf("pinned, openssl's spelling: %v", err)
	}
	// Through a CA file holding the (self-signed) certificate.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	if err := health(adminapi.TLSOptions{CAFile: ca}); err != nil {
		t.Fatalf("CA file: %v", err)
	}
	// A wrong pin names both fingerprints and the flag to use.
	wrong := strings.Repeat("0", 64)
	err := health(adminapi.TLSOptions{Fingerprint: wrong, FingerprintFlag: "--primary-fingerprint", FingerprintEnv: "SQLINK_PRIMARY_FINGERPRINT"})
	if err == nil || !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), wrong) ||
		!strings.Contains(sqlink.ErrorHint(err), "--primary-fingerprint "+fp) {
		t.Fatalf("wrong pin: %v (hint %q)", err, sqlink.ErrorHint(err))
	}
	// Nothing to trust it by: refused (not a system root), naming it.
	err = health(adminapi.TLSOptions{})
	if err == nil || !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), "not trusted") || !strings.Contains(sqlink.ErrorHint(err), "--ca-file") {
		t.Fatalf("untrusted: %v (hint %q)", err, sqlink.ErrorHint(err))
	}
	// A malformed fingerprint is invalid input.
	if err := health(adminapi.TLSOptions{Fingerprint: "abc"}); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("malformed pin: %v", err)
	}
	// Plain HTTP to the HTTPS server says to use https://.
	c := adminapi.NewClient(strings.Replace(srv.URL, "https://", "http://", 1), "tok", nil)
	if err := c.Health(ctx); err == nil || !strings.Contains(sqlink.ErrorHint(err), "https://") {
		t.Fatalf("plain HTTP to HTTPS: %v (hint %q)", err, sqlink.ErrorHint(err))
	}
}
