package pgwire

import (
	"context"
	"database/sql/driver"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Catalog queries on SQLite. A SELECT that reads pg_catalog or
// information_schema relations is rewritten where PostgreSQL's syntax
// differs (pg_catalog. prefixes, the ~ operators, ::casts, E'' strings,
// catalog functions) and run on SQLite with the relations bound by a WITH
// clause (pgcatalog_views.go). What SQLite cannot run is refused with
// 0A000 naming what is missing: never an empty answer that would pass for
// "nothing of that kind".

var (
	reCatalogName  = regexp.MustCompile(`(?i)"?\bpg_catalog"?\s*\.\s*`)
	reInfoSchema   = regexp.MustCompile(`(?i)"?\binformation_schema"?\s*\.\s*"?(\w+)"?`)
	reOperator     = regexp.MustCompile(`(?i)\bOPERATOR\s*\(\s*([^)\s]+)\s*\)`)
	reCollate      = regexp.MustCompile(`(?i)\s+COLLATE\s+(?:"?default"?|"C"|"POSIX"|\w+)`)
	reRegclassLit  = regexp.MustCompile(`('(?:[^']|'')*')\s*::\s*regclass\b`)
	reRegclassExpr = regexp.MustCompile(`\b(\w+(?:\.\w+)?)\s*::\s*regclass\b`)
	reRegtypeExpr  = regexp.MustCompile(`\b(\w+(?:\.\w+)?)\s*::\s*regtype\b`)
	reAliasKeyword = regexp.MustCompile(`(?i)\b(AS)\s+(default|order|group|table|index|key|check|references|primary|unique|column|values|transaction|action|plan|query|offset|limit|to|from|where|select|set|end|case|when|then|else|row|rows|temp|view|trigger|match|filter|window|range|over|do|nothing|conflict)\b`)
	reCast         = regexp.MustCompile(`\s*::\s*(?:"char"|"?\w+"?)(?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?(?:\[\])?`)
	reRegexOps     = regexp.MustCompile(`!~~\*|~~\*|!~~|~~|!~\*|~\*|!~|~`)
	reWord         = regexp.MustCompile(`\b[A-Za-z_][A-Za-z0-9_]*\b`)
	reExpandPos    = regexp.MustCompile(`(?i)\(\s*information_schema__pg_expandarray\(([^()]+)\)\s*\)\s*\.\s*n\b`)
	reExpandMatch  = regexp.MustCompile(`(?i)([\w.]+)\s*=\s*\(\s*([\w.]+)\s*\)\s*\.\s*x\b`)
	reExpand       = regexp.MustCompile(`(?i)information_schema__pg_expandarray\(([^()]+)\)`)
	reSchemasIndex = regexp.MustCompile(`(?i)\(\s*(?:pg_catalog\.)?current_schemas\s*\(\s*(true|false)\s*\)\s*\)\s*\[\s*(\d+)\s*\]`)
	reSubscript    = regexp.MustCompile(`([\w.]+|\))\[([^\]\[]+)\]`)
	reSeries       = regexp.MustCompile(`(?i)\bgenerate_series\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s+(?:AS\s+)?(\w+)\s*\(\s*(\w+)\s*\)`)
	reNumLit       = regexp.MustCompile(`'-?\d+'`)
	reNoSuchTable  = regexp.MustCompile(`no such table: (\S+)`)
	reNoSuchFunc   = regexp.MustCompile(`no such function: (\S+)`)
	reNoSuchColumn = regexp.MustCompile(`no such column: (\S+)`)
)

// catalogNames are the relation names a query may read unqualified.
var catalogNames = func() map[string]bool {
	m := map[string]bool{}
	for _, v := range catalogViews {
		if !strings.HasPrefix(v.name, "sqlink_") {
			m[v.name] = true
		}
	}
	return m
}()

// isCatalogQuery says whether s, a statement, reads the emulated catalog.
func isCatalogQuery(s, n string) bool {
	if !strings.HasPrefix(n, "select") && !strings.HasPrefix(n, "with") && !strings.HasPrefix(n, "(") {
		return false
	}
	if strings.Contains(n, "pg_catalog.") || strings.Contains(n, "information_schema.") {
		return true
	}
	if !strings.Contains(n, "pg_") {
		return false
	}
	for _, w := range reWord.FindAllString(unquotedText(n), -1) {
		if catalogNames[w] {
			return true
		}
	}
	return false
}

// unquotedText is s with quoted strings and comments blanked.
func unquotedText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if j := skipQuoted(s, i); j != i {
			if s[i] == '"' {
				b.WriteString(strings.Trim(s[i:j], `"`))
			} else {
				b.WriteByte(' ')
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// catalogSQL answers s, a catalog query, on SQLite.
func catalogSQL(s string) *synthetic {
	nparams := maxParam(s)
	return &synthetic{
		query: func(ctx context.Context, c *clientConn, args []driver.NamedValue) ([]column, [][]any, error) {
			for len(args) < nparams {
				args = append(args, driver.NamedValue{Ordinal: len(args) + 1})
			}
			return c.catalogQuery(ctx, s, args)
		},
	}
}

func (c *clientConn) catalogQuery(ctx context.Context, s string, args []driver.NamedValue) ([]column, [][]any, error) {
	fnNames := map[string]string{}
	q := rewriteCatalog(s, fnNames)
	full, err := c.withCatalog(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	full = c.sessionValues(full)
	// A catalog query only reads: declared so, the sandbox refuses a
	// write in it.
	if err := c.declare(&plan{kind: planSQL}); err != nil {
		return nil, nil, err
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	rows, err := c.sess.Conn().QueryContext(ctx, full, vals...)
	if err != nil {
		c.log.Debug("pgwire: catalog query refused", "query", s, "rewritten", q, "err", err)
		return nil, nil, catalogError(err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	out, err := scanRows(rows, len(names))
	if err != nil {
		return nil, nil, catalogError(err)
	}
	cols := make([]column, len(names))
	for i, name := range names {
		cols[i] = column{name: pgColumnName(name), oid: catalogColumnOID(name, out, i)}
		if fn, ok := fnNames[name]; ok {
			cols[i].name = fn
		}
	}
	return cols, out, nil
}

// catalogError turns SQLite's refusal of a rewritten catalog query into
// 0A000 naming what sqlink does not emulate.
func catalogError(err error) error {
	msg := err.Error()
	hint := "sqlink emulates the pg_catalog and information_schema relations its README lists (section \"PostgreSQL clients\"), over SQLite's schema; query sqlite_schema or the pragma functions (pragma_table_info...) for the rest."
	var what string
	switch {
	case reNoSuchTable.MatchString(msg):
		name := reNoSuchTable.FindStringSubmatch(msg)[1]
		if strings.HasPrefix(name, "information_schema_") {
			name = "information_schema." + strings.TrimPrefix(name, "information_schema_")
		} else if strings.HasPrefix(name, "pg_") {
			name = "pg_catalog." + name
		}
		what = "relation " + name + " is not supported"
	case reNoSuchFunc.MatchString(msg):
		what = "function " + reNoSuchFunc.FindStringSubmatch(msg)[1] + " is not supported in catalog queries"
	case reNoSuchColumn.MatchString(msg):
		what = "column " + reNoSuchColumn.FindStringSubmatch(msg)[1] + " is not supported by the emulated catalog"
	case strings.Contains(msg, "syntax error") || strings.Contains(msg, "unrecognized token"):
		what = "this catalog query uses PostgreSQL syntax sqlink does not support (" + sqliteMessage(msg) + ")"
	default:
		return err
	}
	return &pgError{Severity: "ERROR", Code: codeNotSupported, Message: what, Hint: hint}
}

func sqliteMessage(msg string) string {
	if i := strings.Index(msg, "SQL logic error: "); i >= 0 {
		msg = msg[i+len("SQL logic error: "):]
	}
	return strings.TrimSuffix(msg, " (1)")
}

// boolColumns are catalog columns of type boolean.
var boolColumns = setOfNames("relhasindex", "relisshared", "relhasrules", "relhastriggers", "relhassubclass", "relrowsecurity",
	"relforcerowsecurity", "relispopulated", "relispartition", "relhasoids", "attbyval", "attnotnull", "atthasdef", "atthasmissing", "attisdropped",
	"attislocal", "indisunique", "indnullsnotdistinct", "indisprimary", "indisexclusion", "indimmediate", "indisclustered", "indisvalid",
	"indcheckxmin", "indisready", "indislive", "indisreplident", "condeferrable", "condeferred", "convalidated", "conislocal", "connoinherit",
	"typbyval", "typispreferred", "typisdefined", "typnotnull", "datistemplate", "datallowconn", "rolsuper", "rolinherit", "rolcreaterole",
	"rolcreatedb", "rolcanlogin", "rolreplication", "rolbypassrls", "usecreatedb", "usesuper", "userepl", "usebypassrls", "hasindexes",
	"hasrules", "hastriggers", "rowsecurity", "pending_restart", "tgisinternal", "tgdeferrable", "tginitdeferred", "inhdetachpending",
	"polpermissive", "puballtables", "extrelocatable", "lanispl", "lanpltrusted", "collisdeterministic", "admin_option", "ispopulated")

// oidColumns are catalog columns of type oid.
var oidColumns = setOfNames("oid", "relnamespace", "reltype", "reloftype", "relowner", "relam", "relfilenode", "reltablespace",
	"reltoastrelid", "attrelid", "atttypid", "attcollation", "indexrelid", "indrelid", "conrelid", "contypid", "conindid", "confrelid",
	"connamespace", "typnamespace", "typowner", "typrelid", "typelem", "typarray", "typbasetype", "typcollation", "nspowner", "datdba",
	"dattablespace", "adrelid", "objoid", "classoid", "tgrelid", "pronamespace", "prorettype", "proowner", "usesysid")

var charColumns = setOfNames("relkind", "relpersistence", "relreplident", "contype", "confupdtype", "confdeltype", "confmatchtype",
	"typtype", "typcategory", "typdelim", "attstorage", "attalign", "attidentity", "attgenerated", "datlocprovider", "prokind", "tgenabled", "amtype")

var int2Columns = setOfNames("relnatts", "relchecks", "attnum", "attlen", "typlen", "indnatts", "indnkeyatts", "adnum", "seqno", "key_seq", "objsubid")

func setOfNames(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// catalogColumnOID types a catalog query's result column: by the catalog
// column it names, else by its values.
func catalogColumnOID(name string, rows [][]any, i int) uint32 {
	switch n := strings.ToLower(name); {
	case boolColumns[n]:
		return oidBool
	case oidColumns[n]:
		return oidOID
	case charColumns[n]:
		return oidChar
	case int2Columns[n]:
		return oidInt2
	}
	for _, r := range rows {
		if oid := valueOID(r[i]); oid != oidUnknown {
			if oid == oidInt8 {
				return oidInt4
			}
			return oid
		}
	}
	return oidText
}

// withCatalog prefixes q with the WITH clause binding the catalog
// relations it reads.
func (c *clientConn) withCatalog(ctx context.Context, q string) (string, error) {
	var order []*catalogView
	seen := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		v := catalogViewByName[name]
		if v == nil || seen[name] {
			return
		}
		seen[name] = true
		for _, d := range v.deps {
			visit(d)
		}
		order = append(order, v)
	}
	for _, w := range reWord.FindAllString(unquotedText(q), -1) {
		visit(strings.ToLower(w))
	}
	if len(order) == 0 {
		return q, nil
	}
	var b strings.Builder
	b.WriteString("WITH ")
	trimmed := strings.TrimSpace(q)
	recursive := false
	if w := words(trimmed, 2); len(w) > 0 && w[0] == "WITH" {
		trimmed = strings.TrimSpace(trimmed[4:])
		if len(w) > 1 && w[1] == "RECURSIVE" {
			recursive = true
			trimmed = strings.TrimSpace(trimmed[9:])
		}
	} else {
		trimmed = ""
	}
	if recursive {
		b.WriteString("RECURSIVE ")
	}
	for i, v := range order {
		if i > 0 {
			b.WriteString(", ")
		}
		sql, err := v.viewSQL(ctx, c)
		if err != nil {
			return "", err
		}
		b.WriteString(v.name)
		b.WriteString(" AS (")
		b.WriteString(sql)
		b.WriteString(")")
	}
	if trimmed != "" {
		b.WriteString(", ")
		b.WriteString(trimmed)
	} else {
		b.WriteString(" ")
		b.WriteString(q)
	}
	return b.String(), nil
}

// sessionValues replaces, outside quotes, the session functions SQLite
// does not have by their values.
func (c *clientConn) sessionValues(q string) string {
	db := string(sqlLiteral(nil, c.database))
	user := string(sqlLiteral(nil, c.user))
	return replaceOutsideQuotes(q, func(s string) string {
		s = reCurrentDatabase.ReplaceAllLiteralString(s, db)
		s = reCurrentSchema.ReplaceAllLiteralString(s, "'public'")
		s = reVersion.ReplaceAllLiteralString(s, string(sqlLiteral(nil, "PostgreSQL "+c.srv.cfg.ServerVersion+" (sqlink)")))
		return reCurrentUser.ReplaceAllLiteralString(s, user)
	})
}

var (
	reCurrentSchema = regexp.MustCompile(`(?i)\bcurrent_schema\s*(?:\(\s*\))?`)
	reVersion       = regexp.MustCompile(`(?i)\bversion\s*\(\s*\)`)
)

// replaceOutsideQuotes applies f to the parts of q outside quoted strings,
// quoted names and comments.
func replaceOutsideQuotes(q string, f func(string) string) string {
	var out strings.Builder
	start := 0
	for i := 0; i < len(q); {
		if j := skipQuoted(q, i); j != i {
			out.WriteString(f(q[start:i]))
			out.WriteString(q[i:j])
			i, start = j, j
			continue
		}
		i++
	}
	out.WriteString(f(q[start:]))
	return out.String()
}

// rewriteCatalogQuery turns PostgreSQL's syntax in a catalog query into
// SQLite's.
func rewriteCatalogQuery(q string) string { return rewriteCatalog(q, nil) }

// rewriteCatalog is rewriteCatalogQuery; names, when not nil, maps the
// text of each rewritten function call to the function's name, which
// PostgreSQL names an unaliased result column after.
func rewriteCatalog(q string, names map[string]string) string {
	q = decodeEStrings(q)
	// generate_series(a, b) AS s(n): a recursive CTE of the numbers.
	q = reSeries.ReplaceAllString(q, "(WITH RECURSIVE sqlink_s(v) AS (SELECT $1 UNION ALL SELECT v + 1 FROM sqlink_s WHERE v < $2) SELECT v AS $4 FROM sqlink_s) $3")
	// current_schemas(b)[i] (pgJDBC's getSchemas), before [ reads as a
	// quoted name.
	q = reSchemasIndex.ReplaceAllStringFunc(q, func(m string) string {
		sm := reSchemasIndex.FindStringSubmatch(m)
		list := []string{"public"}
		if strings.EqualFold(sm[1], "true") {
			list = []string{"pg_catalog", "public"}
		}
		if i, _ := strconv.Atoi(sm[2]); i >= 1 && i <= len(list) {
			return "'" + list[i-1] + "'"
		}
		return "NULL"
	})
	// array[i]: catalog arrays are text ({1,2} or "1 2").
	q = replaceOutsideStrings(q, func(s string) string {
		return reSubscript.ReplaceAllString(s, "sqlink_array_at($1, $2)")
	})
	q = replaceOutsideQuotes(q, func(s string) string {
		s = reOperator.ReplaceAllString(s, " $1 ")
		s = reCatalogName.ReplaceAllLiteralString(s, "")
		s = reInfoSchema.ReplaceAllString(s, "information_schema_$1")
		return s
	})
	// Casts: a literal to regclass is the relation's OID; an identifier
	// to regclass, the relation's name; other casts are dropped.
	q = reRegclassLit.ReplaceAllStringFunc(q, func(m string) string {
		lit := reRegclassLit.FindStringSubmatch(m)[1]
		if reNumLit.MatchString(lit) {
			return strings.Trim(lit, "'")
		}
		return "(SELECT oid FROM pg_class WHERE relname = " + lit + ")"
	})
	// psql quotes OIDs: '16385'. The catalog's columns are expressions
	// without affinity, which never equal text.
	q = reNumLit.ReplaceAllStringFunc(q, func(m string) string { return strings.Trim(m, "'") })
	q = replaceOutsideQuotes(q, func(s string) string {
		s = reRegclassExpr.ReplaceAllString(s, "(SELECT relname FROM pg_class WHERE oid = $1)")
		s = reRegtypeExpr.ReplaceAllString(s, "format_type($1, -1)")
		s = reAliasKeyword.ReplaceAllString(s, `$1 "$2"`)
		s = reCast.ReplaceAllLiteralString(s, "")
		s = reCollate.ReplaceAllLiteralString(s, "")
		s = reRegexOps.ReplaceAllStringFunc(s, func(op string) string {
			switch op {
			case "~":
				return " REGEXP "
			case "!~":
				return " NOT REGEXP "
			case "~*":
				return " REGEXP '(?i)' || "
			case "!~*":
				return " NOT REGEXP '(?i)' || "
			case "~~":
				return " LIKE "
			case "!~~":
				return " NOT LIKE "
			case "~~*":
				return " LIKE "
			}
			return " NOT LIKE "
		})
		return s
	})
	q = rewriteAnyAll(q)
	// pgJDBC's getPrimaryKeys: (information_schema._pg_expandarray(i.indkey)).n
	// is the position of a.attnum in the index's key.
	q = reExpandPos.ReplaceAllString(q, "sqlink_array_pos($1, a.attnum)")
	q = reExpandMatch.ReplaceAllString(q, "sqlink_array_pos($2, $1) > 0")
	q = reExpand.ReplaceAllString(q, "$1")
	for name, f := range catalogFuncs {
		switch name {
		case "pg_get_constraintdef":
			f = ownRow(q, "pg_constraint", "sqlink_def")
		case "pg_get_triggerdef":
			f = ownRow(q, "pg_trigger", "sqlink_def")
		}
		q = rewriteCalls(q, name, func(args []string) string {
			r := f(args)
			// SQLite names an unaliased result column after its text:
			// remember what PostgreSQL names it.
			if names != nil {
				names[r] = name
			}
			return r
		})
	}
	return q
}

// catalogFuncs rewrite PostgreSQL's catalog functions; args are the call's
// arguments as written.
var catalogFuncs = map[string]func(args []string) string{
	"pg_table_is_visible":      constCall("1"),
	"pg_type_is_visible":       constCall("1"),
	"pg_function_is_visible":   constCall("1"),
	"pg_is_other_temp_schema":  constCall("0"),
	"has_table_privilege":      constCall("1"),
	"has_schema_privilege":     constCall("1"),
	"has_database_privilege":   constCall("1"),
	"has_column_privilege":     constCall("1"),
	"has_any_column_privilege": constCall("1"),
	"obj_description":          constCall("NULL"),
	"col_description":          constCall("NULL"),
	"shobj_description":        constCall("NULL"),
	"pg_table_size":            subquery("(SELECT sum(pgsize) FROM dbstat WHERE name = (SELECT relname FROM pg_class WHERE oid = (%s)))"),
	"pg_relation_size":         subquery("(SELECT sum(pgsize) FROM dbstat WHERE name = (SELECT relname FROM pg_class WHERE oid = (%s)))"),
	"pg_total_relation_size":   subquery("(SELECT sum(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name = (SELECT relname FROM pg_class WHERE oid = (%s))))"),
	"pg_indexes_size":          subquery("(SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = (SELECT relname FROM pg_class WHERE oid = (%s))))"),
	"pg_encoding_to_char":      constCall("'UTF8'"),
	"pg_get_userbyid":          subquery("(SELECT rolname FROM pg_roles WHERE oid = (%s))"),
	"pg_get_expr":              subquery("(%s)"),
	"array_to_string":          subquery("(%s)"),
	"quote_ident":              subquery("(%s)"),
	"pg_get_indexdef": func(args []string) string {
		if len(args) >= 2 && args[1] != "0" {
			// The definition of one column of the index.
			return fmt.Sprintf("(SELECT coalesce(name, 'expr') FROM pragma_index_info((SELECT relname FROM pg_class WHERE oid = (%s))) WHERE seqno + 1 = (%s))", args[0], args[1])
		}
		return subquery("(SELECT def FROM sqlink_indexdef WHERE oid = (%s))")(args)
	},
	"pg_get_constraintdef":               nil, // ownRow: it needs the query
	"pg_get_triggerdef":                  nil,
	"pg_get_viewdef":                     subquery("(SELECT ltrim(substr(sql, instr(upper(sql), ' AS ') + 4)) FROM sqlink_rel WHERE oid = (%s))"),
	"pg_database_size":                   subquery("(SELECT sqlink_size FROM pg_database WHERE datname = (%[1]s) OR oid = (%[1]s))"),
	"pg_relation_is_publishable":         constCall("0"),
	"pg_get_function_result":             constCall("NULL"),
	"pg_get_function_arguments":          constCall("NULL"),
	"pg_get_function_identity_arguments": constCall("NULL"),
	"pg_partition_ancestors":             subquery("%s"),
}

// ownRow reads column col of the row of catalog relation rel whose oid
// is the call's first argument. A bare oid argument names the oid of rel
// as q reads it (inside the subquery it would be the inner one).
func ownRow(q, rel, col string) func([]string) string {
	return func(args []string) string {
		arg := ""
		if len(args) > 0 {
			arg = args[0]
		}
		if strings.EqualFold(arg, "oid") {
			arg = rel + ".oid"
			re := regexp.MustCompile(`(?i)\b` + rel + `\s+(?:AS\s+)?(\w+)`)
			for _, m := range re.FindAllStringSubmatch(q, -1) {
				if !isSQLKeyword(m[1]) {
					arg = m[1] + ".oid"
					break
				}
			}
		}
		return fmt.Sprintf("(SELECT sqlink_x.%s FROM %s sqlink_x WHERE sqlink_x.oid = (%s))", col, rel, arg)
	}
}

func isSQLKeyword(w string) bool {
	switch strings.ToUpper(w) {
	case "WHERE", "JOIN", "LEFT", "RIGHT", "INNER", "OUTER", "CROSS", "ON", "ORDER", "GROUP", "LIMIT", "UNION", "AND", "OR", "USING", "NATURAL", "HAVING":
		return true
	}
	return false
}

func constCall(v string) func([]string) string { return func([]string) string { return v } }

func subquery(format string) func([]string) string {
	return func(args []string) string {
		a := ""
		if len(args) > 0 {
			a = args[0]
		}
		return fmt.Sprintf(format, a)
	}
}

// rewriteCalls replaces each call name(args) outside quotes by f(args).
func rewriteCalls(q, name string, f func(args []string) string) string {
	lower := strings.ToLower(q)
	var out strings.Builder
	i := 0
	for {
		j := indexWordCall(lower, q, name, i)
		if j < 0 {
			out.WriteString(q[i:])
			return out.String()
		}
		open := strings.IndexByte(q[j:], '(') + j
		end := matchParen(q, open)
		if end < 0 {
			out.WriteString(q[i:])
			return out.String()
		}
		out.WriteString(q[i:j])
		out.WriteString(f(splitArgs(q[open+1 : end])))
		i = end + 1
	}
}

// indexWordCall finds name followed by ( as a whole word outside quotes,
// from i.
func indexWordCall(lower, q, name string, i int) int {
	for i < len(q) {
		if j := skipQuoted(q, i); j != i {
			i = j
			continue
		}
		if strings.HasPrefix(lower[i:], name) && (i == 0 || !isIdentChar(q[i-1])) {
			k := i + len(name)
			for k < len(q) && (q[k] == ' ' || q[k] == '\t' || q[k] == '\n') {
				k++
			}
			if k < len(q) && q[k] == '(' {
				return i
			}
		}
		i++
	}
	return -1
}

// splitArgs splits a call's argument text at its top-level commas.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); {
		if j := skipQuoted(s, i); j != i {
			i = j
			continue
		}
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
		i++
	}
	if strings.TrimSpace(s) != "" {
		out = append(out, strings.TrimSpace(s[start:]))
	}
	return out
}

// decodeEStrings turns PostgreSQL's E'...' strings with backslash escapes
// into plain SQL strings.
func decodeEStrings(q string) string {
	if !strings.Contains(q, "E'") && !strings.Contains(q, "e'") {
		return q
	}
	var out strings.Builder
	for i := 0; i < len(q); {
		if (q[i] == 'E' || q[i] == 'e') && i+1 < len(q) && q[i+1] == '\'' && (i == 0 || !isIdentChar(q[i-1])) {
			var lit strings.Builder
			j := i + 2
			for ; j < len(q); j++ {
				ch := q[j]
				if ch == '\\' && j+1 < len(q) {
					j++
					switch q[j] {
					case 'n':
						lit.WriteByte('\n')
					case 't':
						lit.WriteByte('\t')
					case 'r':
						lit.WriteByte('\r')
					default:
						lit.WriteByte(q[j])
					}
					continue
				}
				if ch == '\'' {
					if j+1 < len(q) && q[j+1] == '\'' {
						lit.WriteByte('\'')
						j++
						continue
					}
					break
				}
				lit.WriteByte(ch)
			}
			out.Write(sqlLiteral(nil, lit.String()))
			i = j + 1
			continue
		}
		if j := skipQuoted(q, i); j != i {
			out.WriteString(q[i:j])
			i = j
			continue
		}
		out.WriteByte(q[i])
		i++
	}
	return out.String()
}

var (
	reAnyAll = regexp.MustCompile(`(?i)(=|<>|!=)\s*(ANY|ALL|SOME)\s*\(`)
	reArray  = regexp.MustCompile(`(?i)\bARRAY\s*\[`)
)

// rewriteAnyAll turns x = ANY(array) into x IN (the array's elements) and
// x <> ALL(array) into NOT IN; ARRAY[a, b] becomes a JSON array.
func rewriteAnyAll(q string) string {
	for {
		loc := indexOutsideQuotes(q, reArray)
		if loc == nil {
			break
		}
		end := strings.IndexByte(q[loc[1]:], ']')
		if end < 0 {
			break
		}
		end += loc[1]
		q = q[:loc[0]] + "json_array(" + q[loc[1]:end] + ")" + q[end+1:]
	}
	for {
		loc := indexOutsideQuotes(q, reAnyAll)
		if loc == nil {
			return q
		}
		m := reAnyAll.FindStringSubmatch(q[loc[0]:loc[1]])
		open := loc[1] - 1
		end := matchParen(q, open)
		if end < 0 {
			return q
		}
		in := "IN"
		if m[1] != "=" {
			in = "NOT IN"
		}
		q = q[:loc[0]] + in + " (SELECT value FROM json_each(sqlink_array_json(" + q[open+1:end] + ")))" + q[end+1:]
	}
}

// indexOutsideQuotes is re.FindStringIndex for the first match outside
// quoted strings, quoted names and comments.
func indexOutsideQuotes(q string, re *regexp.Regexp) []int {
	for i := 0; i < len(q); {
		if j := skipQuoted(q, i); j != i {
			i = j
			continue
		}
		if loc := re.FindStringIndex(q[i:]); loc != nil && loc[0] == 0 {
			return []int{i, i + loc[1]}
		}
		i++
	}
	return nil
}

// replaceOutsideStrings applies f to the parts of q outside '...' strings,
// "..." names and comments (unlike replaceOutsideQuotes, [ is not a quote:
// PostgreSQL's array subscripts).
func replaceOutsideStrings(q string, f func(string) string) string {
	var out strings.Builder
	start := 0
	for i := 0; i < len(q); {
		if q[i] != '[' {
			if j := skipQuoted(q, i); j != i {
				out.WriteString(f(q[start:i]))
				out.WriteString(q[i:j])
				i, start = j, j
				continue
			}
		}
		i++
	}
	out.WriteString(f(q[start:]))
	return out.String()
}
