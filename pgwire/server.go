package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/xdg-go/scram"
)

// Defaults for Config. MaxConns bounds memory and SQLite connections; 100 is
// PostgreSQL's own default for max_connections. ServerVersion is what clients
// see as server_version: psql and pgbench switch features on it, and 15.0
// matches the catalog queries this package answers.
const (
	DefaultMaxConns       = 100
	DefaultServerVersion  = "15.0"
	DefaultMaxMessageSize = 64 << 20
)

// Config configures a Server.
type Config struct {
	// MaxConns is the number of concurrent client connections, sessions
	// and connections still authenticating together (as in PostgreSQL);
	// beyond it a new connection gets FATAL 53300 too_many_connections and
	// is closed.
	MaxConns int
	// MaxStartupConns is how many connections authenticate at once
	// (default DefaultMaxStartupConns, at most MaxConns); more wait their
	// turn, within StartupTimeout, without being read.
	MaxStartupConns int
	// AuthSecret keys the fake SCRAM salts of unknown users (see fakeSalt).
	// Empty: a random key per process. An instance passes a key it keeps,
	// so that the fake salt of a user stays the same across restarts.
	AuthSecret []byte
	// ScramIterations is the iteration count announced for unknown users:
	// that of real logins (default DefaultScramIterations).
	ScramIterations int
	// LoginFailureLimit failed sign-ins from one address within
	// LoginFailureWindow refuse further sign-ins from it for
	// LoginFailureWindow (defaults DefaultLoginFailureLimit and
	// DefaultLoginFailureWindow; a negative limit turns throttling off).
	LoginFailureLimit  int
	LoginFailureWindow time.Duration
	// ServerVersion is reported as server_version.
	ServerVersion string
	// InstanceName names this instance in messages (read-only errors name the
	// primary instance instead).
	InstanceName string
	// Logger receives connection-level events. Nil discards them.
	Logger *slog.Logger
	// IdleInTxTimeout, when positive, ends a session that stays idle inside
	// a transaction for longer (PostgreSQL's
	// idle_in_transaction_session_timeout), releasing its write lock. It is
	// each session's initial value; SET changes it per session.
	IdleInTxTimeout time.Duration
	// StatementTimeout, when positive, cancels a statement that runs for
	// longer (statement_timeout; 57014). Each session's initial value.
	StatementTimeout time.Duration
	// LockTimeout, when positive, bounds a statement's wait for its
	// database's write lock (lock_timeout; 55P03). Each session's initial
	// value.
	LockTimeout time.Duration
	// MaxMessageSize bounds a single protocol message; a bigger one is a
	// protocol violation (08P01) and closes the connection. Default 64 MiB.
	MaxMessageSize int
	// StartupTimeout bounds the time from accept to the end of
	// authentication, however slowly the client sends (a deadline on the
	// socket, not a per-read timeout). Default DefaultStartupTimeout.
	StartupTimeout time.Duration
	// TLS, when set, is offered to clients that send an SSLRequest
	// (sslmode=require and up); nil answers 'N', no TLS.
	TLS *tls.Config
	// RequireTLS refuses a session that did not start TLS with FATAL 28000.
	RequireTLS bool
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.MaxConns < 0 {
		return fmt.Errorf("pgwire: MaxConns must not be negative, got %d", c.MaxConns)
	}
	if c.MaxMessageSize < 0 {
		return fmt.Errorf("pgwire: MaxMessageSize must not be negative, got %d", c.MaxMessageSize)
	}
	if c.MaxStartupConns < 0 || c.ScramIterations < 0 || c.LoginFailureWindow < 0 {
		return errors.New("pgwire: MaxStartupConns, ScramIterations and LoginFailureWindow must not be negative")
	}
	if c.IdleInTxTimeout < 0 || c.StartupTimeout < 0 || c.StatementTimeout < 0 || c.LockTimeout < 0 {
		return errors.New("pgwire: timeouts must not be negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.ServerVersion == "" {
		c.ServerVersion = DefaultServerVersion
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.StartupTimeout == 0 {
		c.StartupTimeout = DefaultStartupTimeout
	}
	if c.MaxStartupConns == 0 {
		c.MaxStartupConns = DefaultMaxStartupConns
	}
	c.MaxStartupConns = min(c.MaxStartupConns, c.MaxConns)
	if len(c.AuthSecret) == 0 {
		c.AuthSecret = newAuthSecret()
	}
	if c.ScramIterations == 0 {
		c.ScramIterations = DefaultScramIterations
	}
	if c.LoginFailureLimit == 0 {
		c.LoginFailureLimit = DefaultLoginFailureLimit
	}
	if c.LoginFailureWindow == 0 {
		c.LoginFailureWindow = DefaultLoginFailureWindow
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Backend is what the wire front end needs from the rest of sqlink.
type Backend interface {
	// LookupLogin returns the stored SCRAM-SHA-256 credentials of SQL login
	// user (error with code ENOTFOUND if none).
	LookupLogin(ctx context.Context, user string) (scram.StoredCredentials, error)
	// OpenSession opens a session for an authenticated user on a database.
	// Errors: ENOTFOUND (no such database -> 3D000), EUNAVAILABLE (database
	// not readable -> 57P03), others.
	OpenSession(ctx context.Context, user, database string) (Session, error)
}

// DatabaseLister is an optional Backend capability used to answer psql's \l.
type DatabaseLister interface {
	ListDatabases(ctx context.Context) ([]string, error)
}

// Session is one client session on one database.
type Session interface {
	// Conn is a pinned SQLite connection (modernc.org/sqlite) for this
	// session; all SQL runs on it.
	Conn() *sql.Conn
	// BeginWrite must be called before BEGIN IMMEDIATE of a read-write
	// transaction or before an autocommit statement that may write. It
	// returns an EREADONLY error on a read-only secondary.
	BeginWrite(ctx context.Context) error
	// EndWrite must be called after COMMIT/ROLLBACK of such a transaction or
	// after the autocommit write statement finished (success or failure).
	EndWrite(ctx context.Context) error
	// ReadOnly reports whether the database is currently a read-only
	// secondary and the name of its primary instance.
	ReadOnly() (readOnly bool, primary string)
	// Close rolls back and releases everything.
	Close() error
}

// WriteTrier is an optional Session capability: TryBeginWrite is
// BeginWrite when the write lock is free, without waiting; it reports
// false when another writer holds it (then BeginWrite waits, under
// lock_timeout).
type WriteTrier interface {
	TryBeginWrite() (bool, error)
}

// OutputGate is an optional Session capability: WaitOutput returns once a
// reply may leave the server, i.e. no commit it could show is still short
// of durable (group commit). Every flush to the client waits for it.
type OutputGate interface {
	WaitOutput(ctx context.Context) error
}

// Server serves Backend's databases to PostgreSQL clients. It is safe for
// concurrent use.
type Server struct {
	cfg     Config
	backend Backend

	ctx    context.Context // ends when Close starts
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*clientConn]struct{}
	starting  map[*clientConn]struct{} // connections still authenticating
	refusing  int                      // connections being refused (53300)
	authSem   chan struct{}            // MaxStartupConns turns to authenticate
	throttle  *loginThrottle
	refused   refusalLog
	byKey     map[uint32]*clientConn // by process id, for CancelRequest
	closed    bool
	wg        sync.WaitGroup
}

// NewServer returns a Server; call Serve to accept connections. cfg should
// have been validated.
func NewServer(cfg Config, b Backend) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	cfg = cfg.withDefaults()
	return &Server{
		cfg:       cfg,
		backend:   b,
		ctx:       ctx,
		cancel:    cancel,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*clientConn]struct{}),
		starting:  make(map[*clientConn]struct{}),
		authSem:   make(chan struct{}, cfg.MaxStartupConns),
		throttle:  newLoginThrottle(cfg.LoginFailureLimit, cfg.LoginFailureWindow, cfg.Logger),
		byKey:     make(map[uint32]*clientConn),
	}
}

// Serve accepts connections on ln until Close; it returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
				case <-s.ctx.Done():
					return nil
				}
				continue
			}
			return fmt.Errorf("pgwire: accept: %w", err)
		}
		delay = 0
		if !s.startConn(nc) {
			nc.Close()
			return nil
		}
	}
}

// startConn runs a connection handler; false means the server is closed.
func (s *Server) startConn(nc net.Conn) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	c := newClientConn(s, nc)
	adm := s.admitLocked(c)
	if adm == admitDrop {
		s.mu.Unlock()
		c.cancel()
		nc.Close()
		return true
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		if adm == admitRefuse {
			c.refuse()
			return
		}
		c.serve()
	}()
	return true
}

// register adds c to the session table; it fails when the server is full
// or closed.
func (s *Server) register(c *clientConn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errShutdown
	}
	if len(s.conns) >= s.cfg.MaxConns {
		return errTooManyConns
	}
	for {
		var b [4]byte
		_, _ = rand.Read(b[:])
		pid := binary.BigEndian.Uint32(b[:]) & 0x7fffffff
		if pid == 0 {
			continue
		}
		if _, ok := s.byKey[pid]; ok {
			continue
		}
		c.pid = pid
		break
	}
	_, _ = rand.Read(c.secret[:])
	delete(s.starting, c) // its startup slot becomes a session slot
	s.conns[c] = struct{}{}
	s.byKey[c.pid] = c
	return nil
}

func (s *Server) unregister(c *clientConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		delete(s.byKey, c.pid)
	}
}

// cancelQuery interrupts the running query of the session with this key.
func (s *Server) cancelQuery(pid uint32, secret []byte) {
	s.mu.Lock()
	c := s.byKey[pid]
	s.mu.Unlock()
	if c == nil || len(secret) != len(c.secret) {
		return
	}
	var diff byte
	for i := range secret {
		diff |= secret[i] ^ c.secret[i]
	}
	if diff != 0 {
		return
	}
	c.cancelRunning()
}

// Close stops accepting, ends every session with FATAL 57P01
// admin_shutdown, rolls back open transactions and waits until every
// goroutine is done or ctx ends.
func (s *Server) Close(ctx context.Context) error {
	s.cancel()
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	var conns []*clientConn
	for c := range s.conns {
		conns = append(conns, c)
	}
	for c := range s.starting {
		c.nc.Close() // not a session yet: nothing to roll back or tell
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.terminate(newPgError(codeAdminShutdown, "terminating connection due to administrator command"))
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pgwire: close: %w", ctx.Err())
	}
}

// EndSessions ends every session on database with a FATAL error carrying
// SQLSTATE code and message, so that pools reconnect (used when a replica
// changes role). An empty database ends the sessions of every database.
func (s *Server) EndSessions(database string, code, message string) {
	if code == "" {
		code = codeAdminShutdown
	}
	s.mu.Lock()
	var conns []*clientConn
	for c := range s.conns {
		if database == "" || c.database == database {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.terminate(newPgError(code, message))
	}
}

// NumSessions returns the number of connected, authenticated sessions.
func (s *Server) NumSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Superuser is an optional Session capability: whether the session's login
// may see and end other logins' sessions (pg_stat_activity's query text,
// pg_cancel_backend, pg_terminate_backend). A Session without it is not.
type Superuser interface {
	Superuser() bool
}
