package adminapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
)

// fakeInstance is an adminapi.Instance made of function fields. A nil field
// answers ENOTFOUND (or an empty value for lists and Info).
type fakeInstance struct {
	InfoFn                func(ctx context.Context) (adminapi.InstanceStatus, error)
	ListDatabasesFn       func(ctx context.Context) ([]adminapi.DatabaseInfo, error)
	GetDatabaseFn         func(ctx context.Context, name string) (adminapi.DatabaseInfo, error)
	CreateDatabaseFn      func(ctx context.Context, name string) (adminapi.DatabaseInfo, error)
	DropDatabaseFn        func(ctx context.Context, name string) error
	BackupFn              func(ctx context.Context, name string, copyOnly bool, w io.Writer) (adminapi.BackupInfo, error)
	RestoreFn             func(ctx context.Context, name string, restoring bool, r io.Reader) (adminapi.DatabaseInfo, error)
	CompleteRestoreFn     func(ctx context.Context, name string) (adminapi.DatabaseInfo, error)
	EndpointCertificateFn func(ctx context.Context) (adminapi.CertificateInfo, error)
}

var _ adminapi.Instance = (*fakeInstance)(nil)

func notFound(name string) error {
	return sqlink.Errorf(sqlink.ENOTFOUND, "list databases", "database %q not found", name)
}

func (f *fakeInstance) Info(ctx context.Context) (adminapi.InstanceStatus, error) {
	if f.InfoFn == nil {
		return adminapi.InstanceStatus{Name: "east"}, nil
	}
	return f.InfoFn(ctx)
}

func (f *fakeInstance) ListDatabases(ctx context.Context) ([]adminapi.DatabaseInfo, error) {
	if f.ListDatabasesFn == nil {
		return nil, nil
	}
	return f.ListDatabasesFn(ctx)
}

func (f *fakeInstance) GetDatabase(ctx context.Context, name string) (adminapi.DatabaseInfo, error) {
	if f.GetDatabaseFn == nil {
		return adminapi.DatabaseInfo{}, notFound(name)
	}
	return f.GetDatabaseFn(ctx, name)
}

func (f *fakeInstance) CreateDatabase(ctx context.Context, name string) (adminapi.DatabaseInfo, error) {
	if f.CreateDatabaseFn == nil {
		return adminapi.DatabaseInfo{Name: name, State: sqlink.DatabaseOnline}, nil
	}
	return f.CreateDatabaseFn(ctx, name)
}

func (f *fakeInstance) DropDatabase(ctx context.Context, name string) error {
	if f.DropDatabaseFn == nil {
		return notFound(name)
	}
	return f.DropDatabaseFn(ctx, name)
}

func (f *fakeInstance) Backup(ctx context.Context, name string, copyOnly bool, w io.Writer) (adminapi.BackupInfo, error) {
	if f.BackupFn == nil {
		return adminapi.BackupInfo{}, notFound(name)
	}
	return f.BackupFn(ctx, name, copyOnly, w)
}

func (f *fakeInstance) Restore(ctx context.Context, name string, restoring bool, r io.Reader) (adminapi.DatabaseInfo, error) {
	if f.RestoreFn == nil {
		return adminapi.DatabaseInfo{}, sqlink.Errorf(sqlink.EINVALID, "", "not a backup")
	}
	return f.RestoreFn(ctx, name, restoring, r)
}

func (f *fakeInstance) CompleteRestore(ctx context.Context, name string) (adminapi.DatabaseInfo, error) {
	if f.CompleteRestoreFn == nil {
		return adminapi.DatabaseInfo{}, notFound(name)
	}
	return f.CompleteRestoreFn(ctx, name)
}

func (f *fakeInstance) EndpointCertificate(ctx context.Context) (adminapi.CertificateInfo, error) {
	if f.EndpointCertificateFn == nil {
		return adminapi.CertificateInfo{Subject: "CN=east"}, nil
	}
	return f.EndpointCertificateFn(ctx)
}

// testEnv is an API server over a real catalog.
type testEnv struct {
	cat   *catalog.Catalog
	srv   *httptest.Server
	admin *adminapi.Client // a sysadmin
	token string           // the sysadmin's secret
}

// MustServe starts an API server for inst over a new catalog that has a
// sysadmin principal "admin".
func MustServe(tb testing.TB, cfg adminapi.Config, inst adminapi.Instance) *testEnv {
	tb.Helper()
	return MustServeWith(tb, func(*catalog.Catalog) adminapi.Config { return cfg }, inst)
}

// MustServeWith is MustServe with a configuration made from the catalog.
func MustServeWith(tb testing.TB, config func(*catalog.Catalog) adminapi.Config, inst adminapi.Instance) *testEnv {
	tb.Helper()
	ctx := context.Background()
	cat, err := catalog.Open(ctx, filepath.Join(tb.TempDir(), "catalog.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cat.Close() })
	srv := httptest.NewServer(adminapi.NewHandler(config(cat), cat, inst))
	tb.Cleanup(srv.Close)
	env := &testEnv{cat: cat, srv: srv}
	env.token = env.MustToken(tb, "admin", "sysadmin")
	env.admin = env.Client(env.token)
	return env
}

// MustToken creates principal with roles and returns a token's secret.
func (e *testEnv) MustToken(tb testing.TB, principal string, roles ...string) string {
	tb.Helper()
	ctx := context.Background()
	if err := e.cat.CreatePrincipal(ctx, principal, roles); err != nil {
		tb.Fatal(err)
	}
	secret, _, err := e.cat.CreateToken(ctx, principal, "test")
	if err != nil {
		tb.Fatal(err)
	}
	return secret
}

// Client returns a client authenticating with token.
func (e *testEnv) Client(token string) *adminapi.Client {
	return adminapi.NewClient(e.srv.URL, token, e.srv.Client())
}

// do sends a raw request and returns the response; the body is closed at
// the end of the test.
func (e *testEnv) do(tb testing.TB, method, path, token string, body io.Reader) *http.Response {
	tb.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { resp.Body.Close() })
	return resp
}
