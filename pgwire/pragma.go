package pgwire

import "strings"

// Some PRAGMAs would break what sqlink promises about a database: its WAL
// is checkpointed only after the replication log holds its commits (a
// checkpoint or journal mode change behind the log's back loses commits
// from it and stops replication), its commits are durable (synchronous),
// and a secondary is read-only (query_only). They are refused; reading
// their values is not.
var (
	// pragmasRefused are refused in any form: running them acts.
	pragmasRefused = map[string]string{
		"wal_checkpoint": "sqlink checkpoints the WAL itself, after the replication log holds its commits",
	}
	// pragmasReadOnly are refused when given a value.
	pragmasReadOnly = map[string]string{
		"journal_mode":       "replication needs WAL mode",
		"wal_autocheckpoint": "sqlink checkpoints the WAL itself, after the replication log holds its commits",
		"locking_mode":       "replication reads the WAL while sessions use the database",
		"synchronous":        "set it for the instance (serve --synchronous)",
		"query_only":         "a session's read-only state follows its transaction and the database's role",
		"writable_schema":    "a hand-edited schema can corrupt the database on both replicas",
		"schema_version":     "changing it can corrupt the database on both replicas",
		"soft_heap_limit":    "it applies to the whole instance",
		"hard_heap_limit":    "it applies to the whole instance",
	}
)

// pragmasWriting write the database when run (optimize runs ANALYZE), or
// when given a value in the name(value) form: they are writes, bracketed
// like any other (and refused on a secondary).
var pragmasWriting = map[string]bool{"optimize": true, "incremental_vacuum": true}
var pragmasWritingWithValue = map[string]bool{"user_version": true, "application_id": true, "auto_vacuum": true}

// pragmaPlan completes p, the plan of the PRAGMA statement s: passed to
// SQLite (as a write when it writes the database), or refused when it
// would break sqlink's guarantees.
func pragmaPlan(p *plan, s string) *plan {
	name, arg, ok := pragmaName(s)
	if !ok {
		return &plan{kind: planRefuse, err: &pgError{Severity: "ERROR", Code: codeSyntaxError,
			Message: "cannot tell which PRAGMA this is", Hint: "Write it as PRAGMA name, PRAGMA name = value or PRAGMA schema.name(value)."}}
	}
	why, refused := pragmasRefused[name]
	if !refused && arg {
		why, refused = pragmasReadOnly[name]
	}
	if !refused {
		p.verb, p.rows = "PRAGMA", true
		p.write = strings.Contains(s, "=") || pragmasWriting[name] || arg && pragmasWritingWithValue[name]
		return p
	}
	return &plan{kind: planRefuse, err: &pgError{Severity: "ERROR", Code: codeInsufficientPriv,
		Message: "PRAGMA " + name + " is not allowed here: " + why, Hint: "Reading a PRAGMA's value (PRAGMA " + name + ") is allowed where it has one."}}
}

// pragmaName returns the lower-case name of the PRAGMA statement s (the
// schema prefix dropped) and whether a value or argument follows it; ok is
// false when s does not parse that far.
func pragmaName(s string) (name string, arg, ok bool) {
	i := skipSpace(s, 0)
	if len(s) < i+6 || !strings.EqualFold(s[i:i+6], "PRAGMA") {
		return "", false, false
	}
	i += 6
	for part := 0; part < 2; part++ {
		i = skipSpace(s, i)
		var tok string
		if tok, i, ok = pragmaToken(s, i); !ok {
			return "", false, false
		}
		name = strings.ToLower(tok)
		i = skipSpace(s, i)
		if i >= len(s) || s[i] != '.' {
			break
		}
		if part == 1 {
			return "", false, false
		}
		i++
	}
	return name, i < len(s) && (s[i] == '=' || s[i] == '('), true
}

// pragmaToken reads an identifier at i: bare, or quoted with ", `, [ ] or '
// (SQLite takes a string as a name there).
func pragmaToken(s string, i int) (string, int, bool) {
	if i >= len(s) {
		return "", i, false
	}
	switch c := s[i]; {
	case isIdentChar(c):
		j := i
		for j < len(s) && isIdentChar(s[j]) {
			j++
		}
		return s[i:j], j, true
	case c == '[':
		j := strings.IndexByte(s[i+1:], ']')
		if j < 0 {
			return "", i, false
		}
		return s[i+1 : i+1+j], i + 2 + j, true
	case c == '"' || c == '`' || c == '\'':
		j := skipQuoted(s, i)
		if j <= i+1 || s[j-1] != c {
			return "", i, false
		}
		q := string(c)
		return strings.ReplaceAll(s[i+1:j-1], q+q, q), j, true
	}
	return "", i, false
}
