package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/etcdlease/etcdtest"
	"github.com/sqlink/sqlink/internal/testutil"
)

// TestAutoFailover_FencedPrimarySaysWhy: a primary that cannot renew its
// lease (etcd down, its secondary gone, so no failsafe) stops writes; a
// client's write gets 25006 saying the primary fenced itself and what
// etcd holds, with a hint, not that the secondary (never promoted) is
// the primary.
func TestAutoFailover_FencedPrimarySaysWhy(t *testing.T) {
	c := etcdtest.Start(t, 1)
	alpha, beta := mustSetupAutoLink(t, c, "af")
	beta.Kill()
	c.Stop(0)
	var out string
	testutil.RetryUntil(t, 2*time.Minute, func() error {
		var err error
		out, err = alpha.Psql(context.Background(), "app", "\\set VERBOSITY verbose\nINSERT INTO notes (id, body) VALUES (1, 'x');")
		if err == nil || !strings.Contains(out, "25006") {
			return fmt.Errorf("write on alpha: %v: %s", err, out)
		}
		return nil
	})
	t.Logf("write on the fenced primary:\n%s", out)
	for _, want := range []string{"fenced itself", "lease was not renewed", "etcd is unreachable", "HINT:"} {
		if !strings.Contains(out, want) {
			t.Errorf("the 25006 error lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "primary is instance") || strings.Contains(out, "secondary replica of instance") {
		t.Errorf("the 25006 error names beta as primary:\n%s", out)
	}
}
