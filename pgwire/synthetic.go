package pgwire

import (
	"context"
	"database/sql/driver"
)

// synthetic is a statement answered in Go rather than by SQLite: session
// functions PostgreSQL clients call (pg_is_in_recovery(), version()) and the
// emulated pg_catalog queries of psql.
type synthetic struct {
	cols []column
	// run returns the rows; values are string, int64, bool, nil.
	run func(ctx context.Context, c *clientConn) ([][]any, error)
	// query, when set instead of cols and run, returns the columns with
	// the rows: an answer whose columns depend on the statement
	// (pg_stat_activity). It must have no side effects: Describe runs it
	// (with nil args).
	query func(ctx context.Context, c *clientConn, args []driver.NamedValue) ([]column, [][]any, error)
}

// result returns the columns and rows of the answer.
func (s *synthetic) result(ctx context.Context, c *clientConn, args []driver.NamedValue) ([]column, [][]any, error) {
	if s.query != nil {
		return s.query(ctx, c, args)
	}
	rows, err := s.run(ctx, c)
	return s.cols, rows, err
}

// columns returns the columns of the answer.
func (s *synthetic) columns(ctx context.Context, c *clientConn) ([]column, error) {
	if s.query != nil {
		cols, _, err := s.query(ctx, c, nil)
		return cols, err
	}
	return s.cols, nil
}

func oneValue(name string, oid uint32, f func(c *clientConn) any) *synthetic {
	return &synthetic{
		cols: []column{{name: name, oid: oid}},
		run: func(_ context.Context, c *clientConn) ([][]any, error) {
			return [][]any{{f(c)}}, nil
		},
	}
}

var (
	synthInRecovery = oneValue("pg_is_in_recovery", oidBool, func(c *clientConn) any {
		ro, _ := c.sess.ReadOnly()
		return ro
	})
	synthVersion = oneValue("version", oidText, func(c *clientConn) any {
		return "PostgreSQL " + c.srv.cfg.ServerVersion + " (sqlink, SQLite " + c.sqliteVersion() + ")"
	})
	synthDatabase = oneValue("current_database", oidName, func(c *clientConn) any { return c.database })
	synthUser     = oneValue("current_user", oidName, func(c *clientConn) any { return c.user })
	synthSessUser = oneValue("session_user", oidName, func(c *clientConn) any { return c.user })
	synthSchema   = oneValue("current_schema", oidName, func(c *clientConn) any { return "public" })
)

// fixedQueries maps normalized statements to their synthetic answers.
var fixedQueries = map[string]*synthetic{
	"select pg_is_in_recovery()":            synthInRecovery,
	"select pg_catalog.pg_is_in_recovery()": synthInRecovery,
	"select version()":                      synthVersion,
	"select pg_catalog.version()":           synthVersion,
	"select current_database()":             synthDatabase,
	"select pg_catalog.current_database()":  synthDatabase,
	"select current_user":                   synthUser,
	"select user":                           synthUser,
	"select session_user":                   synthSessUser,
	"select current_schema()":               synthSchema,
	"select pg_catalog.current_schema()":    synthSchema,
}

// lookupSynthetic returns the synthetic answer for s, or nil when SQLite
// should run it.
func lookupSynthetic(s string) *synthetic {
	n := normalize(s)
	if syn := fixedQueries[n]; syn != nil {
		return syn
	}
	if syn := lookupStatSSL(n); syn != nil {
		return syn
	}

	if syn := lookupActivity(s, n); syn != nil {
		return syn
	}
	return lookupCatalog(s, n)
}
