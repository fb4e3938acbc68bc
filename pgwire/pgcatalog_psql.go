package pgwire

import (
	"context"
	"database/sql/driver"
	"regexp"
	"strconv"
	"strings"
)

// psql's catalog queries that use PostgreSQL syntax SQLite has no
// equivalent for, answered here.

// lookupPsql answers psql's \d footer queries about objects SQLite does
// not have (row security policies, extended statistics, publications):
// none exist; psql's trigger list and pgcli's foreign keys, which unnest
// arrays.
func lookupPsql(n string) *synthetic {
	for _, from := range []string{"from pg_catalog.pg_policy pol", "from pg_catalog.pg_statistic_ext", "from pg_catalog.pg_publication p"} {
		if strings.Contains(n, from) {
			return emptyResult(n)
		}
	}
	if strings.Contains(n, "as parentschema") && strings.Contains(n, "as parentcolumn") && strings.Contains(n, "as childcolumn") {
		// pgcli's foreign keys, one row per column: unnest of conkey.
		return &synthetic{
			query: func(ctx context.Context, c *clientConn, _ []driver.NamedValue) ([]column, [][]any, error) {
				return c.catalogQuery(ctx, `SELECT 'public' AS parentschema, f."table" AS parenttable,
					coalesce(f."to", (SELECT name FROM pragma_table_info(f."table") WHERE pk = f.seq + 1)) AS parentcolumn,
					'public' AS childschema, r.name AS childtable, f."from" AS childcolumn
					FROM sqlink_rel r, pragma_foreign_key_list(r.name) f WHERE r.type = 'table' ORDER BY r.name, f.id, f.seq`, nil)
			},
		}
	}
	if strings.Contains(n, "array_upper(current_schemas(false), 1)") && strings.Contains(n, "as is_array") {
		// pgJDBC's getTypeInfo: the types in search path order.
		return &synthetic{
			query: func(ctx context.Context, c *clientConn, _ []driver.NamedValue) ([]column, [][]any, error) {
				return c.catalogQuery(ctx, `SELECT typinput = 'array_in' AS is_array, typtype, typname, oid FROM pg_type ORDER BY oid DESC`, nil)
			},
		}
	}
	if strings.Contains(n, "_pg_expandarray(i.indkey)") && strings.Contains(n, "as ordinal_position") {
		return jdbcIndexInfo(n)
	}
	if strings.HasPrefix(n, "select t.tgname, pg_catalog.pg_get_triggerdef(t.oid, true)") {
		oid := relOID(strings.ReplaceAll(n, "t.tgrelid", "tgrelid"))
		return &synthetic{
			cols: []column{{"tgname", oidName}, {"pg_get_triggerdef", oidText}, {"tgenabled", oidChar}, {"tgisinternal", oidBool}, {"parent", oidText}},
			run: func(ctx context.Context, c *clientConn) ([][]any, error) {
				_, rows, err := c.catalogQuery(ctx, "SELECT tgname, sqlink_def, tgenabled, tgisinternal, NULL FROM pg_trigger WHERE tgrelid = "+strconv.FormatInt(oid, 10)+" ORDER BY 1", nil)
				return rows, err
			},
		}
	}
	return nil
}

// psqlRoles answers \du: ARRAY(SELECT ...) of the roles each is a member
// of is always empty (sqlink's logins are not members of roles).
func psqlRoles(string) *synthetic {
	return &synthetic{
		query: func(ctx context.Context, c *clientConn, _ []driver.NamedValue) ([]column, [][]any, error) {
			cols, rows, err := c.catalogQuery(ctx, `SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
				rolconnlimit, rolvaliduntil, '{}' AS memberof, rolreplication, rolbypassrls FROM pg_roles ORDER BY 1`, nil)
			if err != nil {
				return nil, nil, err
			}
			cols[6].oid, cols[7].oid, cols[8].oid = oidInt4, oidTimestamptz, oidTextArray
			return cols, rows, nil
		},
	}
}

// relFlags returns pg_class.relchecks and relhastriggers of relation oid.
func (c *clientConn) relFlags(ctx context.Context, oid int64) (checks int64, triggers bool, err error) {
	_, rows, err := c.catalogQuery(ctx, "SELECT relchecks, relhastriggers FROM pg_class WHERE oid = "+strconv.FormatInt(oid, 10), nil)
	if err != nil || len(rows) == 0 {
		return 0, false, err
	}
	checks, _ = rows[0][0].(int64)
	t, _ := rows[0][1].(int64)
	return checks, t != 0, nil
}

// current_schemas(bool): pgcli reads the search path with it.
func init() {
	schemas := func(implicit bool) *synthetic {
		v := "{public}"
		if implicit {
			v = "{pg_catalog,public}"
		}
		return oneValue("current_schemas", oidTextArray, func(*clientConn) any { return v })
	}
	unnest := func(implicit bool) *synthetic {
		rows := [][]any{{"public"}}
		if implicit {
			rows = [][]any{{"pg_catalog"}, {"public"}}
		}
		return &synthetic{cols: []column{{"unnest", oidName}}, run: func(context.Context, *clientConn) ([][]any, error) { return rows, nil }}
	}
	for _, b := range []bool{true, false} {
		arg := strconv.FormatBool(b)
		for _, q := range []string{"select current_schemas(" + arg + ")", "select pg_catalog.current_schemas(" + arg + ")", "select * from current_schemas(" + arg + ")"} {
			fixedQueries[q] = schemas(b)
		}
		for _, q := range []string{"select * from unnest(current_schemas(" + arg + "))", "select unnest(current_schemas(" + arg + "))"} {
			fixedQueries[q] = unnest(b)
		}
	}
}

var (
	reJDBCRelname = regexp.MustCompile(`ct\.relname = e?'((?:[^']|'')*)'`)
	reJDBCUnique  = regexp.MustCompile(`and i\.indisunique\b`)
)

// jdbcIndexInfo answers pgJDBC's getIndexInfo, which expands each index's
// key array to one row per column.
func jdbcIndexInfo(n string) *synthetic {
	name := ""
	if m := reJDBCRelname.FindStringSubmatch(n); m != nil {
		name = strings.ReplaceAll(m[1], "''", "'")
	}
	unique := ""
	if reJDBCUnique.MatchString(n) {
		unique = " AND i.indisunique"
	}
	q := `SELECT NULL AS table_cat, 'public' AS table_schem, t.relname AS table_name, NOT i.indisunique AS non_unique,
		NULL AS index_qualifier, ci.relname AS index_name, 3 AS type, k.key + 1 AS ordinal_position,
		CASE WHEN k.value = 0 THEN (SELECT coalesce(name, 'expr') FROM pragma_index_info(ci.relname) WHERE seqno = k.key)
			ELSE (SELECT name FROM pragma_table_info(t.relname) WHERE cid + 1 = k.value) END AS column_name,
		'A' AS asc_or_desc, ci.reltuples AS cardinality, ci.relpages AS pages, i.indpred AS filter_condition
		FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class ci ON ci.oid = i.indexrelid,
		json_each('[' || replace(i.indkey, ' ', ',') || ']') k
		WHERE t.relname = ` + string(sqlLiteral(nil, name)) + unique + ` ORDER BY non_unique, type, index_name, ordinal_position`
	return &synthetic{
		query: func(ctx context.Context, c *clientConn, _ []driver.NamedValue) ([]column, [][]any, error) {
			cols, rows, err := c.catalogQuery(ctx, q, nil)
			if err == nil {
				cols[3].oid = oidBool
			}
			return cols, rows, err
		},
	}
}
