package console

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/linkcreate"
)

func consoleDo(t *testing.T, cl *http.Client, method, u, csrf, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set(CSRFHeader, csrf)
	}
	r, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

// fakeSecondary answers the sign-in of the New Link wizard and records
// the tokens it was sent.
func fakeSecondary(t *testing.T) (*httptest.Server, *[]string) {
	var seen []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/v1/instance":
			json.NewEncoder(w).Encode(adminapi.InstanceStatus{ID: "b", Name: "beta", Version: "0.1.0"})
		case "/v1/links":
			w.Write([]byte(`[]`))
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"error":{"code":"ENOTFOUND","message":"no"}}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestNewLinkNeedsSessionCSRFAndPermission(t *testing.T) {
	srv, _, cl := newTestServer(t)
	_, csrf := signIn(t, srv, cl, "sysadmin-token")
	if code, body := consoleDo(t, cl, "POST", srv.URL+"/console/api/newlink/requirements", "", `{}`); code != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Fatalf("without CSRF: %d %s", code, body)
	}
	// A token is never sent in clear to another host.
	code, body := consoleDo(t, cl, "POST", srv.URL+"/console/api/newlink/signin", csrf, `{"url":"http://beta.example:7433","token":"s3cret"}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "in clear") || strings.Contains(body, "s3cret") {
		t.Fatalf("http sign-in: %d %s", code, body)
	}
	if code, _ := consoleDo(t, cl, "GET", srv.URL+"/console/api/newlink/nope", "", ""); code != http.StatusNotFound {
		t.Fatalf("unknown operation: %d", code)
	}

	rc := *srv.Client()
	rcl := &rc
	rcl.Jar = newJar()
	_, rcsrf := signIn(t, srv, rcl, "reader-token")
	if code, body := consoleDo(t, rcl, "POST", srv.URL+"/console/api/newlink/requirements", rcsrf, `{}`); code != http.StatusForbidden || !strings.Contains(body, "links/write") {
		t.Fatalf("read-only principal: %d %s", code, body)
	}
}

func TestNewLinkSecondaryTokenKeptForTheOperationOnly(t *testing.T) {
	srv, _, cl := newTestServer(t)
	_, csrf := signIn(t, srv, cl, "sysadmin-token")
	sec, seen := fakeSecondary(t)
	fp := adminapi.CertFingerprint(sec.Certificate())

	// A wrong fingerprint is refused, naming the certificate presented.
	code, body := consoleDo(t, cl, "POST", srv.URL+"/console/api/newlink/signin", csrf,
		`{"url":"`+sec.URL+`","token":"sec-token","fingerprint":"`+strings.Repeat("ab", 32)+`"}`)
	if code == 200 || !strings.Contains(body, fp) {
		t.Fatalf("wrong fingerprint: %d %s", code, body)
	}
	code, body = consoleDo(t, cl, "POST", srv.URL+"/console/api/newlink/signin", csrf,
		`{"url":"`+sec.URL+`","token":"sec-token","fingerprint":"`+fp+`"}`)
	if code != 200 || strings.Contains(body, "sec-token") {
		t.Fatalf("sign-in: %d %s", code, body)
	}
	if len(*seen) == 0 || (*seen)[0] != "Bearer sec-token" {
		t.Fatalf("the secondary saw %v", *seen)
	}
	var op NewLinkProgress
	json.Unmarshal([]byte(body), &op)
	if op.ID == "" || op.Secondary.Name != "beta" {
		t.Fatalf("operation: %+v", op)
	}
	code, body = consoleDo(t, cl, "GET", srv.URL+"/console/api/newlink/"+op.ID, "", "")
	if code != 200 || strings.Contains(body, "sec-token") {
		t.Fatalf("progress: %d %s", code, body)
	}
	// The Script names the token's variable, never its value.
	code, body = consoleDo(t, cl, "POST", srv.URL+"/console/api/newlink/"+op.ID+"/script", csrf, `{"name":"shop","databases":["app"],"mode":"async"}`)
	if code != 200 || strings.Contains(body, "sec-token") || !strings.Contains(body, "SQLINK_SECONDARY_TOKEN") || !strings.Contains(body, "--secondary-fingerprint "+fp) {
		t.Fatalf("script: %d %s", code, body)
	}

	// Another session cannot use the operation; cancelling drops it.
	oc := *srv.Client()
	ocl := &oc
	ocl.Jar = newJar()
	signIn(t, srv, ocl, "sysadmin-token")
	if code, _ := consoleDo(t, ocl, "GET", srv.URL+"/console/api/newlink/"+op.ID, "", ""); code != http.StatusNotFound {
		t.Fatalf("another session's operation: %d", code)
	}
	if code, _ := consoleDo(t, cl, "DELETE", srv.URL+"/console/api/newlink/"+op.ID, csrf, ""); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	if code, _ := consoleDo(t, cl, "GET", srv.URL+"/console/api/newlink/"+op.ID, "", ""); code != http.StatusNotFound {
		t.Fatalf("cancelled operation: %d", code)
	}
}

func TestCreateAndFailoverScripts(t *testing.T) {
	s := CreateScript("https://alpha:7433", "", "https://beta:7433", "ff", linkcreate.Options{Name: "shop", Databases: []string{"app", "my db"},
		Mode: sqlink.ModeSync, TwoWay: true})
	for _, want := range []string{`"$SQLINK" link validate --name shop --database 'app,my db' --primary https://alpha:7433 --secondary https://beta:7433 --secondary-fingerprint ff --two-way`,
		`"$SQLINK" link create --name shop --database 'app,my db' --primary https://alpha:7433 --secondary https://beta:7433 --secondary-fingerprint ff --two-way --mode sync`,
		"set -euo pipefail", "# Generated by the sqlink console on ", "# The primary's certificate: set SQLINK_PRIMARY_FINGERPRINT"} {
		if !strings.Contains(s, want) {
			t.Errorf("create script lacks %q:\n%s", want, s)
		}
	}
	if s := CreateScript("https://alpha:7433", "aa", "https://beta:7433", "ff", linkcreate.Options{Name: "shop", Databases: []string{"app"}}); !strings.Contains(s,
		"--primary https://alpha:7433 --secondary https://beta:7433 --primary-fingerprint aa --secondary-fingerprint ff") || strings.Contains(s, "certificate: set") {
		t.Errorf("create script with both fingerprints:\n%s", s)
	}
	f := FailoverScript("https://beta:7433", "bb", FailoverRequest{Link: "shop", Type: "forced", DropLink: true})
	if !strings.Contains(f, `"$SQLINK" link failover shop --server https://beta:7433 --fingerprint bb --force --allow-data-loss --drop-link`) {
		t.Errorf("failover script:\n%s", f)
	}
}

func newJar() http.CookieJar {
	j, _ := cookiejar.New(nil)
	return j
}

func TestNewLinkForgottenAtSignOut(t *testing.T) {
	c := New(Config{Authenticate: testAuth}, &fakeAPI{})
	srv := httptest.NewTLSServer(c)
	defer srv.Close()
	cl := srv.Client()
	cl.Jar = newJar()
	_, csrf := signIn(t, srv, cl, "sysadmin-token")
	sec, _ := fakeSecondary(t)
	code, body := consoleDo(t, cl, "POST", srv.URL+"/console/api/newlink/signin", csrf,
		`{"url":"`+sec.URL+`","token":"sec-token","fingerprint":"`+adminapi.CertFingerprint(sec.Certificate())+`"}`)
	if code != 200 {
		t.Fatalf("sign-in: %d %s", code, body)
	}
	c.mu.Lock()
	n := len(c.newLinks)
	c.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d operations after sign-in", n)
	}
	if code, _ := consoleDo(t, cl, "POST", srv.URL+"/console/api/signout", csrf, ""); code != 200 {
		t.Fatalf("sign-out: %d", code)
	}
	c.mu.Lock()
	n = len(c.newLinks)
	c.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d operations (with the secondary's token) kept after sign-out", n)
	}
}

// TestFailoverScriptRoute: the Failover wizard's Script names this
// instance and pins the certificate the server wiring says it serves.
func TestFailoverScriptRoute(t *testing.T) {
	c := New(Config{Authenticate: testAuth, Fingerprint: func() string { return "ab:cd" }}, &fakeAPI{})
	srv := httptest.NewTLSServer(c)
	defer srv.Close()
	cl := srv.Client()
	cl.Jar = newJar()
	_, csrf := signIn(t, srv, cl, "sysadmin-token")
	code, body := consoleDo(t, cl, "POST", srv.URL+"/console/api/script/failover", csrf, `{"link":"shop","type":"planned"}`)
	var out struct{ Script, File string }
	if code != 200 || json.Unmarshal([]byte(body), &out) != nil || out.File != "failover-shop.sh" ||
		!strings.Contains(out.Script, `"$SQLINK" link failover shop --server `+srv.URL+" --fingerprint ab:cd\n") {
		t.Fatalf("failover script: %d %s", code, body)
	}
	if code, _ := consoleDo(t, cl, "POST", srv.URL+"/console/api/script/failover", "", `{"link":"shop"}`); code != http.StatusForbidden {
		t.Fatalf("failover script without the CSRF token: %d", code)
	}
}

// A Script served over plain HTTP (--insecure-admin-http) pins nothing.
func TestScriptFingerprintOnlyOverTLS(t *testing.T) {
	c := New(Config{Authenticate: testAuth, Fingerprint: func() string { return "ab:cd" }}, &fakeAPI{})
	if got := c.fingerprint(httptest.NewRequest("POST", "http://alpha:7433/console/api/script/failover", nil)); got != "" {
		t.Fatalf("fingerprint over plain HTTP: %q", got)
	}
	if got := c.fingerprint(httptest.NewRequest("POST", "https://alpha:7433/console/api/script/failover", nil)); got != "ab:cd" {
		t.Fatalf("fingerprint over TLS: %q", got)
	}
}
