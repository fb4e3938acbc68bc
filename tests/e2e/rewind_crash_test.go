package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

// TestFailover_CrashDuringRewind kills the loser of a split brain (SIGKILL,
// from its own failpoint) at each step of its rewind after set-role names
// the other side primary (and the winner while it sends the pages),
// restarts it, and checks that the loser ends as the
// winner's secondary with the winner's pages (link verify), that its
// diverged transactions are saved in a file and gone from the database,
// and that replication runs.
func TestFailover_CrashDuringRewind(t *testing.T) {
	requireTool(t, "sqlite3")
	for _, fp := range []string{"rewind/after-save", "reseed/after-save", "reseed/after-remove", "rewind/after-copy",
		"rewind/primary-sending", "rewind/after-pages", "seed/after-finish"} {
		t.Run(strings.ReplaceAll(fp, "/", "-"), func(t *testing.T) { testRewindCrash(t, fp) })
	}
}

func testRewindCrash(t *testing.T, fp string) {
	alpha, beta := mustSetupTPCBLink(t, "rw", "--two-way")
	// alpha commits what beta never receives...
	beta.Stop()
	for i := 1; i <= 3; i++ {
		mustWrite(t, alpha, fmt.Sprintf("alpha diverged %d", i))
	}
	alpha.Stop()
	// ...and beta, forced primary, goes on without it.
	beta.Start()
	mustFailover(t, beta, alpha, "rw", "--force", "--allow-data-loss")
	mustWrite(t, beta, "beta after forced")

	// The loser (alpha) dies at its failpoints; the winner (beta) at the
	// primary's.
	victim := alpha
	if strings.HasPrefix(fp, "rewind/primary-") {
		victim = beta
		beta.Stop()
		beta.StartEnv("SQLINK_FAILPOINT=" + fp)
		alpha.Start()
	} else {
		alpha.StartEnv("SQLINK_FAILPOINT=" + fp)
	}
	for _, in := range []*Instance{alpha, beta} {
		waitLink(t, in, "rw", 0, func(st adminapi.LinkStatus) error {
			if st.State != "SPLIT_BRAIN" {
				return fmt.Errorf("state %s", st.State)
			}
			return nil
		})
	}
	// set-role may fail when an instance dies under it; what it started
	// goes on after the restart.
	r := beta.CLI(append([]string{"link", "set-role", "rw", "--primary", "beta"}, partnerFlags(alpha)...)...)
	t.Logf("set-role with %s armed on %s: exit %d\nstdout: %s\nstderr: %s", fp, victim.Name, r.Code, r.Stdout, r.Stderr)
	restartAfterFailpoint(t, victim, fp)

	p, s := waitSettled(t, "rw", alpha, beta, 0)
	if p != beta {
		t.Fatalf("after set-role --primary beta and a crash of alpha, the primary is %s", p.Name)
	}
	waitCaughtUp(t, p, s, "rw", 0)
	t.Log(mustVerify(t, p, s, "rw"))
	if got := alpha.MustPsql("tpcb", `SELECT count(*) FROM notes WHERE body LIKE 'alpha diverged %';`); got != "0" {
		t.Fatalf("alpha still has %s of its diverged notes", got)
	}
	// The diverged transactions are in a saved file (one per rewind
	// attempt: a crash before the rewind began saves again).
	files, _ := filepath.Glob(filepath.Join(alpha.Dir, "diverged", "rw-tpcb-fork*.db"))
	if len(files) == 0 {
		entries, _ := os.ReadDir(alpha.Dir)
		t.Fatalf("no diverged file saved in %s/diverged (data dir: %v)", alpha.Dir, entries)
	}
	for _, f := range files {
		saved := sqliteQuery(t, f, `SELECT body FROM notes WHERE body LIKE 'alpha diverged %' ORDER BY id;`)
		if strings.Join(saved, ",") != "alpha diverged 1,alpha diverged 2,alpha diverged 3" {
			t.Fatalf("saved file %s has notes %q", f, saved)
		}
	}
	mustWrite(t, beta, "replicated after the rewind")
	testutil.RetryUntil(t, 0, func() error {
		got, err := queryInt(alpha, "tpcb", `SELECT count(*) FROM notes WHERE body IN ('beta after forced', 'replicated after the rewind');`)
		if err != nil {
			return err
		}
		if got != 2 {
			return fmt.Errorf("alpha has %d of beta's 2 notes", got)
		}
		return nil
	})
}
