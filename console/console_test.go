package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/rbac"
)

// fakeAPI stands for the admin API: it answers who called it and how.
type fakeAPI struct{ calls []string }

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls = append(f.calls, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(`{}`))
}

func testAuth(ctx context.Context, token string) (string, []rbac.Role, error) {
	switch token {
	case "admin-token":
		r, _ := rbac.BuiltinRole("admin")
		return "alice", []rbac.Role{r}, nil
	case "sysadmin-token":
		r, _ := rbac.BuiltinRole(rbac.Sysadmin)
		return "root", []rbac.Role{r}, nil
	case "reader-token":
		return "bob", []rbac.Role{{Name: "ro", Permissions: []rbac.Permission{rbac.InstanceRead, rbac.LinksRead}}}, nil
	}
	return "", nil, &sqlink.Error{Code: sqlink.EUNAUTHORIZED, Message: "bad token"}
}

func newTestServer(t *testing.T) (*httptest.Server, *fakeAPI, *http.Client) {
	t.Helper()
	api := &fakeAPI{}
	c := New(Config{Authenticate: testAuth}, api)
	srv := httptest.NewTLSServer(c)
	t.Cleanup(srv.Close)
	cl := srv.Client()
	cl.Jar, _ = cookiejar.New(nil)
	return srv, api, cl
}

func signIn(t *testing.T, srv *httptest.Server, cl *http.Client, token string) (*http.Response, string) {
	t.Helper()
	resp, err := cl.Post(srv.URL+"/console/api/signin", "application/json", strings.NewReader(`{"token":"`+token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sign in: status %d", resp.StatusCode)
	}
	r2, err := cl.Get(srv.URL + "/console/api/me")
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	var me struct {
		Principal   string   `json:"principal"`
		Permissions []string `json:"permissions"`
		CSRF        string   `json:"csrf"`
	}
	json.NewDecoder(r2.Body).Decode(&me)
	if me.CSRF == "" {
		t.Fatalf("me: no CSRF token (status %d)", r2.StatusCode)
	}
	return resp, me.CSRF
}

func TestConsolePagesCarryCSPAndLoadNothingFromElsewhere(t *testing.T) {
	srv, _, cl := newTestServer(t)
	resp, err := cl.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		body.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	html := body.String()
	csp := resp.Header.Get("Content-Security-Policy")
	if csp == "" || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP = %q", csp)
	}
	if !strings.Contains(html, `id="token"`) {
		t.Fatal("no token field in the page")
	}
	// No inline script: every <script> has a src and no body.
	for _, m := range regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(html, -1) {
		if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
			t.Fatalf("inline script: %q", m[0])
		}
	}
	if regexp.MustCompile(`(?i)\son[a-z]+\s*=`).MatchString(html) {
		t.Fatal("inline event handler attribute in the page")
	}
	// Every src/href is same-origin (a path or a fragment).
	refs := regexp.MustCompile(`(?i)\s(?:src|href)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(html, -1)
	if len(refs) == 0 {
		t.Fatal("no src/href found: the parser is wrong")
	}
	for _, m := range refs {
		u, err := url.Parse(m[1])
		if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(m[1], "//") {
			t.Fatalf("asset from another origin: %q", m[1])
		}
		if strings.HasPrefix(m[1], "/") {
			r, err := cl.Get(srv.URL + m[1])
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != 200 || r.Header.Get("Content-Security-Policy") != csp {
				t.Fatalf("%s: status %d, CSP %q", m[1], r.StatusCode, r.Header.Get("Content-Security-Policy"))
			}
		}
	}
	// The JavaScript itself reaches only same-origin paths.
	for _, name := range []string{"app.js", "wizard.js"} {
		checkScriptOrigins(t, cl, srv.URL+"/console/"+name, buf)
	}
}

func checkScriptOrigins(t *testing.T, cl *http.Client, u string, buf []byte) {
	t.Helper()
	r, err := cl.Get(u)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v", u, err, r)
	}
	var js strings.Builder
	for {
		n, err := r.Body.Read(buf)
		js.Write(buf[:n])
		if err != nil {
			break
		}
	}
	r.Body.Close()
	// (The SVG namespace is a name, not a location.)
	if strings.Contains(strings.ReplaceAll(js.String(), "http://www.w3.org/2000/svg", ""), "//") && regexp.MustCompile(`(?i)https?://|["']//`).MatchString(strings.ReplaceAll(js.String(), "http://www.w3.org/2000/svg", "")) {
		t.Fatalf("%s refers to another origin", u)
	}
}

func TestConsoleSessionCookieFlags(t *testing.T) {
	srv, _, cl := newTestServer(t)
	resp, _ := signIn(t, srv, cl, "admin-token")
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			ck = c
		}
	}
	if ck == nil {
		t.Fatal("no session cookie")
	}
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge <= 0 || ck.Expires.IsZero() {
		t.Fatalf("cookie flags: %+v", ck)
	}
	if strings.Contains(ck.Value, "admin-token") {
		t.Fatal("the cookie holds the token")
	}
	// A bad token gets no session.
	r, _ := cl.Post(srv.URL+"/console/api/signin", "application/json", strings.NewReader(`{"token":"nope"}`))
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized || len(r.Cookies()) != 0 {
		t.Fatalf("bad token: status %d, cookies %v", r.StatusCode, r.Cookies())
	}
	// A form post (cross-site login CSRF) is refused.
	r, _ = cl.Post(srv.URL+"/console/api/signin", "application/x-www-form-urlencoded", strings.NewReader(`token=admin-token`))
	r.Body.Close()
	if r.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form sign-in: status %d", r.StatusCode)
	}
}

func TestConsoleCSRFAndSignOut(t *testing.T) {
	srv, api, cl := newTestServer(t)
	_, csrf := signIn(t, srv, cl, "admin-token")

	// Reads pass with the session's token.
	r, _ := cl.Get(srv.URL + "/v1/links")
	r.Body.Close()
	if r.StatusCode != 200 || api.calls[len(api.calls)-1] != "GET /v1/links Bearer admin-token" {
		t.Fatalf("GET: status %d, calls %v", r.StatusCode, api.calls)
	}
	// A forged POST without the CSRF token never reaches the API.
	n := len(api.calls)
	for _, tok := range []string{"", "wrong"} {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/links/l1/failover", strings.NewReader(`{"type":"forced"}`))
		if tok != "" {
			req.Header.Set(CSRFHeader, tok)
		}
		r, _ = cl.Do(req)
		r.Body.Close()
		if r.StatusCode != http.StatusForbidden {
			t.Fatalf("POST with CSRF %q: status %d", tok, r.StatusCode)
		}
	}
	if len(api.calls) != n {
		t.Fatalf("a forged POST reached the API: %v", api.calls[n:])
	}
	req, _ := http.NewRequest("DELETE", srv.URL+"/v1/links/l1", nil)
	req.Header.Set(CSRFHeader, csrf)
	r, _ = cl.Do(req)
	r.Body.Close()
	if r.StatusCode != 200 || api.calls[len(api.calls)-1] != "DELETE /v1/links/l1 Bearer admin-token" {
		t.Fatalf("DELETE with CSRF: status %d, calls %v", r.StatusCode, api.calls)
	}

	// Sign-out needs the CSRF token too, then the cookie is dead.
	jarCookies := cl.Jar.Cookies(mustURL(srv.URL))
	r, _ = cl.Post(srv.URL+"/console/api/signout", "application/json", nil)
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out without CSRF: status %d", r.StatusCode)
	}
	req, _ = http.NewRequest("POST", srv.URL+"/console/api/signout", nil)
	req.Header.Set(CSRFHeader, csrf)
	r, _ = cl.Do(req)
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("sign-out: status %d", r.StatusCode)
	}
	// Replay the old cookie by hand.
	old := &http.Client{Transport: cl.Transport}
	req, _ = http.NewRequest("GET", srv.URL+"/v1/links", nil)
	for _, c := range jarCookies {
		req.AddCookie(c)
	}
	n = len(api.calls)
	r, _ = old.Do(req)
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized || len(api.calls) != n {
		t.Fatalf("old cookie after sign-out: status %d", r.StatusCode)
	}
}

func TestConsolePermissionsAreTheCallers(t *testing.T) {
	srv, _, cl := newTestServer(t)
	signIn(t, srv, cl, "reader-token")
	r, err := cl.Get(srv.URL + "/console/api/me")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var me struct {
		Principal   string   `json:"principal"`
		Permissions []string `json:"permissions"`
	}
	json.NewDecoder(r.Body).Decode(&me)
	if me.Principal != "bob" || strings.Join(me.Permissions, ",") != "instance/read,links/read" {
		t.Fatalf("me = %+v", me)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestConsoleSessionExpires(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	api := &fakeAPI{}
	c := New(Config{Authenticate: testAuth, SessionTTL: time.Hour, Now: func() time.Time { return now }}, api)
	srv := httptest.NewTLSServer(c)
	defer srv.Close()
	cl := srv.Client()
	cl.Jar, _ = cookiejar.New(nil)
	signIn(t, srv, cl, "admin-token")
	get := func() int {
		r, err := cl.Get(srv.URL + "/v1/links")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("fresh session: %d", code)
	}
	now = now.Add(time.Hour)
	if code := get(); code != http.StatusUnauthorized {
		t.Fatalf("expired session: %d, want 401", code)
	}
}
