package pgwire

import (
	"context"
	"fmt"
	"strings"

	"github.com/sqlink/sqlink/internal/schema"
)

// Parameter type inference. Clients send parameters typed by what the
// server reports in ParameterDescription, or with OID 0 (unknown) in text
// (node-postgres, pgJDBC's setString...). A parameter compared with,
// assigned to or inserted into a column is reported with the column's type
// and a text parameter of unknown type is decoded as that type: a bytea
// "\x0001" is stored as a blob, a boolean "true" as 1, a timestamp in
// sqlink's stored form, and a value that is not of the type is refused
// with 22P02 naming the column.

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

var compareOps = map[string]bool{"=": true, "==": true, "<>": true, "!=": true, "<": true, ">": true, "<=": true, ">=": true,
	"IS": true}

// paramTarget is the column a parameter meets.
type paramTarget struct {
	col  string // column name as declared
	decl string // its declared type
}

// inferParamTargets finds, for each parameter $n of q, the column it is
// compared with, assigned to or inserted into: col op $n, $n op col, col
// IN ($n, ...), col BETWEEN $n AND $m, SET col = $n, INSERT INTO t (cols)
// VALUES (...) and INSERT INTO t VALUES (...) in column order. Columns are
// looked up in the tables named after FROM, JOIN, UPDATE and INTO.
func (c *clientConn) inferParamTargets(ctx context.Context, q string, n int) []paramTarget {
	out := make([]paramTarget, n)
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
		return out
	}
	type colInfo struct{ name, decl string }
	cols := make(map[string]colInfo)
	order := make(map[string][]colInfo)
	for _, tbl := range tables {
		for _, col := range c.tableColumns(ctx, tbl) {
			ci := colInfo{col[0], col[1]}
			if _, dup := cols[strings.ToUpper(ci.name)]; !dup {
				cols[strings.ToUpper(ci.name)] = ci
			}
			order[tbl] = append(order[tbl], ci)
		}
	}
	if len(cols) == 0 {
		return out
	}
	set := func(param int, col string) {
		if param < 1 || param > n || out[param-1].col != "" {
			return
		}
		if ci, ok := cols[col]; ok {
			out[param-1] = paramTarget{col: ci.name, decl: ci.decl}
		}
	}
	for i, t := range toks {
		if t.param == 0 {
			continue
		}
		j := i - 1
		if j >= 0 && toks[j].s == "NOT" {
			j--
		}
		if j >= 1 && compareOps[toks[j].s] && toks[j-1].ident {
			set(t.param, toks[j-1].s)
		}
		if i+2 < len(toks) && compareOps[toks[i+1].s] && toks[i+2].ident {
			set(t.param, toks[i+2].s)
		}
		// BETWEEN $1 AND $2, IN ($1, $2): walk back to the column.
		for k, depth := i-1, 0; k >= 1 && i-k < 64; k-- {
			s := toks[k].s
			if s == ")" {
				depth++
			} else if s == "(" {
				if depth == 0 && toks[k-1].s == "IN" {
					if k >= 2 && toks[k-2].ident {
						set(t.param, toks[k-2].s)
					} else if k >= 3 && toks[k-2].s == "NOT" && toks[k-3].ident {
						set(t.param, toks[k-3].s)
					}
					break
				}
				if depth == 0 {
					break
				}
				depth--
			} else if s == "BETWEEN" && depth == 0 {
				set(t.param, toks[k-1].s)
				break
			} else if depth == 0 && s != "," && s != "AND" && toks[k].param == 0 && s != "NOT" {
				break
			}
		}
	}
	// INSERT INTO t [(a, b)] VALUES ($1, $2), (...)
	for i, t := range toks {
		if !(t.ident && t.s == "INTO") || i+1 >= len(toks) {
			continue
		}
		tbl := toks[i+1].s
		j := i + 2
		if j+1 < len(toks) && toks[j].s == "." {
			tbl = toks[j+1].s
			j += 2
		}
		var names []string
		if j < len(toks) && toks[j].s == "(" {
			for j++; j < len(toks) && toks[j].s != ")"; j++ {
				if toks[j].ident {
					names = append(names, toks[j].s)
				}
			}
			j++
		} else {
			for _, ci := range order[tbl] {
				names = append(names, strings.ToUpper(ci.name))
			}
		}
		if j >= len(toks) || toks[j].s != "VALUES" {
			break
		}
		k, depth := 0, 0
		for ; j < len(toks); j++ {
			switch toks[j].s {
			case "(":
				depth++
				if depth == 1 {
					k = 0
				}
			case ")":
				depth--
			case ",":
				if depth == 1 {
					k++
				}
			case "ON", "RETURNING":
				if depth == 0 {
					j = len(toks)
				}
			default:
				if depth == 1 && toks[j].param > 0 && k < len(names) && (toks[j-1].s == "(" || toks[j-1].s == ",") &&
					j+1 < len(toks) && (toks[j+1].s == "," || toks[j+1].s == ")") {
					set(toks[j].param, names[k])
				}
			}
		}
		break
	}
	return out
}

// inferParams finds the columns the parameters of ps meet and reports
// their types for the parameters the client left untyped (OID 0). A
// parameter sent as text (OID 0, text or varchar: pgJDBC's setString)
// is decoded as its column's type.
func (c *clientConn) inferParams(ctx context.Context, ps *prepared) {
	n := len(ps.paramOIDs)
	ps.untyped = make([]bool, n)
	anyText := false
	for i, oid := range ps.paramOIDs {
		ps.untyped[i] = oid == oidUnknown || oid == oidText || oid == oidVarchar
		anyText = anyText || ps.untyped[i]
	}
	if !anyText {
		return
	}
	ps.targets = c.inferParamTargets(ctx, ps.plan.sql, n)
	for i, t := range ps.targets {
		if ps.paramOIDs[i] == oidUnknown && t.col != "" {
			ps.paramOIDs[i] = paramOIDForDecl(t.decl)
		}
	}
}

// decodeParam decodes parameter i. A text-format parameter the client
// left untyped or typed as text is decoded as the type of the column it
// meets; a value that is not of that type is refused naming the column.
func (ps *prepared) decodeParam(i int, format int16, b []byte) (any, error) {
	oid := ps.paramOIDs[i]
	var t paramTarget
	if i < len(ps.targets) {
		t = ps.targets[i]
	}
	if format == 0 && i < len(ps.untyped) && ps.untyped[i] && t.col != "" && (oid == oidUnknown || oid == oidText || oid == oidVarchar || oid == paramOIDForDecl(t.decl)) {
		oid = oidForDeclType(t.decl)
		if oid == oidVarchar {
			oid = oidText
		}
	}
	v, err := decodeParam(oid, format, b)
	if err != nil && t.col != "" {
		if pe, ok := err.(*pgError); ok && pe.Code == codeInvalidText {
			pe.Message += fmt.Sprintf(" (parameter $%d, column %q)", i+1, t.col)
			pe.Hint = fmt.Sprintf("Column %q is declared %s: send a value of that type.", t.col, t.decl)
		}
	}
	return v, err
}

// SchemaReader is an optional Session capability: the columns (name and
// declared type) of a table, read on a connection of sqlink's own rather
// than the session's. Inside a transaction a schema read on the session's
// connection would start the transaction's snapshot: its first write,
// which takes the write lock only then, would fail (40001) whenever
// another session committed in between.
type SchemaReader interface {
	TableColumns(ctx context.Context, table string) ([][2]string, error)
}

// tableColumns returns a table's columns for parameter inference.
func (c *clientConn) tableColumns(ctx context.Context, table string) [][2]string {
	if sr, ok := c.sess.(SchemaReader); ok && c.tx != txIdle {
		cols, err := sr.TableColumns(ctx, table)
		if err == nil && len(cols) > 0 {
			return cols
		}
		if c.tx == txActive && !c.txWrite {
			// Not found there (a temporary table, or one this transaction
			// made): inference is not worth the snapshot.
			return nil
		}
	}
	cols, _ := schema.TableColumns(ctx, c.sess.Conn(), table)
	return cols
}
