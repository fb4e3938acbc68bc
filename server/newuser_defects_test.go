package server_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sqlink/sqlink/internal/testutil"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// TestDropLinkedDatabaseRefusedKeepsItOpen: a drop refused because a link
// replicates the database changes nothing: the database stays open for
// clients, at its position, and the link keeps replicating (issue 18,
// item 1).
func TestDropLinkedDatabaseRefusedKeepsItOpen(t *testing.T) {
	ctx := context.Background()
	east, west := mustLinkPair(t, sqlink.ModeAsync, nil, nil)
	before, err := east.admin.GetDatabase(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var hint string
	for _, n := range []*node{east, west} {
		err := n.admin.DropDatabase(ctx, "shop")
		if sqlink.ErrorCode(err) != sqlink.ECONFLICT || !strings.Contains(sqlink.ErrorMessage(err), "replicated by link L") {
			t.Fatalf("drop of a linked database on %s: %v, want a conflict naming link L", n.name, err)
		}
		hint = sqlink.ErrorHint(err)
	}
	after, err := east.admin.GetDatabase(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if after.State != sqlink.DatabaseOnline || after.Pos.LSN != before.Pos.LSN || after.SizeBytes != before.SizeBytes {
		t.Fatalf("after a refused drop the database shows %s at LSN %d, %d bytes; before %s at LSN %d, %d bytes",
			after.State, after.Pos.LSN, after.SizeBytes, before.State, before.Pos.LSN, before.SizeBytes)
	}
	// Clients still use it, and the link still replicates.
	insertRows(t, east, 100, 5, 10)
	waitRows(t, west, 105)
	if !strings.Contains(hint, "sqlink link drop L") {
		t.Fatalf("drop refusal hint %q does not name `sqlink link drop L`", hint)
	}
}

// TestDropLinkSeedingFromBackupKeepsTheRestoredDatabase: dropping a
// secondary's half that was seeding from a backup the operator restored
// (what `link create` does to undo a failed run) leaves that database as
// it was: RESTORING, with its data (issue 18, item 2).
func TestDropLinkSeedingFromBackupKeepsTheRestoredDatabase(t *testing.T) {
	ctx := context.Background()
	east := MustStartNode(t, "east", nil)
	west := MustStartNode(t, "west", nil)
	trust(t, east, west)
	mustPrepareShop(t, east, 100)
	var backup bytes.Buffer
	if _, err := east.admin.Backup(ctx, "shop", false, &backup); err != nil {
		t.Fatal(err)
	}
	if _, err := west.admin.Restore(ctx, "shop", true, &backup); err != nil {
		t.Fatal(err)
	}
	// Only the secondary's half: the primary's never came (its creation
	// failed), so the run's undo drops this half again.
	req := linkReq(west, east, sqlink.RoleSecondary, sqlink.ModeAsync)
	req.SeedFromBackup = true
	if err := west.createLink(req); err != nil {
		t.Fatal(err)
	}
	// Completing the restore under a link that seeds from it is refused.
	if _, err := west.admin.CompleteRestore(ctx, "shop"); sqlink.ErrorCode(err) != sqlink.ECONFLICT {
		t.Fatalf("complete-restore while link L seeds from it: %v, want a conflict", err)
	}
	if err := west.admin.Do(ctx, "DELETE", "/v1/links/L", nil, nil); err != nil {
		t.Fatal(err)
	}
	d, err := west.admin.GetDatabase(ctx, "shop")
	if err != nil {
		t.Fatalf("the restored database after the link's drop: %v, want it kept", err)
	}
	if d.State != sqlink.DatabaseRestoring {
		t.Fatalf("the restored database is %s after the link's drop, want RESTORING", d.State)
	}
	// It is the operator's restored copy, whole and writable once
	// completed.
	if _, err := west.admin.CompleteRestore(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if n, err := west.count("shop", "items"); err != nil || n != 100 {
		t.Fatalf("restored copy has %d rows (%v), want 100", n, err)
	}
	west.mustExec("shop", "INSERT INTO items (id, body) VALUES (9999, 'west')")
}

// TestRestoreOverExistingNameChangesNothing: a restore refused because the
// name is taken leaves the existing database untouched (issue 18, item 1).
func TestRestoreOverExistingNameChangesNothing(t *testing.T) {
	ctx := context.Background()
	east := MustStartNode(t, "east", nil)
	mustPrepareShop(t, east, 10)
	var backup bytes.Buffer
	if _, err := east.admin.Backup(ctx, "shop", true, &backup); err != nil {
		t.Fatal(err)
	}
	insertRows(t, east, 100, 5, 10)
	for _, restoring := range []bool{false, true} {
		if _, err := east.admin.Restore(ctx, "shop", restoring, bytes.NewReader(backup.Bytes())); sqlink.ErrorCode(err) != sqlink.ECONFLICT {
			t.Fatalf("restore over an existing database: %v, want a conflict", err)
		}
	}
	if n, err := east.count("shop", "items"); err != nil || n != 15 {
		t.Fatalf("after a refused restore shop has %d rows (%v), want 15", n, err)
	}
	var infos []adminapi.DatabaseInfo
	if err := east.admin.Do(ctx, "GET", "/v1/databases", nil, &infos); err != nil || len(infos) != 1 || infos[0].State != sqlink.DatabaseOnline {
		t.Fatalf("databases after a refused restore: %+v, %v", infos, err)
	}
}

// TestIdleLinkShowsNoLag: once the secondary has redone every commit,
// both sides report no secondary lag, however long the link then idles
// (issue 18, item 4).
func TestIdleLinkShowsNoLag(t *testing.T) {
	east, west := mustTwoWayPair(t, true, nil)
	waitNoLag(t, east, west) // seeded, no write since
	insertRows(t, east, 100, 5, 10)
	waitRows(t, west, 105)
	waitNoLag(t, east, west)
	// After a planned failover, with no write since.
	waitRoles(t, east, west)
	if _, err := east.failover(adminapi.FailoverRequest{}); err != nil {
		t.Fatal(err)
	}
	waitRoles(t, west, east)
	waitNoLag(t, east, west)
}

func waitNoLag(t *testing.T, east, west *node) {
	t.Helper()
	testutil.RetryUntil(t, testWait, func() error {
		for _, n := range []*node{east, west} {
			st := n.link("L")
			for _, r := range []adminapi.ReplicaStatus{st.Local, st.Partner} {
				if r.SecondaryLag != 0 {
					return fmt.Errorf("%s reports %s (%s, hardened %d, redone %d) with a secondary lag of %.3fs",
						n.name, r.Instance, st.State, r.LastHardenedLSN, r.LastRedoneLSN, r.SecondaryLag)
				}
			}
		}
		return nil
	})
}

// TestPlannedFailoverWithPrimaryDownSaysSoAtOnce: a planned failover run
// on the secondary while the primary is down is refused within seconds, as
// unavailable, pointing at a forced failover and its estimated loss,
// rather than waiting out the failover timeout (issue 18, item 7).
func TestPlannedFailoverWithPrimaryDownSaysSoAtOnce(t *testing.T) {
	east, west := mustTwoWayPair(t, true, nil)
	waitRoles(t, east, west)
	east.stop()
	_, err := west.failover(adminapi.FailoverRequest{})
	if sqlink.ErrorCode(err) != sqlink.EUNAVAILABLE || !strings.Contains(sqlink.ErrorMessage(err), "the primary east cannot be reached") {
		t.Fatalf("planned failover with the primary down: %v, want unavailable naming east", err)
	}
	if h := sqlink.ErrorHint(err); !strings.Contains(h, "sqlink link failover L --force --allow-data-loss") || !strings.Contains(h, "estimated loss now: 0 transactions") {
		t.Fatalf("hint %q does not point at a forced failover and its estimated loss", h)
	}
	// Nothing changed: west is still the secondary, and follows east
	// when it is back.
	east.start()
	waitRoles(t, east, west)
	insertRows(t, east, 100, 5, 10)
	waitRows(t, west, 105)
}

// TestSetRoleOnTheWinnerReportsTheLosersFile: set-role run on the instance
// that keeps its writes (as the README shows it) reports the path of the
// file the other instance saved its diverged transactions to, as that
// instance reported it (issue 18, item 8).
func TestSetRoleOnTheWinnerReportsTheLosersFile(t *testing.T) {
	east, west := mustTwoWayPair(t, true, nil)
	waitRows(t, west, 100)
	// east commits two transactions west never gets, then goes away.
	west.stop()
	east.mustExec("shop", "INSERT INTO items(body) VALUES ('east 1')")
	east.mustExec("shop", "INSERT INTO items(body) VALUES ('east 2')")
	east.stop()
	west.start()
	if _, err := west.failover(adminapi.FailoverRequest{Type: "forced", AllowDataLoss: true}); err != nil {
		t.Fatal(err)
	}
	west.mustExec("shop", "INSERT INTO items(body) VALUES ('west 1')")
	east.start()
	testutil.RetryUntil(t, testWait, func() error {
		if sb := west.link("L").SplitBrain; sb == nil || sb.DivergedPartner != 2 {
			return fmt.Errorf("west's split brain: %+v", sb)
		}
		return nil
	})

	sr, err := west.setRole("west")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("set-role: %+v", sr)
	if sr.Diverged != 2 || sr.DivergedFile == "" || !strings.Contains(sr.DivergedFile, east.dir) {
		t.Fatalf("set-role on the winner reports diverged %d saved to %q, want 2 in a file under east's %s", sr.Diverged, sr.DivergedFile, east.dir)
	}
	checkSaved(t, sr.DivergedFile, "items WHERE body LIKE 'east %'", 2)
	waitRoles(t, west, east)
	if d := east.link("L").Local.DivergedSaved; d == nil || d.File != sr.DivergedFile {
		t.Fatalf("east's status reports its saved file as %+v, want %s", d, sr.DivergedFile)
	}
}
