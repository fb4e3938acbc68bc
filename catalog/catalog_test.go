package catalog_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/rbac"
	"github.com/xdg-go/scram"
)

// MustOpenCatalog opens a new catalog in a temporary directory and closes
// it when the test ends.
func MustOpenCatalog(tb testing.TB) *catalog.Catalog {
	tb.Helper()
	c, err := catalog.Open(context.Background(), filepath.Join(tb.TempDir(), "catalog.db"))
	if err != nil {
		tb.Fatalf("open catalog: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// wantCode fails the test unless err has the given sqlink error code.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := sqlink.ErrorCode(err); got != code {
		tb.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
	if code != "" && code != sqlink.EINTERNAL && sqlink.ErrorMessage(err) == "" {
		tb.Fatalf("error %v has no message", err)
	}
}

func TestOpenReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := catalog.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.SchemaVersion(ctx)
	if err != nil || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
	if _, err := c.AddDatabase(ctx, catalog.Database{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, err = catalog.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v2, _ := c.SchemaVersion(ctx); v2 != v {
		t.Fatalf("version after reopen = %d, want %d", v2, v)
	}
	if _, err := c.GetDatabase(ctx, "shop"); err != nil {
		t.Fatalf("database lost across reopen: %v", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	ctx := context.Background()
	_, err := catalog.Open(ctx, "")
	wantCode(t, err, sqlink.EINVALID)
	_, err = catalog.Open(ctx, filepath.Join(t.TempDir(), "a?b.db"))
	wantCode(t, err, sqlink.EINVALID)
	_, err = catalog.Open(ctx, filepath.Join(t.TempDir(), "missing", "dir", "catalog.db"))
	if err == nil {
		t.Fatal("open in a missing directory succeeded")
	}
}

func TestInstance(t *testing.T) {
	ctx := context.Background()
	c := MustOpenCatalog(t)
	if ok, err := c.Initialized(ctx); err != nil || ok {
		t.Fatalf("Initialized = %v, %v before Init", ok, err)
	}
	_, err := c.Instance(ctx)
	wantCode(t, err, sqlink.ENOTFOUND)
	_, err = c.Init(ctx, catalog.InstanceInfo{Name: "east", Collation: "klingon"})
	wantCode(t, err, sqlink.EINVALID)
	_, err = c.Init(ctx, catalog.InstanceInfo{Name: "bad name"})
	wantCode(t, err, sqlink.EINVALID)

	info, err := c.Init(ctx, catalog.InstanceInfo{Name: "east", Collation: catalog.CollationNoCase, Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if info.ID == "" || info.CreatedAt.IsZero() {
		t.Fatalf("Init did not fill ID and CreatedAt: %+v", info)
	}
	got, err := c.Instance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(info.CreatedAt) || got.ID != info.ID || got.Name != "east" ||
		got.Collation != "nocase" || got.Version != "1.2.3" {
		t.Fatalf("Instance = %+v, want %+v", got, info)
	}
	if ok, _ := c.Initialized(ctx); !ok {
		t.Fatal("not Initialized after Init")
	}
	_, err = c.Init(ctx, catalog.InstanceInfo{Name: "west"})
	wantCode(t, err, sqlink.ECONFLICT)
	if err := c.SetInstanceVersion(ctx, "1.3.0"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Instance(ctx); got.Version != "1.3.0" {
		t.Fatalf("version = %q", got.Version)
	}
}

func TestValidateName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"shop", true},
		{"Shop_2-b", true},
		{"a", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"2shop", false},
		{"_shop", false},
		{"shop.db", false},
		{"shop db", false},
		{"../etc", false},
		{"café", false},
		{"shop\x00", false},
	} {
		err := catalog.ValidateName("database", tt.name)
		if tt.ok && err != nil {
			t.Errorf("ValidateName(%q) = %v", tt.name, err)
		}
		if !tt.ok {
			if sqlink.ErrorCode(err) != sqlink.EINVALID || sqlink.ErrorHint(err) == "" {
				t.Errorf("ValidateName(%q) = %v, want EINVALID with a hint", tt.name, err)
			}
		}
	}
}

func TestLogins(t *testing.T) {
	ctx := context.Background()
	c := MustOpenCatalog(t)
	if err := c.CreateLogin(ctx, "admin", "s3cret!"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.CreateLogin(ctx, "admin", "x"), sqlink.ECONFLICT)
	wantCode(t, c.CreateLogin(ctx, "bob", ""), sqlink.EINVALID)
	wantCode(t, c.CreateLogin(ctx, "bad name", "x"), sqlink.EINVALID)

	creds, err := c.LookupLogin(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if creds.Iters != catalog.DefaultIterations || len(creds.Salt) == 0 || len(creds.StoredKey) != 32 || len(creds.ServerKey) != 32 {
		t.Fatalf("credentials = %+v", creds)
	}
	if !scramSignIn(t, c, "admin", "s3cret!") {
		t.Fatal("SCRAM sign-in with the right password failed")
	}
	if scramSignIn(t, c, "admin", "wrong") {
		t.Fatal("SCRAM sign-in with a wrong password succeeded")
	}
	if err := c.SetLoginPassword(ctx, "admin", "n3w"); err != nil {
		t.Fatal(err)
	}
	if !scramSignIn(t, c, "admin", "n3w") || scramSignIn(t, c, "admin", "s3cret!") {
		t.Fatal("password change did not take")
	}
	wantCode(t, c.SetLoginPassword(ctx, "nobody", "x"), sqlink.ENOTFOUND)
	_, err = c.LookupLogin(ctx, "nobody")
	wantCode(t, err, sqlink.ENOTFOUND)

	logins, err := c.ListLogins(ctx)
	if err != nil || len(logins) != 1 || logins[0].Name != "admin" {
		t.Fatalf("ListLogins = %+v, %v", logins, err)
	}
	if err := c.DropLogin(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DropLogin(ctx, "admin"), sqlink.ENOTFOUND)
}

// scramSignIn runs a SCRAM-SHA-256 conversation between a client with
// password and a server reading credentials from c.
func scramSignIn(t *testing.T, c *catalog.Catalog, user, password string) bool {
	t.Helper()
	server, err := scram.SHA256.NewServer(func(name string) (scram.StoredCredentials, error) {
		return c.LookupLogin(context.Background(), name)
	})
	if err != nil {
		t.Fatal(err)
	}
	client, err := scram.SHA256.NewClient(user, password, "")
	if err != nil {
		t.Fatal(err)
	}
	cc, sc := client.NewConversation(), server.NewConversation()
	msg, err := cc.Step("")
	for err == nil && !cc.Done() {
		if msg, err = sc.Step(msg); err != nil {
			break
		}
		msg, err = cc.Step(msg)
	}
	return err == nil && sc.Valid() && cc.Valid()
}

func TestPrincipalsAndTokens(t *testing.T) {
	ctx := context.Background()
	c := MustOpenCatalog(t)
	wantCode(t, c.CreatePrincipal(ctx, "alice", []string{"nope"}), sqlink.ENOTFOUND)
	wantCode(t, c.CreatePrincipal(ctx, "alice", []string{"sysadmin", "sysadmin"}), sqlink.EINVALID)
	if err := c.CreatePrincipal(ctx, "alice", []string{rbac.LinkContributor, rbac.Sysadmin}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.CreatePrincipal(ctx, "alice", nil), sqlink.ECONFLICT)
	if err := c.CreatePrincipal(ctx, "bob", nil); err != nil {
		t.Fatal(err)
	}
	ps, err := c.ListPrincipals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprintf("%s %v %s %v", ps[0].Name, ps[0].Roles, ps[1].Name, ps[1].Roles), "alice [link-contributor sysadmin] bob []"; got != want {
		t.Fatalf("ListPrincipals = %s, want %s", got, want)
	}

	secret, tok, err := c.CreateToken(ctx, "alice", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, catalog.TokenPrefix) || len(secret) < 40 || !strings.HasPrefix(secret, tok.Prefix) || tok.Prefix == secret {
		t.Fatalf("secret %q, token %+v", secret, tok)
	}
	p, roles, err := c.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "alice" || len(roles) != 2 || rbac.Authorize(roles, rbac.DatabasesDelete) != nil {
		t.Fatalf("Authenticate = %+v, %+v", p, roles)
	}
	_, _, err = c.Authenticate(ctx, secret+"x")
	wantCode(t, err, sqlink.EUNAUTHORIZED)
	_, _, err = c.Authenticate(ctx, "")
	wantCode(t, err, sqlink.EUNAUTHORIZED)
	_, _, err = c.CreateToken(ctx, "nobody", "")
	wantCode(t, err, sqlink.ENOTFOUND)

	toks, err := c.ListTokens(ctx, "")
	if err != nil || len(toks) != 1 || toks[0].ID != tok.ID || toks[0].Revoked() {
		t.Fatalf("ListTokens = %+v, %v", toks, err)
	}
	// alice's is the only sysadmin token (see TestLastFullCredential):
	// another one lets it be revoked.
	if err := c.CreatePrincipal(ctx, "root", []string{rbac.Sysadmin}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CreateToken(ctx, "root", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Authenticate(ctx, secret)
	wantCode(t, err, sqlink.EUNAUTHORIZED)
	if err := c.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	wantCode(t, c.RevokeToken(ctx, "nope"), sqlink.ENOTFOUND)
	if toks, _ := c.ListTokens(ctx, "alice"); len(toks) != 1 || !toks[0].Revoked() {
		t.Fatalf("ListTokens after revoke = %+v", toks)
	}

	// Imported secrets.
	_, err = c.ImportToken(ctx, "bob", "short")
	wantCode(t, err, sqlink.EINVALID)
	_, err = c.ImportToken(ctx, "bob", "has a space in the middle")
	wantCode(t, err, sqlink.EINVALID)
	imported := "0123456789abcdef0123456789abcdef"
	if _, err := c.ImportToken(ctx, "bob", imported); err != nil {
		t.Fatal(err)
	}
	_, err = c.ImportToken(ctx, "alice", imported)
	wantCode(t, err, sqlink.ECONFLICT)
	if p, roles, err := c.Authenticate(ctx, imported); err != nil || p.Name != "bob" || len(roles) != 0 {
		t.Fatalf("Authenticate(imported) = %+v, %v, %v", p, roles, err)
	}

	// Role changes apply at the next authentication.
	if err := c.SetPrincipalRoles(ctx, "bob", []string{rbac.LinkContributor}); err != nil {
		t.Fatal(err)
	}
	if _, roles, _ := c.Authenticate(ctx, imported); len(roles) != 1 || roles[0].Name != rbac.LinkContributor {
		t.Fatalf("roles after SetPrincipalRoles = %+v", roles)
	}
	wantCode(t, c.SetPrincipalRoles(ctx, "nobody", nil), sqlink.ENOTFOUND)

	// Dropping a principal drops its tokens.
	if err := c.DropPrincipal(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Authenticate(ctx, imported)
	wantCode(t, err, sqlink.EUNAUTHORIZED)
	wantCode(t, c.DropPrincipal(ctx, "bob"), sqlink.ENOTFOUND)
	if toks, _ := c.ListTokens(ctx, "bob"); len(toks) != 0 {
		t.Fatalf("tokens of dropped principal: %+v", toks)
	}
}

func TestRoles(t *testing.T) {
	ctx := context.Background()
	c := MustOpenCatalog(t)
	ops := rbac.Role{Name: "ops", Permissions: []rbac.Permission{rbac.LinksRead, rbac.DatabasesRead}}
	if err := c.CreateRole(ctx, ops); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.CreateRole(ctx, ops), sqlink.ECONFLICT)
	wantCode(t, c.CreateRole(ctx, rbac.Role{Name: "sysadmin", Permissions: ops.Permissions}), sqlink.ECONFLICT)
	wantCode(t, c.CreateRole(ctx, rbac.Role{Name: "x", Permissions: []rbac.Permission{"all"}}), sqlink.EINVALID)

	roles, err := c.ListRoles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range roles {
		names = append(names, fmt.Sprintf("%s:%v", r.Name, r.Builtin))
	}
	if got, want := strings.Join(names, " "), "sysadmin:true link-contributor:true ops:false"; got != want {
		t.Fatalf("ListRoles = %s, want %s", got, want)
	}
	r, err := c.GetRole(ctx, "ops")
	if err != nil || len(r.Permissions) != 2 || !r.Has(rbac.LinksRead) {
		t.Fatalf("GetRole = %+v, %v", r, err)
	}

	if err := c.CreatePrincipal(ctx, "carol", []string{"ops"}); err != nil {
		t.Fatal(err)
	}
	err = c.DropRole(ctx, "ops")
	wantCode(t, err, sqlink.ECONFLICT)
	if !strings.Contains(sqlink.ErrorMessage(err), "carol") || sqlink.ErrorHint(err) == "" {
		t.Fatalf("DropRole in use: %v", err)
	}
	err = c.DropRole(ctx, rbac.Sysadmin)
	wantCode(t, err, sqlink.EINVALID)
	wantCode(t, c.DropRole(ctx, "nope"), sqlink.ENOTFOUND)
	if err := c.DropPrincipal(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if err := c.DropRole(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRole(ctx, "ops")
	wantCode(t, err, sqlink.ENOTFOUND)
}

func TestDatabases(t *testing.T) {
	ctx := context.Background()
	c := MustOpenCatalog(t)
	db, err := c.AddDatabase(ctx, catalog.Database{Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if db.ID == "" || db.State != sqlink.DatabaseOnline || db.CreatedAt.IsZero() {
		t.Fatalf("AddDatabase = %+v", db)
	}
	_, err = c.AddDatabase(ctx, catalog.Database{Name: "SHOP"})
	wantCode(t, err, sqlink.ECONFLICT)
	_, err = c.AddDatabase(ctx, catalog.Database{Name: "9lives"})
	wantCode(t, err, sqlink.EINVALID)
	_, err = c.AddDatabase(ctx, catalog.Database{Name: "x", State: "BROKEN"})
	wantCode(t, err, sqlink.EINVALID)
	if _, err := c.AddDatabase(ctx, catalog.Database{Name: "archive", State: sqlink.DatabaseRestoring}); err != nil {
		t.Fatal(err)
	}

	dbs, err := c.ListDatabases(ctx)
	if err != nil || len(dbs) != 2 || dbs[0].Name != "archive" || dbs[0].State != sqlink.DatabaseRestoring {
		t.Fatalf("ListDatabases = %+v, %v", dbs, err)
	}
	if err := c.SetDatabaseState(ctx, "archive", sqlink.DatabaseOnline); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetDatabase(ctx, "archive"); got.State != sqlink.DatabaseOnline {
		t.Fatalf("state = %s", got.State)
	}
	wantCode(t, c.SetDatabaseState(ctx, "nope", sqlink.DatabaseOnline), sqlink.ENOTFOUND)
	wantCode(t, c.SetDatabaseState(ctx, "archive", "weird"), sqlink.EINVALID)

	// A linked database cannot be removed.
	if err := c.PutLink(ctx, catalog.LinkRecord{Name: "dr_shop", Database: "shop"}); err != nil {
		t.Fatal(err)
	}
	err = c.RemoveDatabase(ctx, "shop")
	wantCode(t, err, sqlink.ECONFLICT)
	if !strings.Contains(err.Error(), "dr_shop") {
		t.Fatalf("error does not name the link: %v", err)
	}
	if err := c.DeleteLink(ctx, "dr_shop"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDatabase(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetDatabase(ctx, "shop")
	wantCode(t, err, sqlink.ENOTFOUND)
	wantCode(t, c.RemoveDatabase(ctx, "shop"), sqlink.ENOTFOUND)
}

func TestBackups(t *testing.T) {
	ctx := context.Background()
	c := MustOpenCatalog(t)
	_, err := c.RecordBackup(ctx, catalog.BackupRecord{Database: "shop"})
	wantCode(t, err, sqlink.ENOTFOUND)
	if _, err := c.AddDatabase(ctx, catalog.Database{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.ChainStarted(ctx, "shop", 0); err != nil || ok {
		t.Fatalf("ChainStarted = %v, %v with no backups", ok, err)
	}
	b, err := c.RecordBackup(ctx, catalog.BackupRecord{Database: "shop", LSN: 7, Epoch: 2, CopyOnly: true, StartsChain: true, Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if b.StartsChain || b.ID == "" {
		t.Fatalf("copy-only backup = %+v", b)
	}
	if ok, _ := c.ChainStarted(ctx, "shop", 0); ok {
		t.Fatal("copy-only backup started the chain")
	}
	if _, err := c.RecordBackup(ctx, catalog.BackupRecord{ID: "full1", Database: "shop", LSN: 9, Epoch: 2, PageCount: 3, SHA256: "ab"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.RecordBackup(ctx, catalog.BackupRecord{ID: "full1", Database: "shop"})
	wantCode(t, err, sqlink.ECONFLICT)
	if ok, _ := c.ChainStarted(ctx, "shop", 0); !ok {
		t.Fatal("full backup did not start the chain")
	}
	bs, err := c.ListBackups(ctx, "shop")
	if err != nil || len(bs) != 2 {
		t.Fatalf("ListBackups = %+v, %v", bs, err)
	}
	if got := bs[1]; got.ID != "full1" || got.LSN != 9 || got.Epoch != 2 || got.PageCount != 3 || got.SHA256 != "ab" || !got.StartsChain || got.CopyOnly {
		t.Fatalf("backup = %+v", got)
	}
	_, err = c.ListBackups(ctx, "nope")
	wantCode(t, err, sqlink.ENOTFOUND)

	// Dropping the database forgets its chain.
	if err := c.RemoveDatabase(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddDatabase(ctx, catalog.Database{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.ChainStarted(ctx, "shop", 0); ok {
		t.Fatal("recreated database inherited the old chain")
	}
}

// newCertPEM returns a self-signed certificate valid from notBefore to
// notAfter.
func newCertPEM(tb testing.TB, cn string, notBefore, notAfter time.Time) []byte {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestTrustedCertificates(t *testing.T) {
	ctx := context.Background()
	c := MustOpenCatalog(t)
	now := time.Now()
	west := newCertPEM(t, "west", now.Add(-time.Hour), now.Add(24*time.Hour))
	tc, err := c.TrustCertificate(ctx, "west", west)
	if err != nil {
		t.Fatal(err)
	}
	if len(tc.Fingerprint) != 64 || !strings.Contains(tc.Subject, "west") || tc.NotAfter.Before(now) {
		t.Fatalf("TrustCertificate = %+v", tc)
	}
	_, err = c.TrustCertificate(ctx, "west2", west)
	wantCode(t, err, sqlink.ECONFLICT)
	if !strings.Contains(err.Error(), `"west"`) {
		t.Fatalf("duplicate error does not name the existing entry: %v", err)
	}
	_, err = c.TrustCertificate(ctx, "west", newCertPEM(t, "other", now.Add(-time.Hour), now.Add(time.Hour)))
	wantCode(t, err, sqlink.ECONFLICT)
	_, err = c.TrustCertificate(ctx, "old", newCertPEM(t, "old", now.Add(-2*time.Hour), now.Add(-time.Hour)))
	wantCode(t, err, sqlink.EINVALID)
	for _, garbage := range [][]byte{nil, []byte("hello"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")} {
		_, err = c.TrustCertificate(ctx, "junk", garbage)
		wantCode(t, err, sqlink.EINVALID)
	}

	block, _ := pem.Decode(west)
	if ok, err := c.IsTrusted(ctx, block.Bytes); err != nil || !ok {
		t.Fatalf("IsTrusted = %v, %v", ok, err)
	}
	list, err := c.ListTrustedCertificates(ctx)
	if err != nil || len(list) != 1 || list[0].Fingerprint != tc.Fingerprint || len(list[0].PEM) == 0 {
		t.Fatalf("ListTrustedCertificates = %+v, %v", list, err)
	}
	if err := c.UntrustCertificate(ctx, "west"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.UntrustCertificate(ctx, "west"), sqlink.ENOTFOUND)
	if ok, _ := c.IsTrusted(ctx, block.Bytes); ok {
		t.Fatal("still trusted after UntrustCertificate")
	}
}

func TestLinks(t *testing.T) {
	ctx := context.Background()
	c := MustOpenCatalog(t)
	rec := catalog.LinkRecord{
		Name: "dr_shop", Database: "shop", Role: sqlink.RolePrimary, PartnerURL: "https://west:5022",
		PartnerName: "west", Mode: sqlink.ModeSync, TwoWay: true, Epoch: 3, State: "SYNCHRONIZING",
		Data: json.RawMessage(`{"hardened":42}`),
	}
	if err := c.PutLink(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetLink(ctx, "dr_shop")
	if err != nil {
		t.Fatal(err)
	}
	if got.UpdatedAt.IsZero() || string(got.Data) != `{"hardened":42}` || got.Role != sqlink.RolePrimary ||
		got.Mode != sqlink.ModeSync || !got.TwoWay || got.Epoch != 3 || got.PartnerURL != rec.PartnerURL {
		t.Fatalf("GetLink = %+v", got)
	}
	rec.Epoch, rec.Role, rec.Data = 4, sqlink.RoleSecondary, nil
	if err := c.PutLink(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetLink(ctx, "dr_shop"); got.Epoch != 4 || got.Role != sqlink.RoleSecondary || got.Data != nil {
		t.Fatalf("after update: %+v", got)
	}
	wantCode(t, c.PutLink(ctx, catalog.LinkRecord{Name: "x", Database: "shop", Data: json.RawMessage("{")}), sqlink.EINVALID)
	wantCode(t, c.PutLink(ctx, catalog.LinkRecord{Name: "", Database: "shop"}), sqlink.EINVALID)
	links, err := c.ListLinks(ctx)
	if err != nil || len(links) != 1 {
		t.Fatalf("ListLinks = %+v, %v", links, err)
	}
	if err := c.DeleteLink(ctx, "dr_shop"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetLink(ctx, "dr_shop")
	wantCode(t, err, sqlink.ENOTFOUND)
	wantCode(t, c.DeleteLink(ctx, "dr_shop"), sqlink.ENOTFOUND)
}

func TestAudit(t *testing.T) {
	ctx := context.Background()
	c := MustOpenCatalog(t)
	for i := 0; i < 5; i++ {
		if err := c.Audit(ctx, catalog.AuditEntry{Principal: "alice", Action: "databases.create",
			Target: fmt.Sprint("db", i), Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := c.ListAudit(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[0].Target != "db4" || es[2].Target != "db2" || es[0].Seq <= es[1].Seq || es[0].Time.IsZero() {
		t.Fatalf("ListAudit = %+v", es)
	}
	if es, _ := c.ListAudit(ctx, 0); len(es) != 5 {
		t.Fatalf("ListAudit(0) returned %d entries", len(es))
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	c := MustOpenCatalog(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if _, err := c.AddDatabase(ctx, catalog.Database{Name: fmt.Sprintf("db%d_%d", i, j)}); err != nil {
					errs <- err
				}
				if _, err := c.ListDatabases(ctx); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if dbs, _ := c.ListDatabases(ctx); len(dbs) != 40 {
		t.Fatalf("got %d databases, want 40", len(dbs))
	}
}
