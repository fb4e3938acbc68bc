package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// TestBackup_NeverOverwritesWithoutForce: `backup --to FILE` refuses a
// FILE that exists unless --force (a conflict, exit 6, the hint naming
// --force); a backup that fails leaves the old FILE whole and no temporary
// file beside it (issue 18, item 3).
func TestBackup_NeverOverwritesWithoutForce(t *testing.T) {
	in := MustStartInstance(t, "alpha")
	in.MustCLI("db", "create", "shop")
	in.MustPsql("shop", "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);")
	dir := t.TempDir()
	file := filepath.Join(dir, "shop.bak")
	mustBackup(t, in, "shop", file, false)
	first, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	in.MustPsql("shop", "INSERT INTO t VALUES (2);")

	r := in.CLI("backup", "shop", "--to", file)
	if r.Code != 6 || !strings.Contains(r.Stderr, "already exists") || !strings.Contains(r.Stderr, "--force") {
		t.Fatalf("backup over an existing file: exit %d, want 6 with a hint naming --force\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	assertFile(t, file, first, "after a refused backup")

	// A backup that fails (no such database), even with --force, leaves
	// the file as it was.
	if r := in.CLI("backup", "nosuch", "--to", file, "--force"); r.Code == 0 {
		t.Fatalf("backup of a missing database succeeded:\n%s", r.Stdout)
	}
	assertFile(t, file, first, "after a failed backup")
	assertOnlyFile(t, dir, "shop.bak")

	// --force replaces it with the new backup.
	in.MustCLI("backup", "shop", "--to", file, "--force")
	assertOnlyFile(t, dir, "shop.bak")
	if b, _ := os.ReadFile(file); bytes.Equal(b, first) {
		t.Fatal("backup --force left the old file")
	}
	in.MustCLI("restore", file, "--as", "copy")
	if got := in.MustPsql("copy", "SELECT count(*) FROM t;"); got != "2" {
		t.Fatalf("restored backup has %s rows, want 2", got)
	}
}

func assertFile(t *testing.T, path string, want []byte, when string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %s changed (%d bytes, was %d)", when, path, len(got), len(want))
	}
}

// assertOnlyFile checks that dir holds only the file name (no temporary
// file was left behind).
func assertOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != name {
		t.Fatalf("%s holds %v, want only %s", dir, names, name)
	}
}

// TestFailover_SummaryNeverShowsTwoPrimaries: the summary `link failover`
// prints after planned failovers back and forth (the README's way, without
// --partner) shows the settled roles: one PRIMARY and one SECONDARY, as
// `link status` shows right after (issue 18, item 5).
func TestFailover_SummaryNeverShowsTwoPrimaries(t *testing.T) {
	alpha := MustStartFailoverInstance(t, "alpha")
	beta := MustStartFailoverInstance(t, "beta")
	linkF(t, alpha, beta, "fo", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);", "--two-way")
	waitCaughtUp(t, alpha, beta, "fo", 0)
	p, s := alpha, beta
	for i := range 4 {
		waitSettled(t, "fo", p, s, 0)
		out := p.MustCLI("link", "failover", "fo")
		var linkLine string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "Link:") {
				linkLine = l
			}
		}
		want := s.Name + " is PRIMARY"
		if !strings.Contains(linkLine, p.Name+" is SECONDARY") || !strings.Contains(linkLine, want) {
			t.Fatalf("failover %d to %s: summary %q, want %s SECONDARY and %s PRIMARY\n%s", i+1, s.Name, linkLine, p.Name, s.Name, out)
		}
		p, s = s, p
	}
}

// TestLink_DivergedSecondaryReportedAndReseededAtOnce: another program
// commits to a running secondary's database while the primary takes no
// write. The secondary stops saying SYNCHRONIZED/HEALTHY at once and
// reseeds without waiting for the primary's next commit (issue 18,
// item 6).
func TestLink_DivergedSecondaryReportedAndReseededAtOnce(t *testing.T) {
	alpha, beta, attempts := linkedWithARow(t, "dv")
	otherProgram(t, beta, `INSERT INTO t (v) VALUES ('behind its back')`)

	// No write on the primary from here on.
	st := waitLink(t, beta, "dv", time.Minute, func(st adminapi.LinkStatus) error {
		if seedAttempts(st) > attempts {
			return nil // already reseeding
		}
		if st.State == "SYNCHRONIZED" || st.Local.Health == "HEALTHY" || st.Local.SyncState == sqlink.Synchronized {
			return fmt.Errorf("a diverged secondary still reports %s, %s, %s", st.State, st.Local.SyncState, st.Local.Health)
		}
		if e := st.Local.LastError; e == nil || !strings.Contains(e.Message, "no longer matches its log") {
			return fmt.Errorf("last error %+v does not say the copy diverged", e)
		}
		return nil
	})
	t.Logf("the secondary reports %s (%s, %s), last error %s", st.State, st.Local.SyncState, st.Local.Health, lastError(st.Local))
	waitLink(t, beta, "dv", time.Minute, func(st adminapi.LinkStatus) error {
		if got := seedAttempts(st); got <= attempts {
			return fmt.Errorf("no reseed started: %d seeding attempts, was %d", got, attempts)
		}
		return nil
	})
	waitCaughtUp(t, alpha, beta, "dv", 2*time.Minute)
	if n, err := queryInt(beta, "f", `SELECT count(*) FROM t WHERE v = 'behind its back'`); err != nil || n != 0 {
		t.Fatalf("the other program's row is still on the reseeded secondary: %d (%v)", n, err)
	}
	mustVerify(t, alpha, beta, "dv")
}

// TestFailover_PlannedWithPrimaryDownPointsAtForce: `link failover` on the
// secondary with the primary killed says within seconds that the primary
// cannot be reached (exit 7) and points at --force --allow-data-loss with
// the estimated loss, instead of waiting a minute to time out (issue 18,
// item 7).
func TestFailover_PlannedWithPrimaryDownPointsAtForce(t *testing.T) {
	alpha := MustStartFailoverInstance(t, "alpha")
	beta := MustStartFailoverInstance(t, "beta")
	linkF(t, alpha, beta, "fo", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);", "--two-way")
	waitCaughtUp(t, alpha, beta, "fo", 0)
	alpha.Kill()
	r := beta.CLI("link", "failover", "fo")
	if r.Code != 7 || !strings.Contains(r.Stderr, "the primary alpha cannot be reached") ||
		!strings.Contains(r.Stderr, "--force --allow-data-loss") || !strings.Contains(r.Stderr, "estimated loss now") {
		t.Fatalf("planned failover with the primary down: exit %d, want 7 pointing at --force --allow-data-loss\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	if st := mustLinkStatus(t, beta, "fo"); st.Local.Role != sqlink.RoleSecondary {
		t.Fatalf("beta is %s after the refused failover, want SECONDARY", st.Local.Role)
	}
}

// TestLink_FailedCreateFromBackupKeepsTheRestoredDatabase: a `link create
// --seed-from-backup` that fails after the secondary's half was created
// (here the primary's token lacks links/write) undoes that half but keeps
// the database the operator restored on the secondary, RESTORING; the
// next create seeds from it (issue 18, item 2).
func TestLink_FailedCreateFromBackupKeepsTheRestoredDatabase(t *testing.T) {
	p := MustStartInstance(t, "alpha")
	s := MustStartInstance(t, "beta")
	p.MustCLI("db", "create", "shop")
	p.MustPsql("shop", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a');`)
	file := filepath.Join(t.TempDir(), "shop.bak")
	mustBackup(t, p, "shop", file, false)
	s.MustCLI("restore", file, "--as", "shop", "--restoring")

	limited := grantAllBut(t, p, "links/write")
	// (Validation would refuse the missing permission at step 2; skipping
	// that check gets the run to step 4, whose undo is the point here.)
	r := p.CLI("link", "create", "--name", "shop", "--database", "shop", "--seed-from-backup", "--skip-check", "permissions",
		"--primary", p.AdminURL(), "--primary-token", limited, "--primary-fingerprint", p.Fingerprint(),
		"--secondary", s.AdminURL(), "--secondary-token", s.Token, "--secondary-fingerprint", s.Fingerprint())
	if r.Code != 4 || !strings.Contains(r.Stderr, "dropped link shop on beta (the restored database shop stays there, RESTORING)") {
		t.Fatalf("link create without links/write: exit %d, want 4 undoing beta's half\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	var d adminapi.DatabaseInfo
	if err := s.API().Do(t.Context(), "GET", "/v1/databases/shop", nil, &d); err != nil || d.State != sqlink.DatabaseRestoring {
		t.Fatalf("the restored database on beta after the undo: %+v, %v; want it kept RESTORING\nlink create said: %s", d, err, r.Stderr)
	}
	// The next attempt seeds from it, shipping only the log.
	p.MustPsql("shop", `INSERT INTO t (v) VALUES ('b');`)
	MustCreateLink(t, p, s, "shop", "shop", "--seed-from-backup")
	waitCaughtUp(t, p, s, "shop", 0)
	waitRows(t, s, "shop", `SELECT count(*) FROM t;`, 2, 0)
	if sd := seedingOf(mustLinkStatus(t, s, "shop")); sd == nil || !sd.FromBackup {
		t.Fatalf("the second create did not seed from the kept backup: %+v", sd)
	}
}

// TestDB_RefusedDropOfALinkedDatabaseKeepsItOpen: `sqlink db drop` of a
// linked database exits 6 and changes nothing: clients go on using it and
// the link goes on replicating, with no restart (issue 18, item 1).
func TestDB_RefusedDropOfALinkedDatabaseKeepsItOpen(t *testing.T) {
	alpha, beta, _ := linkedWithARow(t, "dd")
	before := lsnOf(t, alpha, "f")
	for _, in := range []*Instance{alpha, beta} {
		r := in.CLI("db", "drop", "f")
		if r.Code != 6 || !strings.Contains(r.Stderr, "replicated by link dd") {
			t.Fatalf("db drop of a linked database on %s: exit %d, want 6\nstdout: %s\nstderr: %s", in.Name, r.Code, r.Stdout, r.Stderr)
		}
	}
	if got := lsnOf(t, alpha, "f"); got != before {
		t.Fatalf("after the refused drop db show says LSN %d, was %d", got, before)
	}
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('after the refused drop');`)
	waitRows(t, beta, "f", `SELECT count(*) FROM t WHERE v = 'after the refused drop';`, 1, 0)
}
