package replication

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/storage"
)

// fakeCatalog is an instance catalog in memory (a Catalog).
type fakeCatalog struct {
	mu      sync.Mutex
	links   map[string]catalog.LinkRecord
	dbs     map[string]catalog.Database
	trusted []catalog.TrustedCert
}

func newFakeCatalog() *fakeCatalog {
	return &fakeCatalog{links: map[string]catalog.LinkRecord{}, dbs: map[string]catalog.Database{}}
}

func (c *fakeCatalog) ListLinks(ctx context.Context) ([]catalog.LinkRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []catalog.LinkRecord
	for _, r := range c.links {
		out = append(out, r)
	}
	return out, nil
}

func (c *fakeCatalog) GetLink(ctx context.Context, name string) (catalog.LinkRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.links[name]
	if !ok {
		return r, sqlink.Errorf(sqlink.ENOTFOUND, "", "link %q does not exist", name)
	}
	return r, nil
}

func (c *fakeCatalog) PutLink(ctx context.Context, rec catalog.LinkRecord) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.links[rec.Name] = rec
	return nil
}

func (c *fakeCatalog) DeleteLink(ctx context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.links, name)
	return nil
}

func (c *fakeCatalog) DeleteLinkAndDatabase(ctx context.Context, name, database string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.links, name)
	delete(c.dbs, database)
	return nil
}

func (c *fakeCatalog) GetDatabase(ctx context.Context, name string) (catalog.Database, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.dbs[name]
	if !ok {
		return d, sqlink.Errorf(sqlink.ENOTFOUND, "", "database %q does not exist", name)
	}
	return d, nil
}

func (c *fakeCatalog) AddDatabase(ctx context.Context, db catalog.Database) (catalog.Database, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dbs[db.Name] = db
	return db, nil
}

func (c *fakeCatalog) SetDatabaseState(ctx context.Context, name string, state sqlink.DatabaseState) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dbs[name]
	d.State = state
	c.dbs[name] = d
	return nil
}

func (c *fakeCatalog) RemoveDatabase(ctx context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.dbs, name)
	return nil
}

func (c *fakeCatalog) ListTrustedCertificates(ctx context.Context) ([]catalog.TrustedCert, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.trusted), nil
}

// fakeHost is an instance without databases or sessions (a Host) that
// records what the engine asks of it.
type fakeHost struct {
	mu         sync.Mutex
	reserved   map[string]bool
	ended      []string // databases whose sessions were ended
	failpoints []string // failpoints reached, in order
}

func (h *fakeHost) Database(name string) *storage.DB { return nil }
func (h *fakeHost) OpenDatabase(ctx context.Context, name string) (*storage.DB, error) {
	return nil, sqlink.Errorf(sqlink.ENOTFOUND, "", "database %q is not open", name)
}
func (h *fakeHost) RegisterDatabase(name string, db *storage.DB)               {}
func (h *fakeHost) UnregisterDatabase(name string, db *storage.DB) *storage.DB { return nil }
func (h *fakeHost) ReserveName(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reserved[name] {
		return false
	}
	h.reserved[name] = true
	return true
}
func (h *fakeHost) ReleaseName(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.reserved, name)
}
func (h *fakeHost) ChainStarted(ctx context.Context, database string, db *storage.DB) (bool, error) {
	return true, nil
}
func (h *fakeHost) EndSessions(database, code, message string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = append(h.ended, database)
}
func (h *fakeHost) Failpoint(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failpoints = append(h.failpoints, name)
}
func (h *fakeHost) EndpointAddr() string { return "127.0.0.1:5022" }

func newTestEngine(t *testing.T) (*Engine, *fakeCatalog, *fakeHost) {
	cat, host := newFakeCatalog(), &fakeHost{reserved: map[string]bool{}}
	e := New(Config{
		DataDir:  t.TempDir(),
		Instance: catalog.InstanceInfo{ID: "id-beta", Name: "beta"},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		LinkTick: time.Hour, LinkSessionTimeout: time.Hour,
		FailoverTimeout: time.Second, FailoverDrainTimeout: time.Second, LinkDigestTimeout: time.Second,
	}, cat, host)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(context.Background()) })
	return e, cat, host
}

// The engine runs against a fake catalog and host: a secondary's half of
// a link is created (its database registered RESTORING, the link
// SEEDING), listed, and dropped, which ends the database's sessions,
// passes the drop's failpoints in order and leaves the catalog as before.
func TestEngine_CreateAndDropASecondaryAgainstFakes(t *testing.T) {
	e, cat, host := newTestEngine(t)
	ctx := context.Background()
	req := adminapi.CreateLinkRequest{Name: "L", LinkID: "link-1", Database: "shop", Role: sqlink.RoleSecondary,
		PartnerName: "alpha", PartnerID: "id-alpha", PartnerEndpoint: "127.0.0.1:1", PartnerCertFingerprint: "AB:CD"}

	for name, bad := range map[string]func(r *adminapi.CreateLinkRequest){
		"no link ID":        func(r *adminapi.CreateLinkRequest) { r.LinkID = "" },
		"a role of neither": func(r *adminapi.CreateLinkRequest) { r.Role = "TERTIARY" },
		"itself as partner": func(r *adminapi.CreateLinkRequest) { r.PartnerID = "id-beta" },
		"backup on primary": func(r *adminapi.CreateLinkRequest) { r.Role, r.SeedFromBackup = sqlink.RolePrimary, true },
	} {
		r := req
		bad(&r)
		if _, err := e.CreateLink(ctx, r); sqlink.ErrorCode(err) != sqlink.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := e.CreateLink(ctx, req); sqlink.ErrorCode(err) != sqlink.ECONFLICT {
		t.Fatalf("a partner whose certificate is not trusted: %v", err)
	}
	cat.trusted = []catalog.TrustedCert{{Name: "alpha", Fingerprint: "abcd", NotAfter: time.Now().Add(time.Hour)}}

	st, err := e.CreateLink(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "L" || st.State != linkSeeding || st.Local.Role != sqlink.RoleSecondary || st.Partner.Instance != "alpha" {
		t.Fatalf("created: %+v", st)
	}
	if d, err := cat.GetDatabase(ctx, "shop"); err != nil || d.State != sqlink.DatabaseRestoring {
		t.Fatalf("the secondary's database: %+v, %v", d, err)
	}
	if l := e.ForDatabase("shop"); l == nil || l.Name() != "L" || l.SyncMode() {
		t.Fatalf("ForDatabase(shop) = %v", l)
	}
	if _, err := e.CreateLink(ctx, req); sqlink.ErrorCode(err) != sqlink.ECONFLICT {
		t.Fatalf("the same link again: %v", err)
	}
	if all, _ := e.ListLinks(ctx); len(all) != 1 {
		t.Fatalf("%d links listed", len(all))
	}

	if err := e.DropLink(ctx, "L"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetLink(ctx, "L"); sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
		t.Fatalf("the dropped link: %v", err)
	}
	if len(cat.links) != 0 || len(cat.dbs) != 0 {
		t.Fatalf("left in the catalog: %v %v", cat.links, cat.dbs)
	}
	host.mu.Lock()
	defer host.mu.Unlock()
	if !slices.Equal(host.failpoints, []string{fpDropSaved, fpDropIndependent}) || !slices.Equal(host.ended, []string{"shop"}) {
		t.Fatalf("failpoints %v, sessions ended %v", host.failpoints, host.ended)
	}
}

// A damaged link record is skipped at start, and the rest runs.
func TestEngine_StartSkipsADamagedRecord(t *testing.T) {
	cat, host := newFakeCatalog(), &fakeHost{reserved: map[string]bool{}}
	cat.links["bad"] = catalog.LinkRecord{Name: "bad", Database: "x", Data: []byte(`{"link_id":`)}
	e := New(Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), LinkTick: time.Hour}, cat, host)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(context.Background())
	if all, _ := e.ListLinks(context.Background()); len(all) != 0 {
		t.Fatalf("%d links running", len(all))
	}
}
