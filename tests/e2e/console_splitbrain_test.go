package e2e_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

// TestConsole_SplitBrainSetRole makes a real split brain between two
// instances (alpha commits what beta never receives, beta is forced
// primary and commits too, alpha returns), shows it on alpha's link page
// (the fork and what each side would save) and resolves it from the
// browser: beta becomes the primary, confirmed by typing its name. The
// result names the file alpha saved its diverged transactions to; the CLI
// then reports beta primary, alpha its secondary, the link healthy, and
// a write on beta reaches alpha. A read-only principal sees the split
// brain and no Set role button.
func TestConsole_SplitBrainSetRole(t *testing.T) {
	chromiumPath(t)
	requireTool(t, "sqlite3")
	alpha, beta := startLinkedF(t, "sb", `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);`, nil, "--two-way")
	waitCaughtUp(t, alpha, beta, "sb", time.Minute)
	note := func(in *Instance, body string) {
		in.MustPsql("f", fmt.Sprintf(`INSERT INTO notes (body) VALUES ('%s');`, body))
	}

	// alpha commits what beta never receives...
	beta.Stop()
	for i := 1; i <= 3; i++ {
		note(alpha, fmt.Sprintf("alpha diverged %d", i))
	}
	alpha.Stop()
	// ...beta, forced primary, goes on without it, and alpha returns.
	beta.Start()
	mustFailover(t, beta, alpha, "sb", "--force", "--allow-data-loss")
	note(beta, "beta after forced 1")
	note(beta, "beta after forced 2")
	alpha.Start()
	var sb *adminapi.SplitBrainStatus
	for _, in := range []*Instance{beta, alpha} {
		st := waitLink(t, in, "sb", 0, func(st adminapi.LinkStatus) error {
			if st.State != "SPLIT_BRAIN" || st.SplitBrain == nil {
				return fmt.Errorf("state %s, split brain %+v", st.State, st.SplitBrain)
			}
			return nil
		})
		sb = st.SplitBrain
	}
	t.Logf("alpha's view of the split brain: %+v", *sb)
	if sb.DivergedLocal != 3 {
		t.Fatalf("alpha reports %d diverged transactions, it committed 3 beta lacks", sb.DivergedLocal)
	}

	// A read-only principal sees the split brain, not the action.
	alpha.MustCLI("role", "create", "watcher", "--permissions", "instance/read,databases/read,links/read")
	alpha.MustCLI("principal", "create", "wendy", "--roles", "watcher")
	rctx := newBrowser(t)
	browserSignIn(t, rctx, alpha, createTokenSecret(t, alpha, "wendy"))
	run(t, rctx, "open link page read-only", chromedp.Navigate(alpha.AdminURL()+"/#link/sb"))
	waitText(t, rctx, "#split-brain", fmt.Sprintf("Fork LSN: %d", sb.ForkLSN))
	if n := eval[int](t, rctx, `document.querySelectorAll('#split-brain button, #split-brain input').length`); n != 0 {
		t.Fatalf("read-only principal sees %d set-role controls", n)
	}

	ctx := newBrowser(t)
	browserSignIn(t, ctx, alpha, alpha.Token)
	run(t, ctx, "open link page", chromedp.Navigate(alpha.AdminURL()+"/#link/sb"))
	waitText(t, ctx, "#link-state", "SPLIT_BRAIN")
	// What each side keeps and what the other would save.
	info := waitText(t, ctx, "#split-brain-info", fmt.Sprintf("Fork LSN: %d. After it, alpha (this instance) committed 3 transactions", sb.ForkLSN))
	for _, want := range []string{
		fmt.Sprintf("beta (partner) %d.", sb.DivergedPartner),
		fmt.Sprintf("alpha saves its 3 diverged transactions (after LSN %d) to a SQLite file", sb.ForkLSN),
	} {
		if !strings.Contains(info, want) {
			t.Fatalf("split brain panel lacks %q:\n%s", want, info)
		}
	}
	// No failover buttons in a split brain; Set role waits for a choice
	// and its name typed.
	if n := eval[int](t, ctx, `document.querySelectorAll('#planned-failover, #forced-failover, #failover-wizard-link').length`); n != 0 {
		t.Fatalf("%d failover buttons shown in a split brain", n)
	}
	disabled := `document.getElementById('set-role').disabled`
	run(t, ctx, "type before choosing", chromedp.SendKeys(chromedp.ID("setrole-ack"), "beta"))
	if !eval[bool](t, ctx, disabled) {
		t.Fatal("Set role enabled before an instance was chosen")
	}
	run(t, ctx, "choose alpha", chromedp.Click(chromedp.ID("sr-primary-local")))
	if !eval[bool](t, ctx, disabled) {
		t.Fatal("Set role enabled with alpha chosen and beta typed")
	}
	run(t, ctx, "choose beta", chromedp.Click(chromedp.ID("sr-primary-partner")))
	if eval[bool](t, ctx, disabled) {
		t.Fatal("Set role still disabled with beta chosen and typed")
	}
	// The README's picture: the split brain and the Set role form.
	eval[bool](t, ctx, `(document.getElementById('split-brain').scrollIntoView(), true)`)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, "split-brain.png", png)

	run(t, ctx, "set role", chromedp.Click(chromedp.ID("set-role")))
	res := waitText(t, ctx, "#action-result", "Set role: done")
	t.Logf("the page's result: %s", res)
	for _, want := range []string{"1. designate beta primary: done", fmt.Sprintf("alpha saves its diverged transactions: 3 after fork LSN %d", sb.ForkLSN),
		"Saved to" + alpha.Dir} {
		if !strings.Contains(res, want) {
			t.Fatalf("set-role result lacks %q:\n%s", want, res)
		}
	}
	file := eval[string](t, ctx, `(function(){var f='';document.querySelectorAll('#action-result tr').forEach(function(r){if(r.cells.length>1&&r.cells[0].textContent==='Saved to')f=r.cells[1].textContent;});return f;})()`)
	file = file[:strings.Index(file, " on alpha")]
	if saved := sqliteQuery(t, file, `SELECT body FROM notes WHERE body LIKE 'alpha diverged %' ORDER BY id;`); strings.Join(saved, ",") != "alpha diverged 1,alpha diverged 2,alpha diverged 3" {
		t.Fatalf("the saved file %s has notes %q", file, saved)
	}
	waitText(t, ctx, "#link-state", "this instance is SECONDARY")
	if n := eval[int](t, ctx, `document.querySelectorAll('#split-brain').length`); n != 0 {
		t.Fatal("the split brain panel is still shown after set-role")
	}

	// The CLI agrees: beta is the primary, alpha follows, the link is
	// healthy, and beta's writes reach alpha.
	p, s := waitSettled(t, "sb", alpha, beta, 0)
	if p != beta || s != alpha {
		t.Fatalf("after set-role --primary beta from the console the primary is %s", p.Name)
	}
	testutil.RetryUntil(t, 0, func() error {
		for _, x := range []struct {
			in   *Instance
			role string
		}{{beta, "PRIMARY"}, {alpha, "SECONDARY"}} {
			r := x.in.CLI("link", "status", "sb", "--json")
			var st adminapi.LinkStatus
			if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &st) != nil {
				return fmt.Errorf("link status on %s: exit %d %s %s", x.in.Name, r.Code, r.Stdout, r.Stderr)
			}
			if string(st.Local.Role) != x.role || (st.State != "SYNCHRONIZED" && st.State != "SYNCHRONIZING") || st.Local.Health != "HEALTHY" || st.SplitBrain != nil {
				return fmt.Errorf("%s: role %s, state %s, health %s, split brain %+v", x.in.Name, st.Local.Role, st.State, st.Local.Health, st.SplitBrain)
			}
		}
		return nil
	})
	note(beta, "replicated after set-role")
	testutil.RetryUntil(t, 0, func() error {
		got, err := queryInt(alpha, "f", `SELECT count(*) FROM notes WHERE body LIKE 'beta %' OR body = 'replicated after set-role';`)
		if err != nil {
			return err
		}
		if got != 3 {
			return fmt.Errorf("alpha has %d of beta's 3 notes", got)
		}
		return nil
	})
	if got := alpha.MustPsql("f", `SELECT count(*) FROM notes WHERE body LIKE 'alpha diverged %';`); got != "0" {
		t.Fatalf("alpha still has %s of its diverged notes", got)
	}
}
