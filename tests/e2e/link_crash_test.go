package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// seedAttempts is how many times the secondary's copy has been seeded.
func seedAttempts(st adminapi.LinkStatus) int {
	if sd := seedingOf(st); sd != nil {
		return sd.Attempts
	}
	return 0
}

// TestLink_Kill9DuringPgbench kills the secondary, then the primary, of a
// link while pgbench runs. Replication resumes after each restart without
// reseeding and the copies end up equal; in sync mode every transaction
// pgbench saw committed is on the secondary even while the primary is down.
func TestLink_Kill9DuringPgbench(t *testing.T) {
	requireTool(t, "pgbench")
	for _, mode := range []sqlink.Mode{sqlink.ModeSync, sqlink.ModeAsync} {
		t.Run(string(mode), func(t *testing.T) { testKill9DuringPgbench(t, mode) })
	}
}

func testKill9DuringPgbench(t *testing.T, mode sqlink.Mode) {
	p := MustStartInstance(t, "alpha")
	s := MustStartInstance(t, "beta")
	p.MustCLI("db", "create", "tpcb")
	MustInitTPCB(t, p, "tpcb")
	mustFullBackup(t, p, "tpcb")
	MustCreateLink(t, p, s, "crash", "tpcb", "--mode", string(mode))
	waitCaughtUp(t, p, s, "crash", 0)
	attempts := seedAttempts(mustLinkStatus(t, s, "crash"))
	const rowsQ = `SELECT count(*) FROM pgbench_history;`

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	loggedBench := startLoggedPgbench(t, ctx, p, "tpcb", "-c", "2", "-j", "2", "-T", "240")

	// kill -9 the secondary mid-load, then restart it: it reconnects and
	// catches up from its last hardened LSN.
	n := waitRows(t, s, "tpcb", rowsQ, 200, 0)
	s.Kill()
	s.Start()
	waitLink(t, s, "crash", 0, func(st adminapi.LinkStatus) error {
		// An async secondary may stay SYNCHRONIZING; a sync one must be
		// SYNCHRONIZED again for commits to wait for it.
		if ok := st.Local.SyncState == sqlink.Synchronized || mode == sqlink.ModeAsync && st.Local.SyncState == sqlink.Synchronizing; !st.Local.Connected || !ok {
			return fmt.Errorf("connected %v, %s", st.Local.Connected, st.Local.SyncState)
		}
		return nil
	})
	waitRows(t, s, "tpcb", rowsQ, n+200, 0)
	if got := seedAttempts(mustLinkStatus(t, s, "crash")); got != attempts {
		t.Fatalf("the secondary's restart reseeded it: %d seeding attempts, was %d", got, attempts)
	}

	// kill -9 the primary mid-load. In sync mode every transaction pgbench
	// saw committed was hardened on the secondary before it was
	// acknowledged, so the secondary has it even with the primary down.
	n = waitRows(t, s, "tpcb", rowsQ, n+400, 0)
	p.Kill()
	acked := loggedBench.acked(t)
	if mode == sqlink.ModeSync {
		got := waitRows(t, s, "tpcb", rowsQ, acked, 30*time.Second)
		t.Logf("pgbench saw %d committed; the secondary has %d with the primary down", acked, got)
	}

	p.Start()
	waitLink(t, p, "crash", 0, func(st adminapi.LinkStatus) error {
		if !st.Local.Connected {
			return fmt.Errorf("not connected")
		}
		return nil
	})
	// More load after the restart, then the copies are identical.
	bench, err := p.Pgbench(ctx, "tpcb", "-n", "-M", "prepared", "-c", "2", "-j", "2", "-t", "100", "-f", tpcbScript)
	if err != nil {
		t.Fatalf("pgbench after restart: %v\n%s", err, bench)
	}
	waitCaughtUp(t, p, s, "crash", 0)
	mustVerify(t, p, s, "crash")
	if got, want := checkTPCBConsistent(t, s, "tpcb"), checkTPCBConsistent(t, p, "tpcb"); got != want || got < acked+200 {
		t.Fatalf("history rows: secondary %d, primary %d, acknowledged before the kill %d (+200 after)", got, want, acked)
	}
	if got := seedAttempts(mustLinkStatus(t, s, "crash")); got != attempts {
		t.Fatalf("restarts reseeded the secondary: %d seeding attempts, was %d", got, attempts)
	}
}
