package replication

import (
	"context"
	"crypto/tls"
	"log/slog"
	"sync"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/etcdlease"
	"github.com/sqlink/sqlink/storage"
)

// Config is what the engine needs to know of the instance's settings. The
// durations and sizes have the meaning of the server.Config fields of the
// same names; zero values are not defaulted here.
type Config struct {
	DataDir                string
	Instance               catalog.InstanceInfo
	Logger                 *slog.Logger
	Now                    func() time.Time
	LinkTick               time.Duration
	LinkSessionTimeout     time.Duration
	LinkHardenDelay        time.Duration
	LinkLogCapBytes        int64
	LinkDigestTimeout      time.Duration
	LinkSeedBytesPerSecond int64
	FailoverTimeout        time.Duration
	FailoverDrainTimeout   time.Duration
	// DB configures the databases the engine opens itself (a secondary
	// being seeded or catching up, a restored copy).
	DB storage.DBConfig
	// ClientTLS dials the partners' endpoints.
	ClientTLS *tls.Config
	// Etcd, if set, keeps the leases of the links with automatic failover.
	Etcd *etcdlease.Client
	// ObserveLag, if set, is told every commit-to-acknowledgment time a
	// primary measures (kind "hardened" or "redone").
	ObserveLag func(link, database, kind string, seconds float64)
}

// Catalog is the part of the instance catalog the engine reads and
// writes: the links' records, the databases' registry entries and the
// trusted certificates. *catalog.Catalog implements it.
type Catalog interface {
	ListLinks(ctx context.Context) ([]catalog.LinkRecord, error)
	GetLink(ctx context.Context, name string) (catalog.LinkRecord, error)
	PutLink(ctx context.Context, rec catalog.LinkRecord) error
	DeleteLink(ctx context.Context, name string) error
	DeleteLinkAndDatabase(ctx context.Context, name, database string) error
	GetDatabase(ctx context.Context, name string) (catalog.Database, error)
	AddDatabase(ctx context.Context, db catalog.Database) (catalog.Database, error)
	SetDatabaseState(ctx context.Context, name string, state sqlink.DatabaseState) error
	RemoveDatabase(ctx context.Context, name string) error
	ListTrustedCertificates(ctx context.Context) ([]catalog.TrustedCert, error)
}

// Host is the instance the engine runs in: its registry of open
// databases (in place of the owner's mutex and map), its client sessions,
// its failpoints and its addresses. The server implements it; tests use
// fakes.
type Host interface {
	// Database returns the registered (ONLINE) database name, or nil.
	Database(name string) *storage.DB
	// OpenDatabase returns the registered database name or an error that
	// says why it cannot be used.
	OpenDatabase(ctx context.Context, name string) (*storage.DB, error)
	// RegisterDatabase makes db the registered database name.
	RegisterDatabase(name string, db *storage.DB)
	// UnregisterDatabase removes name from the registry when it is db (any
	// database when db is nil) and returns what was removed.
	UnregisterDatabase(name string, db *storage.DB) *storage.DB
	// ReserveName holds name while its files are made, as a restore does:
	// false if it is open or held already.
	ReserveName(name string) bool
	// ReleaseName ends a ReserveName.
	ReleaseName(name string)
	// ChainStarted says whether database has a full backup that starts
	// its backup chain.
	ChainStarted(ctx context.Context, database string, db *storage.DB) (bool, error)
	// EndSessions ends the client sessions of database with an error of
	// SQLSTATE code.
	EndSessions(database, code, message string)
	// Failpoint kills the process when name is the configured failpoint.
	Failpoint(name string)
	// EndpointAddr is this instance's replication endpoint address.
	EndpointAddr() string
}

// Engine runs the links of one instance. Its map of links is guarded by
// lmu; link creation is serialized by createMu; everything else is
// immutable after New.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	cat  Catalog
	host Host
	info catalog.InstanceInfo
	// ctx ends when the engine stops: every link's context derives from it.
	ctx    context.Context
	cancel context.CancelFunc

	createMu sync.Mutex // serializes link creation
	lmu      sync.Mutex
	links    map[string]*Link // by link name
}

// New returns an engine; Start starts its links, Stop stops them.
func New(cfg Config, cat Catalog, host Host) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, cat: cat, host: host, info: cfg.Instance, links: map[string]*Link{}}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e
}

// Exclusive runs fn while no link can be created: for a caller that
// checks that no link replicates a database and then removes it.
func (s *Engine) Exclusive(fn func() error) error {
	s.createMu.Lock()
	defer s.createMu.Unlock()
	return fn()
}

// ForDatabase returns the running link that replicates database, if any.
func (s *Engine) ForDatabase(database string) *Link { return s.linkForDatabase(database) }

// Name returns the link's name.
func (rt *Link) Name() string { return rt.id.name }

// SyncMode reports whether the link is in sync mode (commits wait for the
// secondary).
func (rt *Link) SyncMode() bool { return rt.syncMode() }

// WaitCommit blocks a session's commit at lsn until the link allows it:
// at once for async links, else until the secondary hardened it or was
// marked disconnected.
func (rt *Link) WaitCommit(ctx context.Context, lsn sqlink.LSN) error { return rt.waitCommit(ctx, lsn) }

func (s *Engine) failpoint(name string) { s.host.Failpoint(name) }

func (s *Engine) dbConfig() storage.DBConfig { return s.cfg.DB }

func (s *Engine) endSessions(database, code, message string) {
	s.host.EndSessions(database, code, message)
}
