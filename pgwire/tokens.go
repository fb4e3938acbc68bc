package pgwire

import (
	"strings"
)

// tokKind is the kind of a sqlToken of SQL text, split as SQLite's tokenizer
// splits it (see statementEnds): the PostgreSQL forms are rewritten on
// these tokens, never on raw text, so a rewrite never looks inside a
// string, a quoted identifier or a comment.
type tokKind uint8

const (
	tSpace  tokKind = iota // white space and comments
	tWord                  // identifier or keyword (SQLite IdChars)
	tNumber                // numeric literal
	tString                // '...' (unterminated: to the end)
	tQIdent                // "...", `...`, [...]
	tParam                 // $1, ?, ?1, :name, @name
	tPunct                 // any other character, or "::"
)

type sqlToken struct {
	kind tokKind
	text string
}

// tokenize splits s into tokens; their texts concatenated are s.
func lexSQL(s string) []sqlToken {
	var out []sqlToken
	for i := 0; i < len(s); {
		j, k := nextToken(s, i)
		out = append(out, sqlToken{k, s[i:j]})
		i = j
	}
	return out
}

// nextToken returns the end and kind of the sqlToken at s[i].
func nextToken(s string, i int) (int, tokKind) {
	c := s[i]
	switch {
	case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
		j := i + 1
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r' || s[j] == '\f') {
			j++
		}
		return j, tSpace
	case c == '-' || c == '/':
		if j := skipQuoted(s, i); j != i {
			return j, tSpace
		}
		return i + 1, tPunct
	case c == '\'':
		return skipQuoted(s, i), tString
	case c == '"' || c == '`' || c == '[':
		return skipQuoted(s, i), tQIdent
	case c == ':' && i+1 < len(s) && s[i+1] == ':':
		return i + 2, tPunct
	case (c == '$' || c == ':' || c == '@' || c == '?') && i+1 < len(s) && sqliteIdChar(s[i+1]):
		j := i + 1
		for j < len(s) && sqliteIdChar(s[j]) {
			j++
		}
		return j, tParam
	case c == '?':
		return i + 1, tParam
	case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
		j := i + 1
		for j < len(s) {
			d := s[j]
			if sqliteIdChar(d) && d != '$' || d == '.' {
				j++
				continue
			}
			if (d == '+' || d == '-') && (s[j-1] == 'e' || s[j-1] == 'E') && !strings.HasPrefix(strings.ToLower(s[i:]), "0x") {
				j++
				continue
			}
			break
		}
		return j, tNumber
	case sqliteIdChar(c):
		j := i + 1
		for j < len(s) && sqliteIdChar(s[j]) {
			j++
		}
		return j, tWord
	}
	return i + 1, tPunct
}

// is reports whether t is the word w (case-insensitive) or the punctuation w.
func (t sqlToken) is(w string) bool {
	return (t.kind == tWord || t.kind == tPunct) && strings.EqualFold(t.text, w)
}

// nextNonSpace returns the index of the first sqlToken at or after i that is
// not white space, or len(toks).
func nextNonSpace(toks []sqlToken, i int) int {
	for i < len(toks) && toks[i].kind == tSpace {
		i++
	}
	return i
}

// prevNonSpace returns the index of the last sqlToken before i that is not
// white space, or -1.
func prevNonSpace(toks []sqlToken, i int) int {
	i--
	for i >= 0 && toks[i].kind == tSpace {
		i--
	}
	return i
}

// matchParen returns the index of the sqlToken closing the parenthesis at
// toks[i], or -1.
func matchParenTok(toks []sqlToken, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		switch {
		case toks[j].is("("):
			depth++
		case toks[j].is(")"):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// openParen returns the index of the sqlToken opening the parenthesis closed
// at toks[i], or -1.
func openParen(toks []sqlToken, i int) int {
	depth := 0
	for j := i; j >= 0; j-- {
		switch {
		case toks[j].is(")"):
			depth++
		case toks[j].is("("):
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// joinTokens concatenates the texts of toks.
func joinTokens(toks []sqlToken) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(t.text)
	}
	return b.String()
}

// significant returns the tokens of toks that are not white space.
func significant(toks []sqlToken) []sqlToken {
	out := make([]sqlToken, 0, len(toks))
	for _, t := range toks {
		if t.kind != tSpace {
			out = append(out, t)
		}
	}
	return out
}

// identName returns the name an identifier sqlToken stands for: a quoted
// identifier unquoted, a word as it is.
func identName(t sqlToken) string {
	if t.kind != tQIdent || len(t.text) < 2 {
		return t.text
	}
	switch t.text[0] {
	case '[':
		return strings.TrimSuffix(t.text[1:], "]")
	default:
		q := t.text[:1]
		inner := strings.TrimSuffix(t.text[1:], q)
		return strings.ReplaceAll(inner, q+q, q)
	}
}

// quoteIdent quotes name as an SQL identifier.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// quoteString quotes s as an SQL string literal.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// stringValue returns the value of a string literal sqlToken.
func stringValue(t sqlToken) string {
	s := t.text
	if len(s) >= 2 && s[len(s)-1] == '\'' {
		s = s[1 : len(s)-1]
	} else if len(s) >= 1 {
		s = s[1:]
	}
	return strings.ReplaceAll(s, "''", "'")
}

// joinSpaced joins significant tokens with a space between them, so that
// no two merge into another token (- - into a comment).
func joinSpaced(toks []sqlToken) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}
