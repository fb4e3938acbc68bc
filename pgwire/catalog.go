package pgwire

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The emulated pg_catalog. psql's backslash commands query pg_catalog;
// this file recognises the queries of \l, \d, \dt, \di, \dv and \d NAME
// (psql 15) and answers them from SQLite's own schema (sqlite_schema and
// the table_info, index_list and index_info pragmas). Other queries on
// pg_catalog answer with no rows, which psql takes as "nothing of that
// kind" (no policies, no publications, no inheritance...).
//
// A relation's OID is 16384 plus its sqlite_schema rowid: stable while the
// schema does not change, which is all psql needs between its queries.

const firstRelOID = 16384

type relation struct {
	oid   int64
	kind  string // r table, v view, i index, t trigger
	name  string
	table string
	sql   string
}

var (
	reAlias    = regexp.MustCompile(`\bas "([^"]+)"`)
	reOID      = regexp.MustCompile(`(?:c\.oid|attrelid|polrelid|stxrelid|inhrelid|inhparent|conrelid|confrelid|r\.conrelid|tgrelid) = '(\d+)'`)
	reRelRegex = regexp.MustCompile(`c\.relname operator\(pg_catalog\.~\) '((?:[^']|'')*)'`)
	reRelkinds = regexp.MustCompile(`c\.relkind in \(([^)]*)\)`)
)

// lookupCatalog returns the answer to a catalog query, s, normalized n,
// or nil for a statement that is not one. psql's queries that use
// PostgreSQL syntax SQLite has no equivalent for (ARRAY(SELECT ...)) are
// answered in Go; the others run on SQLite (catalogSQL).
func lookupCatalog(s, n string) *synthetic {
	if !isCatalogQuery(s, n) {
		return nil
	}
	switch {
	case strings.HasPrefix(n, "select c.relchecks, c.relkind, c.relhasindex"):
		return tableInfo(n)
	case strings.HasPrefix(n, "select c2.relname, i.indisprimary, i.indisunique"):
		return indexesInfo(n)
	case strings.HasPrefix(n, "select o.n, p.partstrat, pg_catalog.count(i.inhparent)"):
		return pgbenchTableInfo(n)
	case strings.HasPrefix(n, "select r.rolname, r.rolsuper, r.rolinherit"):
		return psqlRoles(n)
	}
	if syn := lookupPsql(n); syn != nil {
		return syn
	}
	return catalogSQL(s)
}

func textCols(names ...string) []column {
	cols := make([]column, len(names))
	for i, n := range names {
		cols[i] = column{name: n, oid: oidText}
	}
	return cols
}

// aliased answers a listing query whose columns are named with AS "X";
// rows maps each alias to a value.
func aliased(n string, rows func(ctx context.Context, c *clientConn) ([]map[string]any, error)) *synthetic {
	var names []string
	for _, m := range reAlias.FindAllStringSubmatch(n, -1) {
		names = append(names, m[1])
	}
	// Recover the capitalisation psql used: normalize lower-cased nothing
	// inside quotes, so the aliases are as written.
	return &synthetic{
		cols: textCols(names...),
		run: func(ctx context.Context, c *clientConn) ([][]any, error) {
			maps, err := rows(ctx, c)
			if err != nil {
				return nil, err
			}
			out := make([][]any, len(maps))
			for i, m := range maps {
				r := make([]any, len(names))
				for j, name := range names {
					if v, ok := m[name]; ok {
						r[j] = v
					}
				}
				out[i] = r
			}
			return out, nil
		},
	}
}

func listDatabases(ctx context.Context, c *clientConn) ([]map[string]any, error) {
	names := []string{c.database}
	if l, ok := c.srv.backend.(DatabaseLister); ok {
		all, err := l.ListDatabases(ctx)
		if err != nil {
			return nil, err
		}
		names = all
	}
	sort.Strings(names)
	var out []map[string]any
	for _, name := range names {
		out = append(out, map[string]any{
			"Name": name, "Owner": c.user, "Encoding": "UTF8", "Collate": "C", "Ctype": "C",
			"Locale Provider": "libc", "Access privileges": "",
		})
	}
	return out, nil
}

// relations reads sqlite_schema.
func (c *clientConn) relations(ctx context.Context) ([]relation, error) {
	rows, err := c.sess.Conn().QueryContext(ctx, `SELECT rowid, type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\' OR name LIKE 'sqlite\_autoindex\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []relation
	for rows.Next() {
		var r relation
		var typ string
		if err := rows.Scan(&r.oid, &typ, &r.name, &r.table, &r.sql); err != nil {
			return nil, err
		}
		r.oid += firstRelOID
		switch typ {
		case "table":
			r.kind = "r"
		case "view":
			r.kind = "v"
		case "index":
			r.kind = "i"
		default:
			continue
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

var kindNames = map[string]string{"r": "table", "v": "view", "i": "index"}

func listRelations(n string) func(ctx context.Context, c *clientConn) ([]map[string]any, error) {
	kinds := map[string]bool{}
	if m := reRelkinds.FindStringSubmatch(n); m != nil {
		for _, k := range strings.Split(m[1], ",") {
			kinds[strings.Trim(strings.TrimSpace(k), "'")] = true
		}
	}
	re := relPattern(n)
	return func(ctx context.Context, c *clientConn) ([]map[string]any, error) {
		rels, err := c.relations(ctx)
		if err != nil {
			return nil, err
		}
		var out []map[string]any
		for _, r := range rels {
			if !kinds[r.kind] || re != nil && !re.MatchString(r.name) {
				continue
			}
			out = append(out, map[string]any{
				"Schema": "public", "Name": r.name, "Type": kindNames[r.kind], "Owner": c.user,
				"Table": r.table, "Persistence": "permanent", "Access method": "heap",
			})
		}
		return out, nil
	}
}

// relPattern converts psql's name pattern, a POSIX regular expression, to
// Go's syntax; nil when the query has none.
func relPattern(n string) *regexp.Regexp {
	m := reRelRegex.FindStringSubmatch(n)
	if m == nil {
		return nil
	}
	re, err := regexp.Compile(strings.ReplaceAll(m[1], "''", "'"))
	if err != nil {
		return regexp.MustCompile(`^$`)
	}
	return re
}

func relOID(n string) int64 {
	if m := reOID.FindStringSubmatch(n); m != nil {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		return v
	}
	return -1
}

func (c *clientConn) relationByOID(ctx context.Context, oid int64) (relation, bool, error) {
	rels, err := c.relations(ctx)
	if err != nil {
		return relation{}, false, err
	}
	for _, r := range rels {
		if r.oid == oid {
			return r, true, nil
		}
	}
	return relation{}, false, nil
}

func findRelation(n string) *synthetic {
	re := relPattern(n)
	return &synthetic{
		cols: []column{{"oid", oidOID}, {"nspname", oidName}, {"relname", oidName}},
		run: func(ctx context.Context, c *clientConn) ([][]any, error) {
			rels, err := c.relations(ctx)
			if err != nil {
				return nil, err
			}
			var out [][]any
			for _, r := range rels {
				if re == nil || re.MatchString(r.name) {
					out = append(out, []any{r.oid, "public", r.name})
				}
			}
			return out, nil
		},
	}
}

func tableInfo(n string) *synthetic {
	oid := relOID(n)
	cols := []column{{"relchecks", oidInt2}, {"relkind", oidChar}, {"relhasindex", oidBool}, {"relhasrules", oidBool},
		{"relhastriggers", oidBool}, {"relrowsecurity", oidBool}, {"relforcerowsecurity", oidBool}, {"relhasoids", oidBool},
		{"relispartition", oidBool}, {"array_to_string", oidText}, {"reltablespace", oidOID}, {"reloftype", oidText},
		{"relpersistence", oidChar}, {"relreplident", oidChar}, {"amname", oidName}}
	return &synthetic{
		cols: cols,
		run: func(ctx context.Context, c *clientConn) ([][]any, error) {
			r, ok, err := c.relationByOID(ctx, oid)
			if err != nil || !ok {
				return nil, err
			}
			hasIndex := false
			if r.kind == "r" {
				idx, err := c.indexes(ctx, r.name)
				if err != nil {
					return nil, err
				}
				hasIndex = len(idx) > 0
			}
			am := any("heap")
			if r.kind != "r" {
				am = nil
			}
			checks, triggers, err := c.relFlags(ctx, r.oid)
			if err != nil {
				return nil, err
			}
			return [][]any{{checks, r.kind, hasIndex, false, triggers, false, false, false, false, "", int64(0), "", "p", "d", am}}, nil
		},
	}
}

// formatType shows a declared SQLite type the way PostgreSQL would name
// the type clients see.
func formatType(decl string) string {
	oid := oidForDeclType(decl)
	if i := strings.Index(decl, "("); i >= 0 && (oid == oidVarchar || oid == oidNumeric) {
		return typeName(oid) + strings.ReplaceAll(decl[i:], " ", "")
	}
	return typeName(oid)
}

type indexInfo struct {
	name    string
	unique  bool
	primary bool
	origin  string // c (CREATE INDEX), u (UNIQUE constraint), pk
	cols    []string
}

func (c *clientConn) indexes(ctx context.Context, table string) ([]indexInfo, error) {
	rows, err := c.sess.Conn().QueryContext(ctx, `SELECT name, "unique", origin FROM pragma_index_list(?)`, table)
	if err != nil {
		return nil, err
	}
	var out []indexInfo
	for rows.Next() {
		var ix indexInfo
		var unique int64
		if err := rows.Scan(&ix.name, &unique, &ix.origin); err != nil {
			rows.Close()
			return nil, err
		}
		ix.unique, ix.primary = unique != 0, ix.origin == "pk"
		out = append(out, ix)
	}
	rows.Close()
	for i := range out {
		cr, err := c.sess.Conn().QueryContext(ctx, `SELECT coalesce(name, '?') FROM pragma_index_info(?) ORDER BY seqno`, out[i].name)
		if err != nil {
			return nil, err
		}
		for cr.Next() {
			var col string
			if err := cr.Scan(&col); err == nil {
				out[i].cols = append(out[i].cols, col)
			}
		}
		cr.Close()
	}
	// An INTEGER PRIMARY KEY is the rowid and has no index: show it as the
	// primary key index PostgreSQL would have.
	hasPK := false
	for _, ix := range out {
		hasPK = hasPK || ix.primary
	}
	if !hasPK {
		pr, err := c.sess.Conn().QueryContext(ctx, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table)
		if err != nil {
			return nil, err
		}
		var pkCols []string
		for pr.Next() {
			var col string
			if err := pr.Scan(&col); err == nil {
				pkCols = append(pkCols, col)
			}
		}
		pr.Close()
		if len(pkCols) > 0 {
			out = append(out, indexInfo{name: table + "_pkey", unique: true, primary: true, origin: "pk", cols: pkCols})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].primary != out[j].primary {
			return out[i].primary
		}
		return out[i].name < out[j].name
	})
	return out, nil
}

func indexesInfo(n string) *synthetic {
	oid := relOID(n)
	return &synthetic{
		cols: []column{{"relname", oidName}, {"indisprimary", oidBool}, {"indisunique", oidBool}, {"indisclustered", oidBool},
			{"indisvalid", oidBool}, {"pg_get_indexdef", oidText}, {"pg_get_constraintdef", oidText}, {"contype", oidChar},
			{"condeferrable", oidBool}, {"condeferred", oidBool}, {"indisreplident", oidBool}, {"reltablespace", oidOID}},
		run: func(ctx context.Context, c *clientConn) ([][]any, error) {
			r, ok, err := c.relationByOID(ctx, oid)
			if err != nil || !ok || r.kind != "r" {
				return nil, err
			}
			idx, err := c.indexes(ctx, r.name)
			if err != nil {
				return nil, err
			}
			var out [][]any
			for _, ix := range idx {
				u := ""
				if ix.unique {
					u = "UNIQUE "
				}
				def := fmt.Sprintf("CREATE %sINDEX %s ON public.%s USING btree (%s)", u, ix.name, r.name, strings.Join(ix.cols, ", "))
				var sql *string
				if err := c.sess.Conn().QueryRowContext(ctx, "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?", ix.name).Scan(&sql); err == nil && sql != nil {
					def = pgIndexDef(*sql)
				}
				var condef, contype any
				switch {
				case ix.primary:
					condef, contype = fmt.Sprintf("PRIMARY KEY (%s)", strings.Join(ix.cols, ", ")), "p"
				case ix.origin == "u":
					condef, contype = fmt.Sprintf("UNIQUE (%s)", strings.Join(ix.cols, ", ")), "u"
				}
				out = append(out, []any{ix.name, ix.primary, ix.unique, false, true, def, condef, contype, false, false, false, int64(0)})
			}
			return out, nil
		},
	}
}

// emptyResult answers any other catalog query with no rows, naming the
// columns after its AS aliases when it has them.
func emptyResult(n string) *synthetic {
	var names []string
	for _, m := range reAlias.FindAllStringSubmatch(n, -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		names = []string{"?column?"}
	}
	return &synthetic{
		cols: textCols(names...),
		run:  func(context.Context, *clientConn) ([][]any, error) { return nil, nil },
	}
}

var reRelnameEq = regexp.MustCompile(`c\.relname = '((?:[^']|'')*)'`)

// pgbenchTableInfo answers pgbench's check that pgbench_accounts exists and
// whether it is partitioned (it never is here).
func pgbenchTableInfo(n string) *synthetic {
	name := ""
	if m := reRelnameEq.FindStringSubmatch(n); m != nil {
		name = m[1]
	}
	return &synthetic{
		cols: []column{{"n", oidInt4}, {"partstrat", oidChar}, {"count", oidInt8}},
		run: func(ctx context.Context, c *clientConn) ([][]any, error) {
			rels, err := c.relations(ctx)
			if err != nil {
				return nil, err
			}
			for _, r := range rels {
				if r.kind == "r" && r.name == name {
					return [][]any{{int64(1), nil, int64(0)}}, nil
				}
			}
			return nil, nil
		},
	}
}
