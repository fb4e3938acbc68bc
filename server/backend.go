package server

import (
	"context"
	"database/sql"
	"errors"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/pgwire"
	"github.com/sqlink/sqlink/storage"
	"github.com/xdg-go/scram"
)

// backend adapts the server to pgwire.Backend.
type backend struct{ s *Server }

var (
	_ pgwire.Backend        = backend{}
	_ pgwire.DatabaseLister = backend{}
	_ pgwire.RoleLister     = backend{}
	_ pgwire.Session        = (*session)(nil)
	_ pgwire.OutputGate     = (*session)(nil)
)

func (b backend) LookupLogin(ctx context.Context, user string) (scram.StoredCredentials, error) {
	return b.s.cat.LookupLogin(ctx, user)
}

// OpenSession opens a session for login user on database with the right
// the login holds there when the session starts (see sessionAccess):
// changes to the login's rights apply to its next sessions.
func (b backend) OpenSession(ctx context.Context, user, database string) (pgwire.Session, error) {
	access, err := b.s.sessionAccess(ctx, user, database)
	if err != nil {
		return nil, err
	}
	db, err := b.s.db(ctx, database)
	if err != nil {
		return nil, err
	}
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	c.SetAccess(access)
	return &session{s: b.s, user: user, name: database, db: db, c: c}, nil
}

// ListRoles lists the SQL logins as the roles pg_roles shows (psql's \du).
func (b backend) ListRoles(ctx context.Context) ([]pgwire.Role, error) {
	logins, err := b.s.cat.ListLogins(ctx)
	if err != nil {
		return nil, err
	}
	roles := make([]pgwire.Role, len(logins))
	for i, l := range logins {
		roles[i] = pgwire.Role{Name: l.Name, Superuser: l.Name == AdminLogin}
	}
	return roles, nil
}

func (b backend) ListDatabases(ctx context.Context) ([]string, error) {
	return b.s.databaseNames(), nil
}

// session adapts a storage.Conn to pgwire.Session.
type session struct {
	s    *Server
	user string
	name string
	db   *storage.DB
	c    *storage.Conn
}

func (s *session) Conn() *sql.Conn                      { return s.c.SQL() }
func (s *session) BeginWrite(ctx context.Context) error { return s.c.BeginWrite(ctx) }

// TryBeginWrite takes the write lock if it is free (pgwire.WriteTrier).
func (s *session) TryBeginWrite() (bool, error) { return s.c.TryBeginWrite() }

// EndWrite ends a write and, when the database is the primary of a sync
// link, returns only once the link allows the commit: the secondary
// hardened it, or was marked disconnected after the session timeout.
func (s *session) EndWrite(ctx context.Context) error {
	lsn, err := s.c.EndWrite(ctx)
	l := s.s.eng.ForDatabase(s.name)
	if errors.Is(err, storage.ErrCommitNotLogged) && (l == nil || !l.SyncMode()) {
		// Committed and durable, just not in the replication log yet
		// (the next capture adds it): the commit stands, with a warning,
		// as PostgreSQL's does when its replication wait is cancelled. A
		// sync link's commit cannot be confirmed: that stays an error.
		// (The commit in question may be an earlier one, when this write
		// rolled back: the message does not say it is this one.)
		return &pgwire.Warning{Code: "01000", Message: "a commit is durable here but not yet in the replication log (the next capture adds it): " + sqlink.ErrorMessage(err),
			Hint: sqlink.ErrorHint(err)}
	}
	if err != nil {
		return err
	}
	if l != nil {
		return l.WaitCommit(ctx, lsn)
	}
	return nil
}
func (s *session) ReadOnly() (bool, string) { return s.db.ReadOnly() }
func (s *session) Close() error             { return s.c.Close() }

// WaitOutput holds a reply until every commit it could show is durable
// (pgwire.OutputGate).
func (s *session) WaitOutput(ctx context.Context) error { return s.c.WaitOutput(ctx) }

// Superuser reports whether the session's login may manage other sessions:
// the instance's admin login.
func (s *session) Superuser() bool { return s.user == AdminLogin }

var _ pgwire.Sandboxed = (*session)(nil)

// Statement declares what the session's next statement does (the SQL
// sandbox refuses a write in a statement declared as a read).
func (s *session) Statement(write, vacuum bool) error {
	k := storage.StatementRead
	switch {
	case vacuum:
		k = storage.StatementVacuum
	case write:
		k = storage.StatementWrite
	}
	return s.c.Statement(k)
}

// Refusal says why the SQL sandbox refused the last refused statement.
func (s *session) Refusal() error { return s.c.Refusal() }

// SetQueryOnly turns query_only on or off for a READ ONLY transaction.
func (s *session) SetQueryOnly(ctx context.Context, on bool) error { return s.c.SetQueryOnly(ctx, on) }

var _ pgwire.SchemaReader = (*session)(nil)

// TableColumns reads a table's columns outside the session's transaction.
func (s *session) TableColumns(ctx context.Context, table string) ([][2]string, error) {
	return s.db.TableColumns(ctx, table)
}

// LoginFailed audits a failed SQL sign-in (pgwire.LoginObserver), summarised
// per source address.
func (b backend) LoginFailed(ctx context.Context, user, source, reason string) {
	if b.s.failAudit == nil {
		return
	}
	b.s.failAudit.Record(ctx, "sql", source, catalog.AuditEntry{
		Action: "sql.login", Target: user, Result: sqlink.EUNAUTHORIZED, Detail: reason,
	})
}

var _ pgwire.LoginObserver = backend{}
