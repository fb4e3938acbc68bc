package server_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/server"
)

// mustTwoWayPair links shop from east (primary) to west as a two-way link
// (or one-way) and waits until west is online.
func mustTwoWayPair(t testing.TB, twoWay bool, tune func(*server.Config)) (east, west *node) {
	t.Helper()
	east = MustStartNode(t, "east", tune)
	west = MustStartNode(t, "west", tune)
	trust(t, east, west)
	mustPrepareShop(t, east, 100)
	wr := linkReq(west, east, sqlink.RoleSecondary, sqlink.ModeAsync)
	wr.TwoWay = twoWay
	if err := west.createLink(wr); err != nil {
		t.Fatal(err)
	}
	er := linkReq(east, west, sqlink.RolePrimary, sqlink.ModeAsync)
	er.TwoWay = twoWay
	if err := east.createLink(er); err != nil {
		t.Fatal(err)
	}
	waitOnline(t, west)
	return east, west
}

func (n *node) failover(req adminapi.FailoverRequest) (adminapi.FailoverResult, error) {
	var res adminapi.FailoverResult
	err := n.admin.Do(context.Background(), "POST", "/v1/links/L/failover", req, &res)
	return res, err
}

func (n *node) setRole(primary string) (adminapi.SetRoleResult, error) {
	var res adminapi.SetRoleResult
	err := n.admin.Do(context.Background(), "POST", "/v1/links/L/set-role", adminapi.SetRoleRequest{Primary: primary}, &res)
	return res, err
}

// waitRoles waits until p is the writable primary and s its synchronized
// secondary, with no failover or split brain on either.
func waitRoles(t testing.TB, p, s *node) {
	t.Helper()
	testutil.RetryUntil(t, testWait, func() error {
		ps, ss := p.link("L"), s.link("L")
		for _, st := range []adminapi.LinkStatus{ps, ss} {
			if st.Failover != nil || st.SplitBrain != nil {
				return fmt.Errorf("%s: state %s, failover %+v, split brain %+v", st.Local.Instance, st.State, st.Failover, st.SplitBrain)
			}
		}
		if ps.Local.Role != sqlink.RolePrimary || ps.Local.ReadOnly || ss.Local.Role != sqlink.RoleSecondary || ss.State != "SYNCHRONIZED" {
			return fmt.Errorf("%s %s ro=%v, %s %s %s", p.name, ps.Local.Role, ps.Local.ReadOnly, s.name, ss.Local.Role, ss.State)
		}
		return nil
	})
}

func TestFailoverPlannedAndFailBack(t *testing.T) {
	east, west := mustTwoWayPair(t, true, nil)
	waitRoles(t, east, west)
	epoch := east.link("L").Epoch

	res, err := east.failover(adminapi.FailoverRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res.NewPrimary != "west" || res.Epoch <= epoch || res.Paused != "" || len(res.Steps) == 0 {
		t.Fatalf("failover result: %+v", res)
	}
	for _, s := range res.Steps {
		if s.Status != "done" {
			t.Fatalf("step %s is %s", s.Name, s.Status)
		}
	}
	t.Logf("planned failover in %.3fs", res.Duration)
	waitRoles(t, west, east)
	if err := east.exec("shop", "INSERT INTO items(body) VALUES ('x')"); !hasCode(err, "25006") {
		t.Fatalf("write on the old primary: %v, want 25006", err)
	}
	west.mustExec("shop", "INSERT INTO items(body) VALUES ('on west')")
	waitRows(t, east, 101)

	// Fail back, started on the secondary.
	res, err = east.failover(adminapi.FailoverRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res.NewPrimary != "east" || res.Paused != "" {
		t.Fatalf("fail back result: %+v", res)
	}
	waitRoles(t, east, west)
	east.mustExec("shop", "INSERT INTO items(body) VALUES ('on east')")
	waitRows(t, west, 102)
	waitSameDigest(t, east, west)
}

func TestFailoverOneWayRefusesKeepingTheLink(t *testing.T) {
	east, west := mustTwoWayPair(t, false, nil)
	for _, n := range []*node{east, west} {
		_, err := n.failover(adminapi.FailoverRequest{})
		if sqlink.ErrorCode(err) != sqlink.ECONFLICT || !strings.Contains(sqlink.ErrorHint(err), "--drop-link") {
			t.Fatalf("%s: keeping a one-way link: %v (hint %q)", n.name, err, sqlink.ErrorHint(err))
		}
	}
	waitRoles(t, east, west)
	res, err := east.failover(adminapi.FailoverRequest{DropLink: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.NewPrimary != "west" {
		t.Fatalf("drop-link failover: %+v", res)
	}
	for _, n := range []*node{east, west} {
		testutil.RetryUntil(t, testWait, func() error { return n.exec("shop", "INSERT INTO items(body) VALUES ('independent')") })
	}
}

func TestFailoverForcedSplitBrainSetRole(t *testing.T) {
	east, west := mustTwoWayPair(t, true, nil)
	waitRows(t, west, 100)
	st := west.link("L")
	east.stop()
	if _, err := west.failover(adminapi.FailoverRequest{Type: "forced"}); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("forced without allow_data_loss: %v", err)
	}
	res, err := west.failover(adminapi.FailoverRequest{Type: "forced", AllowDataLoss: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.NewPrimary != "west" || res.Epoch <= st.Epoch || res.FirstWriteAt.IsZero() {
		t.Fatalf("forced result: %+v", res)
	}
	west.mustExec("shop", "INSERT INTO items(body) VALUES ('west 1')")
	west.mustExec("shop", "INSERT INTO items(body) VALUES ('west 2')")

	// east comes back at the lower epoch: both sides see a split brain
	// and east stops taking writes.
	east.start()
	for _, n := range []*node{east, west} {
		testutil.RetryUntil(t, testWait, func() error {
			st := n.link("L")
			if st.State != "SPLIT_BRAIN" || st.SplitBrain == nil {
				return fmt.Errorf("%s: state %s", n.name, st.State)
			}
			return nil
		})
	}
	if err := east.exec("shop", "INSERT INTO items(body) VALUES ('split')"); !hasCode(err, "25006") {
		t.Fatalf("write on the lower epoch in split brain: %v", err)
	}
	sb := west.link("L").SplitBrain
	if sb.DivergedLocal != 2 {
		t.Fatalf("west split brain: %+v", *sb)
	}
	if got := metric(t, west, `sqlink_link_split_brain_diverged_transactions{database="shop",link="L",role="PRIMARY",side="local"}`); got != 2 {
		t.Fatalf("diverged metric on west = %v, want 2", got)
	}

	// east wins: west saves its two transactions and follows east.
	sr, err := west.setRole("east")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("set-role: %+v", sr)
	if sr.Diverged != 2 || sr.DivergedFile == "" || sr.Method != "rewind" || sr.ForkLSN != sb.ForkLSN {
		t.Fatalf("set-role result: %+v", sr)
	}
	checkSaved(t, sr.DivergedFile, "items WHERE body LIKE 'west %'", 2)
	waitRoles(t, east, west)
	waitOnline(t, west)
	east.mustExec("shop", "INSERT INTO items(body) VALUES ('east after')")
	waitRows(t, west, 101)
	if got, err := west.count("shop", "items WHERE body LIKE 'west %'"); err != nil || got != 0 {
		t.Fatalf("west still has %d diverged rows (%v)", got, err)
	}
	waitSameDigest(t, east, west)
}

// A transaction left open on the primary does not block a planned
// failover: after the drain timeout its session is ended and it rolls
// back.
func TestFailoverRollsBackAnIdleTransaction(t *testing.T) {
	east, west := mustTwoWayPair(t, true, func(c *server.Config) { c.FailoverDrainTimeout = 200 * time.Millisecond })
	waitRoles(t, east, west)
	ctx := context.Background()
	c, err := east.connect(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO items(body) VALUES ('left open')"); err != nil {
		t.Fatal(err)
	}
	res, err := east.failover(adminapi.FailoverRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res.NewPrimary != "west" || res.Paused != "" {
		t.Fatalf("failover result: %+v", res)
	}
	if err := tx.Commit(ctx); err == nil {
		t.Fatalf("the transaction left open committed after the failover")
	}
	waitRoles(t, west, east)
	for _, n := range []*node{east, west} {
		if got, err := n.count("shop", "items WHERE body = 'left open'"); err != nil || got != 0 {
			t.Fatalf("%s has %d rows of the rolled-back transaction (%v)", n.name, got, err)
		}
	}
}

// A rewind brings the loser to the winner's pages exactly, when one side
// shrank the database (VACUUM) and the other grew it after the fork.
func TestFailoverRewindAfterShrinkAndGrowth(t *testing.T) {
	for _, winner := range []string{"east", "west"} {
		t.Run("winner="+winner, func(t *testing.T) {
			east, west := mustTwoWayPair(t, true, nil)
			waitRoles(t, east, west)
			// east grows the database while west is away...
			west.stop()
			insertRows(t, east, 100, 300, 2000)
			east.stop()
			// ...and west, forced primary, shrinks its copy.
			west.start()
			if _, err := west.failover(adminapi.FailoverRequest{Type: "forced", AllowDataLoss: true}); err != nil {
				t.Fatal(err)
			}
			west.mustExec("shop", "DELETE FROM items WHERE id > 10")
			west.mustExec("shop", "VACUUM")
			east.start()
			for _, n := range []*node{east, west} {
				testutil.RetryUntil(t, testWait, func() error {
					if st := n.link("L"); st.State != "SPLIT_BRAIN" {
						return fmt.Errorf("%s: state %s", n.name, st.State)
					}
					return nil
				})
			}
			win, lose := east, west
			if winner == "west" {
				win, lose = west, east
			}
			sr, err := lose.setRole(win.name)
			if err != nil {
				t.Fatal(err)
			}
			if sr.Method != "rewind" || sr.Diverged == 0 {
				t.Fatalf("set-role result: method %q, %d diverged", sr.Method, sr.Diverged)
			}
			waitFollows(t, win, lose, "after the rewind")
			waitSameDigest(t, win, lose)
		})
	}
}

// When the log no longer reaches back to the fork (released past the cap
// while the partner was away, then pruned), the loser of a split brain
// cannot be rewound: it still saves its diverged state, then reseeds in
// full and follows the winner. The log may be gone on either side.
func TestFailoverSplitBrainReseedsWhenTheLogIsGone(t *testing.T) {
	tune := func(c *server.Config) {
		c.LinkLogCapBytes = 256 << 10
		c.LogRetentionBytes = 1 << 20
	}
	// Each writes enough that a cap and retention this small release and
	// prune the log kept since the fork (segments are 16 MiB).
	big := func(n *node, from int) {
		for i := range 10 {
			insertRows(t, n, from+i*1000, 1000, 4000)
		}
	}
	for _, gone := range []string{"loser", "winner"} {
		t.Run("log gone on the "+gone, func(t *testing.T) {
			east, west := mustTwoWayPair(t, true, tune)
			waitRoles(t, east, west)
			// east, the loser, commits what west never receives...
			west.stop()
			east.mustExec("shop", "INSERT INTO items(body) VALUES ('east only')")
			if gone == "loser" {
				fork := dbPos(t, east) - 1
				big(east, 100000)
				waitLinkState(t, east, "RESEED_REQUIRED")
				waitLogFrom(t, east, fork)
			}
			east.stop()
			// ...and west, forced primary, goes on without it.
			west.start()
			if _, err := west.failover(adminapi.FailoverRequest{Type: "forced", AllowDataLoss: true}); err != nil {
				t.Fatal(err)
			}
			fork := dbPos(t, west)
			west.mustExec("shop", "INSERT INTO items(body) VALUES ('west 1')")
			if gone == "winner" {
				big(west, 200000)
				waitLinkState(t, west, "RESEED_REQUIRED")
				waitLogFrom(t, west, fork)
			}
			east.start()
			for _, n := range []*node{east, west} {
				waitLinkState(t, n, "SPLIT_BRAIN")
			}
			if err := east.exec("shop", "INSERT INTO items(body) VALUES ('split')"); !hasCode(err, "25006") {
				t.Fatalf("write on the lower epoch in split brain: %v", err)
			}
			sr, err := east.setRole("west")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("set-role: method %s, fork %d, %d diverged, file %s", sr.Method, sr.ForkLSN, sr.Diverged, sr.DivergedFile)
			if sr.Method != "reseed" || sr.Diverged == 0 || sr.DivergedFile == "" {
				t.Fatalf("set-role result: %+v", sr)
			}
			// The listing comes from the log: when the loser's log is gone,
			// it says so (the saved copy still holds the transactions).
			list, err := os.ReadFile(sr.DivergedList)
			if err != nil {
				t.Fatal(err)
			}
			if lost := strings.Contains(string(list), "no longer reaches back to the fork"); lost != (gone == "loser") {
				t.Fatalf("listing of the diverged transactions:\n%s", list)
			}
			checkSaved(t, sr.DivergedFile, "items WHERE body = 'east only'", 1)
			waitFollows(t, west, east, "west after")
			if got, err := east.count("shop", "items WHERE body = 'east only'"); err != nil || got != 0 {
				t.Fatalf("east still has %d diverged rows (%v)", got, err)
			}
			waitSameDigest(t, west, east)
		})
	}
}

// waitFollows waits until lose is win's online secondary and a row
// written on win reaches it.
func waitFollows(t testing.TB, win, lose *node, body string) {
	t.Helper()
	waitRoles(t, win, lose)
	waitOnline(t, lose)
	win.mustExec("shop", fmt.Sprintf("INSERT INTO items(body) VALUES ('%s')", body))
	want, err := win.count("shop", "items")
	if err != nil {
		t.Fatal(err)
	}
	waitRows(t, lose, want)
}

// checkSaved checks, with the sqlite3 CLI when there is one, that the
// saved diverged file has want rows in from (a FROM clause).
func checkSaved(t testing.TB, file, from string, want int) {
	t.Helper()
	if _, err := exec.LookPath("sqlite3"); err != nil {
		return
	}
	out, err := exec.Command("sqlite3", "-readonly", file, "SELECT count(*) FROM "+from).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(want) {
		t.Fatalf("saved file %s: %v %s, want %d rows in %s", file, err, out, want, from)
	}
}

// waitLinkState waits until n shows link L in state.
func waitLinkState(t testing.TB, n *node, state string) {
	t.Helper()
	testutil.RetryUntil(t, testWait, func() error {
		if st := n.link("L"); st.State != state {
			return fmt.Errorf("%s: link state %s, want %s", n.name, st.State, state)
		}
		return nil
	})
}

// dbPos returns n's position of shop.
func dbPos(t testing.TB, n *node) sqlink.LSN {
	t.Helper()
	d, err := n.admin.GetDatabase(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	return d.Pos.LSN
}

// waitLogFrom waits until n's log of shop starts after lsn (pruned).
func waitLogFrom(t testing.TB, n *node, lsn sqlink.LSN) {
	t.Helper()
	testutil.RetryUntil(t, testWait, func() error {
		d, err := n.admin.GetDatabase(context.Background(), "shop")
		if err != nil {
			return err
		}
		if d.LogFirstLSN <= lsn+1 {
			return fmt.Errorf("%s: log starts at %d, want after %d (log %d bytes, pos %d, ro %v)", n.name, d.LogFirstLSN, lsn+1, d.LogBytes, d.Pos.LSN, d.ReadOnly)
		}
		return nil
	})
}
