package pgwire

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"strings"
)

// planFor classifies one statement and translates its PostgreSQL forms
// for this session (see translate).
func (c *clientConn) planFor(s string) *plan {
	if app := c.params["application_name"]; app == "pg_dump" || app == "pg_dumpall" {
		if p := c.pgDumpPlan(s); p != nil {
			return p
		}
	}
	p := buildPlan(s)
	if p.kind != planSQL {
		return p
	}
	return c.translatePlan(p)
}

func (c *clientConn) transEnv() *transEnv {
	return &transEnv{
		pid:      c.pid,
		version:  "PostgreSQL " + c.srv.cfg.ServerVersion + " (sqlink, SQLite " + c.sqliteVersion() + ")",
		user:     c.user,
		database: c.database,
		setting: func(name string) (string, error) {
			v, err := c.show(name)
			if err == nil && v == "" {
				if _, ok := c.params[name]; !ok {
					return "", newPgError(codeUndefinedObject, fmt.Sprintf("unrecognized configuration parameter %q", name))
				}
			}
			return v, err
		},
	}
}

// pgDumpPlan stops pg_dump at its first catalog query with an error
// that says what to use instead: pg_dump reads far more of pg_catalog than
// sqlink answers, and a dump made of partial answers would be silently
// incomplete. Its set_config runs (through SQLite's registered function).
func (c *clientConn) pgDumpPlan(s string) *plan {
	n := normalize(s)
	if strings.HasPrefix(n, "select pg_catalog.set_config('search_path',") {
		return c.translatePlan(&plan{kind: planSQL, sql: strings.TrimRight(strings.TrimSpace(s), "; \t\r\n"), verb: "SELECT", rows: true})
	}
	switch p := buildPlan(s); {
	case fixedQueries[n] != nil:
		return nil
	case p.kind == planSet, p.kind == planShow, p.kind == planBegin, p.kind == planCommit, p.kind == planRollback, p.kind == planNoop, p.kind == planEmpty:
		return nil
	}
	return &plan{kind: planRefuse, err: &pgError{Severity: "ERROR", Code: codeNotSupported,
		Message: "pg_dump is not supported: it reads more of PostgreSQL's catalog than sqlink emulates",
		Hint:    "Use `sqlink dump DB --to FILE` for an SQL dump, and restore it with psql -v ON_ERROR_STOP=1 -f FILE (or sqlink backup / restore for a binary copy)."}}
}

// translatePlan translates a planSQL plan.
func (c *clientConn) translatePlan(p *plan) *plan {
	if p.verb == "ALTER TABLE" {
		if a := parseAddPrimaryKey(p.sql); a != nil {
			return &plan{kind: planAddPK, verb: "ALTER TABLE", write: true, x: a}
		}
	}
	stmts, err := translate(p.sql, c.transEnv())
	if err != nil {
		return &plan{kind: planRefuse, err: err}
	}
	q := *p
	q.castOIDs = paramCastOIDs(p.sql)
	switch p.verb {
	case "TRUNCATE":
		q.verb = "TRUNCATE TABLE"
	case "CREATE UNLOGGED", "CREATE GLOBAL", "CREATE LOCAL":
		q.verb = "CREATE TABLE"
	}
	if len(stmts) == 1 && p.verb != "TRUNCATE" {
		q.sql = stmts[0]
		return &q
	}
	q.kind, q.x, q.rows, q.write = planMulti, stmts, false, true
	return &q
}

// executeExt runs the plans of this package's extensions to the
// statements SQLite runs.
func (c *clientConn) executeExt(ctx context.Context, pt *portal, describe bool) error {
	p := pt.stmt.plan
	switch p.kind {
	case planMulti:
		err := c.inWriteTx(ctx, p.verb, func() error {
			for _, q := range p.x.([]string) {
				if err := c.execArgs(ctx, q); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		c.complete(p.verb)
	case planAddPK:
		if err := c.inWriteTx(ctx, p.verb, func() error { return c.addPrimaryKey(ctx, p.x.(*addPrimaryKey)) }); err != nil {
			return err
		}
		c.complete(p.verb)
	case planCopy:
		return c.copy(ctx, p.x.(*copySpec))
	case planCursor:
		return c.cursorCommand(ctx, pt, describe, p.x.(*cursorSpec))
	}
	return nil
}

// inWriteTx runs f in the open transaction, or in one of its own that
// holds the database's write lock, committed when f succeeds.
func (c *clientConn) inWriteTx(ctx context.Context, verb string, f func() error) (err error) {
	if c.tx != txIdle {
		return f()
	}
	if err := c.beginWrite(); err != nil {
		return c.readOnlyError(verb, err)
	}
	bg := context.WithoutCancel(ctx)
	if err := c.execDirect(ctx, "BEGIN IMMEDIATE"); err != nil {
		return c.endWriteError(c.refused(err), c.endWrite(bg))
	}
	err = f()
	if err == nil {
		if err = c.execDirect(ctx, "COMMIT"); err != nil {
			_ = c.execDirect(bg, "ROLLBACK")
		}
	} else {
		_ = c.execDirect(bg, "ROLLBACK")
	}
	return c.endWriteError(err, c.endWrite(bg))
}

// execArgs runs one statement that writes, as the sandbox's write.
func (c *clientConn) execArgs(ctx context.Context, q string, args ...any) error {
	if err := c.declare(&plan{write: true}); err != nil {
		return err
	}
	err := c.raw(func(dc any) error {
		ec, ok := dc.(driver.ExecerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot exec", dc)
		}
		_, err := ec.ExecContext(ctx, q, namedValues(args))
		return err
	})
	if err != nil {
		return c.refused(err)
	}
	return nil
}

// queryAll runs a query and returns all its rows.
func (c *clientConn) queryAll(ctx context.Context, q string, args ...any) ([][]driver.Value, error) {
	var out [][]driver.Value
	err := c.raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot query", dc)
		}
		rows, err := qc.QueryContext(ctx, q, namedValues(args))
		if err != nil {
			return err
		}
		defer rows.Close()
		for {
			vals := make([]driver.Value, len(rows.Columns()))
			if err := rows.Next(vals); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			out = append(out, vals)
		}
	})
	return out, c.refused(err)
}

func namedValues(args []any) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return nv
}

func asString(v driver.Value) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// addPrimaryKey adds a primary key to an existing table. SQLite cannot
// alter a table's key, so: when every key column is NOT NULL, a UNIQUE
// index named like PostgreSQL's (t_pkey) enforces exactly what the key
// would (unique, never null); otherwise the table is rebuilt with the key
// in the transaction (new table, rows copied, old one dropped, the new one
// renamed, its indexes and triggers made again). Either fails as
// PostgreSQL would on duplicate (23505) or null (23502) keys.
func (c *clientConn) addPrimaryKey(ctx context.Context, a *addPrimaryKey) error {
	rows, err := c.queryAll(ctx, "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)", a.table)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return newPgError(codeUndefinedTable, fmt.Sprintf("relation %q does not exist", a.table))
	}
	notNull := map[string]bool{}
	for _, r := range rows {
		if pk, _ := r[3].(int64); pk > 0 {
			return newPgError("42P16", fmt.Sprintf("multiple primary keys for table %q are not allowed", a.table))
		}
		nn, _ := r[2].(int64)
		notNull[strings.ToLower(asString(r[0]))] = nn != 0
	}
	allNotNull := true
	quoted := make([]string, len(a.cols))
	for i, col := range a.cols {
		nn, ok := notNull[strings.ToLower(col)]
		if !ok {
			return newPgError(codeUndefinedColumn, fmt.Sprintf("column %q of relation %q does not exist", col, a.table))
		}
		allNotNull = allNotNull && nn
		quoted[i] = quoteIdent(col)
	}
	name := a.constraint
	if name == "" {
		name = a.table + "_pkey"
	}
	if allNotNull {
		return c.execArgs(ctx, fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (%s)", quoteIdent(name), quoteIdent(a.table), strings.Join(quoted, ", ")))
	}
	return c.rebuildWithPrimaryKey(ctx, a, quoted)
}

// rebuildWithPrimaryKey makes the table again with PRIMARY KEY (cols)
// and its key columns NOT NULL.
func (c *clientConn) rebuildWithPrimaryKey(ctx context.Context, a *addPrimaryKey, quoted []string) error {
	schema, err := c.queryAll(ctx, "SELECT type, name, sql FROM sqlite_schema WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type = 'table' DESC", a.table)
	if err != nil {
		return err
	}
	if len(schema) == 0 || asString(schema[0][0]) != "table" {
		return newPgError(codeUndefinedTable, fmt.Sprintf("relation %q does not exist", a.table))
	}
	views, err := c.queryAll(ctx, "SELECT name FROM sqlite_schema WHERE type = 'view'")
	if err != nil {
		return err
	}
	if len(views) > 0 {
		return unsupportedError(fmt.Sprintf("ADD PRIMARY KEY on a nullable column of %q while the database has views", a.table),
			"Declare the key columns NOT NULL when creating the table (then the key is a unique index), or drop the views, add the key and create them again.")
	}
	toks := lexSQL(asString(schema[0][2]))
	open, closing := -1, -1
	for i, t := range toks {
		if t.is("(") {
			open, closing = i, matchParenTok(toks, i)
			break
		}
	}
	if open < 0 || closing < 0 {
		return newPgError(codeInternal, fmt.Sprintf("cannot read the definition of table %q", a.table))
	}
	keys := map[string]bool{}
	for _, q := range a.cols {
		keys[strings.ToLower(q)] = true
	}
	defs := splitArgsTok(toks[open+1 : closing])
	var body []string
	for _, d := range defs {
		txt := strings.TrimSpace(joinTokens(d))
		if n := nextNonSpace(d, 0); n < len(d) && keys[strings.ToLower(identName(d[n]))] {
			txt += " NOT NULL"
		}
		body = append(body, txt)
	}
	body = append(body, "PRIMARY KEY ("+strings.Join(quoted, ", ")+")")
	tmp := "sqlink_rebuild_" + a.table
	create := "CREATE TABLE " + quoteIdent(tmp) + " (" + strings.Join(body, ", ") + ")" + joinTokens(toks[closing+1:])
	stmts := []string{
		create,
		fmt.Sprintf("INSERT INTO %s SELECT * FROM %s", quoteIdent(tmp), quoteIdent(a.table)),
		"DROP TABLE " + quoteIdent(a.table),
		fmt.Sprintf("ALTER TABLE %s RENAME TO %s", quoteIdent(tmp), quoteIdent(a.table)),
	}
	for _, r := range schema[1:] {
		stmts = append(stmts, asString(r[2]))
	}
	for _, q := range stmts {
		if err := c.execArgs(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
