package e2e_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/sqlink/sqlink/etcdlease/etcdtest"
)

// TestConsole_BrowserLease: the link page of a link with --auto-failover
// shows the etcd lease: its holder and epoch, time to expiry, etcd's
// health, failsafe, what the secondary waits on, the last automatic
// failover.
func TestConsole_BrowserLease(t *testing.T) {
	chromiumPath(t)
	c := etcdtest.Start(t, 1)
	alpha, beta := mustSetupAutoLink(t, c, "af")
	ctx := newBrowser(t)
	browserSignIn(t, ctx, beta, beta.Token)
	run(t, ctx, "open link page", chromedp.Navigate(beta.AdminURL()+"/#link/af"))
	waitText(t, ctx, `#lease`, "alpha at epoch")
	for _, want := range []string{"Lease expires in", "TTL 5 s", "reachable", "Failsafe", "Waiting", "Last automatic failover"} {
		waitText(t, ctx, `#lease`, want)
	}
	// kill -9 of the primary: beta takes its live lease at once (it finds
	// alpha's process gone); the page says so and why.
	alpha.Kill()
	waitText(t, ctx, `#lease`, "beta at epoch")
	waitText(t, ctx, `#lease`, "(this instance)")
	waitText(t, ctx, `#lease`, "process of alpha gone")
	// The dead partner's role is what it last said, and the page says so.
	waitText(t, ctx, `#link-state`, "partner alpha was, when last heard from, PRIMARY")
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, "link-lease.png", png)
}
