package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

// failpointCase crashes one instance at a failpoint of a planned failover
// from alpha (primary) to beta, then finishes the failover with --resume or
// rolls it back with --abort.
type failpointCase struct {
	failpoint string
	victim    string // "old" (alpha, the primary) or "new" (beta)
	finish    string // "resume" or "abort"
}

var failpointCases = []failpointCase{
	{"failover/after-sync", "old", "resume"},
	{"failover/after-drain", "old", "abort"},
	{"failover/after-demote", "old", "resume"},
	{"failover/after-demote", "old", "abort"},
	{"failover/after-promote", "new", "resume"},
	{"failover/after-swap", "old", "resume"},
	{"failover/after-swap", "new", "abort"},
}

// TestFailover_CrashAtEachFailpoint kills an instance (SIGKILL, from the
// server's own failpoint) at each step of a planned failover under load,
// restarts it, and checks that there is never more than one writable
// primary, that `link failover --resume` or `--abort` ends in a consistent
// link, and that no transaction pgbench saw committed is lost.
func TestFailover_CrashAtEachFailpoint(t *testing.T) {
	requireTool(t, "pgbench")
	for _, c := range failpointCases {
		t.Run(strings.TrimPrefix(c.failpoint, "failover/")+"/"+c.victim+"/"+c.finish, func(t *testing.T) { testFailpoint(t, c) })
	}
}

func testFailpoint(t *testing.T, c failpointCase) {
	alpha, beta := mustSetupTPCBLink(t, "fo", "--two-way")
	victim := alpha
	if c.victim == "new" {
		victim = beta
	}
	victim.Stop()
	victim.StartEnv("SQLINK_FAILPOINT=" + c.failpoint)
	waitConnected(t, "fo", alpha, beta)

	load := startLoad(t, "tpcb", 25, alpha, beta)
	waitRows(t, alpha, "tpcb", historyQ, 300, 0)
	out, r := runFailover(t, alpha, beta, "fo", "--timeout", "10s")
	t.Logf("failover with %s armed on %s: exit %d, paused %q, new primary %q\nstderr: %s", c.failpoint, victim.Name, r.Code, out.Paused, out.NewPrimary, r.Stderr)
	testutil.RetryUntil(t, time.Minute, func() error {
		if !victim.Exited() {
			return fmt.Errorf("%s is still running: failpoint %s not reached", victim.Name, c.failpoint)
		}
		return nil
	})
	if !strings.Contains(victim.Output(), c.failpoint) {
		t.Logf("note: %s's log does not name the failpoint %s", victim.Name, c.failpoint)
	}
	victim.Kill() // reap
	checkAtMostOnePrimary(t, "fo", alpha, beta)
	victim.Start()
	checkAtMostOnePrimary(t, "fo", alpha, beta)
	waitConnected(t, "fo", alpha, beta)
	checkAtMostOnePrimary(t, "fo", alpha, beta)

	want := beta
	switch c.finish {
	case "resume":
		mustFailover(t, alpha, beta, "fo", "--resume", "--timeout", "30s")
	case "abort":
		out, r := runFailover(t, alpha, beta, "fo", "--abort", "--timeout", "30s")
		switch {
		case r.Code == 0:
			want = alpha
		case r.Code == 6:
			// Once the new primary took the new epoch the abort is refused
			// and the failover completes.
			t.Logf("abort refused (%s); resuming", strings.TrimSpace(r.Stderr))
			mustFailover(t, alpha, beta, "fo", "--resume", "--timeout", "30s")
		default:
			t.Fatalf("link failover --abort: exit %d, %+v\nstdout: %s\nstderr: %s", r.Code, out, r.Stdout, r.Stderr)
		}
	}
	// The load keeps going on whichever instance is primary now.
	p, s := waitSettled(t, "fo", alpha, beta, 0)
	if p != want {
		t.Fatalf("after --%s the primary is %s, want %s", c.finish, p.Name, want.Name)
	}
	checkLoadLanded(t, load, p, s, "fo", 100)
	mustWrite(t, p, "after "+c.failpoint)
	waitRows(t, s, "tpcb", `SELECT count(*) FROM notes;`, 1, 0)
}

// waitConnected waits until both instances report the link connected.
func waitConnected(t testing.TB, name string, ins ...*Instance) {
	t.Helper()
	for _, in := range ins {
		waitLink(t, in, name, 0, func(st adminapi.LinkStatus) error {
			if !st.Local.Connected {
				return fmt.Errorf("not connected")
			}
			return nil
		})
	}
}

// TestFailover_KillCLIMidOperation kills the `sqlink link failover` process
// while the failover waits for a frozen secondary, then thaws it: the
// failover is finished by --resume (or had already finished by itself) and
// nothing pgbench saw committed is lost.
func TestFailover_KillCLIMidOperation(t *testing.T) {
	requireTool(t, "pgbench")
	alpha, beta := mustSetupTPCBLink(t, "fo", "--two-way")
	load := startLoad(t, "tpcb", 25, alpha, beta)
	waitRows(t, alpha, "tpcb", historyQ, 300, 0)

	// A frozen secondary cannot acknowledge the primary's last LSN, so the
	// failover waits in its drain step.
	beta.Freeze()
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			beta.Thaw()
		}
	}
	t.Cleanup(thaw)
	cmd := exec.Command(sqlinkBin, "link", "failover", "fo", "--timeout", "60s")
	cmd.Env = append(os.Environ(), alpha.cliEnv(alpha.Token)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	testutil.RetryUntil(t, 30*time.Second, func() error {
		select {
		case err := <-exited:
			exited <- err
			return nil
		default:
		}
		st, err := linkStatus(alpha, "fo")
		if err != nil {
			return err
		}
		if st.Failover == nil {
			return fmt.Errorf("no failover in progress on alpha yet (state %s)", st.State)
		}
		t.Logf("failover in progress on alpha: %+v", *st.Failover)
		return nil
	})
	select {
	case err := <-exited:
		thaw()
		t.Fatalf("link failover ended before it could be killed: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	default:
	}
	cmd.Process.Kill()
	<-exited
	checkAtMostOnePrimary(t, "fo", alpha, beta)
	thaw()
	waitConnected(t, "fo", alpha, beta)
	checkAtMostOnePrimary(t, "fo", alpha, beta)

	out := mustFailover(t, alpha, beta, "fo", "--resume", "--timeout", "30s")
	if out.Nothing != "" {
		t.Logf("nothing left to resume: the server finished the failover by itself (%s)", out.Nothing)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, in := range []*Instance{alpha, beta} {
				var keep []string
				for _, l := range strings.Split(in.Output(), "\n") {
					if !strings.Contains(l, "pgwire: session") {
						keep = append(keep, l)
					}
				}
				t.Logf("%s's log (last 80 lines but session starts):\n%s", in.Name, strings.Join(keep[max(0, len(keep)-80):], "\n"))
			}
		}
	})
	p, s := waitSettled(t, "fo", alpha, beta, 0)
	if p != beta {
		t.Fatalf("after --resume the primary is %s, want beta", p.Name)
	}
	n, err := historyRows(t, beta, "tpcb")
	if err != nil {
		t.Fatal(err)
	}
	waitRows(t, beta, "tpcb", historyQ, n+100, 2*time.Minute)
	acked := load.Stop(t)
	waitCaughtUp(t, p, s, "fo", 0)
	t.Log(mustVerify(t, p, s, "fo"))
	rowsP, rowsS := checkTPCBConsistent(t, p, "tpcb"), checkTPCBConsistent(t, s, "tpcb")
	if rowsP < acked || rowsP != rowsS {
		t.Fatalf("history rows: beta %d, alpha %d; pgbench acknowledged %d", rowsP, rowsS, acked)
	}
}

// checkLoadLanded waits for more rows on the settled primary p (the load
// runs there), stops the load, and checks that the copies are equal, their
// TPC-B tables consistent, and every transaction pgbench saw committed on
// both; it returns the number of history rows.
func checkLoadLanded(t testing.TB, load *loadLoop, p, s *Instance, name string, more int64) int64 {
	t.Helper()
	n, err := historyRows(t, p, "tpcb")
	if err != nil {
		t.Fatal(err)
	}
	waitRows(t, p, "tpcb", historyQ, n+more, 2*time.Minute)
	acked := load.Stop(t)
	waitCaughtUp(t, p, s, name, 0)
	t.Log(mustVerify(t, p, s, name))
	rowsP, rowsS := checkTPCBConsistent(t, p, "tpcb"), checkTPCBConsistent(t, s, "tpcb")
	if rowsP < acked || rowsP != rowsS {
		t.Fatalf("history rows: primary %s %d, secondary %s %d; pgbench acknowledged %d", p.Name, rowsP, s.Name, rowsS, acked)
	}
	t.Logf("%d transactions acknowledged, %d history rows on both", acked, rowsP)
	return rowsP
}
