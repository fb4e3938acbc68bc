package pgwire

import (
	"strings"
)

// skipQuoted returns the index just past the quoted string, identifier or
// comment that starts at s[i], or i when none starts there. It quotes as
// SQLite does: '...', "...", `...`, [...], -- and /* */; a PostgreSQL
// dollar quote ($$...$$) is not one (SQLite has none: $t$ is an identifier).
func skipQuoted(s string, i int) int {
	switch c := s[i]; c {
	case '\'', '"', '`':
		for j := i + 1; j < len(s); j++ {
			if s[j] == c {
				if j+1 < len(s) && s[j+1] == c {
					j++
					continue
				}
				return j + 1
			}
		}
		return len(s)
	case '-':
		if i+1 < len(s) && s[i+1] == '-' {
			if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
				return i + j + 1
			}
			return len(s)
		}
	case '/':
		if i+1 < len(s) && s[i+1] == '*' {
			if j := strings.Index(s[i+2:], "*/"); j >= 0 {
				return i + 2 + j + 2
			}
			return len(s)
		}
	case '[':
		if j := strings.IndexByte(s[i+1:], ']'); j >= 0 {
			return i + 1 + j + 1
		}
		return len(s)
	}
	return i
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// splitStatements splits a simple Query into statements where SQLite's own
// tokenizer ends them: at a semicolon outside quotes ('...', "...", `...`,
// [...]) and comments, and in a CREATE TRIGGER only at the one after its
// END. It is a transcription of SQLite's sqlite3_complete (complete.c), and
// FuzzSplitAgreesWithSQLite checks it against that function: the front end
// must never take for one statement what SQLite would run as two, or a
// second statement would escape the first one's classification. Each
// statement is also prepared alone, and one that SQLite finds more text
// after is refused (singleStatement). Statements that are empty or only
// comments are dropped.
func splitStatements(q string) []string {
	var out []string
	start := 0
	for _, end := range statementEnds(q) {
		if st := strings.TrimSpace(q[start:end]); !isBlank(st) {
			out = append(out, st)
		}
		start = end + 1
	}
	if st := strings.TrimSpace(q[start:]); !isBlank(st) {
		out = append(out, st)
	}
	return out
}

// The tokens and states of sqlite3_complete.
const (
	tkSemi = iota
	tkWS
	tkOther
	tkExplain
	tkCreate
	tkTemp
	tkTrigger
	tkEnd
)

// completeTrans is sqlite3_complete's state transition table: states 0
// INVALID, 1 START (a statement just ended), 2 NORMAL, 3 EXPLAIN, 4 CREATE,
// 5 TRIGGER, 6 SEMI (in a trigger body), 7 END.
var completeTrans = [8][8]uint8{
	//  SEMI WS OTHER EXPLAIN CREATE TEMP TRIGGER END
	{1, 0, 2, 3, 4, 2, 2, 2}, // 0 INVALID
	{1, 1, 2, 3, 4, 2, 2, 2}, // 1 START
	{1, 2, 2, 2, 2, 2, 2, 2}, // 2 NORMAL
	{1, 3, 3, 2, 4, 2, 2, 2}, // 3 EXPLAIN
	{1, 4, 2, 2, 2, 4, 5, 2}, // 4 CREATE
	{6, 5, 5, 5, 5, 5, 5, 5}, // 5 TRIGGER
	{6, 6, 5, 5, 5, 5, 5, 7}, // 6 SEMI
	{1, 7, 5, 5, 5, 5, 5, 5}, // 7 END
}

// sqliteIdChar is SQLite's IdChar: a byte that may be part of an
// identifier ($ included: "a$t$" is one identifier to SQLite).
func sqliteIdChar(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// statementEnds returns the offsets of the semicolons in q that end a
// statement by sqlite3_complete's rules. Text from a NUL byte on is
// ignored, as SQLite ignores it (callers refuse such text).
func statementEnds(q string) []int {
	if i := strings.IndexByte(q, 0); i >= 0 {
		q = q[:i]
	}
	var ends []int
	state := uint8(0)
	for i := 0; i < len(q); i++ {
		var token int
		switch c := q[i]; c {
		case ';':
			token = tkSemi
		case ' ', '\r', '\t', '\n', '\f':
			token = tkWS
		case '/':
			if i+1 >= len(q) || q[i+1] != '*' {
				token = tkOther
				break
			}
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				return ends // unterminated: the rest is one statement
			}
			i += 2 + j + 1
			token = tkWS
		case '-':
			if i+1 >= len(q) || q[i+1] != '-' {
				token = tkOther
				break
			}
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				return ends
			}
			i += j
			token = tkWS
		case '[':
			j := strings.IndexByte(q[i+1:], ']')
			if j < 0 {
				return ends
			}
			i += 1 + j
			token = tkOther
		case '`', '"', '\'':
			j := strings.IndexByte(q[i+1:], c)
			if j < 0 {
				return ends
			}
			i += 1 + j
			token = tkOther
		default:
			if !sqliteIdChar(c) {
				token = tkOther
				break
			}
			n := 1
			for i+n < len(q) && sqliteIdChar(q[i+n]) {
				n++
			}
			token = keywordToken(q[i : i+n])
			i += n - 1
		}
		state = completeTrans[state][token]
		if token == tkSemi && state == 1 {
			ends = append(ends, i)
		}
	}
	return ends
}

func keywordToken(w string) int {
	switch {
	case strings.EqualFold(w, "create"):
		return tkCreate
	case strings.EqualFold(w, "trigger"):
		return tkTrigger
	case strings.EqualFold(w, "temp"), strings.EqualFold(w, "temporary"):
		return tkTemp
	case strings.EqualFold(w, "end"):
		return tkEnd
	case strings.EqualFold(w, "explain"):
		return tkExplain
	}
	return tkOther
}

// isBlank reports whether s holds only whitespace and comments.
func isBlank(s string) bool {
	for i := 0; i < len(s); {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '\f', ';':
			i++
			continue
		}
		j := skipQuoted(s, i)
		if j == i || s[i] == '\'' || s[i] == '"' || s[i] == '`' || s[i] == '[' {
			return false
		}
		i = j
	}
	return true
}

// words returns up to n leading words of s in upper case, skipping
// comments; it stops at the first character that is not part of a word.
func words(s string, n int) []string {
	var out []string
	for i := skipSpace(s, 0); i < len(s) && len(out) < n && isIdentChar(s[i]); i = skipSpace(s, i) {
		j := i
		for j < len(s) && isIdentChar(s[j]) {
			j++
		}
		out = append(out, strings.ToUpper(s[i:j]))
		i = j
	}
	return out
}

// skipSpace skips white space and comments from i.
func skipSpace(s string, i int) int {
	for i < len(s) {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' || c == '/':
			j := skipQuoted(s, i)
			if j == i {
				return i
			}
			i = j
		default:
			return i
		}
	}
	return i
}

// maxParam returns the highest $N placeholder number in s outside quotes
// and comments.
func maxParam(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if j := skipQuoted(s, i); j != i {
			i = j
			continue
		}
		if s[i] == '$' && i+1 < len(s) && s[i+1] >= '1' && s[i+1] <= '9' {
			j, v := i+1, 0
			for j < len(s) && s[j] >= '0' && s[j] <= '9' && v < 1<<20 {
				v = v*10 + int(s[j]-'0')
				j++
			}
			n = max(n, v)
			i = j
			continue
		}
		i++
	}
	return n
}

// hasWord reports whether the upper-case keyword w appears in s as a word
// outside quotes and comments.
func hasWord(s, w string) bool {
	for i := 0; i < len(s); {
		if j := skipQuoted(s, i); j != i {
			i = j
			continue
		}
		if isIdentChar(s[i]) {
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			if strings.EqualFold(s[i:j], w) {
				return true
			}
			i = j
			continue
		}
		i++
	}
	return false
}

// normalize lower-cases s outside quotes, collapses white space, drops
// comments and a trailing semicolon; used to recognise fixed queries.
func normalize(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); {
		if j := skipQuoted(s, i); j != i {
			if s[i] == '-' || s[i] == '/' {
				space = true
			} else {
				if space && b.Len() > 0 {
					b.WriteByte(' ')
				}
				space = false
				b.WriteString(s[i:j])
			}
			i = j
			continue
		}
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' {
			space = true
			i++
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
		i++
	}
	return strings.TrimRight(strings.TrimSpace(b.String()), "; ")
}
