package adminapi_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/rbac"
)

func newCertPEM(tb testing.TB, cn string) []byte {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestAccessManagement(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &fakeInstance{})
	ctx := context.Background()
	c := env.admin

	perms, err := c.Permissions(ctx)
	if err != nil || len(perms) != len(rbac.AllPermissions()) {
		t.Fatalf("Permissions = %v, %v", perms, err)
	}

	// Roles.
	role, err := c.CreateRole(ctx, "dbops", []string{"databases/read", "databases/write"})
	if err != nil || role.Builtin || len(role.Permissions) != 2 {
		t.Fatalf("CreateRole = %+v, %v", role, err)
	}
	_, err = c.CreateRole(ctx, "bad", []string{"databases/everything"})
	wantCode(t, err, sqlink.EINVALID)
	roles, err := c.ListRoles(ctx)
	if err != nil || len(roles) != 3 || !roles[0].Builtin || roles[2].Name != "dbops" {
		t.Fatalf("ListRoles = %+v, %v", roles, err)
	}

	// Principals and tokens.
	p, err := c.CreatePrincipal(ctx, "ci", []string{"dbops"})
	if err != nil || p.Name != "ci" || len(p.Roles) != 1 {
		t.Fatalf("CreatePrincipal = %+v, %v", p, err)
	}
	tok, err := c.CreateToken(ctx, "ci", "pipeline")
	if err != nil || tok.Secret == "" || !strings.HasPrefix(tok.Secret, tok.Token.Prefix) {
		t.Fatalf("CreateToken = %+v, %v", tok, err)
	}
	ci := env.Client(tok.Secret)
	if _, err := ci.CreateDatabase(ctx, "shop"); err != nil {
		t.Fatalf("dbops cannot create a database: %v", err)
	}
	err = ci.DropDatabase(ctx, "shop")
	wantCode(t, err, sqlink.EFORBIDDEN)
	if !strings.Contains(err.Error(), "databases/delete") {
		t.Fatalf("err = %v", err)
	}
	err = c.DropRole(ctx, "dbops")
	wantCode(t, err, sqlink.ECONFLICT)
	if p, err := c.SetPrincipalRoles(ctx, "ci", []string{rbac.Sysadmin}); err != nil || p.Roles[0] != rbac.Sysadmin {
		t.Fatalf("SetPrincipalRoles = %+v, %v", p, err)
	}
	if err := ci.DropDatabase(ctx, "shop"); sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
		t.Fatalf("drop after grant: %v", err)
	}
	if err := c.DropRole(ctx, "dbops"); err != nil {
		t.Fatal(err)
	}
	if ps, err := c.ListPrincipals(ctx); err != nil || len(ps) != 2 {
		t.Fatalf("ListPrincipals = %+v, %v", ps, err)
	}
	if p, err := c.GetPrincipal(ctx, "ci"); err != nil || p.Name != "ci" {
		t.Fatalf("GetPrincipal = %+v, %v", p, err)
	}
	if err := c.DropPrincipal(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	_, err = ci.Info(ctx)
	wantCode(t, err, sqlink.EUNAUTHORIZED)

	// SQL logins.
	if err := c.CreateLogin(ctx, "app", "pw"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.CreateLogin(ctx, "app", "pw"), sqlink.ECONFLICT)
	if err := c.SetLoginPassword(ctx, "app", "pw2"); err != nil {
		t.Fatal(err)
	}
	if ls, err := c.ListLogins(ctx); err != nil || len(ls) != 1 || ls[0].Name != "app" {
		t.Fatalf("ListLogins = %+v, %v", ls, err)
	}
	if err := c.DropLogin(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	// The password never reaches the audit log.
	entries, err := c.Audit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Detail, "pw") || strings.Contains(e.Detail, tok.Secret) {
			t.Fatalf("secret in audit entry %+v", e)
		}
	}
}

func TestCertificates(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &fakeInstance{})
	ctx := context.Background()
	c := env.admin
	ec, err := c.EndpointCertificate(ctx)
	if err != nil || ec.Subject != "CN=east" {
		t.Fatalf("EndpointCertificate = %+v, %v", ec, err)
	}
	_, err = c.RotateEndpointCertificate(ctx)
	wantCode(t, err, sqlink.ENOTIMPLEMENTED)

	pemBytes := newCertPEM(t, "west")
	tc, err := c.TrustCertificate(ctx, "west", pemBytes)
	if err != nil || tc.Name != "west" || len(tc.Fingerprint) != 64 || tc.AddedAt.IsZero() {
		t.Fatalf("TrustCertificate = %+v, %v", tc, err)
	}
	_, err = c.TrustCertificate(ctx, "west-again", pemBytes)
	wantCode(t, err, sqlink.ECONFLICT)
	_, err = c.TrustCertificate(ctx, "junk", []byte("not a certificate"))
	wantCode(t, err, sqlink.EINVALID)
	if got, err := c.GetTrustedCertificate(ctx, "west"); err != nil || got.Fingerprint != tc.Fingerprint {
		t.Fatalf("GetTrustedCertificate = %+v, %v", got, err)
	}
	if list, err := c.ListTrustedCertificates(ctx); err != nil || len(list) != 1 {
		t.Fatalf("ListTrustedCertificates = %+v, %v", list, err)
	}
	if err := c.UntrustCertificate(ctx, "west"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetTrustedCertificate(ctx, "west")
	wantCode(t, err, sqlink.ENOTFOUND)
}

// rotatingInstance adds certificate rotation and link routes.
type rotatingInstance struct {
	fakeInstance
}

func (r *rotatingInstance) RotateEndpointCertificate(ctx context.Context) (adminapi.CertificateInfo, error) {
	return adminapi.CertificateInfo{Subject: "CN=east", Fingerprint: "abc"}, nil
}

func (r *rotatingInstance) ListLinks(ctx context.Context) ([]adminapi.LinkStatus, error) {
	p, _ := adminapi.PrincipalFromContext(ctx)
	return []adminapi.LinkStatus{{Name: "dr_shop"}, {Name: p}}, nil
}

func (r *rotatingInstance) GetLink(ctx context.Context, name string) (adminapi.LinkStatus, error) {
	return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ENOTFOUND, "", "no link %s", name)
}

func (r *rotatingInstance) CreateLink(ctx context.Context, req adminapi.CreateLinkRequest) (adminapi.LinkStatus, error) {
	return adminapi.LinkStatus{Name: req.Name, LinkID: req.LinkID, Local: adminapi.ReplicaStatus{Role: req.Role}}, nil
}

func (r *rotatingInstance) DropLink(ctx context.Context, name string) error { return nil }

func (r *rotatingInstance) LinkDigest(ctx context.Context, name string, lsn sqlink.LSN) (adminapi.PageDigest, error) {
	return adminapi.PageDigest{Database: name, LSN: lsn}, nil
}

func (r *rotatingInstance) Failover(ctx context.Context, name string, req adminapi.FailoverRequest) (adminapi.FailoverResult, error) {
	return adminapi.FailoverResult{NewPrimary: name + "/" + req.Type}, nil
}

func (r *rotatingInstance) SetRole(ctx context.Context, name string, req adminapi.SetRoleRequest) (adminapi.SetRoleResult, error) {
	return adminapi.SetRoleResult{Link: adminapi.LinkStatus{Name: name}, Method: req.Primary}, nil
}

func TestOptionalCapabilities(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &rotatingInstance{})
	ctx := context.Background()
	if ci, err := env.admin.RotateEndpointCertificate(ctx); err != nil || ci.Fingerprint != "abc" {
		t.Fatalf("Rotate = %+v, %v", ci, err)
	}
	if ls, err := env.admin.ListLinks(ctx); err != nil || len(ls) != 2 || ls[1].Name != "admin" {
		t.Fatalf("links = %v, %v", ls, err)
	}
	if err := env.cat.CreateRole(ctx, rbac.Role{Name: "dbonly", Permissions: []rbac.Permission{rbac.DatabasesRead}}); err != nil {
		t.Fatal(err)
	}
	_, err := env.Client(env.MustToken(t, "dbonly", "dbonly")).ListLinks(ctx)
	wantCode(t, err, sqlink.EFORBIDDEN)
	if !strings.Contains(err.Error(), "links/read") {
		t.Fatalf("err = %v", err)
	}
}

// Every link route has a typed Client method that reaches the
// LinkManager; an Instance without links answers ENOTFOUND.
func TestLinkClient(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &rotatingInstance{})
	ctx := context.Background()
	c := env.admin
	if _, err := c.GetLink(ctx, "a/b"); sqlink.ErrorCode(err) != sqlink.ENOTFOUND || !strings.Contains(err.Error(), "no link a/b") {
		t.Fatalf("GetLink = %v", err)
	}
	if st, err := c.CreateLink(ctx, adminapi.CreateLinkRequest{Name: "l", LinkID: "id1", Role: sqlink.RoleSecondary}); err != nil || st.LinkID != "id1" || st.Local.Role != sqlink.RoleSecondary {
		t.Fatalf("CreateLink = %+v, %v", st, err)
	}
	if err := c.DropLink(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if d, err := c.LinkDigest(ctx, "l", 42); err != nil || d.Database != "l" || d.LSN != 42 {
		t.Fatalf("LinkDigest = %+v, %v", d, err)
	}
	if res, err := c.Failover(ctx, "l", adminapi.FailoverRequest{Type: "forced"}); err != nil || res.NewPrimary != "l/forced" {
		t.Fatalf("Failover = %+v, %v", res, err)
	}
	if res, err := c.SetRole(ctx, "l", adminapi.SetRoleRequest{Primary: "beta"}); err != nil || res.Link.Name != "l" || res.Method != "beta" {
		t.Fatalf("SetRole = %+v, %v", res, err)
	}
	audit, err := c.Audit(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Action+":"+e.Target)
	}
	for _, want := range []string{"links.create:l", "links.drop:l", "links.failover:l", "links.setRole:l"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("audit %v lacks %s", actions, want)
		}
	}

	plain := MustServe(t, adminapi.Config{}, &fakeInstance{})
	if _, err := plain.admin.ListLinks(ctx); sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
		t.Fatalf("ListLinks on an instance without links = %v", err)
	}
}

func TestClientUnreachable(t *testing.T) {
	c := adminapi.NewClient("http://127.0.0.1:1", "x", nil)
	_, err := c.Info(context.Background())
	wantCode(t, err, sqlink.EUNAVAILABLE)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Info(ctx); err == nil {
		t.Fatal("canceled request succeeded")
	}
}

// TestClientConnectionLost: an instance that dies while answering (the
// connection closes after the request went out, before or during the
// response) is not "cannot reach": a change may have taken effect, and
// the error says so (errors.Is ErrConnectionLost, a hint to check the
// state first); a refused connection stays "cannot reach".
func TestClientConnectionLost(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter)
	}{
		{"no answer", func(w http.ResponseWriter) {}},
		{"half a body", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"new_primary":"be`))
			w.(http.Flusher).Flush()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.answer(w)
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				conn.Close()
			}))
			defer srv.Close()
			c := adminapi.NewClient(srv.URL, "x", nil)
			var out adminapi.FailoverResult
			err := c.Do(context.Background(), "POST", "/v1/links/L/failover", adminapi.FailoverRequest{}, &out)
			wantCode(t, err, sqlink.EUNAVAILABLE)
			if !errors.Is(err, adminapi.ErrConnectionLost) || !strings.Contains(err.Error(), "lost the connection") ||
				!strings.Contains(sqlink.ErrorHint(err), "may have acted on the request") {
				t.Fatalf("POST: %v (hint %q)", err, sqlink.ErrorHint(err))
			}
			err = c.Do(context.Background(), "GET", "/v1/links/L", nil, &out)
			if !errors.Is(err, adminapi.ErrConnectionLost) || strings.Contains(sqlink.ErrorHint(err), "may have acted") {
				t.Fatalf("GET: %v (hint %q)", err, sqlink.ErrorHint(err))
			}
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = adminapi.NewClient("http://"+addr, "x", nil).Do(context.Background(), "POST", "/v1/links/L/failover", adminapi.FailoverRequest{}, nil)
	wantCode(t, err, sqlink.EUNAVAILABLE)
	if errors.Is(err, adminapi.ErrConnectionLost) || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("refused connection: %v", err)
	}
}
