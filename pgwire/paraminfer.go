package pgwire

import (
	"context"
	"strings"
)

// Parameter type inference. Clients send parameters typed by what the
// server reports in ParameterDescription; with OID 0 (unknown) pgx sends
// text, which is right for SQLite's affinity rules except for BLOB and
// BOOLEAN columns: a []byte would arrive as the text "\x0001" and a bool
// as "true". So a parameter compared with or inserted into such a column
// is reported as bytea or bool, and arrives in a form SQLite stores as a
// blob or an integer.

type token struct {
	s     string // upper case for words
	param int    // N for $N, else 0
	ident bool
}

func tokenize(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		if j := skipQuoted(s, i); j != i {
			if c == '"' || c == '`' {
				out = append(out, token{s: strings.ToUpper(strings.Trim(s[i:j], "\"`")), ident: true})
			} else if c == '\'' || c == '$' {
				out = append(out, token{s: "'"})
			}
			i = j
			continue
		}
		switch {
		case c == '$' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j, n := i+1, 0
			for j < len(s) && s[j] >= '0' && s[j] <= '9' && n < 1<<20 {
				n = n*10 + int(s[j]-'0')
				j++
			}
			out = append(out, token{s: s[i:j], param: n})
			i = j
		case isIdentChar(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			out = append(out, token{s: strings.ToUpper(s[i:j]), ident: true})
			i = j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		default:
			if i+1 < len(s) && strings.Contains("<>=!", string(c)) && strings.Contains("<>=", string(s[i+1])) {
				out = append(out, token{s: s[i : i+2]})
				i += 2
				continue
			}
			out = append(out, token{s: string(c)})
			i++
		}
	}
	return out
}

var compareOps = map[string]bool{"=": true, "==": true, "<>": true, "!=": true, "<": true, ">": true, "<=": true, ">=": true}

// inferParamTypes fills unknown (0) entries of oids for parameters that
// meet a BLOB or BOOLEAN column.
func (c *clientConn) inferParamTypes(ctx context.Context, q string, oids []uint32) {
	toks := tokenize(q)
	var tables []string
	for i, t := range toks {
		if t.ident && (t.s == "FROM" || t.s == "JOIN" || t.s == "UPDATE" || t.s == "INTO") && i+1 < len(toks) && toks[i+1].ident {
			name := toks[i+1].s
			if i+3 < len(toks) && toks[i+2].s == "." && toks[i+3].ident {
				name = toks[i+3].s
			}
			tables = append(tables, name)
		}
	}
	if len(tables) == 0 {
		return
	}
	colType := make(map[string]uint32)
	for _, tbl := range tables {
		rows, err := c.sess.Conn().QueryContext(ctx, "SELECT name, type FROM pragma_table_info(?)", tbl)
		if err != nil {
			continue
		}
		for rows.Next() {
			var name, typ string
			if rows.Scan(&name, &typ) == nil {
				if oid := oidForDeclType(typ); oid == oidBool || oid == oidBytea {
					colType[strings.ToUpper(name)] = oid
				}
			}
		}
		rows.Close()
	}
	if len(colType) == 0 {
		return
	}
	set := func(param int, col string) {
		if param >= 1 && param <= len(oids) && oids[param-1] == 0 {
			oids[param-1] = colType[col]
		}
	}
	for i, t := range toks {
		if t.param == 0 {
			continue
		}
		if i >= 2 && compareOps[toks[i-1].s] && toks[i-2].ident {
			set(t.param, toks[i-2].s)
		}
		if i+2 < len(toks) && compareOps[toks[i+1].s] && toks[i+2].ident {
			set(t.param, toks[i+2].s)
		}
	}
	// INSERT INTO t (a, b) VALUES ($1, $2), (...)
	for i, t := range toks {
		if !(t.ident && t.s == "INTO") {
			continue
		}
		j := i + 2
		if j+1 < len(toks) && toks[j].s == "." {
			j += 2
		}
		if j >= len(toks) || toks[j].s != "(" {
			return
		}
		var cols []string
		for j++; j < len(toks) && toks[j].s != ")"; j++ {
			if toks[j].ident {
				cols = append(cols, toks[j].s)
			}
		}
		k := 0
		for ; j < len(toks); j++ {
			switch toks[j].s {
			case "(":
				k = 0
			case ",":
				k++
			default:
				if toks[j].param > 0 && k < len(cols) {
					set(toks[j].param, cols[k])
				}
			}
		}
		return
	}
}
