package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
)

func TestServeSettings_TLS(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sqlink.yml")
	os.WriteFile(cfg, []byte("data-dir: /d\ntls-cert: /file.crt\ntls-key: /file.key\nrequire-client-tls: true\ninsecure-admin-http: false\n"), 0o600)
	st, err := resolveServe(t, nil, "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.TLSCert != "/file.crt" || st.TLSKey != "/file.key" || !st.RequireClientTLS || st.InsecureAdminHTTP {
		t.Fatalf("file: %+v", st.tlsSettings)
	}
	env := map[string]string{"SQLINK_TLS_CERT": "/env.crt", "SQLINK_INSECURE_ADMIN_HTTP": "true", "SQLINK_REQUIRE_CLIENT_TLS": "false"}
	if st, err = resolveServe(t, env, "--config", cfg, "--tls-key", "/flag.key"); err != nil {
		t.Fatal(err)
	}
	if st.TLSCert != "/env.crt" || st.TLSKey != "/flag.key" || st.RequireClientTLS || !st.InsecureAdminHTTP {
		t.Fatalf("env and flag over file: %+v", st.tlsSettings)
	}
	c, err := st.config(nil)
	if err != nil || c.TLSCertFile != "/env.crt" || c.TLSKeyFile != "/flag.key" || !c.InsecureAdminHTTP {
		t.Fatalf("server config: %+v, %v", c, err)
	}
	if _, err := resolveServe(t, map[string]string{"SQLINK_DATA_DIR": "/d", "SQLINK_REQUIRE_CLIENT_TLS": "sure"}); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("bad boolean: %v", err)
	}
}

func TestTrust_SideFallsBackToGlobal(t *testing.T) {
	env := map[string]string{"SQLINK_FINGERPRINT": "global-env", "SQLINK_PRIMARY_FINGERPRINT": "primary-env", "SQLINK_CA_FILE": "/ca.pem"}
	m := &Main{Getenv: func(k string) string { return env[k] }}
	if o := m.trust("flag", "--primary-fingerprint", "primary-fingerprint"); o.Fingerprint != "flag" || o.CAFile != "/ca.pem" || o.FingerprintFlag != "--primary-fingerprint" || o.FingerprintEnv != "SQLINK_PRIMARY_FINGERPRINT" {
		t.Fatalf("flag: %+v", o)
	}
	if o := m.trust("", "--primary-fingerprint", "primary-fingerprint"); o.Fingerprint != "primary-env" {
		t.Fatalf("side env: %+v", o)
	}
	if o := m.trust("", "--secondary-fingerprint", "secondary-fingerprint"); o.Fingerprint != "global-env" {
		t.Fatalf("global env: %+v", o)
	}
	m.fingerprint = "global-flag"
	if o := m.trust("", "--secondary-fingerprint", "secondary-fingerprint"); o.Fingerprint != "global-flag" {
		t.Fatalf("global flag: %+v", o)
	}
}

func TestRefuseClearTokens(t *testing.T) {
	for _, u := range []string{"https://db.example:7080", "http://127.0.0.1:7080", "http://localhost:7080", "http://[::1]:7080"} {
		if err := refuseClearTokens("primary", u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	err := refuseClearTokens("secondary", "http://10.0.0.2:7080")
	if sqlink.ErrorCode(err) != sqlink.EINVALID || !strings.Contains(sqlink.ErrorHint(err), "https://10.0.0.2:7080") || !strings.Contains(sqlink.ErrorHint(err), "--secondary-fingerprint") {
		t.Fatalf("http:// off loopback: %v (hint %q)", err, sqlink.ErrorHint(err))
	}
}
