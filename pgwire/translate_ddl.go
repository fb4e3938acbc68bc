package pgwire

import (
	"strings"
)

var serialTypes = map[string]bool{"serial": true, "serial4": true, "serial8": true, "bigserial": true, "smallserial": true, "serial2": true}

var intTypes = map[string]bool{"int": true, "int2": true, "int4": true, "int8": true, "integer": true, "smallint": true, "bigint": true}

// createTable rewrites CREATE TABLE: UNLOGGED goes (SQLite tables are
// all logged), so does WITH (storage parameters) after the column list,
// and SERIAL or identity columns become INTEGER PRIMARY KEY columns, which
// SQLite numbers itself. A SERIAL column that is not the table's whole
// primary key is refused: SQLite numbers only its rowid.
func createTable(toks []sqlToken) ([]string, *pgError) {
	// Find TABLE among the first words.
	i := nextNonSpace(toks, 0) + 1
	for {
		i = nextNonSpace(toks, i)
		if i >= len(toks) || toks[i].kind != tWord {
			return []string{joinTokens(toks)}, nil
		}
		if toks[i].is("UNLOGGED") {
			j := i + 1
			if j < len(toks) && toks[j].kind == tSpace {
				j++
			}
			toks = append(toks[:i:i], toks[j:]...)
			continue
		}
		if toks[i].is("TABLE") {
			break
		}
		if !(toks[i].is("TEMP") || toks[i].is("TEMPORARY") || toks[i].is("GLOBAL") || toks[i].is("LOCAL")) {
			return []string{joinTokens(toks)}, nil
		}
		i++
	}
	open := -1
	for j := i + 1; j < len(toks); j++ {
		if toks[j].is("(") {
			open = j
			break
		}
		if toks[j].is("AS") {
			return []string{joinTokens(toks)}, nil // CREATE TABLE ... AS SELECT
		}
	}
	if open < 0 {
		return []string{joinTokens(toks)}, nil
	}
	closing := matchParenTok(toks, open)
	if closing < 0 {
		return []string{joinTokens(toks)}, nil
	}
	// WITH (fillfactor=...) after the column list.
	if w := nextNonSpace(toks, closing+1); w < len(toks) && toks[w].is("WITH") {
		if p := nextNonSpace(toks, w+1); p < len(toks) && toks[p].is("(") {
			if e := matchParenTok(toks, p); e > 0 {
				toks = append(toks[:closing+1:closing+1], toks[e+1:]...)
			}
		}
	}
	defs := splitArgsTok(toks[open+1 : closing])
	pk := tablePrimaryKey(defs)
	var body []sqlToken
	for k, d := range defs {
		if k > 0 {
			body = append(body, sqlToken{tPunct, ","})
		}
		nd, err := columnDef(d, pk)
		if err != nil {
			return nil, err
		}
		body = append(body, nd...)
	}
	out := append(append(append([]sqlToken{}, toks[:open+1]...), body...), toks[closing:]...)
	return []string{joinTokens(out)}, nil
}

// tablePrimaryKey returns the column of a one-column table constraint
// PRIMARY KEY (col), or "".
func tablePrimaryKey(defs [][]sqlToken) string {
	for _, d := range defs {
		s := significant(d)
		if len(s) >= 2 && s[0].is("CONSTRAINT") {
			s = s[2:]
		}
		if len(s) == 5 && s[0].is("PRIMARY") && s[1].is("KEY") && s[2].is("(") && s[4].is(")") {
			return strings.ToLower(identName(s[3]))
		}
	}
	return ""
}

// columnDef rewrites one column definition of CREATE TABLE.
func columnDef(d []sqlToken, pk string) ([]sqlToken, *pgError) {
	n := nextNonSpace(d, 0)
	if n >= len(d) || d[n].kind != tWord && d[n].kind != tQIdent {
		return d, nil
	}
	switch strings.ToUpper(d[n].text) {
	case "CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE":
		if d[n].kind == tWord {
			return d, nil
		}
	}
	col := identName(d[n])
	ty := nextNonSpace(d, n+1)
	if ty >= len(d) || d[ty].kind != tWord {
		return d, nil
	}
	tname := strings.ToLower(d[ty].text)
	sig := significant(d)
	isPK := pk == strings.ToLower(col)
	for k := 0; k+1 < len(sig); k++ {
		if sig[k].is("PRIMARY") && sig[k+1].is("KEY") {
			isPK = true
		}
	}
	out := parenthesizeDefault(append([]sqlToken{}, d...))
	identity := -1
	for k := ty + 1; k < len(out); k++ {
		if out[k].is("GENERATED") {
			identity = k
			break
		}
	}
	if identity >= 0 {
		// GENERATED {ALWAYS | BY DEFAULT} AS IDENTITY [(options)]
		k := identity + 1
		var words []string
		for k < len(out) && len(words) < 4 {
			if j := nextNonSpace(out, k); j < len(out) && out[j].kind == tWord {
				words = append(words, strings.ToUpper(out[j].text))
				k = j + 1
				if out[j].is("IDENTITY") {
					break
				}
				continue
			}
			break
		}
		if len(words) > 0 && words[len(words)-1] == "IDENTITY" {
			if j := nextNonSpace(out, k); j < len(out) && out[j].is("(") {
				if e := matchParenTok(out, j); e > 0 {
					k = e + 1
				}
			}
			if !intTypes[tname] {
				return nil, unsupportedError("an identity column of type "+tname, "Declare it INTEGER PRIMARY KEY.")
			}
			if !isPK {
				return nil, unsupportedError("an identity column that is not the primary key ("+col+")", "SQLite numbers only its rowid: declare the column INTEGER PRIMARY KEY.")
			}
			if identity > 0 && out[identity-1].kind == tSpace {
				identity--
			}
			out = append(out[:identity:identity], out[k:]...)
			out[ty] = sqlToken{tWord, "INTEGER"}
			return out, nil
		}
	}
	if serialTypes[tname] {
		if !isPK {
			return nil, unsupportedError("a "+strings.ToUpper(tname)+" column that is not the primary key ("+col+")", "SQLite numbers only its rowid: declare the column "+col+" SERIAL PRIMARY KEY (INTEGER PRIMARY KEY), or give its values explicitly.")
		}
		out[ty] = sqlToken{tWord, "INTEGER"}
	}
	return out, nil
}

// addPrimaryKey is a parsed ALTER TABLE name ADD [CONSTRAINT c] PRIMARY
// KEY (cols).
type addPrimaryKey struct {
	table      string
	constraint string
	cols       []string
}

// parseAddPrimaryKey recognises ALTER TABLE [ONLY] [IF EXISTS] t ADD
// [CONSTRAINT c] PRIMARY KEY (a, b), as pgbench -i issues it.
func parseAddPrimaryKey(s string) *addPrimaryKey {
	sig := significant(lexSQL(s))
	if len(sig) > 0 && sig[len(sig)-1].is(";") {
		sig = sig[:len(sig)-1]
	}
	if len(sig) < 8 || !sig[0].is("ALTER") || !sig[1].is("TABLE") {
		return nil
	}
	i := 2
	if sig[i].is("ONLY") {
		i++
	}
	if i+1 < len(sig) && sig[i].is("IF") && sig[i+1].is("EXISTS") {
		i += 2
	}
	if i+2 < len(sig) && strings.EqualFold(identName(sig[i]), "public") && sig[i+1].is(".") {
		i += 2
	}
	if i >= len(sig) || sig[i].kind != tWord && sig[i].kind != tQIdent {
		return nil
	}
	a := &addPrimaryKey{table: identName(sig[i])}
	i++
	if i >= len(sig) || !sig[i].is("ADD") {
		return nil
	}
	i++
	if i+1 < len(sig) && sig[i].is("CONSTRAINT") {
		a.constraint = identName(sig[i+1])
		i += 2
	}
	if i+2 >= len(sig) || !sig[i].is("PRIMARY") || !sig[i+1].is("KEY") || !sig[i+2].is("(") || !sig[len(sig)-1].is(")") {
		return nil
	}
	for _, c := range splitOnCommas(sig[i+3 : len(sig)-1]) {
		if len(c) != 1 || c[0].kind != tWord && c[0].kind != tQIdent {
			return nil
		}
		a.cols = append(a.cols, identName(c[0]))
	}
	if len(a.cols) == 0 {
		return nil
	}
	return a
}

// parenthesizeDefault puts a DEFAULT that is a function call or a cast in
// parentheses, as SQLite requires of a DEFAULT that is not a literal:
// DEFAULT now() is DEFAULT (now()).
func parenthesizeDefault(d []sqlToken) []sqlToken {
	for i := 0; i < len(d); i++ {
		if !d[i].is("DEFAULT") {
			continue
		}
		j := nextNonSpace(d, i+1)
		if j >= len(d) {
			return d
		}
		end := -1
		switch {
		case d[j].kind == tExpr:
			end = j
		case d[j].kind == tWord && followedBy(d, j, "("):
			end = matchParenTok(d, nextNonSpace(d, j+1))
		}
		if end < 0 {
			continue
		}
		out := append([]sqlToken{}, d[:j]...)
		out = append(out, sqlToken{tPunct, "("})
		out = append(out, d[j:end+1]...)
		out = append(out, sqlToken{tPunct, ")"})
		return append(out, d[end+1:]...)
	}
	return d
}
