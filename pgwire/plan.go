package pgwire

import (
	"strings"
)

// planKind says how a statement is run.
type planKind int

const (
	planEmpty      planKind = iota // only comments: EmptyQueryResponse
	planSQL                        // passed to SQLite
	planBegin                      // BEGIN / START TRANSACTION
	planCommit                     // COMMIT / END
	planRollback                   // ROLLBACK / ABORT (not ROLLBACK TO)
	planSet                        // SET / RESET: remembered, tag only
	planShow                       // SHOW name
	planSynthetic                  // answered in Go (version(), catalog...)
	planNoop                       // accepted and ignored, tag only
	planDeallocate                 // DEALLOCATE name | ALL
	planRefuse                     // refused with err
	planMulti                      // several statements in one transaction (translate_plan.go)
	planAddPK                      // ALTER TABLE ... ADD PRIMARY KEY (translate_plan.go)
	planCopy                       // COPY (copy.go)
	planCursor                     // DECLARE, FETCH, MOVE, CLOSE (cursor.go)
)

// plan is a classified statement. Plans are immutable once built and
// cached with prepared statements.
type plan struct {
	kind     planKind
	sql      string // text given to SQLite
	verb     string // command tag verb: INSERT, UPDATE, SELECT, CREATE TABLE...
	rows     bool   // returns rows
	write    bool   // may write: bracketed by BeginWrite/EndWrite in autocommit
	readOnly bool   // BEGIN ... READ ONLY
	rollTo   bool   // ROLLBACK TO SAVEPOINT: allowed in a failed transaction
	name     string // SHOW/SET parameter or DEALLOCATE target
	value    string // SET value
	nparams  int
	synth    *synthetic
	err      *pgError
	x        any      // the parsed statement of planMulti, planAddPK, planCopy, planCursor
	castOIDs []uint32 // parameter types given by casts ($1::int4), by N-1 (translate_cast.go)
}

// buildPlan classifies one statement.
func buildPlan(s string) *plan {
	if isBlank(s) {
		return &plan{kind: planEmpty}
	}
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, "; \t\r\n")
	w := words(s, 6)
	p := &plan{kind: planSQL, sql: s, nparams: maxParam(s)}
	if len(w) == 0 {
		// Starts with a parenthesis or similar: let SQLite decide.
		p.verb, p.rows = "SELECT", true
		return p
	}
	if syn := lookupSynthetic(s); syn != nil {
		return &plan{kind: planSynthetic, synth: syn, verb: "SELECT", rows: true, nparams: p.nparams}
	}
	switch w[0] {
	case "SELECT", "VALUES", "TABLE":
		p.verb, p.rows = "SELECT", true
		if w[0] == "TABLE" && len(w) > 1 {
			p.sql = "SELECT * FROM " + strings.TrimSpace(s[strings.Index(strings.ToUpper(s), "TABLE")+5:])
		}
	case "WITH":
		p.verb, p.rows = "SELECT", true
		for _, k := range []string{"INSERT", "UPDATE", "DELETE", "REPLACE"} {
			if hasWord(s, k) {
				p.write = true
				p.rows = hasWord(s, "RETURNING")
				p.verb = k
				if k == "REPLACE" {
					p.verb = "INSERT"
				}
			}
		}
		if p.write && !p.rows {
			p.verb = "SELECT"
			p.rows = true // let SQLite tell; a WITH statement may return rows
		}
	case "EXPLAIN":
		p.verb, p.rows = "EXPLAIN", true
	case "PRAGMA":
		return pragmaPlan(p, s)
	case "INSERT", "REPLACE":
		p.verb, p.write = "INSERT", true
		p.rows = hasWord(s, "RETURNING")
	case "UPDATE", "DELETE":
		p.verb, p.write = w[0], true
		p.rows = hasWord(s, "RETURNING")
	case "BEGIN", "START":
		if w[0] == "START" && (len(w) < 2 || w[1] != "TRANSACTION") {
			break
		}
		return beginPlan(s, w)
	case "COMMIT", "END":
		return &plan{kind: planCommit, verb: "COMMIT"}
	case "ROLLBACK", "ABORT":
		if len(w) > 1 && (w[1] == "TO" || len(w) > 2 && w[2] == "TO") {
			p.verb, p.rollTo = "ROLLBACK", true
			return p
		}
		return &plan{kind: planRollback, verb: "ROLLBACK"}
	case "SAVEPOINT":
		p.verb = "SAVEPOINT"
	case "RELEASE":
		p.verb = "RELEASE"
	case "SET":
		return setPlan(s, w)
	case "RESET":
		if len(w) > 1 {
			return &plan{kind: planSet, verb: "RESET", name: strings.ToLower(w[1]), value: "\x00reset"}
		}
		return &plan{kind: planNoop, verb: "RESET"}
	case "SHOW":
		return showPlan(s)
	case "DISCARD":
		return &plan{kind: planDeallocate, verb: "DISCARD ALL", name: ""}
	case "DEALLOCATE":
		rest := w[1:]
		if len(rest) > 0 && rest[0] == "PREPARE" {
			rest = rest[1:]
		}
		if len(rest) == 0 || rest[0] == "ALL" {
			return &plan{kind: planDeallocate, verb: "DEALLOCATE ALL"}
		}
		return &plan{kind: planDeallocate, verb: "DEALLOCATE", name: deallocName(s)}
	case "LISTEN", "UNLISTEN", "NOTIFY", "CHECKPOINT", "LOCK":
		return &plan{kind: planNoop, verb: w[0]}
	case "COPY":
		return copyPlan(s)
	case "DECLARE", "FETCH", "MOVE", "CLOSE":
		return cursorPlan(s, w)
	case "ATTACH", "DETACH":
		return &plan{kind: planRefuse, err: newPgError(codeInsufficientPriv, "ATTACH and DETACH are not allowed: a session sees only its own database")}
	case "VACUUM":
		p.verb, p.write = "VACUUM", true
		if hasWord(s, "INTO") {
			return &plan{kind: planRefuse, err: newPgError(codeInsufficientPriv, "VACUUM INTO is not allowed; use sqlink backup")}
		}
	case "CREATE", "DROP", "ALTER":
		p.verb, p.write = ddlVerb(w), true
	default:
		p.verb, p.write = w[0], true
	}
	return p
}

// ddlVerb returns the command tag of CREATE/DROP/ALTER: "CREATE TABLE",
// "DROP INDEX"...
func ddlVerb(w []string) string {
	for _, x := range w[1:] {
		switch x {
		case "TABLE", "INDEX", "VIEW", "TRIGGER":
			return w[0] + " " + x
		case "TEMP", "TEMPORARY", "UNIQUE", "VIRTUAL", "IF", "NOT", "EXISTS":
			continue
		default:
			return w[0] + " " + x
		}
	}
	return w[0]
}

// beginPlan parses BEGIN [WORK|TRANSACTION] [ISOLATION LEVEL ...] [READ
// ONLY|READ WRITE] [[NOT] DEFERRABLE] [DEFERRED|IMMEDIATE|EXCLUSIVE]. The
// statement actually run is chosen when it executes.
func beginPlan(s string, _ []string) *plan {
	w := words(strings.NewReplacer(",", " ").Replace(s), 32)
	p := &plan{kind: planBegin, verb: "BEGIN"}
	for i := 0; i < len(w); i++ {
		if w[i] == "READ" && i+1 < len(w) && w[i+1] == "ONLY" {
			p.readOnly = true
		}
	}
	return p
}

// setPlan handles SET [SESSION|LOCAL] name {TO|=} value, SET TIME ZONE,
// SET TRANSACTION ... and SET SESSION CHARACTERISTICS.
func setPlan(s string, w []string) *plan {
	p := &plan{kind: planSet, verb: "SET"}
	rest := strings.TrimSpace(s[3:])
	for _, kw := range []string{"SESSION ", "LOCAL "} {
		if len(rest) >= len(kw) && strings.EqualFold(rest[:len(kw)], kw) && !strings.HasPrefix(strings.ToUpper(rest), "SESSION CHARACTERISTICS") && !strings.HasPrefix(strings.ToUpper(rest), "SESSION AUTHORIZATION") {
			rest = strings.TrimSpace(rest[len(kw):])
		}
	}
	up := strings.ToUpper(rest)
	switch {
	case strings.HasPrefix(up, "TRANSACTION"), strings.HasPrefix(up, "SESSION CHARACTERISTICS"):
		p.name = ""
		return p
	case strings.HasPrefix(up, "TIME ZONE"):
		p.name, p.value = "timezone", unquote(strings.TrimSpace(rest[9:]))
		return p
	case strings.HasPrefix(up, "NAMES"):
		p.name, p.value = "client_encoding", unquote(strings.TrimSpace(rest[5:]))
		return p
	}
	i := strings.IndexAny(rest, " =\t")
	if i < 0 {
		p.name = strings.ToLower(rest)
		return p
	}
	p.name = strings.ToLower(strings.TrimSpace(rest[:i]))
	v := strings.TrimSpace(rest[i:])
	if strings.HasPrefix(v, "=") {
		v = strings.TrimSpace(v[1:])
	} else if len(v) >= 2 && strings.EqualFold(v[:2], "TO") {
		v = strings.TrimSpace(v[2:])
	}
	p.value = unquote(v)
	return p
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		q := string(v[0])
		return strings.ReplaceAll(v[1:len(v)-1], q+q, q)
	}
	if strings.EqualFold(v, "default") {
		return "\x00reset"
	}
	return v
}

func showPlan(s string) *plan {
	name := strings.TrimSpace(s[4:])
	name = strings.ToLower(unquote(name))
	if name == "time zone" {
		name = "timezone"
	}
	return &plan{kind: planShow, verb: "SHOW", name: name, rows: true}
}

func deallocName(s string) string {
	w := strings.Fields(s)
	name := w[len(w)-1]
	return strings.Trim(name, `"`)
}
