package pgwire

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// pg_stat_activity and the functions that act on sessions.
//
// A query that reads pg_stat_activity runs on SQLite with the view bound
// to the sessions' rows by a common table expression: SELECT *, a few
// columns, a WHERE clause, ORDER BY, count(*) and joins all work as SQLite
// evaluates them. pg_backend_pid(), current_database() and current_user in
// such a query are replaced by their values. pg_cancel_backend(pid) and
// pg_terminate_backend(pid) are answered in Go, on a literal pid or on the
// pids a "FROM pg_stat_activity ..." query selects.

var (
	reSignal = regexp.MustCompile(`^select (?:pg_catalog\.)?pg_(cancel|terminate)_backend ?\( ?(\d+|pid) ?\)(?: as ("[^"]+"|\w+))?(?: from (.+))?$`)

	reCatalogActivity = regexp.MustCompile(`(?i)\bpg_catalog\s*\.\s*pg_stat_activity\b`)
	reBackendPID      = regexp.MustCompile(`(?i)\b(?:pg_catalog\s*\.\s*)?pg_backend_pid\s*\(\s*\)`)
	reCurrentDatabase = regexp.MustCompile(`(?i)\b(?:pg_catalog\s*\.\s*)?current_database\s*\(\s*\)`)
	reCurrentUser     = regexp.MustCompile(`(?i)\b(?:current_user|session_user)\b`)
)

var synthBackendPID = oneValue("pg_backend_pid", oidInt4, func(c *clientConn) any { return int64(c.pid) })

// lookupActivity returns the synthetic answer to a statement about
// sessions, or nil. s is the statement, n its normalized form.
func lookupActivity(s, n string) *synthetic {
	switch n {
	case "select pg_backend_pid()", "select pg_catalog.pg_backend_pid()":
		return synthBackendPID
	}
	if !strings.HasPrefix(n, "select ") && !strings.HasPrefix(n, "with ") {
		return nil
	}
	if strings.Contains(n, "_backend") {
		if m := reSignal.FindStringSubmatch(n); m != nil && (m[2] != "pid" || m[4] != "") {
			return signalSynthetic(m[1] == "terminate", m[2], m[3], m[4])
		}
	}
	if !strings.Contains(n, "pg_stat_activity") || !hasWord(s, "PG_STAT_ACTIVITY") {
		return nil
	}
	for _, w := range []string{"INSERT", "UPDATE", "DELETE", "REPLACE"} {
		if hasWord(s, w) {
			return nil // a write: SQLite refuses it (no such table), under the write lock
		}
	}
	nparams := maxParam(s)
	return &synthetic{
		query: func(ctx context.Context, c *clientConn, args []driver.NamedValue) ([]column, [][]any, error) {
			// Describe runs it without arguments: NULLs stand in.
			for len(args) < nparams {
				args = append(args, driver.NamedValue{Ordinal: len(args) + 1})
			}
			return c.activityQuery(ctx, s, args)
		},
	}
}

// signalSynthetic answers pg_cancel_backend / pg_terminate_backend on a
// literal pid, or on each pid that "SELECT pid FROM from" returns.
func signalSynthetic(terminate bool, arg, alias, from string) *synthetic {
	name := "pg_cancel_backend"
	if terminate {
		name = "pg_terminate_backend"
	}
	if alias != "" {
		name = strings.Trim(alias, `"`)
	}
	return &synthetic{
		cols: []column{{name: name, oid: oidBool}},
		run: func(ctx context.Context, c *clientConn) ([][]any, error) {
			var pids []int64
			if from == "" {
				pid, err := strconv.ParseInt(arg, 10, 64)
				if err != nil {
					return nil, newPgError(codeInvalidParameter, fmt.Sprintf("invalid process id %q", arg))
				}
				pids = append(pids, pid)
			} else {
				_, rows, err := c.activityQuery(ctx, "select pid from "+from, nil)
				if err != nil {
					return nil, err
				}
				for _, r := range rows {
					if pid, ok := r[0].(int64); ok {
						pids = append(pids, pid)
					}
				}
			}
			out := make([][]any, 0, len(pids))
			for _, pid := range pids {
				ok, err := c.signal(pid, terminate)
				if err != nil {
					return nil, err
				}
				out = append(out, []any{ok})
			}
			return out, nil
		},
	}
}

// signal cancels the statement of session pid, or terminates the session.
// A superuser may signal any session, another login only its own ones
// (PostgreSQL's rule for roles without pg_signal_backend).
func (c *clientConn) signal(pid int64, terminate bool) (bool, error) {
	t := c.srv.lookupPID(pid)
	if t == nil || t.info().BackendStart.IsZero() {
		c.send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "01000",
			Message: fmt.Sprintf("PID %d is not a PostgreSQL backend process", pid)})
		return false, nil
	}
	if t.user != c.user && !c.superuser() {
		what, verb := "cancel query", "canceled"
		if terminate {
			what, verb = "terminate process", "terminated"
		}
		return false, &pgError{Severity: "ERROR", Code: codeInsufficientPriv,
			Message: "permission denied to " + what,
			Detail:  fmt.Sprintf("Only the instance's admin login and the login whose session is being %s (%q) may do this.", verb, t.user),
			Hint:    "Connect as the instance's admin login, or end the session with sqlink session kill (admin permission instance/write).",
		}
	}
	if terminate {
		c.log.Info("pgwire: session terminated", "pid", pid, "by", c.user, "by_pid", c.pid)
		t.terminate(newPgError(codeAdminShutdown, "terminating connection due to administrator command"))
	} else {
		c.log.Info("pgwire: statement cancelled", "pid", pid, "by", c.user, "by_pid", c.pid)
		t.cancelStatement(msgCancelUser)
	}
	return true, nil
}

// activityQuery runs q, a query that reads pg_stat_activity, on SQLite.
func (c *clientConn) activityQuery(ctx context.Context, q string, args []driver.NamedValue) ([]column, [][]any, error) {
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	rows, err := c.sess.Conn().QueryContext(ctx, c.activitySQL(q), vals...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	types, _ := rows.ColumnTypes()
	out, err := scanRows(rows, len(names))
	if err != nil {
		return nil, nil, err
	}
	cols := make([]column, len(names))
	for i, name := range names {
		cols[i] = column{name: name, oid: oidText}
		if i < len(types) && types[i].DatabaseTypeName() != "" {
			cols[i].oid = oidForDeclType(types[i].DatabaseTypeName())
			continue
		}
		if oid, ok := activityColumnOID(name); ok {
			cols[i].oid = oid
			continue
		}
		for _, r := range out {
			switch r[i].(type) {
			case int64:
				cols[i].oid = oidInt8
			case float64:
				cols[i].oid = oidFloat8
			case []byte:
				cols[i].oid = oidBytea
			case nil:
				continue
			}
			break
		}
	}
	return cols, out, nil
}

func activityColumnOID(name string) (uint32, bool) {
	for _, col := range activityColumns {
		if col.name == name {
			return col.oid, true
		}
	}
	return 0, false
}

// activitySQL binds pg_stat_activity in q to the sessions' rows. Each
// column is CAST to its type so that it has SQLite's affinity of that type:
// pid = '123' (a parameter pgx sent as text) compares as a number.
func (c *clientConn) activitySQL(q string) string {
	var b []byte
	b = append(b, "WITH pg_stat_activity AS (SELECT "...)
	for i, col := range activityColumns {
		if i > 0 {
			b = append(b, ", "...)
		}
		typ := "TEXT"
		switch col.oid {
		case oidInt4, oidInt8, oidOID:
			typ = "INTEGER"
		}
		b = fmt.Appendf(b, "CAST(column%d AS %s) AS %s", i+1, typ, col.name)
	}
	b = append(b, " FROM (VALUES "...)
	rows := c.activityRows()
	empty := len(rows) == 0
	if empty {
		rows = [][]any{make([]any, len(activityColumns))}
	}
	for i, r := range rows {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '(')
		for j, v := range r {
			if j > 0 {
				b = append(b, ", "...)
			}
			b = sqlLiteral(b, v)
		}
		b = append(b, ')')
	}
	b = append(b, ')')
	if empty {
		b = append(b, " WHERE 0"...)
	}
	b = append(b, ") "...)
	q = c.replaceUnquoted(q)
	if w := words(q, 1); len(w) > 0 && w[0] == "WITH" {
		return string(b) + "SELECT * FROM (" + q + ")"
	}
	return string(b) + q
}

// replaceUnquoted replaces, outside quotes and comments, the session
// functions SQLite does not have and pg_catalog.pg_stat_activity.
func (c *clientConn) replaceUnquoted(q string) string {
	pid := strconv.FormatUint(uint64(c.pid), 10)
	db := string(sqlLiteral(nil, c.database))
	user := string(sqlLiteral(nil, c.user))
	repl := func(s string) string {
		s = reCatalogActivity.ReplaceAllLiteralString(s, "pg_stat_activity")
		s = reBackendPID.ReplaceAllLiteralString(s, pid)
		s = reCurrentDatabase.ReplaceAllLiteralString(s, db)
		return reCurrentUser.ReplaceAllLiteralString(s, user)
	}
	var out strings.Builder
	start := 0
	for i := 0; i < len(q); {
		if j := skipQuoted(q, i); j != i {
			out.WriteString(repl(q[start:i]))
			out.WriteString(q[i:j])
			i, start = j, j
			continue
		}
		i++
	}
	out.WriteString(repl(q[start:]))
	return out.String()
}

// scanRows reads every row of rows, n columns each, as the driver's values.
func scanRows(rows *sql.Rows, n int) ([][]any, error) {
	var out [][]any
	for rows.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}
