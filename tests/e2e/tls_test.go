package e2e_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sqlink/sqlink/internal/testutil"
)

// testCA is a certificate authority made for one test, as an operator's own
// CA would sign the instances' certificates.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	pemFile string
	dir     string
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sqlink test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	dir := t.TempDir()
	ca := &testCA{cert: cert, key: key, pemFile: filepath.Join(dir, "ca.pem"), dir: dir}
	if err := os.WriteFile(ca.pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue signs a server certificate for localhost and 127.0.0.1 and writes
// it and its key to certFile and keyFile (replacing them atomically, as a
// renewal tool does). It returns the certificate's fingerprint.
func (ca *testCA) issue(t *testing.T, cn, certFile, keyFile string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	for _, f := range []struct {
		path string
		b    []byte
	}{
		{keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})},
		{certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})},
	} {
		if err := os.WriteFile(f.path+".tmp", f.b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.path+".tmp", f.path); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// localhostPort returns addr with its host replaced by "localhost", the
// name the certificates are issued for.
func localhostPort(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return "localhost:" + port
}

// psqlWith runs psql with the given environment (on top of the process's)
// and returns its combined output.
func psqlWith(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "psql", append([]string{"-X", "-v", "ON_ERROR_STOP=1"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pgEnvTLS is the psql environment for in with sslmode and extra settings.
func pgEnvTLS(in *Instance, host, db, sslmode string, extra ...string) []string {
	return append([]string{"PGHOST=" + host, "PGPORT=" + in.Port(), "PGUSER=admin", "PGPASSWORD=" + in.Password,
		"PGDATABASE=" + db, "PGSSLMODE=" + sslmode, "PGCONNECT_TIMEOUT=10"}, extra...)
}

// peerFingerprint returns the fingerprint of the certificate a pgx
// connection's server presented, or "" when the connection is not TLS.
func peerFingerprint(conn *pgx.Conn) string {
	tc, ok := conn.PgConn().Conn().(*tls.Conn)
	if !ok {
		return ""
	}
	sum := sha256.Sum256(tc.ConnectionState().PeerCertificates[0].Raw)
	return hex.EncodeToString(sum[:])
}

// Two instances serving certificates of the operator's own CA: psql with
// sslmode=verify-full, the CLI with --ca-file and curl with --cacert speak
// TLS to them, plain HTTP to the admin listener gets no API answer, a
// plain-text session is refused with --require-client-tls, and a link made
// with --ca-file for both sides replicates.
func TestTLS_OwnCA(t *testing.T) {
	requireTool(t, "psql")
	requireTool(t, "curl")
	ca := newTestCA(t)
	certA, keyA := filepath.Join(ca.dir, "a.crt"), filepath.Join(ca.dir, "a.key")
	certB, keyB := filepath.Join(ca.dir, "b.crt"), filepath.Join(ca.dir, "b.key")
	ca.issue(t, "tlsa.test", certA, keyA)
	ca.issue(t, "tlsb.test", certB, keyB)
	p := MustStartInstance(t, "tlsa", "--tls-cert", certA, "--tls-key", keyA, "--require-client-tls")
	s := MustStartInstance(t, "tlsb", "--tls-cert", certB, "--tls-key", keyB)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The CLI trusts the admin listener through the CA, by host name.
	env := []string{"SQLINK_SERVER=https://" + localhostPort(p.AdminAddr), "SQLINK_TOKEN=" + p.Token}
	if r := runBinary(t, env, "--ca-file", ca.pemFile, "db", "create", "app"); r.Code != 0 {
		t.Fatalf("db create with --ca-file: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// Without a way to trust it, the refusal names the certificate and the
	// flags.
	if r := runBinary(t, env, "db", "list"); r.Code == 0 || !strings.Contains(r.Stderr, p.Fingerprint()) ||
		!strings.Contains(r.Stderr, "tlsa.test") || !strings.Contains(r.Stderr, "--ca-file") {
		t.Fatalf("db list trusting nothing: exit %d, want a refusal naming the certificate and --ca-file\n%s", r.Code, r.Stderr)
	}

	// psql: verify-full against the CA; \conninfo reports SSL, and
	// pg_stat_ssl agrees.
	out, err := psqlWith(ctx, pgEnvTLS(p, "localhost", "app", "verify-full", "PGSSLROOTCERT="+ca.pemFile),
		"-c", `\conninfo`, "-At", "-c", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a')",
		"-c", "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
	if err != nil || !strings.Contains(out, "SSL connection (protocol: TLSv1.3") || !strings.Contains(out, "t|TLSv1.3") {
		t.Fatalf("psql verify-full: %v\n%s", err, out)
	}
	// A session without TLS is refused, with a hint naming sslmode.
	out, err = psqlWith(ctx, pgEnvTLS(p, "127.0.0.1", "app", "disable"), "-c", "SELECT 1")
	if err == nil || !strings.Contains(out, "sslmode=require") {
		t.Fatalf("psql sslmode=disable against --require-client-tls: %v, want a refusal with a hint\n%s", err, out)
	}

	// curl speaks HTTPS to the admin API with the CA.
	curl := exec.CommandContext(ctx, "curl", "-sS", "--fail", "--cacert", ca.pemFile, "-H", "Authorization: Bearer "+p.Token,
		"https://"+localhostPort(p.AdminAddr)+"/v1/databases")
	if out, err := curl.CombinedOutput(); err != nil || !strings.Contains(string(out), `"app"`) {
		t.Fatalf("curl --cacert: %v\n%s", err, out)
	}
	// Plain HTTP gets no API answer.
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.AdminAddr+"/v1/databases", nil)
	req.Header.Set("Authorization", "Bearer "+p.Token)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), `"app"`) {
			t.Fatalf("plain HTTP to the admin listener: %s %s", resp.Status, body)
		}
	}

	// A link between the two, trusted through the one CA for both sides.
	mustFullBackup(t, p, "app")
	r := runBinary(t, nil, "link", "create", "--name", "l", "--database", "app", "--ca-file", ca.pemFile,
		"--primary", "https://"+localhostPort(p.AdminAddr), "--primary-token", p.Token,
		"--secondary", "https://"+localhostPort(s.AdminAddr), "--secondary-token", s.Token)
	if r.Code != 0 {
		t.Fatalf("link create with --ca-file: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	waitCaughtUp(t, p, s, "l", time.Minute)
	p.MustPsql("app", "INSERT INTO t (v) VALUES ('b')")
	waitRows(t, s, "app", "SELECT count(*) FROM t", 2, time.Minute)

	// link create never sends a token in clear off loopback.
	r = runBinary(t, nil, "link", "create", "--name", "x", "--database", "app",
		"--primary", "http://192.0.2.1:7080", "--primary-token", p.Token,
		"--secondary", "https://"+localhostPort(s.AdminAddr), "--secondary-token", s.Token)
	if r.Code != 2 || !strings.Contains(r.Stderr, "in clear") || !strings.Contains(r.Stderr, "https://192.0.2.1:7080") {
		t.Fatalf("link create to http:// off loopback: exit %d, want 2 and a refusal with a hint\n%s", r.Code, r.Stderr)
	}
}

// A default instance: init prints the fingerprint of its self-signed
// certificate, kept private in the data directory; sslmode=require works
// (psql, pgx) and pg_stat_ssl says which sessions use TLS; the CLI trusts
// the instance by that fingerprint, and a wrong one fails naming both.
func TestTLS_DefaultSelfSigned(t *testing.T) {
	requireTool(t, "psql")
	dir := filepath.Join(t.TempDir(), "data")
	r := runBinary(t, nil, "init", "--data-dir", dir, "--name", "fresh")
	if r.Code != 0 {
		t.Fatalf("init: exit %d\n%s", r.Code, r.Stderr)
	}
	fresh := &Instance{Dir: dir}
	if fp := fresh.Fingerprint(); fp == "" || !strings.Contains(r.Stdout, "TLS certificate") || !strings.Contains(r.Stdout, "--fingerprint "+fp) {
		t.Fatalf("init did not print the TLS certificate's fingerprint %q:\n%s", fp, r.Stdout)
	}
	for _, f := range []string{"tls.crt", "tls.key"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v, want 0600", f, err, fi.Mode())
		}
	}

	in := MustStartInstance(t, "tlsdef")
	in.MustCLI("db", "create", "app") // trusted by SQLINK_FINGERPRINT (the harness's)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := psqlWith(ctx, pgEnvTLS(in, in.Host(), "app", "require"), "-At", "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
	if err != nil || strings.TrimSpace(out) != "t" {
		t.Fatalf("psql sslmode=require: %v\n%s", err, out)
	}
	// Its own file serves as the root for verify-full, on localhost.
	out, err = psqlWith(ctx, pgEnvTLS(in, "localhost", "app", "verify-full", "PGSSLROOTCERT="+in.TLSCertFile()), "-At", "-c", "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
	if err != nil || strings.TrimSpace(out) != "TLSv1.3" {
		t.Fatalf("psql sslmode=verify-full with tls.crt as the root: %v\n%s", err, out)
	}
	out, err = psqlWith(ctx, pgEnvTLS(in, in.Host(), "app", "disable"), "-At", "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
	if err != nil || strings.TrimSpace(out) != "f" {
		t.Fatalf("psql sslmode=disable: %v\n%s", err, out)
	}

	// pgx with TLS; pg_stat_ssl lists this session with its cipher.
	conn, err := pgx.Connect(ctx, strings.Replace(in.ConnString("app"), "sslmode=disable", "sslmode=require", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if got, want := peerFingerprint(conn), in.Fingerprint(); got != want {
		t.Fatalf("pgx saw certificate %q, want %q", got, want)
	}
	var ssl bool
	var version, cipher string
	if err := conn.QueryRow(ctx, "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &version, &cipher); err != nil {
		t.Fatal(err)
	}
	if !ssl || version != "TLSv1.3" || !strings.HasPrefix(cipher, "TLS_") {
		t.Fatalf("pg_stat_ssl: ssl %v version %q cipher %q", ssl, version, cipher)
	}

	// The fingerprint as openssl spells it works too; a wrong one names
	// both.
	fp := in.Fingerprint()
	var colons []string
	for i := 0; i < len(fp); i += 2 {
		colons = append(colons, strings.ToUpper(fp[i:i+2]))
	}
	env := []string{"SQLINK_SERVER=" + in.AdminURL(), "SQLINK_TOKEN=" + in.Token}
	if r := runBinary(t, env, "--fingerprint", strings.Join(colons, ":"), "db", "list"); r.Code != 0 {
		t.Fatalf("db list with the fingerprint in openssl's spelling: exit %d\n%s", r.Code, r.Stderr)
	}
	wrong := strings.Repeat("ab", 32)
	if r := runBinary(t, env, "--fingerprint", wrong, "db", "list"); r.Code == 0 || !strings.Contains(r.Stderr, fp) || !strings.Contains(r.Stderr, wrong) ||
		!strings.Contains(r.Stderr, "--fingerprint") {
		t.Fatalf("db list with a wrong fingerprint: exit %d, want an error naming %s and %s\n%s", r.Code, fp, wrong, r.Stderr)
	}

	// A data directory from before TLS (no tls.crt) gets a certificate at
	// the next start, and the log says so.
	in.Stop()
	os.Remove(filepath.Join(in.Dir, "tls.crt"))
	os.Remove(filepath.Join(in.Dir, "tls.key"))
	in.Start()
	if nfp := in.Fingerprint(); nfp == "" || nfp == fp || !strings.Contains(in.Output(), "generated a self-signed TLS certificate") {
		t.Fatalf("restart without a certificate: fingerprint %q (was %q)\n%s", nfp, fp, in.Output())
	}
	in.MustCLI("db", "list")
}

// SIGHUP rotates the certificate: new connections (PostgreSQL and admin)
// see the new one, a session opened before goes on.
func TestTLS_RotateOnSIGHUP(t *testing.T) {
	ca := newTestCA(t)
	certFile, keyFile := filepath.Join(ca.dir, "srv.crt"), filepath.Join(ca.dir, "srv.key")
	fp1 := ca.issue(t, "rotate-1", certFile, keyFile)
	in := MustStartInstance(t, "tlsrot", "--tls-cert", certFile, "--tls-key", keyFile)
	in.MustCLI("db", "create", "app")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	connString := func() string {
		return fmt.Sprintf("host=localhost port=%s user=admin password=%s dbname=app sslmode=verify-full sslrootcert=%s", in.Port(), in.Password, ca.pemFile)
	}
	old, err := pgx.Connect(ctx, connString())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close(ctx)
	if got := peerFingerprint(old); got != fp1 {
		t.Fatalf("first session saw %q, want %q", got, fp1)
	}
	if _, err := old.Exec(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}

	fp2 := ca.issue(t, "rotate-2", certFile, keyFile)
	in.sendSignal(t, syscall.SIGHUP)
	adminFP := func() (string, error) {
		c, err := tls.Dial("tcp", in.AdminAddr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return "", err
		}
		defer c.Close()
		sum := sha256.Sum256(c.ConnectionState().PeerCertificates[0].Raw)
		return hex.EncodeToString(sum[:]), nil
	}
	testutil.RetryUntil(t, 30*time.Second, func() error {
		if got, err := adminFP(); err != nil || got != fp2 {
			return fmt.Errorf("admin listener presents %q (%v), want %q", got, err, fp2)
		}
		// The SIGHUP's reload, not (only) the file watcher's.
		if !strings.Contains(in.Output(), `msg="TLS certificate reloaded" fingerprint=`+fp2) {
			return fmt.Errorf("no SIGHUP reload in the log yet")
		}
		return nil
	})
	fresh, err := pgx.Connect(ctx, connString())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close(ctx)
	if got := peerFingerprint(fresh); got != fp2 {
		t.Fatalf("new session saw %q, want the new certificate %q", got, fp2)
	}
	// The session opened before the rotation goes on.
	if _, err := old.Exec(ctx, "INSERT INTO t DEFAULT VALUES"); err != nil {
		t.Fatalf("the session opened before the rotation: %v", err)
	}
	var n int
	if err := fresh.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count: %d, %v", n, err)
	}
	// The CLI, pinning the new certificate (the harness's fingerprint).
	in.MustCLI("db", "list")
}

// --insecure-admin-http serves the admin API in plain HTTP (the benchmark
// scripts' way on loopback), and says so in the log; an https:// URL gets
// a clear error.
func TestTLS_InsecureAdminHTTP(t *testing.T) {
	in := MustStartInstance(t, "plainadm", "--insecure-admin-http")
	if !strings.HasPrefix(in.AdminURL(), "http://") {
		t.Fatalf("admin URL %s", in.AdminURL())
	}
	in.MustCLI("db", "create", "app")
	if !strings.Contains(in.Output(), "admin API serves plain HTTP") {
		t.Fatalf("no word of plain HTTP in the log:\n%s", in.Output())
	}
	r := runBinary(t, []string{"SQLINK_SERVER=https://" + in.AdminAddr, "SQLINK_TOKEN=" + in.Token}, "db", "list")
	if r.Code != 7 || !strings.Contains(r.Stderr, "--insecure-admin-http") || !strings.Contains(r.Stderr, "http://") {
		t.Fatalf("https:// to a plain HTTP admin listener: exit %d\n%s", r.Code, r.Stderr)
	}
}
