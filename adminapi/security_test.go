package adminapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/rbac"
)

// wantForbidden checks a 403 that names what is missing and says what to do.
func wantForbidden(tb testing.TB, what string, err error, mentions ...string) {
	tb.Helper()
	if sqlink.ErrorCode(err) != sqlink.EFORBIDDEN || sqlink.ErrorHint(err) == "" {
		tb.Fatalf("%s: %v, want forbidden with a hint", what, err)
	}
	for _, m := range mentions {
		if !strings.Contains(sqlink.ErrorMessage(err), m) {
			tb.Fatalf("%s: message %q does not mention %q", what, sqlink.ErrorMessage(err), m)
		}
	}
}

// TestNoSelfEscalation: a principal holding only instance/write (enough to
// manage principals, roles and tokens) cannot give itself or anyone more
// than it holds, nor act on principals that hold more.
func TestNoSelfEscalation(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &fakeInstance{})
	ctx := context.Background()
	if err := env.cat.CreateRole(ctx, rbac.Role{Name: "writer", Permissions: []rbac.Permission{rbac.InstanceWrite, rbac.InstanceRead}}); err != nil {
		t.Fatal(err)
	}
	eve := env.Client(env.MustToken(t, "eve", "writer"))

	_, err := eve.SetPrincipalRoles(ctx, "eve", []string{rbac.Sysadmin})
	wantForbidden(t, "eve makes herself sysadmin", err, "eve", "databases/write")
	_, err = eve.CreateRole(ctx, "all", []string{"instance/write", "databases/write"})
	wantForbidden(t, "eve creates a role with more", err, "databases/write")
	_, err = eve.CreatePrincipal(ctx, "eve2", []string{rbac.LinkContributor})
	wantForbidden(t, "eve creates a principal with more", err, "links/write")
	_, err = eve.CreateToken(ctx, "admin", "mine now")
	wantForbidden(t, "eve mints a sysadmin token", err, `"admin"`)
	toks, err := env.admin.ListTokens(ctx, "admin")
	if err != nil || len(toks) != 1 {
		t.Fatalf("admin's tokens: %+v, %v", toks, err)
	}
	err = eve.RevokeToken(ctx, toks[0].ID)
	wantForbidden(t, "eve revokes the sysadmin's token", err, `"admin"`)
	err = eve.DropPrincipal(ctx, "admin")
	wantForbidden(t, "eve drops the sysadmin", err)
	_, err = eve.SetPrincipalRoles(ctx, "admin", []string{"writer"})
	wantForbidden(t, "eve demotes the sysadmin", err)

	// Within her own permissions she may do all of it.
	if _, err := eve.CreateRole(ctx, "reader", []string{"instance/read"}); err != nil {
		t.Fatal(err)
	}
	if _, err := eve.CreatePrincipal(ctx, "bob", []string{"reader"}); err != nil {
		t.Fatal(err)
	}
	if _, err := eve.CreateToken(ctx, "bob", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := eve.SetPrincipalRoles(ctx, "bob", []string{"writer"}); err != nil {
		t.Fatal(err)
	}
	if err := eve.DropPrincipal(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.admin.Info(ctx); err != nil {
		t.Fatalf("the sysadmin's token was harmed: %v", err)
	}
}

// TestLastSysadminKept: even a sysadmin cannot remove the last valid token
// holding every permission, through any route.
func TestLastSysadminKept(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &fakeInstance{})
	ctx := context.Background()
	toks, err := env.admin.ListTokens(ctx, "admin")
	if err != nil || len(toks) != 1 {
		t.Fatalf("admin's tokens: %+v, %v", toks, err)
	}
	wantForbidden(t, "revoke the last sysadmin token", env.admin.RevokeToken(ctx, toks[0].ID), "last valid token")
	wantForbidden(t, "drop the last sysadmin", env.admin.DropPrincipal(ctx, "admin"), "last valid token")
	_, err = env.admin.SetPrincipalRoles(ctx, "admin", []string{rbac.LinkContributor})
	wantForbidden(t, "demote the last sysadmin", err, "last valid token")
	resp := env.do(t, "DELETE", "/v1/principals/admin", env.token, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
	if _, err := env.admin.Info(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFailedAuthAuditIsSummarised: many requests with bad tokens from one
// address write one audit row, and one summary counting the rest, instead
// of a row each.
func TestFailedAuthAuditIsSummarised(t *testing.T) {
	var fa *catalog.FailureAudit
	env := MustServeWith(t, func(cat *catalog.Catalog) adminapi.Config {
		fa = cat.NewFailureAudit(time.Hour, nil)
		return adminapi.Config{FailureAudit: fa}
	}, &fakeInstance{})
	ctx := context.Background()
	const n = 300
	for i := range n {
		resp := env.do(t, "GET", "/v1/databases", fmt.Sprintf("sqlk_bogus_%d", i), nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
	entries, err := env.admin.Audit(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Result != sqlink.EUNAUTHORIZED || !strings.Contains(entries[0].Detail, "127.0.0.1") {
		t.Fatalf("audit after %d bad tokens: %+v", n, entries)
	}
	fa.Flush(ctx) // what the end of the window, or shutdown, does
	entries, err = env.admin.Audit(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Action != "auth.failures" || !strings.Contains(entries[0].Detail, fmt.Sprintf("%d more failed attempts", n-1)) {
		t.Fatalf("audit after the window: %+v", entries)
	}
}

// TestFailedAuthAuditWindow: the summary is written when the window ends,
// without another request.
func TestFailedAuthAuditWindow(t *testing.T) {
	env := MustServeWith(t, func(cat *catalog.Catalog) adminapi.Config {
		return adminapi.Config{FailureAudit: cat.NewFailureAudit(50*time.Millisecond, nil)}
	}, &fakeInstance{})
	ctx := context.Background()
	for range 3 {
		env.do(t, "GET", "/v1/databases", "sqlk_bogus", nil).Body.Close()
	}
	testutil.RetryUntil(t, 0, func() error {
		entries, err := env.admin.Audit(ctx, 100)
		if err != nil {
			return err
		}
		counted := 0
		for _, e := range entries {
			switch e.Action {
			case "databases.list":
				counted++
			case "auth.failures":
				var k int
				fmt.Sscanf(e.Detail, "%d more", &k)
				counted += k
			}
		}
		if counted != 3 {
			return fmt.Errorf("%d of 3 failures accounted for: %+v", counted, entries)
		}
		return nil
	})
}

// TestMetricsAuth: with MetricsPermission set, /metrics needs a token
// holding it.
func TestMetricsAuth(t *testing.T) {
	env := MustServe(t, adminapi.Config{MetricsPermission: rbac.InstanceRead}, &fakeInstance{})
	if resp := env.do(t, "GET", "/metrics", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", resp.StatusCode)
	}
	ctx := context.Background()
	if err := env.cat.CreateRole(ctx, rbac.Role{Name: "dbreader", Permissions: []rbac.Permission{rbac.DatabasesRead}}); err != nil {
		t.Fatal(err)
	}
	if resp := env.do(t, "GET", "/metrics", env.MustToken(t, "bob", "dbreader"), nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("without instance/read: %d", resp.StatusCode)
	}
	if resp := env.do(t, "GET", "/metrics", env.token, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("with a sysadmin token: %d", resp.StatusCode)
	}
	// The default stays open.
	open := MustServe(t, adminapi.Config{}, &fakeInstance{})
	if resp := open.do(t, "GET", "/metrics", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("open metrics: %d", resp.StatusCode)
	}
}
