package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/console"
	"github.com/sqlink/sqlink/internal/testutil"
)

// wizNext clicks the wizard's Next (Finish) button and waits for the page
// titled want.
func wizNext(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	waitJS(t, ctx, "Next enabled", `!document.getElementById('wiz-next').disabled`)
	run(t, ctx, "next", chromedp.Click(chromedp.ID("wiz-next")))
	waitText(t, ctx, "#wiz-title", want)
}

// TestConsole_Wizards drives both wizards in headless Chromium against two
// real instances: the New Link wizard creates a link end to end (its
// Script shown, the secondary's token kept nowhere), the link page
// verifies both copies, and the Failover wizard runs a planned failover
// after refusing a forced one until the loss is acknowledged.
func TestConsole_Wizards(t *testing.T) {
	chromiumPath(t)
	alpha := MustStartInstance(t, "alpha")
	beta := MustStartInstance(t, "beta")
	alpha.MustCLI("db", "create", "f")
	alpha.MustPsql("f", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b');`)
	mustFullBackup(t, alpha, "f")
	alpha.MustCLI("db", "create", "g") // no backup: not eligible
	ctx := newBrowser(t)
	browserSignIn(t, ctx, alpha, alpha.Token)

	// ---- New Link wizard, from the Links page.
	run(t, ctx, "links page", chromedp.Navigate(alpha.AdminURL()+"/#links"), chromedp.WaitVisible(chromedp.ID("new-link")))
	run(t, ctx, "new link", chromedp.Click(chromedp.ID("new-link")))
	waitText(t, ctx, "#wiz-title", "Introduction")
	if steps := waitText(t, ctx, ".wiz-steps", "Results"); !strings.Contains(steps, "Secondary replica") || !strings.Contains(steps, "Validation") {
		t.Fatalf("wizard pages: %s", steps)
	}
	wizNext(t, ctx, "Link options")
	run(t, ctx, "link options", chromedp.SendKeys(chromedp.ID("nl-name"), "web"), chromedp.Click(chromedp.ID("nl-two-way")))
	wizNext(t, ctx, "Requirements")
	waitText(t, ctx, "#nl-req", "Requirements met: 1 database(s)")
	wizNext(t, ctx, "Select databases")
	if !eval[bool](t, ctx, `document.getElementById('nl-db-f').checked`) {
		t.Fatal("the only eligible database is not selected")
	}
	waitText(t, ctx, "#wiz-body", "Cannot link g: ")
	if eval[bool](t, ctx, `!!document.getElementById('nl-db-g')`) {
		t.Fatal("database g without a backup is offered")
	}
	wizNext(t, ctx, "Secondary replica")
	run(t, ctx, "secondary",
		chromedp.SendKeys(chromedp.ID("nl-surl"), beta.AdminURL()),
		chromedp.SendKeys(chromedp.ID("nl-stoken"), beta.Token),
		// An endpoint nobody listens on: validation and troubleshooting
		// fail, naming the direction.
		chromedp.SendKeys(chromedp.ID("nl-send"), "127.0.0.1:1"),
		// Enter in a field is Next: the wizard is usable by keyboard.
		chromedp.SendKeys(chromedp.ID("nl-sfp"), beta.Fingerprint()+"\r"))
	waitText(t, ctx, "#wiz-title", "Validation")
	waitText(t, ctx, "#nl-validation-result", "Validation failed")
	waitText(t, ctx, "#nl-validation", "127.0.0.1:1")
	run(t, ctx, "next refused", chromedp.Click(chromedp.ID("wiz-next")))
	waitText(t, ctx, "#wiz-error", "validation did not pass")
	// Back, fix the endpoint: the sign-in holds (no token typed again).
	run(t, ctx, "back", chromedp.Click(chromedp.ID("wiz-back")))
	waitText(t, ctx, "#nl-signed-in", "Login successful: secondary beta")
	run(t, ctx, "clear endpoint", chromedp.Clear(chromedp.ID("nl-send")))
	wizNext(t, ctx, "Validation")
	waitText(t, ctx, "#nl-validation-result", "All validations passed.")
	waitText(t, ctx, "#nl-validation", "Connectivity troubleshooting")
	// Validation re-runs.
	run(t, ctx, "re-run", chromedp.Click(chromedp.ID("nl-revalidate")))
	waitText(t, ctx, "#nl-validation-result", "All validations passed.")
	wizNext(t, ctx, "Summary")
	script := waitText(t, ctx, "#wiz-script", `"$SQLINK" link create --name web --database f`)
	// Both certificates pinned: the console knows the one it serves.
	if strings.Contains(script, beta.Token) || !strings.Contains(script, "--secondary "+beta.AdminURL()) || !strings.Contains(script, "--two-way") ||
		!strings.Contains(script, "--primary-fingerprint "+alpha.Fingerprint()+" --secondary-fingerprint "+beta.Fingerprint()) {
		t.Fatalf("script:\n%s", script)
	}
	if dl := eval[string](t, ctx, `document.getElementById('wiz-download').getAttribute('download')`); dl != "create-link-web.sh" {
		t.Fatalf("download name %q", dl)
	}
	// The README's picture: the whole Summary with its Script.
	run(t, ctx, "tall", chromedp.EmulateViewport(1280, 1150))
	saveShot(t, ctx, "new-link-wizard.png")
	// Legible on a phone: nothing wider than the screen.
	run(t, ctx, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	waitJS(t, ctx, "phone layout", `document.documentElement.scrollWidth <= window.innerWidth`)
	saveShot(t, ctx, "new-link-wizard-phone.png")
	run(t, ctx, "desktop", chromedp.EmulateViewport(1280, 900))

	wizNext(t, ctx, "Executing")
	waitText(t, ctx, "#wiz-title", "Results")
	if res := waitText(t, ctx, "#nl-result", "created"); !strings.Contains(res, "Link web created") {
		t.Fatalf("result: %s", res)
	}
	waitText(t, ctx, "#nl-result-steps", "Seed web: COMPLETED")
	if st := mustLinkStatus(t, beta, "web"); st.Local.Role != "SECONDARY" || !st.TwoWay {
		t.Fatalf("beta's half: %+v", st)
	}
	waitCaughtUp(t, alpha, beta, "web", time.Minute)

	// The secondary's token is nowhere on alpha: not in the page, not in
	// its data directory (catalog, logs), not in its output.
	if html := eval[string](t, ctx, `document.documentElement.outerHTML + Array.prototype.map.call(document.querySelectorAll('input'), function (i) { return i.value; }).join(' ')`); strings.Contains(html, beta.Token) {
		t.Fatal("the secondary's token is in the page")
	}
	assertNotStored(t, alpha, beta.Token)

	// Close goes to the new link's page.
	run(t, ctx, "close", chromedp.Click(chromedp.ID("wiz-next")))
	waitText(t, ctx, "#link-state", "PRIMARY")
	for _, e := range eval[[]string](t, ctx, `performance.getEntriesByType('resource').map(function (e) { return e.name; })`) {
		if !strings.HasPrefix(e, alpha.AdminURL()+"/") && !strings.HasPrefix(e, "blob:") {
			t.Fatalf("resource from another origin: %s", e)
		}
	}

	// ---- Verify from the link page, signing in to beta for the check.
	run(t, ctx, "verify",
		chromedp.SendKeys(chromedp.ID("verify-url"), beta.AdminURL()),
		chromedp.SendKeys(chromedp.ID("verify-token"), beta.Token),
		chromedp.SendKeys(chromedp.ID("verify-fingerprint"), beta.Fingerprint()),
		chromedp.Click(chromedp.ID("verify-button")))
	waitText(t, ctx, "#verify-result", "Equal at LSN")
	if v := eval[string](t, ctx, `document.getElementById('verify-token').value`); v != "" {
		t.Fatal("the verify token stays in the page")
	}
	assertNotStored(t, alpha, beta.Token)

	// ---- Failover wizard on beta (the secondary).
	testutil.RetryUntil(t, time.Minute, func() error {
		if st := mustLinkStatus(t, beta, "web"); st.State != "SYNCHRONIZED" {
			return fmt.Errorf("link web is %s", st.State)
		}
		return nil
	})
	browserSignIn(t, ctx, beta, beta.Token)
	run(t, ctx, "link page", chromedp.Navigate(beta.AdminURL()+"/#link/web"), chromedp.WaitVisible(chromedp.ID("failover-wizard-link")))
	run(t, ctx, "failover wizard", chromedp.Click(chromedp.ID("failover-wizard-link")))
	waitText(t, ctx, "#wiz-title", "Introduction")
	if steps := waitText(t, ctx, ".wiz-steps", "Results"); strings.Contains(steps, "Select link") {
		t.Fatalf("a named link shows Select link: %s", steps)
	}
	wizNext(t, ctx, "Choose failover type")
	waitJS(t, ctx, "types", `!!document.getElementById('fo-type-forced')`)
	// Forced: Next stays disabled until the acknowledgement is typed.
	run(t, ctx, "forced", chromedp.Click(chromedp.ID("fo-type-forced")))
	if !eval[bool](t, ctx, `document.getElementById('wiz-next').disabled`) {
		t.Fatal("forced failover possible before the acknowledgement")
	}
	waitText(t, ctx, "#fo-loss", "estimated")
	run(t, ctx, "ack", chromedp.SendKeys(chromedp.ID("fo-ack"), "we"))
	if !eval[bool](t, ctx, `document.getElementById('wiz-next').disabled`) {
		t.Fatal("forced failover possible with a partial acknowledgement")
	}
	run(t, ctx, "ack", chromedp.SendKeys(chromedp.ID("fo-ack"), "b"))
	if eval[bool](t, ctx, `document.getElementById('wiz-next').disabled`) {
		t.Fatal("forced failover still disabled after the acknowledgement")
	}
	// Back to planned, which needs none.
	run(t, ctx, "planned", chromedp.Click(chromedp.ID("fo-type-planned")))
	wizNext(t, ctx, "Sign in")
	run(t, ctx, "partner",
		chromedp.SendKeys(chromedp.ID("fo-purl"), alpha.AdminURL()),
		chromedp.SendKeys(chromedp.ID("fo-ptoken"), alpha.Token),
		chromedp.SendKeys(chromedp.ID("fo-pfp"), alpha.Fingerprint()))
	wizNext(t, ctx, "Post-failover options")
	if !eval[bool](t, ctx, `document.getElementById('fo-keep').checked`) {
		t.Fatal("a two-way link's failover does not keep the link by default")
	}
	wizNext(t, ctx, "Summary")
	fscript := waitText(t, ctx, "#wiz-script", `link failover web --server `+beta.AdminURL()+" --fingerprint "+beta.Fingerprint())
	if strings.Contains(fscript, "--force") || strings.Contains(fscript, beta.Token) {
		t.Fatalf("planned failover script:\n%s", fscript)
	}
	waitText(t, ctx, "#fo-summary", "New primary: beta")
	waitText(t, ctx, "#fo-summary", "Other replica checked: alpha is the PRIMARY of link web")
	wizNext(t, ctx, "Executing")
	waitText(t, ctx, "#wiz-title", "Results")
	waitText(t, ctx, "#fo-result", "Link web failed over. New primary: beta")
	var st adminapi.LinkStatus
	testutil.RetryUntil(t, 30*time.Second, func() error {
		st = mustLinkStatus(t, beta, "web")
		if st.Local.Role != "PRIMARY" {
			return fmt.Errorf("beta is %s", st.Local.Role)
		}
		return nil
	})
	if out := beta.MustCLI("link", "status", "web"); !strings.Contains(out, "PRIMARY") {
		t.Fatalf("CLI after the wizard's failover:\n%s", out)
	}
	assertNotStored(t, beta, alpha.Token)
	run(t, ctx, "close", chromedp.Click(chromedp.ID("wiz-next")))
	waitText(t, ctx, "#link-state", "this instance is PRIMARY")

	// A failover that fails says why: fail back with alpha stopped after
	// the Summary.
	testutil.RetryUntil(t, time.Minute, func() error {
		if st := mustLinkStatus(t, beta, "web"); st.State != "SYNCHRONIZED" {
			return fmt.Errorf("link web is %s", st.State)
		}
		return nil
	})
	run(t, ctx, "failover wizard", chromedp.Click(chromedp.ID("failover-wizard-link")))
	waitText(t, ctx, "#wiz-title", "Introduction")
	wizNext(t, ctx, "Choose failover type")
	waitJS(t, ctx, "planned chosen", `!!document.getElementById('fo-type-planned') && document.getElementById('fo-type-planned').checked`)
	wizNext(t, ctx, "Sign in")
	wizNext(t, ctx, "Post-failover options")
	wizNext(t, ctx, "Summary")
	waitText(t, ctx, "#fo-summary", "New primary: alpha")
	alpha.Stop()
	wizNext(t, ctx, "Executing")
	waitText(t, ctx, "#wiz-title", "Results")
	waitText(t, ctx, "#fo-result", "web")
	page := eval[string](t, ctx, `document.getElementById('wiz-body').textContent`)
	t.Logf("failed failover's results: %s", page)
	if !strings.Contains(page, "Cause: ") || !strings.Contains(page, "Hint: ") {
		t.Fatalf("a failed failover's results lack its cause or hint: %s", page)
	}
}

// assertNotStored fails if secret appears in in's data directory or its
// output.
func assertNotStored(t *testing.T, in *Instance, secret string) {
	t.Helper()
	if strings.Contains(in.Output(), secret) {
		t.Fatalf("%s's output holds the secret", in.Name)
	}
	err := filepath.WalkDir(in.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // a file removed meanwhile
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// saveShot takes a screenshot of the browser's page (saveScreenshot).
func saveShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, name, png)
}

// TestConsole_HeadersOnRealInstance checks, on a real instance, that every
// console page and asset carries the Content-Security-Policy and that the
// session cookie is HttpOnly, Secure, SameSite=Strict and expiring.
func TestConsole_HeadersOnRealInstance(t *testing.T) {
	in := MustStartInstance(t, "alpha")
	c := consoleClient(t, in)
	for _, p := range []string{"/", "/console/app.js", "/console/wizard.js", "/console/app.css"} {
		r, err := c.Get(in.AdminURL() + p)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 || r.Header.Get("Content-Security-Policy") != console.CSP || strings.Contains(console.CSP, "unsafe-inline") {
			t.Fatalf("GET %s: status %d, CSP %q", p, r.StatusCode, r.Header.Get("Content-Security-Policy"))
		}
	}
	r, err := c.Post(in.AdminURL()+"/console/api/signin", "application/json", strings.NewReader(`{"token":"`+in.Token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	var ck *http.Cookie
	for _, k := range r.Cookies() {
		if k.Name == console.CookieName {
			ck = k
		}
	}
	if r.StatusCode != 200 || ck == nil || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge <= 0 {
		t.Fatalf("sign-in: status %d, cookie %+v", r.StatusCode, ck)
	}
	if strings.Contains(r.Header.Get("Set-Cookie"), in.Token) {
		t.Fatal("the cookie holds the token")
	}
}
