package pgwire

import (
	"strings"
)

// skipQuoted returns the index just past the quoted string, identifier or
// comment that starts at s[i], or i when none starts there.
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
	case '$':
		// A dollar-quoted string: $$...$$ or $tag$...$tag$.
		j := i + 1
		for j < len(s) && (isIdentChar(s[j]) && !(j == i+1 && s[j] >= '0' && s[j] <= '9')) {
			j++
		}
		if j < len(s) && s[j] == '$' {
			tag := s[i : j+1]
			if k := strings.Index(s[j+1:], tag); k >= 0 {
				return j + 1 + k + len(tag)
			}
			return len(s)
		}
	}
	return i
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// splitStatements splits a simple Query into statements at semicolons
// outside quotes and comments. A CREATE TRIGGER body's semicolons do not end
// it: only one after END does. Statements that are empty or only comments
// are dropped.
func splitStatements(q string) []string {
	var out []string
	start := 0
	trigger := false // the current statement is a CREATE TRIGGER
	lastWord := ""
	checked := false
	for i := 0; i < len(q); {
		if j := skipQuoted(q, i); j != i {
			i = j
			continue
		}
		c := q[i]
		if isIdentChar(c) {
			j := i
			for j < len(q) && isIdentChar(q[j]) {
				j++
			}
			lastWord = q[i:j]
			if !checked {
				checked = true
				trigger = isCreateTrigger(q[start:])
			}
			i = j
			continue
		}
		if c == ';' && (!trigger || strings.EqualFold(lastWord, "END")) {
			if st := strings.TrimSpace(q[start:i]); !isBlank(st) {
				out = append(out, st)
			}
			start = i + 1
			trigger, checked, lastWord = false, false, ""
		}
		i++
	}
	if st := strings.TrimSpace(q[start:]); !isBlank(st) {
		out = append(out, st)
	}
	return out
}

func isCreateTrigger(s string) bool {
	w := words(s, 4)
	if len(w) < 2 || w[0] != "CREATE" {
		return false
	}
	for _, x := range w[1:] {
		if x == "TRIGGER" {
			return true
		}
	}
	return false
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
		if j == i || s[i] == '\'' || s[i] == '"' || s[i] == '`' || s[i] == '$' {
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
