package e2e_test

import (
	"fmt"
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
	const logCap, retention = 2 << 20, 1 << 20
	p := MustStartInstance(t, "alpha", "--link-log-cap", fmt.Sprint(logCap), "--log-retention", fmt.Sprint(retention))
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
	// The link no longer holds log for the secondary: while writes go on,
	// what the primary keeps stays bounded by the storage's own retention
	// plus one checkpoint interval (the log is pruned at checkpoints), not
	// by how long the secondary stays away. 32 MiB more are written; the
	// log must stay well below that.
	kept := st.Local.LogBytes
	maxSeen := kept
	for i := 0; i < 128; i++ {
		p.MustPsql("app", `INSERT INTO blobs (b) SELECT randomblob(262144);`)
		if i%16 == 15 {
			maxSeen = max(maxSeen, mustLinkStatus(t, p, "app").Local.LogBytes)
		}
	}
	bound := int64(retention + storage.DefaultCheckpointBytes + logCap + 1<<20)
	if maxSeen > bound {
		t.Fatalf("log kept grew from %d to %d bytes while 32 MiB were written, past %d (retention + checkpoint interval + cap)", kept, maxSeen, bound)
	}
	t.Logf("log kept: %d bytes at RESEED_REQUIRED, at most %d while 32 MiB more were written (bound %d)", kept, maxSeen, bound)

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
