package adminapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/rbac"
)

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := sqlink.ErrorCode(err); got != code {
		tb.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

// concretePath fills a route's path values.
func concretePath(p string) string {
	return strings.NewReplacer("{name}", "shop", "{id}", "nope").Replace(p)
}

func decodeErrorBody(tb testing.TB, resp *http.Response) adminapi.ErrorBody {
	tb.Helper()
	var er adminapi.ErrorResponse
	if err := json.NewDecoder(resp.Body).Decode(&er); err != nil {
		tb.Fatalf("decode error body: %v", err)
	}
	return er.Error
}

// TestEveryRoutePermission checks, for every route in the table, that a
// token whose role holds exactly the route's permission gets past
// authorization and that one holding every other permission gets 403
// naming it.
func TestEveryRoutePermission(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &rotatingInstance{}) // serves the link routes too
	ctx := context.Background()
	for i, rt := range adminapi.Routes() {
		if !rt.Permission.Valid() {
			t.Fatalf("route %s has unknown permission %q", rt.Pattern(), rt.Permission)
		}
		var others []rbac.Permission
		for _, p := range rbac.AllPermissions() {
			if p != rt.Permission {
				others = append(others, p)
			}
		}
		only, allBut := fmt.Sprintf("only%d", i), fmt.Sprintf("allbut%d", i)
		if err := env.cat.CreateRole(ctx, rbac.Role{Name: only, Permissions: []rbac.Permission{rt.Permission}}); err != nil {
			t.Fatal(err)
		}
		if err := env.cat.CreateRole(ctx, rbac.Role{Name: allBut, Permissions: others}); err != nil {
			t.Fatal(err)
		}
		allowed := env.MustToken(t, "p-"+only, only)
		denied := env.MustToken(t, "p-"+allBut, allBut)
		path := concretePath(rt.Path)

		t.Run(rt.Pattern(), func(t *testing.T) {
			resp := env.do(t, rt.Method, path, allowed, strings.NewReader("{}"))
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				t.Fatalf("token with %s got %d", rt.Permission, resp.StatusCode)
			}
			resp = env.do(t, rt.Method, path, denied, strings.NewReader("{}"))
			if got, want := resp.StatusCode, http.StatusForbidden; got != want {
				t.Fatalf("token without %s got %d, want %d", rt.Permission, got, want)
			}
			body := decodeErrorBody(t, resp)
			if body.Code != sqlink.EFORBIDDEN || !strings.Contains(body.Message, string(rt.Permission)) || body.Hint == "" {
				t.Fatalf("403 body = %+v, want it to name %s", body, rt.Permission)
			}
		})
	}
}

func TestRouteTableIsComplete(t *testing.T) {
	seen := map[string]bool{}
	actions := map[string]bool{}
	for _, rt := range adminapi.Routes() {
		if seen[rt.Pattern()] || actions[rt.Action] {
			t.Fatalf("route %s (%s) is listed twice", rt.Pattern(), rt.Action)
		}
		seen[rt.Pattern()], actions[rt.Action] = true, true
		if mutating := rt.Method != "GET"; mutating != rt.Audit {
			t.Errorf("route %s: Audit = %v, want %v", rt.Pattern(), rt.Audit, mutating)
		}
		if rt.Handler != nil {
			t.Errorf("Routes leaked the handler of %s", rt.Pattern())
		}
	}
	// Every permission except the link ones is used by some route.
	used := map[rbac.Permission]bool{}
	for _, rt := range adminapi.Routes() {
		used[rt.Permission] = true
	}
	for _, p := range rbac.AllPermissions() {
		if !used[p] && !strings.HasPrefix(string(p), "links/") {
			t.Errorf("no route requires %s", p)
		}
	}
}

func TestCreateDatabaseNeedsWrite(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &fakeInstance{})
	ctx := context.Background()
	if err := env.cat.CreateRole(ctx, rbac.Role{Name: "reader", Permissions: []rbac.Permission{rbac.DatabasesRead, rbac.InstanceRead}}); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"reader", rbac.LinkContributor} {
		c := env.Client(env.MustToken(t, "user-"+role, role))
		_, err := c.CreateDatabase(ctx, "shop")
		wantCode(t, err, sqlink.EFORBIDDEN)
		if !strings.Contains(err.Error(), "databases/write") || !strings.Contains(err.Error(), "user-"+role) {
			t.Fatalf("error %q does not name the principal and databases/write", err)
		}
		if _, err := c.ListDatabases(ctx); err != nil {
			t.Fatalf("%s cannot list databases: %v", role, err)
		}
	}
	if _, err := env.admin.CreateDatabase(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
}

func TestUnauthenticated(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &fakeInstance{})
	for _, tc := range []struct{ name, header string }{
		{"missing", ""},
		{"wrong scheme", "Basic YWRtaW46eA=="},
		{"unknown token", "Bearer sqlk_nope"},
		{"empty bearer", "Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", env.srv.URL+"/v1/databases", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := env.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			body := decodeErrorBody(t, resp)
			if body.Code != sqlink.EUNAUTHORIZED || body.Hint != "pass --token or set SQLINK_TOKEN" {
				t.Fatalf("body = %+v", body)
			}
		})
	}
}

func TestRevokedTokenIsRefusedAtOnce(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &fakeInstance{})
	ctx := context.Background()
	created, err := env.admin.CreateToken(ctx, "admin", "ci")
	if err != nil {
		t.Fatal(err)
	}
	c := env.Client(created.Secret)
	if _, err := c.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.admin.RevokeToken(ctx, created.Token.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Info(ctx)
	wantCode(t, err, sqlink.EUNAUTHORIZED)
	if sqlink.ErrorHint(err) != "pass --token or set SQLINK_TOKEN" {
		t.Fatalf("hint = %q", sqlink.ErrorHint(err))
	}
	toks, err := env.admin.ListTokens(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if tok.ID == created.Token.ID && !tok.Revoked {
			t.Fatal("token not listed as revoked")
		}
	}
}

func TestAuditLog(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &fakeInstance{})
	ctx := context.Background()
	if _, err := env.admin.CreateDatabase(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.admin.CreateDatabase(ctx, "bad name"); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("bad name: %v", err)
	}
	reader := env.Client(env.MustToken(t, "bob", rbac.LinkContributor))
	if err := reader.DropDatabase(ctx, "shop"); sqlink.ErrorCode(err) != sqlink.EFORBIDDEN {
		t.Fatalf("drop as link-contributor: %v", err)
	}
	if _, err := env.Client("bogus-token").ListDatabases(ctx); sqlink.ErrorCode(err) != sqlink.EUNAUTHORIZED {
		t.Fatalf("bogus token: %v", err)
	}
	if _, err := env.admin.ListDatabases(ctx); err != nil { // reads are not audited
		t.Fatal(err)
	}
	entries, err := env.admin.Audit(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Time.IsZero() {
			t.Fatalf("entry without time: %+v", e)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", e.Principal, e.Action, e.Target, e.Result))
	}
	want := []string{
		" databases.list  unauthorized",
		"bob databases.drop shop forbidden",
		"admin databases.create bad name invalid",
		"admin databases.create shop ok",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestStatusCodes(t *testing.T) {
	for code, status := range map[string]int{
		sqlink.EINVALID: 400, sqlink.EUNAUTHORIZED: 401, sqlink.EFORBIDDEN: 403, sqlink.ENOTFOUND: 404,
		sqlink.ECONFLICT: 409, sqlink.EREADONLY: 409, sqlink.EUNAVAILABLE: 503, sqlink.ETIMEOUT: 504,
		sqlink.ENOTIMPLEMENTED: 501, sqlink.EINTERNAL: 500, "something-else": 500,
	} {
		if got := adminapi.StatusCode(code); got != status {
			t.Errorf("StatusCode(%q) = %d, want %d", code, got, status)
		}
	}
}

func TestErrorsReachTheClient(t *testing.T) {
	inst := &fakeInstance{
		GetDatabaseFn: func(ctx context.Context, name string) (adminapi.DatabaseInfo, error) {
			return adminapi.DatabaseInfo{}, sqlink.Errorf(sqlink.EREADONLY, "write on the primary, west", "database %q is read-only", name)
		},
		DropDatabaseFn: func(ctx context.Context, name string) error {
			return errors.New("disk on fire")
		},
	}
	env := MustServe(t, adminapi.Config{}, inst)
	ctx := context.Background()
	_, err := env.admin.GetDatabase(ctx, "shop")
	wantCode(t, err, sqlink.EREADONLY)
	if sqlink.ErrorHint(err) != "write on the primary, west" || sqlink.ErrorMessage(err) != `database "shop" is read-only` {
		t.Fatalf("err = %#v", err)
	}
	err = env.admin.DropDatabase(ctx, "shop")
	wantCode(t, err, sqlink.EINTERNAL)
	if !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadRequestBodies(t *testing.T) {
	env := MustServe(t, adminapi.Config{MaxBodyBytes: 256}, &fakeInstance{})
	for _, tc := range []struct{ name, body, msg string }{
		{"empty", "", "empty"},
		{"garbage", "{nope", "not valid JSON"},
		{"unknown field", `{"name":"shop","size":3}`, "unknown field"},
		{"wrong type", `{"name":3}`, "wrong type"},
		{"trailing data", `{"name":"shop"} {}`, "after the JSON object"},
		{"array", `["shop"]`, "wrong type"},
		{"too large", `{"name":"` + strings.Repeat("a", 300) + `"}`, "larger than 256 bytes"},
		{"bad name", `{"name":"../etc"}`, "invalid database name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := env.do(t, "POST", "/v1/databases", env.token, strings.NewReader(tc.body))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
			body := decodeErrorBody(t, resp)
			if body.Code != sqlink.EINVALID || !strings.Contains(body.Message, tc.msg) || body.Hint == "" {
				t.Fatalf("body = %+v, want message containing %q and a hint", body, tc.msg)
			}
		})
	}
	resp := env.do(t, "POST", "/v1/databases/shop/backup?copy_only=maybe", env.token, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("copy_only=maybe: status %d", resp.StatusCode)
	}
}

func TestUnknownRoutesAndDashboard(t *testing.T) {
	dash := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "dashboard") })
	env := MustServe(t, adminapi.Config{Dashboard: dash}, &fakeInstance{})
	resp := env.do(t, "GET", "/v1/nothing", env.token, nil)
	if body := decodeErrorBody(t, resp); resp.StatusCode != 404 || body.Code != sqlink.ENOTFOUND {
		t.Fatalf("unknown route: %d %+v", resp.StatusCode, body)
	}
	resp = env.do(t, "GET", "/index.html", "", nil)
	if b, _ := io.ReadAll(resp.Body); string(b) != "dashboard" {
		t.Fatalf("dashboard served %q", b)
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	env := MustServe(t, adminapi.Config{Registry: reg}, &fakeInstance{})
	ctx := context.Background()
	if err := adminapi.NewClient(env.srv.URL, "", env.srv.Client()).Health(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := env.admin.Info(ctx); err != nil {
		t.Fatal(err)
	}
	resp := env.do(t, "GET", "/metrics", "", nil)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `sqlink_admin_requests_total{action="instance.read",code="200"} 1`) {
		t.Fatalf("metrics: %d\n%s", resp.StatusCode, b)
	}
	// A second handler on the same registry shares the collectors.
	_ = adminapi.NewHandler(adminapi.Config{Registry: reg}, env.cat, &fakeInstance{})
}

func TestBackupStream(t *testing.T) {
	data := bytes.Repeat([]byte("page"), 10000)
	sum := sha256.Sum256(data)
	var gotCopyOnly bool
	inst := &fakeInstance{
		BackupFn: func(ctx context.Context, name string, copyOnly bool, w io.Writer) (adminapi.BackupInfo, error) {
			gotCopyOnly = copyOnly
			switch name {
			case "shop":
				if _, err := w.Write(data); err != nil {
					return adminapi.BackupInfo{}, err
				}
				return adminapi.BackupInfo{ID: "b1", Database: name, LSN: 42, CopyOnly: copyOnly,
					StartsChain: !copyOnly, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, nil
			case "broken":
				w.Write(data[:100])
				return adminapi.BackupInfo{}, sqlink.Errorf(sqlink.EUNAVAILABLE, "free some disk", "disk full")
			case "badsum":
				w.Write(data)
				return adminapi.BackupInfo{ID: "b2", SHA256: strings.Repeat("0", 64)}, nil
			}
			return adminapi.BackupInfo{}, notFound(name)
		},
	}
	env := MustServe(t, adminapi.Config{}, inst)
	ctx := context.Background()
	var buf bytes.Buffer
	info, err := env.admin.Backup(ctx, "shop", true, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), data) || info.ID != "b1" || info.LSN != 42 || !info.CopyOnly || !gotCopyOnly {
		t.Fatalf("backup info %+v, %d bytes", info, buf.Len())
	}
	_, err = env.admin.Backup(ctx, "broken", false, io.Discard)
	wantCode(t, err, sqlink.EUNAVAILABLE)
	if sqlink.ErrorHint(err) != "free some disk" {
		t.Fatalf("err = %#v", err)
	}
	_, err = env.admin.Backup(ctx, "badsum", false, io.Discard)
	wantCode(t, err, sqlink.EINTERNAL)
	_, err = env.admin.Backup(ctx, "nope", false, io.Discard)
	wantCode(t, err, sqlink.ENOTFOUND)

	entries, _ := env.admin.Audit(ctx, 4)
	if len(entries) != 4 || entries[2].Result != sqlink.EUNAVAILABLE || entries[3].Result != "ok" || entries[3].Action != "databases.backup" {
		t.Fatalf("audit = %+v", entries)
	}
}

func TestRestoreAndDatabases(t *testing.T) {
	state := sqlink.DatabaseOnline
	var restored []byte
	inst := &fakeInstance{
		RestoreFn: func(ctx context.Context, name string, restoring bool, r io.Reader) (adminapi.DatabaseInfo, error) {
			b, err := io.ReadAll(r)
			if err != nil {
				return adminapi.DatabaseInfo{}, err
			}
			restored = b
			if restoring {
				state = sqlink.DatabaseRestoring
			}
			return adminapi.DatabaseInfo{Name: name, State: state}, nil
		},
		GetDatabaseFn: func(ctx context.Context, name string) (adminapi.DatabaseInfo, error) {
			return adminapi.DatabaseInfo{Name: name, State: state, Pos: sqlink.Pos{LSN: 9},
				RestoredFrom: &adminapi.BackupInfo{ID: "b1"}}, nil
		},
		CompleteRestoreFn: func(ctx context.Context, name string) (adminapi.DatabaseInfo, error) {
			state = sqlink.DatabaseOnline
			return adminapi.DatabaseInfo{Name: name, State: state}, nil
		},
		ListDatabasesFn: func(ctx context.Context) ([]adminapi.DatabaseInfo, error) {
			return []adminapi.DatabaseInfo{{Name: "shop"}}, nil
		},
	}
	env := MustServe(t, adminapi.Config{MaxBodyBytes: 1024}, inst)
	ctx := context.Background()
	// Restore uploads are not limited by MaxBodyBytes.
	upload := bytes.Repeat([]byte("x"), 100000)
	db, err := env.admin.Restore(ctx, "shop", true, bytes.NewReader(upload))
	if err != nil {
		t.Fatal(err)
	}
	if db.State != sqlink.DatabaseRestoring || !bytes.Equal(restored, upload) {
		t.Fatalf("restore = %+v, %d bytes", db, len(restored))
	}
	rd, err := env.admin.RestoreDetails(ctx, "shop")
	if err != nil || !rd.Restoring || rd.Pos.LSN != 9 || rd.RestoredFrom == nil || rd.RestoredFrom.ID != "b1" {
		t.Fatalf("RestoreDetails = %+v, %v", rd, err)
	}
	if db, err := env.admin.CompleteRestore(ctx, "shop"); err != nil || db.State != sqlink.DatabaseOnline {
		t.Fatalf("CompleteRestore = %+v, %v", db, err)
	}
	if dbs, err := env.admin.ListDatabases(ctx); err != nil || len(dbs) != 1 {
		t.Fatalf("ListDatabases = %+v, %v", dbs, err)
	}
	_, err = env.admin.Restore(ctx, "bad/name", false, strings.NewReader("x"))
	if sqlink.ErrorCode(err) != sqlink.EINVALID && sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
		t.Fatalf("restore bad name: %v", err)
	}

	// Backup history comes from the catalog.
	_, err = env.admin.ListBackups(ctx, "shop")
	wantCode(t, err, sqlink.ENOTFOUND)
}
