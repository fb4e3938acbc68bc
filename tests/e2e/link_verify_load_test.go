package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/internal/testutil"
)

// TestLinkVerify_UnderLoad: link verify proves the copies equal while
// pgbench keeps writing. It used to compare at the primary's current LSN
// only when both copies stood exactly there, which under load meant waiting
// for the writes to stop (or its --timeout). The primary now takes its
// digest where it stands and has the secondary hold its apply at that LSN.
func TestLinkVerify_UnderLoad(t *testing.T) {
	requireTool(t, "pgbench")
	for _, mode := range []string{"async", "sync"} {
		t.Run(mode, func(t *testing.T) {
			alpha, beta := mustSetupTPCBLink(t, "vl", "--mode", mode)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan string, 1)
			go func() {
				out, _ := alpha.Pgbench(ctx, "tpcb", "-n", "-M", "prepared", "-c", "2", "-T", "120", "-f", tpcbScript)
				done <- out
			}()
			start := lsnOf(t, alpha, "tpcb")
			testutil.RetryUntil(t, time.Minute, func() error {
				if n := lsnOf(t, alpha, "tpcb"); n < start+50 {
					return fmt.Errorf("pgbench not writing yet (LSN %d)", n)
				}
				return nil
			})
			var lsns []string
			for len(lsns) < 3 {
				before := lsnOf(t, alpha, "tpcb")
				r := alpha.CLI(append([]string{"link", "verify", "vl", "--timeout", "60s"}, linkFlags(alpha, beta)...)...)
				if r.Code != 0 || !strings.Contains(r.Stdout, "equal at LSN") {
					t.Fatalf("link verify under load: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
				}
				if after := lsnOf(t, alpha, "tpcb"); after == before {
					cancel()
					t.Fatalf("pgbench wrote nothing during verify (LSN %d): not under load\n%s", after, tail(<-done, 10))
				}
				lsns = append(lsns, strings.TrimSpace(r.Stdout))
			}
			cancel()
			<-done
			t.Log(lsns)
		})
	}
}
