package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/internal/testutil"
)

// TestLink_DropKilledPartWay kills the secondary (SIGKILL, from its own
// failpoint) while `link drop` runs on it: once the drop is saved, and
// once its copy is independent but the link's record is still there.
// After the restart the drop finishes by itself: no link is left, the copy
// holds everything it had and takes writes (not a read-only database
// without a link).
func TestLink_DropKilledPartWay(t *testing.T) {
	for _, fp := range []string{"drop/after-save", "drop/after-database"} {
		t.Run(strings.TrimPrefix(fp, "drop/"), func(t *testing.T) { testDropCrash(t, fp) })
	}
}

func testDropCrash(t *testing.T, fp string) {
	alpha, beta := mustSetupTPCBLink(t, "dl")
	mustWrite(t, alpha, "before the drop")
	beta.Stop()
	beta.StartEnv("SQLINK_FAILPOINT=" + fp)
	waitCaughtUp(t, alpha, beta, "dl", 0)

	r := beta.CLI("link", "drop", "dl")
	t.Logf("link drop with %s armed on beta: exit %d\nstdout: %s\nstderr: %s", fp, r.Code, r.Stdout, r.Stderr)
	restartAfterFailpoint(t, beta, fp)

	for _, in := range []*Instance{alpha, beta} {
		testutil.RetryUntil(t, 30*time.Second, func() error {
			if st, err := linkStatus(in, "dl"); err == nil {
				return fmt.Errorf("%s still has the link: %s", in.Name, st.State)
			}
			if out, err := writeErr(in, "after the drop on "+in.Name); err != nil {
				return fmt.Errorf("write on %s: %v: %s", in.Name, err, out)
			}
			return nil
		})
	}
	if got, err := queryInt(beta, "tpcb", `SELECT count(*) FROM notes WHERE body = 'before the drop';`); err != nil || got != 1 {
		t.Fatalf("beta has %d of the row written before the drop (%v)", got, err)
	}
}
