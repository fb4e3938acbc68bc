package pgwire

import "strings"

// rewriteClauses drops the clauses that only steer PostgreSQL's locking
// or index building and mean nothing more under SQLite:
//
//   - SELECT ... FOR UPDATE | NO KEY UPDATE | SHARE | KEY SHARE [OF t, ...]
//     [NOWAIT | SKIP LOCKED]: a sqlink write transaction holds the
//     database's write lock, so no other session changes what it read
//     before it ends; no row is ever locked by another, so SKIP LOCKED
//     skips none.
//   - CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY: SQLite builds
//     an index in one step.
//   - CREATE INDEX ... USING btree | hash: SQLite's indexes are b-trees,
//     which answer every query a hash index does; other methods (gin,
//     gist, brin, spgist) are refused: their operators do not exist here.
func rewriteClauses(toks []sqlToken) ([]sqlToken, *pgError) {
	out := make([]sqlToken, 0, len(toks))
	depth := 0
	first := ""
	if i := nextNonSpace(toks, 0); i < len(toks) {
		first = strings.ToUpper(toks[i].text)
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
		case t.is("FOR") && (first == "SELECT" || first == "WITH" || first == "("):
			if end := lockingClause(toks, i); end > i {
				i = end - 1
				continue
			}
		case t.is("CONCURRENTLY") && (first == "CREATE" || first == "DROP"):
			if i+1 < len(toks) && toks[i+1].kind == tSpace {
				i++
			}
			continue
		case t.is("USING") && first == "CREATE" && depth == 0:
			j := nextNonSpace(toks, i+1)
			if j < len(toks) && toks[j].kind == tWord {
				switch m := strings.ToLower(toks[j].text); m {
				case "btree", "hash":
					i = j
					if i+1 < len(toks) && toks[i+1].kind == tSpace {
						i++
					}
					continue
				case "gin", "gist", "brin", "spgist", "bloom":
					return nil, unsupportedError("an index USING "+m, "SQLite's indexes are b-trees: create the index without USING.")
				}
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// lockingClause returns the end (exclusive) of the locking clause that
// starts at toks[i] (FOR), or i when none does.
func lockingClause(toks []sqlToken, i int) int {
	next := func(j int) int { return nextNonSpace(toks, j+1) }
	j := next(i)
	switch {
	case j < len(toks) && (toks[j].is("UPDATE") || toks[j].is("SHARE")):
	case j < len(toks) && toks[j].is("NO") && next(j) < len(toks) && toks[next(j)].is("KEY") && next(next(j)) < len(toks) && toks[next(next(j))].is("UPDATE"):
		j = next(next(j))
	case j < len(toks) && toks[j].is("KEY") && next(j) < len(toks) && toks[next(j)].is("SHARE"):
		j = next(j)
	default:
		return i
	}
	end := j + 1
	if k := next(j); k < len(toks) && toks[k].is("OF") {
		k = next(k)
		for k < len(toks) && (toks[k].kind == tWord || toks[k].kind == tQIdent) {
			end = k + 1
			if n := next(k); n < len(toks) && toks[n].is(".") {
				k = next(n)
				continue
			}
			if n := next(k); n < len(toks) && toks[n].is(",") {
				k = next(n)
				continue
			}
			break
		}
	}
	if k := next(end - 1); k < len(toks) && toks[k].is("NOWAIT") {
		end = k + 1
	} else if k < len(toks) && toks[k].is("SKIP") && next(k) < len(toks) && toks[next(k)].is("LOCKED") {
		end = next(k) + 1
	}
	// Another locking clause may follow.
	if k := next(end - 1); k < len(toks) && toks[k].is("FOR") {
		if e := lockingClause(toks, k); e > k {
			return e
		}
	}
	return end
}
