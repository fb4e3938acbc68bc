package guide_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
)

func inst(name, version, collation string) adminapi.InstanceStatus {
	return adminapi.InstanceStatus{ID: name + "-id", Name: name, Version: version, Collation: collation}
}

// TestChecks runs each check to pass, warning and fail, and asserts the
// message names the cause and that every result but a pass has a hint.
func TestChecks(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := inst("alpha", "1.2.0", "binary"), inst("beta", "1.2.0", "binary")
	online := adminapi.DatabaseInfo{Name: "f", State: sqlink.DatabaseOnline, ChainStarted: true}
	restoring := adminapi.DatabaseInfo{Name: "f", State: sqlink.DatabaseRestoring}
	linked := []adminapi.LinkStatus{{Name: "l", Database: "f", Local: adminapi.ReplicaStatus{Role: sqlink.RolePrimary}, Partner: adminapi.ReplicaStatus{Instance: "beta"}}}
	cert := adminapi.CertificateInfo{Fingerprint: "ab12", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour)}
	for _, tc := range []struct {
		name   string
		got    adminapi.ValidationCheck
		status adminapi.CheckStatus
		want   string // in the message
		hint   string // in the hint
	}{
		{"versions pass", guide.Versions(a, b, true), "pass", "two-way supported", ""},
		{"versions minor differ two-way", guide.Versions(a, inst("beta", "1.3.0", "binary"), true), "warning", "1.3.0", "upgrade the older"},
		{"versions minor differ one-way", guide.Versions(a, inst("beta", "1.3.0", "binary"), false), "pass", "one-way", ""},
		{"versions major", guide.Versions(a, inst("beta", "2.0.0", "binary"), false), "fail", "not compatible", "same major version"},
		{"collations pass", guide.Collations(a, b), "pass", "binary", ""},
		{"collations fail", guide.Collations(a, inst("beta", "1.2.0", "nocase")), "fail", "nocase", "--collation"},
		{"distinct pass", guide.Distinct(a, b), "pass", "two instances", ""},
		{"distinct fail", guide.Distinct(a, a), "fail", "same instance", "two different instances"},
		{"user db pass", guide.UserDatabase("alpha", "f"), "pass", "user database", ""},
		{"user db fail", guide.UserDatabase("alpha", "postgres"), "fail", "system database", "instance script"},
		{"online pass", guide.PrimaryDatabase("alpha", "f", online, true), "pass", "ONLINE", ""},
		{"online missing", guide.PrimaryDatabase("alpha", "f", online, false), "fail", "does not exist", "create it there"},
		{"online restoring", guide.PrimaryDatabase("alpha", "f", restoring, true), "fail", "RESTORING", "complete-restore"},
		{"online read-only", guide.PrimaryDatabase("alpha", "f", adminapi.DatabaseInfo{State: sqlink.DatabaseOnline, ReadOnly: true, ReadOnlyReason: "secondary of gamma"}, true), "fail", "read-only", "primary instance"},
		{"backup pass", guide.FullBackup("alpha", "f", online), "pass", "starts its chain", ""},
		{"backup fail", guide.FullBackup("alpha", "f", adminapi.DatabaseInfo{}), "fail", "no full backup", "sqlink backup f"},
		{"backup copy-only", guide.FullBackup("alpha", "f", adminapi.DatabaseInfo{Backups: []adminapi.BackupInfo{{CopyOnly: true}}}), "fail", "copy-only", "sqlink backup f"},
		{"secondary absent", guide.SecondaryDatabase("beta", "f", adminapi.DatabaseInfo{}, false, false), "pass", "does not exist", ""},
		{"secondary exists", guide.SecondaryDatabase("beta", "f", online, true, false), "fail", "already exists", "drop it there"},
		{"secondary restoring no flag", guide.SecondaryDatabase("beta", "f", restoring, true, false), "fail", "RESTORING", "--seed-from-backup"},
		{"seed from backup pass", guide.SecondaryDatabase("beta", "f", restoring, true, true), "pass", "RESTORING", ""},
		{"seed from backup missing", guide.SecondaryDatabase("beta", "f", adminapi.DatabaseInfo{}, false, true), "fail", "does not exist", "restore a backup"},
		{"seed from backup online", guide.SecondaryDatabase("beta", "f", online, true, true), "fail", "not RESTORING", "--restoring"},
		{"name free", guide.LinkName("alpha", "primary", "m", linked), "pass", "no link named m", ""},
		{"name taken", guide.LinkName("alpha", "primary", "l", linked), "fail", "already exists", "another --name"},
		{"not linked", guide.NotLinked("alpha", sqlink.RolePrimary, "g", linked), "pass", "in no link", ""},
		{"linked as primary", guide.NotLinked("alpha", sqlink.RolePrimary, "f", linked), "fail", "already the primary of link l", "drop that link"},
		{"linked on secondary", guide.NotLinked("beta", sqlink.RoleSecondary, "f", linked), "fail", "already in link l", "drop that link"},
		{"disk pass", guide.Disk("beta", 1<<30, 1<<20), "pass", "free", ""},
		{"disk fail", guide.Disk("beta", 1000, 1<<20), "fail", "1000 B free", "free space"},
		{"log cap pass", guide.LogCap("alpha", 1<<20, 1<<10, 1<<20, 1<<30), "pass", "under its cap", ""},
		{"log cap warn", guide.LogCap("alpha", 100<<20, 10<<20, 1<<20, 64<<20), "warning", "over its cap", "--link-log-cap"},
		{"cert trusted", guide.Certificate("alpha", "beta", cert, true, now), "pass", "already trusted by beta", ""},
		{"cert trustable", guide.Certificate("alpha", "beta", cert, false, now), "pass", "trustable", ""},
		{"cert expiring", guide.Certificate("alpha", "beta", cert, false, cert.NotAfter.Add(-24*time.Hour)), "warning", "expires on", "rotate it soon"},
		{"cert expired", guide.Certificate("alpha", "beta", cert, false, cert.NotAfter.Add(time.Hour)), "fail", "expired", "rotate it"},
		{"cert not yet valid", guide.Certificate("alpha", "beta", cert, false, cert.NotBefore.Add(-time.Hour)), "fail", "not valid before", "clock"},
		{"permissions pass", adminapi.PermissionCheck("alpha", sqlink.RolePrimary, "carol", nil), "pass", "holds every permission", ""},
		{"permissions fail", adminapi.PermissionCheck("beta", sqlink.RoleSecondary, "carol", adminapi.LinkCreatePermissions(sqlink.RoleSecondary)[9:]), "fail", "databases/delete", "grant them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.got
			if c.Status != tc.status || !strings.Contains(c.Message, tc.want) || c.Name == "" {
				t.Fatalf("got %+v, want %s with %q", c, tc.status, tc.want)
			}
			if c.Status == "pass" && c.Hint != "" || c.Status != "pass" && !strings.Contains(c.Hint, tc.hint) || c.Status != "pass" && c.Hint == "" {
				t.Fatalf("hint %q, want one with %q", c.Hint, tc.hint)
			}
		})
	}
}

func TestClockSkew(t *testing.T) {
	for _, tc := range []struct {
		skew   time.Duration
		known  bool
		status adminapi.CheckStatus
	}{{0, true, "pass"}, {time.Second, true, "pass"}, {-3 * time.Second, true, "warning"}, {90 * time.Second, true, "warning"}, {0, false, "warning"}} {
		s := guide.ClockSkew("alpha", "beta", tc.skew, tc.known)
		if s.Status != tc.status || s.Status != "pass" && s.Hint == "" {
			t.Fatalf("skew %s known %v: %+v", tc.skew, tc.known, s)
		}
	}
}

func TestEndpoints(t *testing.T) {
	p := adminapi.InstanceStatus{Name: "alpha", EndpointAddr: "0.0.0.0:5022"}
	s := adminapi.InstanceStatus{Name: "beta", EndpointAddr: "127.0.0.1:5023"}
	pe, se, err := guide.Endpoints("", "", p, s, "https://db1.example:7080", "https://127.0.0.1:7081")
	if err == nil {
		t.Fatalf("a loopback endpoint for a remote partner passed: %s %s", pe, se)
	}
	pe, se, err = guide.Endpoints("", "db2.example:5022", p, s, "https://db1.example:7080", "https://127.0.0.1:7081")
	if err != nil || pe != "db1.example:5022" || se != "db2.example:5022" {
		t.Fatalf("%s %s %v", pe, se, err)
	}
}
