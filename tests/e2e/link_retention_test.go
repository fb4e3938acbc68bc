package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/storage"
)

// TestLink_RetentionCapThenReseed stops the secondary and writes past the
// primary's log cap: the link goes RESEED_REQUIRED, the primary stops
// keeping log for it, and the secondary reseeds and catches up by itself
// when it comes back.
func TestLink_RetentionCapThenReseed(t *testing.T) {
	const logCap = 2 << 20
	if help := runBinary(t, nil, "serve", "--help"); !strings.Contains(help.Stdout, "--link-log-cap") {
		t.Skip("sqlink serve has no --link-log-cap flag yet (server.Config.LinkLogCapBytes is not exposed by cli/serve.go)")
	}
	p := MustStartInstance(t, "alpha", "--link-log-cap", fmt.Sprint(logCap))
	s := MustStartInstance(t, "beta")
	p.MustCLI("db", "create", "app")
	fillBlobs(t, p, "app", 1)
	mustFullBackup(t, p, "app")
	MustCreateLink(t, p, s, "app", "app")
	waitCaughtUp(t, p, s, "app", 0)
	attempts := seedAttempts(mustLinkStatus(t, s, "app"))

	s.Stop()
	// Write 8 MiB, four times the cap, in 256 KiB transactions.
	for i := 0; i < 32; i++ {
		p.MustPsql("app", `INSERT INTO blobs (b) SELECT randomblob(262144);`)
	}
	st := waitLink(t, p, "app", 0, func(st adminapi.LinkStatus) error {
		if st.State != "RESEED_REQUIRED" {
			return fmt.Errorf("not RESEED_REQUIRED")
		}
		return nil
	})
	if st.Local.LogCapBytes != logCap {
		t.Errorf("status log_cap_bytes = %d, want %d", st.Local.LogCapBytes, logCap)
	}
	if st.Local.LastError == nil {
		t.Errorf("RESEED_REQUIRED without an alert in the last error")
	}
	// The link no longer holds log for the secondary: what the primary
	// keeps is bounded by the storage's own retention (for seeding and
	// backups), not by how long the secondary stays away.
	kept := st.Local.LogBytes
	for i := 0; i < 16; i++ {
		p.MustPsql("app", `INSERT INTO blobs (b) SELECT randomblob(262144);`)
	}
	after := mustLinkStatus(t, p, "app").Local.LogBytes
	if bound := int64(storage.DefaultLogRetentionBytes + logCap + 1<<20); after > bound {
		t.Fatalf("log kept grew from %d to %d bytes, past the storage retention and the %d-byte cap", kept, after, logCap)
	}
	t.Logf("log kept: %d bytes at RESEED_REQUIRED, %d after 4 MiB more (cap %d, storage retention %d)", kept, after, logCap, storage.DefaultLogRetentionBytes)

	// The secondary comes back, reseeds and follows again.
	s.Start()
	waitCaughtUp(t, p, s, "app", 2*time.Minute)
	ss := waitLink(t, s, "app", 0, func(st adminapi.LinkStatus) error {
		if st.State == "RESEED_REQUIRED" {
			return fmt.Errorf("still RESEED_REQUIRED")
		}
		return nil
	})
	if got := seedAttempts(ss); got <= attempts {
		t.Fatalf("the secondary caught up without a reseed: %d seeding attempts, was %d", got, attempts)
	}
	p.MustPsql("app", `INSERT INTO blobs (b) SELECT randomblob(100);`)
	waitCaughtUp(t, p, s, "app", 0)
	want, err := queryInt(p, "app", `SELECT count(*) FROM blobs;`)
	if err != nil {
		t.Fatal(err)
	}
	waitRows(t, s, "app", `SELECT count(*) FROM blobs;`, want, 0)
	mustVerify(t, p, s, "app")
	if ss.Local.DatabaseState != sqlink.DatabaseOnline {
		t.Fatalf("secondary is %s after reseeding", ss.Local.DatabaseState)
	}
}
