package e2e_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/sqlink/sqlink/adminapi"
)

// chromiumPath finds headless Chromium; outside CI its absence skips the
// browser tests, in CI it fails them.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not installed (.ci/run installs it)")
	}
	t.Skip("chromium not installed")
	return ""
}

// newBrowser starts a headless Chromium for the test. The instances'
// certificates are self-signed, pinned by the harness; the browser is told
// to accept them.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	// Not t.TempDir: Chromium's children may still write there when the
	// test ends, and its removal would fail the test.
	dir, err := os.MkdirTemp("", "sqlink-console-chromium")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	return ctx
}

func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS polls the JavaScript predicate expr until it is true.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// browserSignIn opens in's console and signs in with token.
func browserSignIn(t *testing.T, ctx context.Context, in *Instance, token string) {
	t.Helper()
	run(t, ctx, "sign in",
		chromedp.Navigate(in.AdminURL()+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("signin-button")),
		chromedp.WaitVisible(chromedp.ID("signout")),
	)
}

// waitText polls the text of sel until it contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) string {
	t.Helper()
	cur := func() string {
		v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){var e=document.querySelector(`+jsString(sel)+`);return e?e.textContent:'(none)';})()`))
		return v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s holds: %s", sel, cur())
		}
	})
	waitJS(t, ctx, "wait for "+want+" in "+sel,
		`(function(){var e=document.querySelector(`+jsString(sel)+`);return !!e && e.textContent.indexOf(`+jsString(want)+`)>=0;})()`)
	return eval[string](t, ctx, `document.querySelector(`+jsString(sel)+`).textContent`)
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// TestConsole_Browser drives the console in headless Chromium against two
// real linked instances: sign-in, the link page (SYNCHRONIZED, a lag chart
// with points after a write load), the forced failover's typed
// acknowledgement, a planned failover from the button (roles swapped on
// the page and in the CLI), a read-only principal without buttons, and
// sign-out.
func TestConsole_Browser(t *testing.T) {
	chromiumPath(t)
	alpha, beta := startLinkedF(t, "l1", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);`, nil, "--two-way")
	waitCaughtUp(t, alpha, beta, "l1", time.Minute)
	ctx := newBrowser(t)

	browserSignIn(t, ctx, beta, beta.Token)
	// The token is not kept in the page.
	if eval[string](t, ctx, `document.getElementById('token').value`) != "" {
		t.Fatal("the token field still holds the token after sign-in")
	}

	for i := 0; i < 20; i++ {
		alpha.MustPsql("f", "INSERT INTO t (v) VALUES ('x');")
	}
	run(t, ctx, "open link page", chromedp.Navigate(beta.AdminURL()+"/#link/l1"))
	waitText(t, ctx, `#link-state`, "SYNCHRONIZED")
	waitJS(t, ctx, "chart points",
		`(function(){var s=document.querySelector('#chart svg');return !!s && Number(s.getAttribute('data-points'))>=3;})()`)

	// Forced failover: disabled until the link's name is typed.
	disabled := `document.getElementById('forced-failover').disabled`
	if !eval[bool](t, ctx, disabled) {
		t.Fatal("forced failover enabled before the acknowledgement")
	}
	run(t, ctx, "type ack", chromedp.SendKeys(chromedp.ID("force-ack"), "l"))
	if !eval[bool](t, ctx, disabled) {
		t.Fatal("forced failover enabled by a partial acknowledgement")
	}
	run(t, ctx, "type ack", chromedp.SendKeys(chromedp.ID("force-ack"), "1"))
	if eval[bool](t, ctx, disabled) {
		t.Fatal("forced failover still disabled after the acknowledgement")
	}

	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, "link-page.png", png)

	// Planned failover from beta's (the secondary's) console.
	run(t, ctx, "planned failover", chromedp.Click(chromedp.ID("planned-failover")))
	waitText(t, ctx, `#action-result`, "Planned failover: done")
	waitText(t, ctx, `#link-state`, "this instance is PRIMARY")
	var st adminapi.LinkStatus
	if out := beta.MustCLI("link", "status", "l1", "--json"); json.Unmarshal([]byte(out), &st) != nil || st.Local.Role != "PRIMARY" {
		t.Fatalf("CLI after the console's failover:\n%s", out)
	}
	if st := mustLinkStatus(t, alpha, "l1"); st.Local.Role != "SECONDARY" {
		t.Fatalf("alpha's role after failover: %s", st.Local.Role)
	}

	// A backup from the Databases page, now that beta is the primary: the
	// page checks the file's SHA-256 against the instance's record.
	run(t, ctx, "databases page", chromedp.Navigate(beta.AdminURL()+"/#databases"))
	waitText(t, ctx, "#page", "ONLINE")
	run(t, ctx, "back up", chromedp.Click(chromedp.CSS(`button.backup[data-db="f"]`)))
	waitText(t, ctx, "#action-result", "SHA-256 verified")

	// Sign-out ends the session: the page asks for a token again.
	run(t, ctx, "sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("token")))
	run(t, ctx, "reload", chromedp.Navigate(beta.AdminURL()+"/#links"), chromedp.WaitVisible(chromedp.ID("token")))

	// A read-only principal sees the link but no action button.
	alpha.MustCLI("role", "create", "watcher", "--permissions", "instance/read,databases/read,links/read")
	alpha.MustCLI("principal", "create", "wendy", "--roles", "watcher")
	tok := createTokenSecret(t, alpha, "wendy")
	rctx := newBrowser(t)
	browserSignIn(t, rctx, alpha, tok)
	run(t, rctx, "open link page", chromedp.Navigate(alpha.AdminURL()+"/#link/l1"))
	waitText(t, rctx, `#actions`, "Your permissions allow no actions")
	if buttons := eval[int](t, rctx, `document.querySelectorAll('#actions button').length`); buttons != 0 {
		t.Fatalf("read-only principal sees %d action buttons", buttons)
	}

	// Every page renders for it, without an error; the links page also on
	// a phone-sized screen.
	for _, pg := range []struct{ hash, want string }{
		{"instance", "alpha"}, {"databases", "ONLINE"}, {"audit", "links.create"}, {"links", "SYNCHRONIZED"},
	} {
		run(t, rctx, "open "+pg.hash, chromedp.Navigate(alpha.AdminURL()+"/#"+pg.hash))
		waitText(t, rctx, "#page", pg.want)
		if n := eval[int](t, rctx, `document.querySelectorAll('#page [role=alert]').length`); n != 0 {
			t.Fatalf("page %s shows an error: %s", pg.hash, eval[string](t, rctx, `document.getElementById('page').textContent`))
		}
	}
	run(t, rctx, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	run(t, rctx, "reload links", chromedp.Navigate(alpha.AdminURL()+"/#links"))
	waitText(t, rctx, "#page", "SYNCHRONIZED")
	phone, err := chromedp.Run(rctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, "links-phone.png", phone)
}

func createTokenSecret(t *testing.T, in *Instance, principal string) string {
	t.Helper()
	out := in.MustCLI("token", "create", "--principal", principal, "--json")
	i := strings.Index(out, `"secret"`)
	if i < 0 {
		t.Fatalf("token create:\n%s", out)
	}
	rest := out[i+len(`"secret"`):]
	rest = rest[strings.Index(rest, `"`)+1:]
	return rest[:strings.Index(rest, `"`)]
}

// saveScreenshot writes a screenshot under docs/console when
// SQLINK_UPDATE_SCREENSHOTS (or SQLINK_CONSOLE_SCREENSHOTS) is set, to
// refresh the README's, else under the test's temporary directory.
func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	dir := t.TempDir()
	if os.Getenv("SQLINK_UPDATE_SCREENSHOTS") != "" || os.Getenv("SQLINK_CONSOLE_SCREENSHOTS") != "" {
		dir = filepath.Join("..", "..", "docs", "console")
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
