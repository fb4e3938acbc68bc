package pgwire_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/schema"
	"github.com/sqlink/sqlink/pgwire"
	"github.com/xdg-go/scram"
	_ "modernc.org/sqlite"
)

const (
	testUser     = "alice"
	testPassword = "s3cret-pässword"
)

// testBackend is a pgwire.Backend over plain SQLite files in a temporary
// directory, with a channel as the write lock.
type testBackend struct {
	dir     string
	creds   map[string]scram.StoredCredentials
	lock    chan struct{}
	primary string

	readOnly atomic.Bool
	endErr   atomic.Pointer[error] // what EndWrite returns, if set
	writes   atomic.Int64          // EndWrite calls
	held     atomic.Int64          // write locks held now

	mu  sync.Mutex
	dbs map[string]*sql.DB
}

var _ pgwire.Backend = (*testBackend)(nil)
var _ pgwire.DatabaseLister = (*testBackend)(nil)

func newTestBackend(tb testing.TB) *testBackend {
	tb.Helper()
	client, err := scram.SHA256.NewClient(testUser, testPassword, "")
	if err != nil {
		tb.Fatal(err)
	}
	creds := client.GetStoredCredentials(scram.KeyFactors{Salt: "0123456789abcdef", Iters: 4096})
	b := &testBackend{
		dir:     tb.TempDir(),
		creds:   map[string]scram.StoredCredentials{testUser: creds},
		lock:    make(chan struct{}, 1),
		primary: "inst-a",
		dbs:     make(map[string]*sql.DB),
	}
	tb.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, db := range b.dbs {
			db.Close()
		}
	})
	for _, name := range []string{"app", "other"} {
		if _, err := b.db(name); err != nil {
			tb.Fatal(err)
		}
	}
	return b
}

func (b *testBackend) db(name string) (*sql.DB, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if db := b.dbs[name]; db != nil {
		return db, nil
	}
	dsn := "file:" + filepath.Join(b.dir, name+".db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	b.dbs[name] = db
	return db, nil
}

func (b *testBackend) LookupLogin(ctx context.Context, user string) (scram.StoredCredentials, error) {
	c, ok := b.creds[user]
	if !ok {
		return scram.StoredCredentials{}, sqlink.Errorf(sqlink.ENOTFOUND, "", "no login %q", user)
	}
	return c, nil
}

func (b *testBackend) ListDatabases(ctx context.Context) ([]string, error) {
	return []string{"app", "other"}, nil
}

func (b *testBackend) OpenSession(ctx context.Context, user, database string) (pgwire.Session, error) {
	switch database {
	case "app", "other":
	case "restoring":
		return nil, sqlink.Errorf(sqlink.EUNAVAILABLE, "wait until seeding finishes", "database %q is RESTORING", database)
	default:
		return nil, sqlink.Errorf(sqlink.ENOTFOUND, "", "no database %q", database)
	}
	db, err := b.db(database)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return &testSession{b: b, db: db, conn: conn}, nil
}

type testSession struct {
	b      *testBackend
	db     *sql.DB
	conn   *sql.Conn
	locked bool
}

func (s *testSession) Conn() *sql.Conn { return s.conn }

// TableColumns reads a table's columns on another connection of the pool,
// as sqlink's server does, outside the session's transaction.
func (s *testSession) TableColumns(ctx context.Context, table string) ([][2]string, error) {
	return schema.TableColumns(ctx, s.db, table)
}

func (s *testSession) BeginWrite(ctx context.Context) error {
	if s.b.readOnly.Load() {
		return sqlink.Errorf(sqlink.EREADONLY, fmt.Sprintf("connect to %s", s.b.primary), "database is a read-only secondary of instance %s", s.b.primary)
	}
	if s.locked {
		return errors.New("testSession: BeginWrite twice")
	}
	select {
	case s.b.lock <- struct{}{}:
		s.locked = true
		s.b.held.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *testSession) TryBeginWrite() (bool, error) {
	if s.b.readOnly.Load() {
		return false, s.BeginWrite(context.Background())
	}
	if s.locked {
		return false, errors.New("testSession: BeginWrite twice")
	}
	select {
	case s.b.lock <- struct{}{}:
		s.locked = true
		s.b.held.Add(1)
		return true, nil
	default:
		return false, nil
	}
}

func (s *testSession) EndWrite(ctx context.Context) error {
	if !s.locked {
		return errors.New("testSession: EndWrite without BeginWrite")
	}
	s.locked = false
	s.b.held.Add(-1)
	s.b.writes.Add(1)
	<-s.b.lock
	if e := s.b.endErr.Load(); e != nil {
		return *e
	}
	return nil
}

func (s *testSession) ReadOnly() (bool, string) {
	if s.b.readOnly.Load() {
		return true, s.b.primary
	}
	return false, ""
}

func (s *testSession) Close() error {
	_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
	if s.locked {
		s.locked = false
		s.b.held.Add(-1)
		<-s.b.lock
	}
	return s.conn.Close()
}

// testServer is a running pgwire.Server on a loopback port.
type testServer struct {
	srv  *pgwire.Server
	b    *testBackend
	host string
	port string
}

// mustStartServer starts a server over a fresh backend and stops it when
// the test ends.
func mustStartServer(tb testing.TB, cfg pgwire.Config) *testServer {
	tb.Helper()
	return mustStartServerWith(tb, cfg, newTestBackend(tb))
}

func mustStartServerWith(tb testing.TB, cfg pgwire.Config, b *testBackend) *testServer {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := pgwire.NewServer(cfg, b)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			tb.Errorf("close: %v", err)
		}
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
		if n := b.held.Load(); n != 0 {
			tb.Errorf("%d write locks still held after close", n)
		}
	})
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	return &testServer{srv: srv, b: b, host: host, port: port}
}

// dsn returns a libpq/pgx connection string for database db.
func (s *testServer) dsn(db string, extra ...string) string {
	d := fmt.Sprintf("host=%s port=%s user=%s password='%s' dbname=%s sslmode=disable", s.host, s.port, testUser, testPassword, db)
	for _, e := range extra {
		d += " " + e
	}
	return d
}
