package pgwire

import (
	"database/sql/driver"
	"io"
	"strconv"
	"strings"
)

// Result column types. A column with a declared type is described by it
// (oidForDeclType). A column without one (count(*), 1+1, upper(x)) is
// described by the SQLite type of its first non-NULL value: the statement
// is run when it is described, up to peekRows rows are read ahead, and
// the same rows and description serve the Execute that follows, so
// Describe and Execute always agree. A column whose first rows are all
// NULL is text. A Describe of a statement (not a portal: pgx's prepare)
// does not run it: its expression columns stay OID 0 there and in the
// Executes that follow, and clients decode them by their scan target.

const peekRows = 64

// resolveColumns types pt.cols that have no type from the first rows of
// pt.rows, keeping the rows read in pt.peeked.
func (c *clientConn) resolveColumns(pt *portal) error {
	if pt.rows == nil {
		return nil
	}
	var untyped []int
	for i, col := range pt.cols {
		if col.oid == oidUnknown {
			untyped = append(untyped, i)
		}
	}
	if len(untyped) == 0 {
		return nil
	}
	cols := append([]column(nil), pt.cols...)
	for len(untyped) > 0 && len(pt.peeked) < peekRows && !pt.eof {
		vals := make([]driver.Value, len(cols))
		err := pt.rows.Next(vals)
		if err == io.EOF {
			pt.eof = true
			break
		}
		if err != nil {
			return err
		}
		pt.peeked = append(pt.peeked, vals)
		rest := untyped[:0]
		for _, i := range untyped {
			if oid := valueOID(vals[i]); oid != oidUnknown {
				cols[i].oid = oid
			} else {
				rest = append(rest, i)
			}
		}
		untyped = rest
	}
	for _, i := range untyped {
		cols[i].oid = oidText
	}
	pt.cols = cols
	return nil
}

// describePortal runs a reading portal's statement to describe its rows
// (see resolveColumns); the rows opened serve its Execute. ok is false
// when the portal is not one that can be described so.
func (c *clientConn) describePortal(pt *portal) (ok bool, err error) {
	ps, p := pt.stmt, pt.stmt.plan
	if p.kind != planSQL || !p.rows || p.write || ps.ds == nil || pt.rows != nil || pt.done || c.tx == txFailed {
		return false, nil
	}
	if _, err := c.columns(ps); err != nil {
		return false, err
	}
	if !hasUntyped(ps.cols) {
		return false, nil
	}
	ctx := c.startQuery()
	defer c.endQuery()
	if err := c.cancelledAtStart(p); err != nil {
		return false, err
	}
	if err := c.declare(p); err != nil {
		return false, err
	}
	err = c.raw(func(any) error {
		qc, ok := ps.ds.(driver.StmtQueryContext)
		if !ok {
			return nil
		}
		rows, err := qc.QueryContext(ctx, pt.args)
		if err != nil {
			return err
		}
		pt.rows, pt.cols, pt.described = rows, ps.cols, true
		return c.resolveColumns(pt)
	})
	if err != nil {
		pt.close()
		pt.peeked, pt.eof, pt.described = nil, false, false
		return false, toPgError(c.refused(err))
	}
	return pt.described, nil
}

func hasUntyped(cols []column) bool {
	for _, col := range cols {
		if col.oid == oidUnknown {
			return true
		}
	}
	return false
}

// pgColumnName is the name PostgreSQL gives a result column SQLite names
// after its expression: a function call is named after the function
// (count(*) is count); other names stay as SQLite gives them.
func pgColumnName(name string) string {
	i := strings.IndexByte(name, '(')
	if i <= 0 || !strings.HasSuffix(name, ")") {
		return name
	}
	fn := strings.TrimSpace(name[:i])
	if j := strings.LastIndexByte(fn, '.'); j >= 0 {
		fn = fn[j+1:]
	}
	for k := 0; k < len(fn); k++ {
		if !isIdentChar(fn[k]) {
			return name
		}
	}
	return strings.ToLower(fn)
}

// staticTypes types, without running the statement, the expression
// columns of sql whose type the expression alone tells: count(*),
// length(x), upper(x), literals... so that a Describe of a statement
// (pgx, database/sql) and of a portal agree on them.
func staticTypes(sql string, cols []column) {
	var exprs []string
	for i, col := range cols {
		if col.oid != oidUnknown {
			continue
		}
		if exprs == nil {
			exprs = selectList(sql)
		}
		e := col.name
		if len(exprs) == len(cols) {
			e = exprs[i]
		}
		cols[i].oid = exprOID(e)
	}
}

// selectList returns the result expressions of a SELECT, nil when it
// cannot tell them.
func selectList(sql string) []string {
	toks := sqlWords(sql)
	if len(toks) == 0 {
		return nil
	}
	if strings.EqualFold(toks[0].s, "WITH") {
		// The main SELECT follows the common table expressions.
		if t, ok := firstTopLevel(toks[1:], "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE"); ok {
			return selectList(sql[t.pos:])
		}
		return nil
	}
	if !strings.EqualFold(toks[0].s, "SELECT") {
		// INSERT/UPDATE/DELETE ... RETURNING list
		if t, ok := firstTopLevel(toks, "RETURNING"); ok {
			return splitArgs(sql[t.pos+len("RETURNING"):])
		}
		return nil
	}
	start := toks[0].pos + len("SELECT")
	if len(toks) > 1 && (strings.EqualFold(toks[1].s, "DISTINCT") || strings.EqualFold(toks[1].s, "ALL")) {
		start = toks[1].pos + len(toks[1].s)
	}
	end := len(sql)
	if t, ok := firstTopLevel(toks[1:], "FROM", "WHERE", "GROUP", "ORDER", "LIMIT", "UNION", "WINDOW", "HAVING"); ok {
		end = t.pos
	}
	if start > end {
		return nil
	}
	return splitArgs(sql[start:end])
}

// firstTopLevel returns the first of toks, outside parentheses, that is one
// of the keywords.
func firstTopLevel(toks []sqlWord, keywords ...string) (sqlWord, bool) {
	depth := 0
	for _, t := range toks {
		switch {
		case t.s == "(":
			depth++
		case t.s == ")":
			depth--
		case depth == 0:
			for _, k := range keywords {
				if strings.EqualFold(t.s, k) {
					return t, true
				}
			}
		}
	}
	return sqlWord{}, false
}

var (
	intFuncs  = setOfNames("count", "length", "instr", "unicode", "changes", "total_changes", "last_insert_rowid", "random", "octet_length", "row_number", "rank", "dense_rank", "ntile")
	realFuncs = setOfNames("total", "avg", "julianday", "percent_rank", "cume_dist", "pi", "sqrt", "exp", "ln", "log", "log2", "log10", "pow", "power", "sin", "cos", "tan")
	textFuncs = setOfNames("upper", "lower", "substr", "substring", "replace", "trim", "ltrim", "rtrim", "typeof", "hex", "quote", "group_concat", "string_agg",
		"printf", "format", "char", "sqlite_version", "date", "time", "datetime", "strftime", "concat", "concat_ws", "json", "json_array", "json_object",
		"json_extract_string", "soundex", "unistr", "timediff")
)

// exprOID is the type of a result expression when the expression alone
// tells it, else 0.
func exprOID(e string) uint32 {
	e = strings.TrimSpace(e)
	// Drop a trailing alias: expr AS name, expr name.
	if w := sqlWords(e); len(w) >= 2 {
		last := w[len(w)-1]
		prev := w[len(w)-2]
		if strings.EqualFold(prev.s, "AS") {
			e = strings.TrimSpace(e[:prev.pos])
		} else if last.pos > 0 && (isIdentChar(last.s[0]) || last.s[0] == '"') && !strings.HasSuffix(strings.TrimSpace(e[:last.pos]), ".") &&
			prev.s != "(" && prev.s != "," && (prev.s == ")" || prev.s == "'" || isIdentChar(prev.s[0])) && !isSQLKeyword(prev.s) {
			e = strings.TrimSpace(e[:last.pos])
		}
	}
	switch {
	case e == "":
		return oidUnknown
	case e[0] == '\'' && strings.HasSuffix(e, "'") && skipQuoted(e, 0) == len(e):
		return oidText
	case (e[0] == 'x' || e[0] == 'X') && len(e) > 1 && e[1] == '\'' && skipQuoted(e, 1) == len(e):
		return oidBytea
	}
	if isPredicate(e) {
		return oidBool
	}
	if isConcat(e) {
		return oidText
	}
	if _, err := strconv.ParseInt(e, 10, 64); err == nil {
		return oidInt8
	}
	if _, err := strconv.ParseFloat(e, 64); err == nil && strings.ContainsAny(e, ".eE") {
		return oidFloat8
	}
	i := strings.IndexByte(e, '(')
	if i <= 0 || matchParen(e, i) != len(e)-1 {
		return oidUnknown
	}
	fn := strings.ToLower(strings.TrimSpace(e[:i]))
	switch {
	case typedCastOIDs[fn] != 0:
		return typedCastOIDs[fn]
	case intFuncs[fn]:
		return oidInt8
	case realFuncs[fn]:
		return oidFloat8
	case textFuncs[fn]:
		return oidText
	}
	return oidUnknown
}

// isPredicate says whether e is a comparison or a logical expression at
// its top level (a = b, x LIKE y, NOT x, a IS NULL, EXISTS (...)): a
// boolean, as PostgreSQL describes it, which SQLite computes as 0 or 1.
func isPredicate(e string) bool {
	depth := 0
	pred := false
	toks := tokenize(e)
	for i, t := range toks {
		switch {
		case t.s == "(":
			depth++
		case t.s == ")":
			depth--
		case depth != 0:
		case t.ident && t.s == "CASE":
			return false
		case t.ident && (t.s == "LIKE" || t.s == "GLOB" || t.s == "REGEXP" || t.s == "MATCH" || t.s == "IN" || t.s == "IS" ||
			t.s == "BETWEEN" || t.s == "AND" || t.s == "OR" || t.s == "NOT" || t.s == "EXISTS"):
			pred = true
		case compareOps[t.s] && t.s != "IS":
			if t.s == ">" && i > 0 && (toks[i-1].s == "-" || toks[i-1].s == ">") {
				continue // -> and ->> (JSON)
			}
			pred = true
		}
	}
	return pred
}

// isConcat says whether e is a || concatenation at its top level: text.
func isConcat(e string) bool {
	depth := 0
	toks := tokenize(e)
	for i, t := range toks {
		switch {
		case t.s == "(":
			depth++
		case t.s == ")":
			depth--
		case depth == 0 && t.ident && t.s == "CASE":
			return false
		case depth == 0 && t.s == "|" && i+1 < len(toks) && toks[i+1].s == "|":
			return true
		}
	}
	return false
}
