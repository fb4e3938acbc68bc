package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sqlink/sqlink/internal/testutil"
)

// TestLink_FrozenSecondary: the secondary's host freezes (SIGSTOP: the
// connection stays open, nothing answers). A sync commit waits for the
// session timeout, then returns (an async one does not wait), and the link
// shows DISCONNECTED and not connected: it used to show SEEDING and
// connected (a stale status of the partner from its seeding, and the open
// TCP connection), though commits no longer waited for it. The estimated
// data loss counts the commits the frozen secondary never acknowledged (an
// async primary's link loop does not wake per commit: the status must not
// depend on it). Thawed, the secondary catches up without a reseed.
func TestLink_FrozenSecondary(t *testing.T) {
	for _, mode := range []string{"sync", "async"} {
		t.Run(mode, func(t *testing.T) { testFrozenSecondary(t, mode) })
	}
}

func testFrozenSecondary(t *testing.T, mode string) {
	alpha, beta := startLinkedFWith(t, []string{"--link-session-timeout", "2s"}, "fz", `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);`, "--mode", mode)
	waitState := func(want string, connected bool) {
		t.Helper()
		testutil.RetryUntil(t, time.Minute, func() error {
			st := mustLinkStatus(t, alpha, "fz")
			if st.State != want || st.Local.Connected != connected {
				return fmt.Errorf("alpha: state %s, connected %v; want %s, %v", st.State, st.Local.Connected, want, connected)
			}
			return nil
		})
	}
	waitState("SYNCHRONIZED", true)
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES (x'01');`)
	waitCaughtUp(t, alpha, beta, "fz", time.Minute)

	beta.Freeze()
	defer beta.Thaw()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := 0; i < 3; i++ {
		if out, err := alpha.Psql(ctx, "f", `INSERT INTO t (v) VALUES (randomblob(300000));`); err != nil {
			t.Fatalf("%s commit with the secondary frozen: %v\n%s", mode, err, out)
		}
	}
	waitState("DISCONNECTED", false)
	st := mustLinkStatus(t, alpha, "fz")
	if st.Local.SyncState != "NOT_SYNCHRONIZING" || st.Local.Health != "NOT_HEALTHY" {
		t.Fatalf("alpha while the secondary is frozen: sync %s, health %s", st.Local.SyncState, st.Local.Health)
	}
	if st.Local.EstimatedDataLoss.Transactions != 3 {
		t.Fatalf("alpha while the secondary is frozen: estimated data loss %+v, want the 3 commits since the freeze", st.Local.EstimatedDataLoss)
	}

	beta.Thaw()
	waitCaughtUp(t, alpha, beta, "fz", time.Minute)
	waitState("SYNCHRONIZED", true)
	if st := mustLinkStatus(t, alpha, "fz"); st.Local.EstimatedDataLoss.Transactions != 0 {
		t.Fatalf("alpha after the secondary caught up: estimated data loss %+v", st.Local.EstimatedDataLoss)
	}
	t.Log(mustVerify(t, alpha, beta, "fz"))
	if got := beta.MustPsql("f", `SELECT count(*) FROM t;`); got != "4" {
		t.Fatalf("beta has %s rows, want 4", got)
	}
	if st := mustLinkStatus(t, beta, "fz"); st.Local.Seeding == nil || st.Local.Seeding.Attempts > 1 {
		t.Fatalf("beta reseeded: %+v", st.Local.Seeding)
	}
}
