package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/console"
	"github.com/sqlink/sqlink/internal/testutil"
)

// consoleClient returns an HTTPS client for in's admin listener with its
// own cookie jar (one browser, as it were).
func consoleClient(t *testing.T, in *Instance) *http.Client {
	t.Helper()
	c := *in.HTTPClient(t)
	c.Jar, _ = cookiejar.New(nil)
	return &c
}

type consoleMe struct {
	Principal   string   `json:"principal"`
	Permissions []string `json:"permissions"`
	CSRF        string   `json:"csrf"`
}

// consoleSignIn signs c in to in's console with token and returns the
// session's identity and CSRF token.
func consoleSignIn(t *testing.T, in *Instance, c *http.Client, token string) consoleMe {
	t.Helper()
	r, err := c.Post(in.AdminURL()+"/console/api/signin", "application/json", strings.NewReader(`{"token":"`+token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("console sign-in on %s: status %d", in.Name, r.StatusCode)
	}
	var me consoleMe
	if code := consoleGet(t, in, c, "/console/api/me", &me); code != 200 || me.CSRF == "" {
		t.Fatalf("console me: status %d, %+v", code, me)
	}
	return me
}

func consoleGet(t *testing.T, in *Instance, c *http.Client, path string, v any) int {
	t.Helper()
	r, err := c.Get(in.AdminURL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if v != nil && r.StatusCode == 200 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, b)
		}
	}
	return r.StatusCode
}

func consolePost(t *testing.T, in *Instance, c *http.Client, path, csrf, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", in.AdminURL()+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set(console.CSRFHeader, csrf)
	}
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return r.StatusCode
}

// TestConsole_SessionsCSRFAndHistory drives the console's HTTP side
// against two real linked instances: the page and its headers, sign-in,
// the caller's own permissions, a forged POST refused, the lag and commit
// history after a write load, and sign-out.
func TestConsole_SessionsCSRFAndHistory(t *testing.T) {
	alpha, beta := startLinkedF(t, "l1", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);`, nil)
	waitCaughtUp(t, alpha, beta, "l1", time.Minute)

	c := consoleClient(t, beta)
	r, err := c.Get(beta.AdminURL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || r.Header.Get("Content-Security-Policy") != console.CSP || !strings.Contains(string(page), `id="token"`) {
		t.Fatalf("GET /: status %d, CSP %q\n%s", r.StatusCode, r.Header.Get("Content-Security-Policy"), page)
	}
	// Without a session the API answers 401, as without a token.
	if code := consoleGet(t, beta, c, "/console/api/me", nil); code != 401 {
		t.Fatalf("me before sign-in: %d", code)
	}

	me := consoleSignIn(t, beta, c, beta.Token)
	var ls []map[string]any
	if code := consoleGet(t, beta, c, "/v1/links", &ls); code != 200 || len(ls) != 1 {
		t.Fatalf("links through the session: status %d, %v", code, ls)
	}

	// A forged failover (no or a wrong CSRF token) is refused and changes
	// nothing.
	for _, tok := range []string{"", "forged"} {
		if code := consolePost(t, beta, c, "/v1/links/l1/failover", tok, `{"type":"forced","allow_data_loss":true}`); code != 403 {
			t.Fatalf("failover with CSRF %q: status %d, want 403", tok, code)
		}
	}
	if st := mustLinkStatus(t, beta, "l1"); st.Local.Role != "SECONDARY" {
		t.Fatalf("beta's role after forged POSTs: %s", st.Local.Role)
	}

	// A read-only principal: its own permissions, none to act on links.
	beta.MustCLI("role", "create", "watcher", "--permissions", "instance/read,databases/read,links/read")
	beta.MustCLI("principal", "create", "wendy", "--roles", "watcher")
	var tok struct {
		Secret string `json:"secret"`
	}
	json.Unmarshal([]byte(beta.MustCLI("token", "create", "--principal", "wendy", "--json")), &tok)
	rc := consoleClient(t, beta)
	rme := consoleSignIn(t, beta, rc, tok.Secret)
	if rme.Principal != "wendy" || strings.Join(rme.Permissions, ",") != "instance/read,databases/read,links/read" {
		t.Fatalf("read-only principal's console identity: %+v", rme)
	}
	if code := consolePost(t, beta, rc, "/v1/links/l1/failover", rme.CSRF, `{"type":"planned"}`); code != 403 {
		t.Fatalf("failover as read-only (with CSRF): status %d, want 403", code)
	}

	// The history: after a write load on the primary, samples show
	// commits. The load starts once the sampler has seen the link.
	testutil.RetryUntil(t, 20*time.Second, func() error {
		var hs []console.Sample
		if code := consoleGet(t, beta, c, "/console/api/history/l1", &hs); code != 200 || len(hs) == 0 {
			return fmt.Errorf("history: status %d, %d samples", code, len(hs))
		}
		return nil
	})
	for i := 0; i < 20; i++ {
		alpha.MustPsql("f", fmt.Sprintf("INSERT INTO t (v) VALUES ('row %d');", i))
	}
	testutil.RetryUntil(t, 20*time.Second, func() error {
		var hs []console.Sample
		if code := consoleGet(t, beta, c, "/console/api/history/l1", &hs); code != 200 {
			return fmt.Errorf("history: status %d", code)
		}
		for _, h := range hs {
			if h.CommitsPerSec > 0 {
				return nil
			}
		}
		st := mustLinkStatus(t, beta, "l1")
		return fmt.Errorf("no sample with commits yet among %d (%+v; local %+v)", len(hs), hs, st.Local)
	})

	// Sign-out revokes the session: the same cookie no longer works.
	cookies := c.Jar.Cookies(mustParseURL(t, beta.AdminURL()))
	if code := consolePost(t, beta, c, "/console/api/signout", me.CSRF, ""); code != 200 {
		t.Fatalf("sign-out: %d", code)
	}
	replay := *beta.HTTPClient(t)
	req, _ := http.NewRequest("GET", beta.AdminURL()+"/v1/links", nil)
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	if len(cookies) == 0 {
		t.Fatal("no session cookie was set")
	}
	r, err = replay.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 401 {
		t.Fatalf("old cookie after sign-out: status %d, want 401", r.StatusCode)
	}

	// Sign-ins and sign-outs are audited, under the token's principal.
	var es []adminapi.AuditEntry
	if err := beta.API().Do(context.Background(), "GET", "/v1/audit?limit=1000", nil, &es); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range es {
		seen[e.Principal+" "+e.Action+" "+e.Result] = true
	}
	for _, want := range []string{"sysadmin console.signIn ok", "wendy console.signIn ok", "sysadmin console.signOut ok"} {
		if !seen[want] {
			t.Errorf("audit log lacks %q: %v", want, seen)
		}
	}
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
