package pgwire

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"modernc.org/sqlite"
)

// SQL functions the emulated pg_catalog is built with, registered with the
// SQLite driver for every connection: regexp (SQLite's REGEXP operator,
// what PostgreSQL's ~ becomes in catalog queries), format_type and
// pg_size_pretty as PostgreSQL has them, and sqlink_* helpers the catalog
// views use.

func init() {
	reg := func(name string, n int32, f func(args []driver.Value) (driver.Value, error)) {
		// Another package may have registered the same standard function
		// (regexp): theirs serves as well.
		_ = sqlite.RegisterDeterministicScalarFunction(name, n, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			return f(args)
		})
	}
	reg("regexp", 2, sqlRegexp)
	reg("sqlink_decl_oid", 1, func(a []driver.Value) (driver.Value, error) {
		oid := oidForDeclType(str(a[0]))
		if oid == oidUnknown {
			oid = oidText
		}
		return int64(oid), nil
	})
	reg("sqlink_decl_typmod", 1, func(a []driver.Value) (driver.Value, error) { return declTypmod(str(a[0])), nil })
	reg("sqlink_typlen", 1, func(a []driver.Value) (driver.Value, error) { return int64(typeSize(uint32(num(a[0])))), nil })
	reg("format_type", 2, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		return formatTypeMod(uint32(num(a[0])), num(a[1])), nil
	})
	reg("sqlink_checks", 2, func(a []driver.Value) (driver.Value, error) {
		b, _ := json.Marshal(checkConstraints(str(a[0]), str(a[1])))
		return string(b), nil
	})
	reg("sqlink_array_pos", 2, func(a []driver.Value) (driver.Value, error) {
		// 1-based position of a[1] in a[0], an int2vector ("1 2") or an
		// array ("{1,2}"); 0 when absent.
		want := str(a[1])
		for i, f := range strings.FieldsFunc(str(a[0]), func(r rune) bool { return r == ' ' || r == ',' || r == '{' || r == '}' }) {
			if f == want {
				return int64(i + 1), nil
			}
		}
		return int64(0), nil
	})
	reg("sqlink_array_at", 2, func(a []driver.Value) (driver.Value, error) {
		// a[0][a[1]], 1-based, of an int2vector ("1 2") or array ("{1,2}").
		i := num(a[1])
		f := strings.FieldsFunc(str(a[0]), func(r rune) bool { return r == ' ' || r == ',' || r == '{' || r == '}' })
		if i < 1 || i > int64(len(f)) {
			return nil, nil
		}
		if n, err := strconv.ParseInt(f[i-1], 10, 64); err == nil {
			return n, nil
		}
		return strings.Trim(f[i-1], `"`), nil
	})
	reg("sqlink_array_json", 1, func(a []driver.Value) (driver.Value, error) { return arrayJSON(str(a[0])), nil })
	reg("sqlink_pg_indexdef", 1, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		return pgIndexDef(str(a[0])), nil
	})
	reg("pg_size_pretty", 1, func(a []driver.Value) (driver.Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		return sizePretty(num(a[0])), nil
	})
}

func str(v driver.Value) string {
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

func num(v driver.Value) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case string:
		n, _ := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n
	}
	return 0
}

var (
	regexpMu    sync.Mutex
	regexpCache = map[string]*regexp.Regexp{}
)

// sqlRegexp is regexp(pattern, value): PostgreSQL's POSIX regular
// expressions, as far as Go's syntax agrees with them.
func sqlRegexp(a []driver.Value) (driver.Value, error) {
	if a[0] == nil || a[1] == nil {
		return nil, nil
	}
	pat := str(a[0])
	regexpMu.Lock()
	re, ok := regexpCache[pat]
	if !ok {
		var err error
		re, err = regexp.Compile(pat)
		if err != nil {
			regexpMu.Unlock()
			return nil, fmt.Errorf("invalid regular expression %q: %v", pat, err)
		}
		if len(regexpCache) > 256 {
			clear(regexpCache)
		}
		regexpCache[pat] = re
	}
	regexpMu.Unlock()
	if re.MatchString(str(a[1])) {
		return int64(1), nil
	}
	return int64(0), nil
}

// declTypmod is pg_attribute.atttypmod of a declared type: VARCHAR(n) is
// n+4, NUMERIC(p,s) ((p<<16)|s)+4, others -1.
func declTypmod(decl string) int64 {
	i := strings.IndexByte(decl, '(')
	j := strings.LastIndexByte(decl, ')')
	if i < 0 || j < i {
		return -1
	}
	parts := strings.Split(decl[i+1:j], ",")
	p, err := strconv.ParseInt(strings.TrimSpace(parts[0]), 10, 32)
	if err != nil {
		return -1
	}
	switch oidForDeclType(decl) {
	case oidVarchar, oidText:
		return p + 4
	case oidNumeric:
		var s int64
		if len(parts) > 1 {
			s, _ = strconv.ParseInt(strings.TrimSpace(parts[1]), 10, 32)
		}
		return (p<<16 | s) + 4
	}
	return -1
}

// formatTypeMod is PostgreSQL's format_type(oid, typmod).
func formatTypeMod(oid uint32, mod int64) string {
	name := typeName(oid)
	if mod < 4 {
		return name
	}
	switch oid {
	case oidVarchar:
		return fmt.Sprintf("%s(%d)", name, mod-4)
	case oidNumeric:
		m := mod - 4
		return fmt.Sprintf("numeric(%d,%d)", m>>16, m&0xffff)
	}
	return name
}

func sizePretty(n int64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB"}
	v, i := n, 0
	for i < len(units)-1 && (v >= 10*1024 || v <= -10*1024) {
		v = (v + 512) / 1024
		i++
	}
	return fmt.Sprintf("%d %s", v, units[i])
}

// checkConstraint is a CHECK constraint of a CREATE TABLE statement.
type checkConstraint struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
}

// checkConstraints finds the CHECK constraints in a CREATE TABLE
// statement: CHECK (expr), named by a preceding CONSTRAINT name or else
// table_check, table_check1... as PostgreSQL names them.
func checkConstraints(table, sql string) []checkConstraint {
	out := []checkConstraint{}
	toks := sqlWords(sql)
	unnamed := 0
	for i, t := range toks {
		if !strings.EqualFold(t.s, "CHECK") || i+1 >= len(toks) || toks[i+1].s != "(" {
			continue
		}
		end := matchParen(sql, toks[i+1].pos)
		if end < 0 {
			continue
		}
		name := ""
		if i >= 2 && strings.EqualFold(toks[i-2].s, "CONSTRAINT") {
			name = strings.Trim(toks[i-1].s, "\"`[]")
		}
		if name == "" {
			name = table + "_check"
			if unnamed > 0 {
				name += strconv.Itoa(unnamed)
			}
			unnamed++
		}
		out = append(out, checkConstraint{Name: name, Expr: strings.TrimSpace(sql[toks[i+1].pos+1 : end])})
	}
	return out
}

type sqlWord struct {
	s   string
	pos int
}

// sqlWords splits SQL text into words, quoted names and single
// punctuation characters, skipping string literals and comments.
func sqlWords(s string) []sqlWord {
	var out []sqlWord
	for i := 0; i < len(s); {
		c := s[i]
		if j := skipQuoted(s, i); j != i {
			if c == '"' || c == '`' {
				out = append(out, sqlWord{s[i:j], i})
			}
			i = j
			continue
		}
		switch {
		case isIdentChar(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			out = append(out, sqlWord{s[i:j], i})
			i = j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		default:
			out = append(out, sqlWord{s[i : i+1], i})
			i++
		}
	}
	return out
}

// matchParen returns the index of the parenthesis closing the one at i,
// or -1.
func matchParen(s string, i int) int {
	depth := 0
	for i < len(s) {
		if j := skipQuoted(s, i); j != i {
			i = j
			continue
		}
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return -1
}

// arrayJSON turns a PostgreSQL array literal ({a,"b c"}) into a JSON
// array; a JSON array is returned as it is.
func arrayJSON(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		return s
	}
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		b, _ := json.Marshal([]string{s})
		return string(b)
	}
	var elems []any
	body := s[1 : len(s)-1]
	for i := 0; i < len(body); {
		if body[i] == ',' || body[i] == ' ' {
			i++
			continue
		}
		var e strings.Builder
		if body[i] == '"' {
			i++
			for i < len(body) && body[i] != '"' {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				e.WriteByte(body[i])
				i++
			}
			i++
			elems = append(elems, e.String())
			continue
		}
		for i < len(body) && body[i] != ',' {
			e.WriteByte(body[i])
			i++
		}
		v := strings.TrimSpace(e.String())
		if strings.EqualFold(v, "NULL") {
			elems = append(elems, nil)
		} else if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			elems = append(elems, n)
		} else {
			elems = append(elems, v)
		}
	}
	if elems == nil {
		elems = []any{}
	}
	b, _ := json.Marshal(elems)
	return string(b)
}

// pgIndexDef writes SQLite's CREATE INDEX statement as PostgreSQL's
// pg_get_indexdef does: CREATE [UNIQUE] INDEX name ON public.table USING
// btree (keys) [WHERE predicate].
func pgIndexDef(sql string) string {
	w := sqlWords(sql)
	unique := ""
	i := 0
	for i < len(w) && !strings.EqualFold(w[i].s, "INDEX") {
		if strings.EqualFold(w[i].s, "UNIQUE") {
			unique = "UNIQUE "
		}
		i++
	}
	i++
	if i+2 < len(w) && strings.EqualFold(w[i].s, "IF") {
		i += 3 // IF NOT EXISTS
	}
	if i+2 >= len(w) {
		return sql
	}
	name := w[i].s
	if i+2 < len(w) && w[i+1].s == "." {
		i += 2
		name = w[i].s
	}
	i++
	if i+2 >= len(w) || !strings.EqualFold(w[i].s, "ON") {
		return sql
	}
	table := w[i+1].s
	open := -1
	for _, x := range w[i+2:] {
		if x.s == "(" {
			open = x.pos
			break
		}
	}
	if open < 0 {
		return sql
	}
	end := matchParen(sql, open)
	if end < 0 {
		return sql
	}
	def := "CREATE " + unique + "INDEX " + name + " ON public." + table + " USING btree (" + strings.TrimSpace(sql[open+1:end]) + ")"
	if rest := strings.TrimSpace(sql[end+1:]); rest != "" {
		def += " " + rest
	}
	return def
}
