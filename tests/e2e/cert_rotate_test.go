package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/internal/testutil"
)

// TestCertRotate: the endpoint certificate expires after a year, and the
// expired-certificate error told operators to run `sqlink cert rotate`,
// which did not exist (the admin API answered 501). Rotating on the
// primary keeps the connected link streaming; once the link reconnects,
// the secondary refuses the new certificate until it trusts it, and the
// link's last error says so; trusted (and the old one untrusted), the link
// catches up to an equal copy.
func TestCertRotate(t *testing.T) {
	alpha, beta := startLinkedF(t, "cr", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);`, nil)
	waitCaughtUp(t, alpha, beta, "cr", 0)
	old := strings.TrimSpace(alpha.MustCLI("cert", "show", "--pem"))

	newPEM := alpha.MustCLI("cert", "rotate", "--pem")
	if !strings.Contains(newPEM, "BEGIN CERTIFICATE") || strings.TrimSpace(newPEM) == old {
		t.Fatalf("cert rotate printed %q", newPEM)
	}
	if got := strings.TrimSpace(alpha.MustCLI("cert", "show", "--pem")); got != strings.TrimSpace(newPEM) {
		t.Fatal("cert show does not show the rotated certificate")
	}
	// The connected link goes on with the certificate it shook hands with.
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('after rotate');`)
	waitCaughtUp(t, alpha, beta, "cr", time.Minute)

	// Reconnected, beta refuses alpha's new certificate.
	beta.Stop()
	beta.Start()
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('while untrusted');`)
	testutil.RetryUntil(t, time.Minute, func() error {
		st := mustLinkStatus(t, beta, "cr")
		if st.Local.Connected || st.Local.LastError == nil || !strings.Contains(strings.ToLower(st.Local.LastError.Message), "certificate") {
			return fmt.Errorf("beta: connected %v, last error %+v", st.Local.Connected, st.Local.LastError)
		}
		return nil
	})

	// Trusted under a new name, then the old name untrusted: it catches up.
	var oldName string
	for _, l := range strings.Split(beta.MustCLI("cert", "list"), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] != "NAME" {
			oldName = f[0]
		}
	}
	beta.MustCLI("cert", "trust", "alpha-2", writeFile(t, "alpha2.pem", newPEM))
	if oldName != "" {
		beta.MustCLI("cert", "untrust", oldName)
	}
	waitCaughtUp(t, alpha, beta, "cr", time.Minute)
	t.Log(mustVerify(t, alpha, beta, "cr"))
	if got := beta.MustPsql("f", `SELECT count(*) FROM t;`); got != "2" {
		t.Fatalf("beta has %s rows, want 2", got)
	}
	// /metrics says when the new certificate expires (in about a year).
	var line string
	for _, l := range strings.Split(metricsText(t, alpha), "\n") {
		if strings.HasPrefix(l, "sqlink_endpoint_certificate_expiry_timestamp_seconds ") {
			line = l
		}
	}
	var exp float64
	if _, err := fmt.Sscanf(line, "sqlink_endpoint_certificate_expiry_timestamp_seconds %g", &exp); err != nil ||
		time.Until(time.Unix(int64(exp), 0)) < 300*24*time.Hour {
		t.Fatalf("certificate expiry metric %q (%v)", line, err)
	}
	// And it survives alpha's restart (the rotated files are the ones read).
	alpha.Stop()
	alpha.Start()
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('after restart');`)
	waitCaughtUp(t, alpha, beta, "cr", time.Minute)
}

// TestCertRotate_KilledPartWay: killed after the new certificate and key
// are written and synced but before they replace the current ones, the
// instance finishes the rotation when it starts again: it presents the new
// pair (a matching one, never the new certificate with the old key), and a
// partner that trusts it links with it.
func TestCertRotate_KilledPartWay(t *testing.T) {
	const fp = "cert/rotate-written"
	alpha := MustStartInstance(t, "alpha")
	before := strings.TrimSpace(alpha.MustCLI("cert", "show", "--pem"))
	alpha.Stop()
	alpha.StartEnv("SQLINK_FAILPOINT=" + fp)
	r := alpha.CLI("cert", "rotate", "--pem")
	if r.Code == 0 {
		t.Fatalf("cert rotate returned although the instance was killed part-way: %s", r.Stdout)
	}
	restartAfterFailpoint(t, alpha, fp)
	after := strings.TrimSpace(alpha.MustCLI("cert", "show", "--pem"))
	if after == before {
		t.Fatal("the rotation was not finished at the restart")
	}
	// The pair works: a link to a partner that trusts the new certificate.
	beta := MustStartInstance(t, "beta")
	alpha.MustCLI("db", "create", "f")
	alpha.MustPsql("f", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('x');`)
	mustFullBackup(t, alpha, "f")
	MustCreateLink(t, alpha, beta, "kr", "f")
	waitCaughtUp(t, alpha, beta, "kr", time.Minute)
	t.Log(mustVerify(t, alpha, beta, "kr"))
}
