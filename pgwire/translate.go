package pgwire

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// transEnv is what a translation needs from the session: the values of
// the session functions that are rewritten into literals.
type transEnv struct {
	pid      uint32
	version  string
	user     string
	database string
	setting  func(name string) (string, error)
}

// translate rewrites the PostgreSQL forms that drivers and tools send in
// one statement into SQLite's, on tokens (see tokens.go): casts
// (expr::type), E'...' strings, ILIKE, pg_catalog.-qualified function
// names, the session functions (pg_backend_pid(), version(),
// current_setting(), current_schema(), current_user...), DROP of several
// tables, TRUNCATE, and in CREATE TABLE the SERIAL and identity columns,
// UNLOGGED and WITH (storage parameters). It returns the statements to run
// in order (more than one for DROP TABLE a, b and TRUNCATE a, b), or a
// 0A000 error naming a construct that has no SQLite equivalent.
func translate(sql string, env *transEnv) ([]string, *pgError) {
	out, err := translateStatement(sql, env)
	if err != nil {
		return nil, err
	}
	// A rewrite must never move a statement boundary: SQLite's tokenizer
	// ends statements by keywords too (CREATE TRIGGER ... END), so check
	// that each statement is still one statement to SQLite.
	for _, o := range out {
		if len(statementEnds(o)) > 0 {
			return nil, &pgError{Severity: "ERROR", Code: codeSyntaxError,
				Message: "cannot translate this statement: its PostgreSQL forms would change where SQLite ends it",
				Hint:    "Write it in SQLite's dialect (CAST(x AS type) rather than x::type)."}
		}
	}
	return out, nil
}

func translateStatement(sql string, env *transEnv) ([]string, *pgError) {
	toks := lexSQL(sql)
	sig := significant(toks)
	if len(sig) == 0 {
		return []string{sql}, nil
	}
	if err := refuseUnsupported(sig); err != nil {
		return nil, err
	}
	toks, err := rewriteExpressions(toks, env)
	if err != nil {
		return nil, err
	}
	if toks, err = rewriteClauses(toks); err != nil {
		return nil, err
	}
	sig = significant(toks)
	switch {
	case sig[0].is("DROP") && len(sig) > 2 && (sig[1].is("TABLE") || sig[1].is("VIEW") || sig[1].is("INDEX") || sig[1].is("TRIGGER")):
		return dropStatements(sig)
	case sig[0].is("TRUNCATE"):
		return truncateStatements(sig)
	case sig[0].is("VACUUM") && len(sig) > 1:
		return vacuumStatements(sig)
	case sig[0].is("CREATE"):
		return createTable(toks)
	}
	return []string{joinTokens(toks)}, nil
}

// unsupportedError is the 0A000 error naming a PostgreSQL construct.
func unsupportedError(what, hint string) *pgError {
	return &pgError{Severity: "ERROR", Code: codeNotSupported, Message: what + " is not supported by sqlink (SQLite has no equivalent)", Hint: hint}
}

// refuseUnsupported refuses statements that are PostgreSQL-only, naming
// them, rather than letting SQLite answer with a syntax error.
func refuseUnsupported(sig []sqlToken) *pgError {
	w := func(i int) string {
		if i < len(sig) && sig[i].kind == tWord {
			return strings.ToUpper(sig[i].text)
		}
		return ""
	}
	switch w(0) {
	case "CREATE":
		i := 1
		if w(i) == "OR" && w(i+1) == "REPLACE" {
			i += 2
		}
		switch obj := w(i); obj {
		case "SEQUENCE", "EXTENSION", "SCHEMA", "FUNCTION", "PROCEDURE", "TYPE", "DOMAIN", "ROLE", "USER", "DATABASE", "AGGREGATE", "OPERATOR", "POLICY", "PUBLICATION", "SUBSCRIPTION", "RULE", "TABLESPACE", "MATERIALIZED":
			return unsupportedError("CREATE "+obj, "sqlink runs SQLite's dialect: tables, indexes, views and triggers. Integer keys that number themselves are INTEGER PRIMARY KEY columns (SERIAL is translated to one).")
		}
	case "DO", "CALL":
		return unsupportedError(w(0)+" (PL/pgSQL and procedures)", "Run the statements themselves; SQLite has no procedural language.")
	case "PREPARE", "EXECUTE":
		return unsupportedError("SQL-level "+w(0), "Use your driver's prepared statements (the extended query protocol).")
	case "REFRESH", "CLUSTER", "SECURITY", "IMPORT":
		return unsupportedError(w(0), "sqlink runs SQLite's dialect.")
	case "GRANT", "REVOKE":
		return unsupportedError(w(0), "Permissions are managed with sqlink login grant (see sqlink login --help).")
	case "COMMENT":
		return unsupportedError("COMMENT ON", "Remove the COMMENT statements from the script.")
	case "ALTER":
		if w(1) == "TABLE" {
			for i := 2; i+1 < len(sig); i++ {
				if w(i) == "OWNER" && w(i+1) == "TO" {
					return unsupportedError("ALTER TABLE ... OWNER TO", "Tables have no owners in sqlink; remove the statement.")
				}
			}
			for i := 2; i < len(sig); i++ {
				if serialTypes[strings.ToLower(w(i))] || w(i) == "IDENTITY" {
					return unsupportedError("adding a "+strings.ToUpper(sig[i].text)+" column", "SQLite numbers only a table's rowid, declared with the table: create the table again with an INTEGER PRIMARY KEY column.")
				}
			}
		}
		switch obj := w(1); obj {
		case "SEQUENCE", "SCHEMA", "FUNCTION", "TYPE", "DOMAIN", "ROLE", "USER", "DATABASE", "EXTENSION", "DEFAULT":
			return unsupportedError("ALTER "+obj, "sqlink runs SQLite's dialect.")
		}
	}
	return nil
}

// rewriteExpressions rewrites casts, E'...' strings, ILIKE and function
// calls anywhere in the statement.
func rewriteExpressions(toks []sqlToken, env *transEnv) ([]sqlToken, *pgError) {
	out := make([]sqlToken, 0, len(toks))
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.is("::"):
			rest, err := rewriteCast(&out, toks[i+1:])
			if err != nil {
				return nil, err
			}
			i = len(toks) - len(rest) - 1
			continue
		case t.kind == tWord && (t.text == "E" || t.text == "e") && i+1 < len(toks) && toks[i+1].kind == tString:
			v, err := unescapeE(stringValueRaw(toks[i+1]))
			if err != nil {
				return nil, err
			}
			out = append(out, sqlToken{tString, quoteString(v)})
			i++
			continue
		case t.is("ILIKE"):
			out = append(out, sqlToken{tWord, "LIKE"})
			continue
		case publicSchema(toks, i) && tableKeyword(out):
			// public.t where a table name goes: sqlink has one schema.
			i++
			continue
		case t.kind == tWord && (t.is("current_user") || t.is("session_user")) && !followedBy(toks, i, "(") && !precededByDot(out):
			out = append(out, sqlToken{tString, quoteString(env.user)})
			continue
		case t.kind == tWord && followedBy(toks, i, "("):
			// pg_catalog.f(...) is f(...).
			if n := len(out); n >= 2 && out[n-1].is(".") && strings.EqualFold(identName(out[n-2]), "pg_catalog") {
				out = out[:n-2]
			}
			if precededByDot(out) {
				break
			}
			lit, n, err := sessionFunction(toks, i, env)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				out = append(out, sqlToken{tString, lit})
				i += n - 1
				continue
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// publicSchema reports whether toks[i] is the schema name public
// qualifying the name that follows it: public.t, "public"."t".
func publicSchema(toks []sqlToken, i int) bool {
	t := toks[i]
	if !(t.kind == tWord && strings.EqualFold(t.text, "public") || t.kind == tQIdent && identName(t) == "public") {
		return false
	}
	return i+2 < len(toks) && toks[i+1].is(".") && (toks[i+2].kind == tWord || toks[i+2].kind == tQIdent)
}

// tableKeyword reports whether the last significant token of out is a
// keyword a table name follows.
func tableKeyword(out []sqlToken) bool {
	j := prevNonSpace(out, len(out))
	if j < 0 || out[j].kind != tWord {
		return false
	}
	switch strings.ToUpper(out[j].text) {
	case "FROM", "JOIN", "INTO", "UPDATE", "TABLE", "EXISTS", "ON", "REFERENCES", "TRUNCATE", "ONLY", "VIEW", "INDEX":
		return true
	}
	return false
}

func followedBy(toks []sqlToken, i int, p string) bool {
	j := nextNonSpace(toks, i+1)
	return j < len(toks) && toks[j].is(p)
}

func precededByDot(out []sqlToken) bool {
	j := prevNonSpace(out, len(out))
	return j >= 0 && out[j].is(".")
}

// sessionFunction rewrites a call of a session function starting at
// toks[i] into a literal: it returns the literal and how many tokens the
// call took, or n == 0 when toks[i] is no such call.
func sessionFunction(toks []sqlToken, i int, env *transEnv) (lit string, n int, err *pgError) {
	open := nextNonSpace(toks, i+1)
	end := matchParenTok(toks, open)
	if end < 0 {
		return "", 0, nil
	}
	args := splitArgsTok(toks[open+1 : end])
	n = end - i + 1
	switch name := strings.ToLower(toks[i].text); name {
	case "pg_backend_pid":
		if len(args) == 0 {
			return strconv.FormatUint(uint64(env.pid), 10), n, nil
		}
	case "version":
		if len(args) == 0 {
			return quoteString(env.version), n, nil
		}
	case "current_schema":
		if len(args) == 0 {
			return "'public'", n, nil
		}
	case "current_database":
		if len(args) == 0 {
			return quoteString(env.database), n, nil
		}
	case "current_setting":
		if len(args) < 1 || len(args) > 2 {
			return "", 0, nil
		}
		a := significant(args[0])
		if len(a) != 1 || a[0].kind != tString {
			return "", 0, unsupportedError("current_setting() of a value that is not a string literal", "Name the setting literally: current_setting('name'), or use SHOW name.")
		}
		v, e := env.setting(strings.ToLower(stringValue(a[0])))
		if e != nil {
			if len(args) == 2 {
				if b := significant(args[1]); len(b) == 1 && b[0].is("true") {
					return "NULL", n, nil
				}
			}
			return "", 0, toPgError(e)
		}
		return quoteString(v), n, nil
	}
	return "", 0, nil
}

// splitArgs splits the tokens between a call's parentheses at its
// top-level commas.
func splitArgsTok(toks []sqlToken) [][]sqlToken {
	if len(significant(toks)) == 0 {
		return nil
	}
	var out [][]sqlToken
	depth, start := 0, 0
	for j, t := range toks {
		switch {
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
		case t.is(",") && depth == 0:
			out = append(out, toks[start:j])
			start = j + 1
		}
	}
	return append(out, toks[start:])
}

// stringValueRaw returns the text between the quotes of a string sqlToken,
// doubled quotes undone.
func stringValueRaw(t sqlToken) string { return stringValue(t) }

// unescapeE decodes the backslash escapes of a PostgreSQL E'...' string.
func unescapeE(s string) (string, *pgError) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch c = s[i]; c {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'x':
			j := i + 1
			for j < len(s) && j < i+3 && isHex(s[j]) {
				j++
			}
			if j == i+1 {
				b.WriteByte('x')
				continue
			}
			v, _ := strconv.ParseUint(s[i+1:j], 16, 8)
			b.WriteByte(byte(v))
			i = j - 1
		case 'u', 'U':
			w := 4
			if c == 'U' {
				w = 8
			}
			if i+w >= len(s) {
				return "", newPgError(codeSyntaxError, "invalid Unicode escape: \\"+string(c)+" needs "+strconv.Itoa(w)+" hexadecimal digits")
			}
			v, err := strconv.ParseUint(s[i+1:i+1+w], 16, 32)
			if err != nil || !utf8.ValidRune(rune(v)) {
				return "", newPgError(codeSyntaxError, "invalid Unicode escape value")
			}
			b.WriteRune(rune(v))
			i += w
		default:
			if c >= '0' && c <= '7' {
				j := i
				for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
					j++
				}
				v, _ := strconv.ParseUint(s[i:j], 8, 16)
				b.WriteByte(byte(v))
				i = j - 1
				continue
			}
			b.WriteByte(c)
		}
	}
	out := b.String()
	if strings.IndexByte(out, 0) >= 0 {
		return "", &pgError{Severity: "ERROR", Code: "22021", Message: "invalid byte sequence: the string contains a zero byte", Hint: "Pass binary data as a bound parameter."}
	}
	return out, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// dropStatements splits DROP TABLE [IF EXISTS] a, b, c into one DROP per
// name. RESTRICT (what SQLite does) is dropped; CASCADE is refused.
func dropStatements(sig []sqlToken) ([]string, *pgError) {
	head := sig[0].text + " " + sig[1].text
	i := 2
	if i+1 < len(sig) && sig[i].is("IF") && sig[i+1].is("EXISTS") {
		head += " IF EXISTS"
		i += 2
	}
	end := len(sig)
	if end > i && sig[end-1].is(";") {
		end--
	}
	if end > i && sig[end-1].is("RESTRICT") {
		end--
	} else if end > i && sig[end-1].is("CASCADE") {
		return nil, unsupportedError("DROP ... CASCADE", "Drop the views, triggers and referencing tables first, then DROP without CASCADE.")
	}
	names := splitOnCommas(sig[i:end])
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = unqualified(n)
		if len(n) == 0 {
			return nil, newPgError(codeSyntaxError, "syntax error in DROP: a name is missing")
		}
		out = append(out, head+" "+joinSpaced(n))
	}
	return out, nil
}

// unqualified drops the schema public from a name's tokens.
func unqualified(n []sqlToken) []sqlToken {
	if len(n) == 3 && publicSchema(n, 0) {
		return n[2:]
	}
	return n
}

func splitOnCommas(sig []sqlToken) [][]sqlToken {
	var out [][]sqlToken
	start := 0
	for j, t := range sig {
		if t.is(",") {
			out = append(out, sig[start:j])
			start = j + 1
		}
	}
	return append(out, sig[start:])
}

// truncateStatements turns TRUNCATE [TABLE] [ONLY] a [*], b ... into one
// DELETE per table. SQLite's rowid keys start again after the highest
// remaining one, so RESTART IDENTITY holds; CASCADE is refused.
func truncateStatements(sig []sqlToken) ([]string, *pgError) {
	i := 1
	if i < len(sig) && sig[i].is("TABLE") {
		i++
	}
	end := len(sig)
	for end > i {
		switch {
		case sig[end-1].is(";"), sig[end-1].is("RESTRICT"):
			end--
			continue
		case sig[end-1].is("IDENTITY") && end-2 > i && (sig[end-2].is("RESTART") || sig[end-2].is("CONTINUE")):
			end -= 2
			continue
		case sig[end-1].is("CASCADE"):
			return nil, unsupportedError("TRUNCATE ... CASCADE", "Truncate the referencing tables first, naming them in the same TRUNCATE.")
		}
		break
	}
	var out []string
	for _, n := range splitOnCommas(sig[i:end]) {
		if len(n) > 0 && n[0].is("ONLY") {
			n = n[1:]
		}
		if len(n) > 0 && n[len(n)-1].is("*") {
			n = n[:len(n)-1]
		}
		n = unqualified(n)
		if len(n) == 0 {
			return nil, newPgError(codeSyntaxError, "syntax error in TRUNCATE: a table name is missing")
		}
		out = append(out, "DELETE FROM "+joinSpaced(n))
	}
	return out, nil
}

// errorf is newPgError with formatting.
func errorf(code, format string, args ...any) *pgError {
	return newPgError(code, fmt.Sprintf(format, args...))
}

// vacuumStatements translates VACUUM [FULL] [FREEZE] [VERBOSE] [ANALYZE]
// [(options)] [table [(cols)], ...]. SQLite vacuums only the whole
// database: without tables it is SQLite's VACUUM; with tables, whose free
// pages SQLite reuses by itself, only ANALYZE of each table is left to do
// (VACUUM ANALYZE t, as pgbench -i issues it).
func vacuumStatements(sig []sqlToken) ([]string, *pgError) {
	i, analyze := 1, false
options:
	for i < len(sig) {
		switch {
		case sig[i].is("ANALYZE"), sig[i].is("ANALYSE"):
			analyze = true
		case sig[i].is("FULL"), sig[i].is("FREEZE"), sig[i].is("VERBOSE"):
		case sig[i].is("("):
			end := i
			for end < len(sig) && !sig[end].is(")") {
				if sig[end].is("ANALYZE") || sig[end].is("ANALYSE") {
					analyze = true
				}
				end++
			}
			i = end
		default:
			break options
		}
		i++
	}
	end := len(sig)
	if end > i && sig[end-1].is(";") {
		end--
	}
	if i >= end {
		return []string{"VACUUM"}, nil
	}
	out := []string{}
	for _, t := range splitArgsTok(sig[i:end]) {
		if len(t) == 0 {
			return nil, newPgError(codeSyntaxError, "syntax error in VACUUM: a table name is missing")
		}
		if k := len(t); k > 1 && t[k-1].is(")") {
			// VACUUM ANALYZE t (a, b): SQLite analyzes whole tables.
			for k > 0 && !t[k-1].is("(") {
				k--
			}
			t = t[:max(k-1, 0)]
		}
		if analyze {
			out = append(out, "ANALYZE "+joinSpaced(t))
		}
	}
	return out, nil
}
