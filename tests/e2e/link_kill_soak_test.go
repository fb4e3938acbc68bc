package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

// TestLink_KilledAtRandomMoments kills the primary, the secondary or both
// (SIGKILL) again and again under a pgbench load, each time after a random
// amount of progress (including none, so some kills land while a restarted
// side is still reconnecting or catching up), and restarts what it killed.
// At the end the copies are equal, nothing pgbench saw committed is lost,
// the secondary was never reseeded, and in sync mode the secondary had
// every acknowledged transaction each time the primary was killed.
//
// SQLINK_SOAK_ROUNDS (default 6) and SQLINK_SOAK_SEED (default: the time)
// make a longer or a repeated run; the seed is logged.
func TestLink_KilledAtRandomMoments(t *testing.T) {
	requireTool(t, "pgbench")
	rounds, seed := soakParams(t, 6)
	for i, mode := range []sqlink.Mode{sqlink.ModeAsync, sqlink.ModeSync} {
		t.Run(string(mode), func(t *testing.T) { testKilledAtRandom(t, mode, rounds, seed+uint64(i)) })
	}
}

func testKilledAtRandom(t *testing.T, mode sqlink.Mode, rounds int, seed uint64) {
	t.Logf("seed %d (rerun with SQLINK_SOAK_SEED=%d), %d rounds", seed, seed, rounds)
	rng := rand.New(rand.NewPCG(seed, seed))
	// The load's connection string carries the failover tests' password.
	p := MustStartFailoverInstance(t, "alpha")
	s := MustStartFailoverInstance(t, "beta")
	p.MustCLI("db", "create", "tpcb")
	MustInitTPCB(t, p, "tpcb")
	mustFullBackup(t, p, "tpcb")
	MustCreateLink(t, p, s, "soak", "tpcb", "--mode", string(mode))
	waitCaughtUp(t, p, s, "soak", 0)
	attempts := seedAttempts(mustLinkStatus(t, s, "soak"))

	start := time.Now()
	load := startLoad(t, "tpcb", 20, p)
	rows := waitRows(t, p, "tpcb", historyQ, 100, 0)
	for r := 1; r <= rounds; r++ {
		victims := []*Instance{p, s, p, s, p, s}[rng.IntN(6):][:1]
		if rng.IntN(4) == 0 {
			victims = []*Instance{p, s}
		}
		grow := int64(rng.IntN(300))
		rows = waitRows(t, p, "tpcb", historyQ, rows+grow, 0)
		before, _, _ := load.Runs()
		for _, v := range victims {
			v.Kill()
		}
		t.Logf("round %d at %.1fs: after %d more rows, killed %s", r, time.Since(start).Seconds(), grow, names(victims))
		if mode == sqlink.ModeSync && len(victims) == 1 && victims[0] == p {
			// The pgbench run the kill interrupted writes its log as it
			// ends. Every commit it saw acknowledged was hardened on the
			// secondary first, which redoes all it hardened with the
			// primary gone. (With the secondary killed, a sync commit
			// waits for it: the run ends only after the restart.)
			testutil.RetryUntil(t, 0, func() error {
				if runs, _, _ := load.Runs(); runs == before {
					return fmt.Errorf("the pgbench run under way has not ended")
				}
				return nil
			})
			acked := load.Acked(t)
			t.Logf("round %d: pgbench acknowledged %d so far", r, acked)
			waitRows(t, s, "tpcb", historyQ, acked, 0)
		}
		for _, v := range victims {
			v.Start()
		}
		waitConnected(t, "soak", p, s)
	}
	acked := load.Stop(t)
	if runs, ok, last := load.Runs(); ok == 0 {
		t.Fatalf("no pgbench run of %d ended cleanly; the last said:\n%s", runs, last)
	}

	waitCaughtUp(t, p, s, "soak", 0)
	t.Log(mustVerify(t, p, s, "soak"))
	got, want := checkTPCBConsistent(t, s, "tpcb"), checkTPCBConsistent(t, p, "tpcb")
	if got != want || want < acked {
		t.Fatalf("history rows: secondary %d, primary %d; pgbench acknowledged %d", got, want, acked)
	}
	st := waitLink(t, s, "soak", 0, func(st adminapi.LinkStatus) error {
		if st.Local.SyncState != sqlink.Synchronized && (mode == sqlink.ModeSync || st.Local.SyncState != sqlink.Synchronizing) {
			return fmt.Errorf("secondary %s", st.Local.SyncState)
		}
		return nil
	})
	if n := seedAttempts(st); n != attempts {
		t.Fatalf("the kills reseeded the secondary: %d seeding attempts, was %d", n, attempts)
	}
	t.Logf("%d rounds: %d transactions acknowledged, %d history rows on both", rounds, acked, want)
}

// names lists the instances' names.
func names(ins []*Instance) string {
	s := ""
	for i, in := range ins {
		if i > 0 {
			s += " and "
		}
		s += in.Name
	}
	return s
}

// soakParams returns the rounds of a random-kill test (SQLINK_SOAK_ROUNDS,
// default def) and its seed (SQLINK_SOAK_SEED, default the time).
func soakParams(t *testing.T, def int) (rounds int, seed uint64) {
	t.Helper()
	rounds = envRounds(t, "SQLINK_SOAK_ROUNDS", def)
	seed = uint64(time.Now().UnixNano())
	if v := os.Getenv("SQLINK_SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SQLINK_SOAK_SEED=%q: want a number", v)
		}
		seed = n
	}
	return rounds, seed
}

// envRounds returns the positive number in environment variable name, or
// def when it is unset.
func envRounds(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
