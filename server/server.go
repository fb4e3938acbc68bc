package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/datadir"
	"github.com/sqlink/sqlink/metrics"
	"github.com/sqlink/sqlink/pgwire"
	"github.com/sqlink/sqlink/rbac"
	"github.com/sqlink/sqlink/replication"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/tlsconf"
	"github.com/sqlink/sqlink/transport"
	"modernc.org/sqlite"
)

// Server is one sqlink instance: its catalog, its databases and its
// listeners. It is safe for concurrent use.
type Server struct {
	cfg       Config
	log       *slog.Logger
	cat       *catalog.Catalog
	info      catalog.InstanceInfo
	endpoint  *tlsconf.Endpoint // the endpoint certificate (links)
	started   time.Time
	reg       *prometheus.Registry
	lagHist   *prometheus.HistogramVec // commit to hardened / redone, per record acknowledged
	authKey   []byte                   // keys fake SCRAM salts (auth.key)
	failAudit *catalog.FailureAudit    // failed sign-ins, summarised per source

	mu  sync.Mutex
	dbs map[string]*storage.DB // open databases by name (ONLINE ones)
	// restoring holds the names of databases being restored, not yet
	// registered: nothing else may create or remove their files.
	restoring map[string]bool

	pg       *pgwire.Server
	admin    *http.Server
	clientLn net.Listener
	adminLn  net.Listener
	tlsCert  *tlsconf.Source // the client and admin listeners' certificate

	// Links.
	serverTLS  *tls.Config
	clientTLS  *tls.Config
	endpointLn *transport.Listener
	// endpointRaw is the endpoint's bound port (bindEndpoint), served as
	// endpointLn; endpointHold keeps it listening until Close ends.
	endpointRaw  net.Listener
	endpointHold func()
	eng          *replication.Engine

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Open opens the instance in cfg.DataDir, initialising the directory first
// if it holds no instance. When it initialised, the returned InitResult
// carries the generated secrets for the caller to print once.
func Open(ctx context.Context, cfg Config) (*Server, *InitResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Failpoint == "" {
		cfg.Failpoint = os.Getenv("SQLINK_FAILPOINT")
	}

	// Commit with fdatasync rather than fsync: just as durable (the data and
	// the size are written), without flushing timestamps through the file
	// system journal, which PostgreSQL skips too (wal_sync_method =
	// fdatasync). The switch is process-wide; an instance owns its process.
	if _, err := sqlite.Fdatasync(true); err != nil {
		cfg.Logger.Warn("fdatasync unavailable; commits use fsync", "err", err)
	}

	datadir.RestrictUmask()
	var initRes *InitResult
	if _, err := os.Stat(datadir.CatalogPath(cfg.DataDir)); errors.Is(err, os.ErrNotExist) {
		res, err := Init(ctx, InitOptions{DataDir: cfg.DataDir, Now: cfg.Now})
		if err != nil {
			return nil, nil, err
		}
		initRes = &res
	}

	if err := datadir.Secure(cfg.DataDir, cfg.Logger); err != nil {
		return nil, nil, err
	}
	authKey, err := datadir.AuthSecret(cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	cat, err := catalog.Open(ctx, datadir.CatalogPath(cfg.DataDir))
	if err != nil {
		return nil, nil, fmt.Errorf("open catalog: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, cat: cat, authKey: authKey, dbs: map[string]*storage.DB{}, restoring: map[string]bool{}}
	if err := s.load(ctx); err != nil {
		s.closeDatabases(ctx)
		cat.Close()
		return nil, nil, err
	}
	s.endpointTLS()
	s.eng = s.newEngine()
	return s, initRes, nil
}

func (s *Server) load(ctx context.Context) error {
	ok, err := s.cat.Initialized(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return sqlink.Errorf(sqlink.ECONFLICT, "remove the directory's contents and start again, or run `sqlink init`",
			"data directory %s holds an unfinished instance (initialisation was interrupted)", s.cfg.DataDir)
	}
	if s.info, err = s.cat.Instance(ctx); err != nil {
		return err
	}
	if s.endpoint, err = tlsconf.LoadEndpoint(s.cfg.DataDir, s.cfg.Now(), s.log); err != nil {
		return err
	}
	if err := s.loadListenerCert(); err != nil {
		return err
	}
	dbs, err := s.cat.ListDatabases(ctx)
	if err != nil {
		return err
	}
	for _, d := range dbs {
		if d.State != sqlink.DatabaseOnline {
			continue
		}
		db, err := storage.OpenDB(ctx, datadir.DatabasePath(s.cfg.DataDir, d.Name), s.dbConfig())
		if err != nil {
			return fmt.Errorf("open database %s: %w", d.Name, err)
		}
		s.dbs[d.Name] = db
	}
	return nil
}

func (s *Server) dbConfig() storage.DBConfig {
	return storage.DBConfig{
		Synchronous:         s.cfg.Synchronous,
		LogRetentionBytes:   s.cfg.LogRetentionBytes,
		CheckpointBytes:     s.cfg.CheckpointBytes,
		MaxTransactionBytes: s.cfg.MaxTransactionBytes,
		Logger:              s.log,
		Now:                 s.cfg.Now,
		Failpoint:           s.storageFailpoint(),
	}
}

// Start opens the client and admin listeners and serves until Close.
func (s *Server) Start(ctx context.Context) error {
	if err := storage.SetHeapLimit(s.cfg.SQLiteHeapLimit); err != nil && s.cfg.SQLiteHeapLimit > 0 {
		return err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.started = s.cfg.Now()

	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.reg.MustRegister(metrics.NewCollector(metrics.Sources{
		Databases:    s.databaseStats,
		Sessions:     func() int { return s.pg.NumSessions() }, // set before the admin listener serves
		CertNotAfter: s.endpointCertExpiry,
		TLSNotAfter:  func() time.Time { return s.TLSCertificate().NotAfter },
		Links:        s.eng.ListLinks,
	}), metrics.NewLeaseCollector(s.eng.ListLinks))
	s.lagHist = metrics.NewAckLagHistogram()
	s.reg.MustRegister(s.lagHist)

	s.failAudit = s.cat.NewFailureAudit(0, s.log)
	s.pg = pgwire.NewServer(pgwire.Config{
		MaxConns:         s.cfg.MaxConns,
		InstanceName:     s.info.Name,
		Logger:           s.log.With("component", "pgwire"),
		StartupTimeout:   s.cfg.AuthenticationTimeout,
		AuthSecret:       s.authKey,
		ScramIterations:  catalog.DefaultIterations,
		StatementTimeout: max(s.cfg.StatementTimeout, 0),
		LockTimeout:      max(s.cfg.LockTimeout, 0),
		IdleInTxTimeout:  max(s.cfg.IdleInTxTimeout, 0),
		TLS:              s.tlsCert.Config(),
		RequireTLS:       s.cfg.RequireClientTLS,
	}, backend{s})

	var err error
	if s.clientLn, err = net.Listen("tcp", s.cfg.ClientAddr); err != nil {
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "pick another --client-addr, or stop what uses the port", "listen on client address %s: %v", s.cfg.ClientAddr, err)
	}
	if s.adminLn, err = net.Listen("tcp", s.cfg.AdminAddr); err != nil {
		s.clientLn.Close()
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "pick another --admin-addr, or stop what uses the port", "listen on admin address %s: %v", s.cfg.AdminAddr, err)
	}
	// The endpoint's port is bound before the links start (see
	// bindEndpoint), and links are loaded before it accepts: a partner
	// must never be told that a link it has does not exist here.
	if err := s.bindEndpoint(ctx); err != nil {
		s.clientLn.Close()
		s.adminLn.Close()
		return err
	}
	if err := s.eng.Start(ctx); err != nil {
		s.releaseEndpoint()
		s.clientLn.Close()
		s.adminLn.Close()
		return err
	}
	if err := s.serveEndpoint(ctx); err != nil {
		s.eng.Stop(ctx)
		s.releaseEndpoint()
		s.clientLn.Close()
		s.adminLn.Close()
		return err
	}
	var metricsPerm rbac.Permission
	if s.cfg.MetricsAuth {
		metricsPerm = rbac.InstanceRead
	}
	s.admin = &http.Server{
		Handler: s.consoleHandler(adminapi.NewHandler(adminapi.Config{
			Logger:            s.log.With("component", "adminapi"),
			Registry:          s.reg,
			FailureAudit:      s.failAudit,
			MetricsPermission: metricsPerm,
			ReadTimeout:       s.cfg.AdminReadTimeout,
		}, s.cat, instance{s: s, LinkManager: s.eng})),
		// Headers must come within 10 s (or the read timeout, if shorter);
		// bodies are bounded by the handler (see adminapi.Config.ReadTimeout),
		// idle keep-alive connections by IdleTimeout.
		ReadHeaderTimeout: min(10*time.Second, s.cfg.AdminReadTimeout),
		IdleTimeout:       s.cfg.AdminIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         s.tlsCert.Config(),
		ErrorLog:          adminErrorLog(s.log),
	}
	s.warnInsecureAdmin()

	s.wg.Add(2)
	if s.cfg.TLSReloadInterval > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.tlsCert.Watch(s.ctx, s.cfg.TLSReloadInterval, s.log)
		}()
	}
	go func() {
		defer s.wg.Done()
		if err := s.pg.Serve(s.clientLn); err != nil {
			s.log.Error("client listener stopped", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		if err := s.serveAdmin(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin listener stopped", "err", err)
		}
	}()
	s.log.Info("serving", "instance", s.info.Name, "client", s.ClientAddr(), "admin", s.AdminAddr(), "endpoint", s.EndpointAddr())
	return nil
}

// ClientAddr returns the PostgreSQL listener's address.
func (s *Server) ClientAddr() string {
	if s.clientLn == nil {
		return s.cfg.ClientAddr
	}
	return s.clientLn.Addr().String()
}

// AdminAddr returns the admin listener's address.
func (s *Server) AdminAddr() string {
	if s.adminLn == nil {
		return s.cfg.AdminAddr
	}
	return s.adminLn.Addr().String()
}

// Name returns the instance name.
func (s *Server) Name() string { return s.info.Name }

// Close stops the listeners, ends sessions (rolling back open transactions)
// and closes every database. ctx bounds how long it waits.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	if s.cancel != nil {
		s.cancel()
	}
	// Sessions end first, while the links still run: a commit waiting for
	// its secondary is confirmed or fails, and no session writes once the
	// links have stopped (a partner may take over then: every commit
	// made after it could not be confirmed).
	if s.pg != nil {
		if err := s.pg.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close client sessions: %w", err))
		}
	}
	s.eng.Stop(ctx)
	if err := s.closeEndpoint(ctx); err != nil {
		errs = append(errs, err)
	}
	if s.admin != nil {
		if err := s.admin.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	if s.failAudit != nil {
		s.failAudit.Close(ctx) // the pending summaries of failed sign-ins
	}
	errs = append(errs, s.closeDatabases(ctx)...)
	if err := s.cat.Close(); err != nil {
		errs = append(errs, err)
	}
	// Only now may a partner find the endpoint refusing: no database of
	// this instance takes writes any more.
	s.releaseEndpoint()
	return errors.Join(errs...)
}

func (s *Server) closeDatabases(ctx context.Context) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for name, db := range s.dbs {
		if err := db.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close database %s: %w", name, err))
		}
		delete(s.dbs, name)
	}
	return errs
}

// db returns the open database name or an error saying why it cannot be
// used.
func (s *Server) db(ctx context.Context, name string) (*storage.DB, error) {
	s.mu.Lock()
	db := s.dbs[name]
	s.mu.Unlock()
	if db != nil {
		return db, nil
	}
	d, err := s.cat.GetDatabase(ctx, name)
	if err != nil {
		if sqlink.ErrorCode(err) == sqlink.ENOTFOUND {
			return nil, sqlink.Errorf(sqlink.ENOTFOUND, fmt.Sprintf("create it with `sqlink db create %s`, or list databases with `sqlink db list`", name), "database %q does not exist", name)
		}
		return nil, err
	}
	if d.State == sqlink.DatabaseRestoring {
		return nil, restoringError(name, s.eng.ForDatabase(name))
	}
	return nil, sqlink.Errorf(sqlink.EUNAVAILABLE, "check the instance log", "database %q is not open", name)
}

// restoringError is the error for using a RESTORING database: a link's
// secondary being seeded (rt) gets there by itself, a database restored
// with --restoring and no link waits for an operator.
func restoringError(name string, l *replication.Link) error {
	if l != nil {
		ln := l.Name()
		return sqlink.Errorf(sqlink.EUNAVAILABLE, fmt.Sprintf("wait until link %s has seeded it (`sqlink link status %s`)", ln, ln),
			"database %q is RESTORING (being seeded by link %s) and cannot be read yet", name, ln)
	}
	return sqlink.Errorf(sqlink.EUNAVAILABLE,
		fmt.Sprintf("bring it online with `sqlink db complete-restore %s`, or make it a link's secondary with `sqlink link create --seed-from-backup`", name),
		"database %q is RESTORING (restored with --restoring) and cannot be read yet", name)
}

// databaseNames returns the names of the databases sessions can open.
func (s *Server) databaseNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.dbs))
	for n := range s.dbs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// databaseStats returns the open databases' figures (metrics).
func (s *Server) databaseStats() map[string]storage.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]storage.Stats, len(s.dbs))
	for name, db := range s.dbs {
		out[name] = db.Stats()
	}
	return out
}

// endpointCertExpiry returns when the endpoint certificate expires.
func (s *Server) endpointCertExpiry() time.Time {
	if cert, _ := s.endpointCert(); cert.Leaf != nil {
		return cert.Leaf.NotAfter
	}
	return time.Time{}
}
