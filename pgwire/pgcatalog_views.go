package pgwire

import (
	"context"
	"sort"
	"strings"
)

// The emulated pg_catalog and information_schema relations, as SQLite
// common table expressions over sqlite_schema and the table_info,
// index_list, index_info and foreign_key_list pragma functions. A catalog
// query runs on SQLite with the relations it names bound by a WITH clause,
// so joins, filters, ORDER BY and aggregates work as SQLite evaluates
// them.
//
// OIDs: a relation's OID is 16384 plus its sqlite_schema rowid (stable
// while the schema does not change); the index PostgreSQL would have for
// a rowid primary key (which SQLite keeps without one) is 1000000 plus
// its table's OID; constraints are numbered from 2000000 + 1000 * the
// table's OID. Namespace public is 2200, pg_catalog 11. Every object is
// owned by role 10, the session's login: sqlink has no owners.

// catalogView is one relation: its SQL (a SELECT over sqlite_schema,
// pragmas and earlier views) and the views it reads.
type catalogView struct {
	name string
	deps []string
	sql  string
	// session builds the SQL from the session instead (databases, roles,
	// settings).
	session func(ctx context.Context, c *clientConn) (string, error)
}

var catalogViews = []*catalogView{
	{name: "sqlink_rel", sql: `SELECT 16384 + rowid AS oid, name, tbl_name, type, sql FROM sqlite_schema
		WHERE type IN ('table', 'view', 'index') AND (name NOT LIKE 'sqlite\_%' ESCAPE '\' OR name LIKE 'sqlite\_autoindex\_%' ESCAPE '\')`},
	// sqlink_pk: primary keys without an index of their own in
	// sqlite_schema: a rowid table's INTEGER PRIMARY KEY (named as
	// PostgreSQL would) and a WITHOUT ROWID table's key (the table's
	// b-tree, named by SQLite).
	{name: "sqlink_pk", deps: []string{"sqlink_rel"}, sql: `SELECT r.oid + 1000000 AS oid,
		coalesce((SELECT name FROM pragma_index_list(r.name) WHERE origin = 'pk'), r.name || '_pkey') AS name, r.name AS tbl_name, r.oid AS tbl_oid
		FROM sqlink_rel r WHERE r.type = 'table' AND EXISTS (SELECT 1 FROM pragma_table_info(r.name) WHERE pk > 0)
		AND NOT EXISTS (SELECT 1 FROM pragma_index_list(r.name) l JOIN sqlink_rel x ON x.name = l.name WHERE l.origin = 'pk')`},
	// sqlink_idx: every index, SQLite's and the rowid primary keys.
	{name: "sqlink_idx", deps: []string{"sqlink_rel", "sqlink_pk"}, sql: `SELECT x.oid AS oid, x.name AS name, t.oid AS tbl_oid, t.name AS tbl_name,
		l."unique" AS isunique, l.origin = 'pk' AS isprimary, l.origin AS origin, l.partial AS partial, x.sql AS sql
		FROM sqlink_rel t, pragma_index_list(t.name) l JOIN sqlink_rel x ON x.name = l.name WHERE t.type = 'table'
		UNION ALL SELECT p.oid, p.name, p.tbl_oid, p.tbl_name, 1, 1, 'pk', 0, NULL FROM sqlink_pk p`},
	{name: "pg_namespace", sql: `SELECT 11 AS oid, 'pg_catalog' AS nspname, 10 AS nspowner, NULL AS nspacl
		UNION ALL SELECT 2200, 'public', 10, NULL UNION ALL SELECT 13000, 'information_schema', 10, NULL`},
	{name: "pg_class", deps: []string{"sqlink_rel", "sqlink_pk"}, sql: `SELECT r.oid AS oid, r.name AS relname, 2200 AS relnamespace, 0 AS reltype,
		0 AS reloftype, 10 AS relowner, CASE r.type WHEN 'index' THEN 403 WHEN 'table' THEN 2 ELSE 0 END AS relam, r.oid AS relfilenode,
		0 AS reltablespace, 0 AS relpages, -1 AS reltuples, 0 AS relallvisible, 0 AS reltoastrelid,
		(r.type = 'table' AND (EXISTS (SELECT 1 FROM pragma_index_list(r.name)) OR EXISTS (SELECT 1 FROM pragma_table_info(r.name) WHERE pk > 0))) AS relhasindex,
		0 AS relisshared, 'p' AS relpersistence, CASE r.type WHEN 'table' THEN 'r' WHEN 'view' THEN 'v' ELSE 'i' END AS relkind,
		CASE r.type WHEN 'index' THEN (SELECT count(*) FROM pragma_index_info(r.name)) ELSE (SELECT count(*) FROM pragma_table_info(r.name)) END AS relnatts,
		CASE r.type WHEN 'table' THEN json_array_length(sqlink_checks(r.name, r.sql)) ELSE 0 END AS relchecks, 0 AS relhasrules,
		(r.type = 'table' AND (EXISTS (SELECT 1 FROM pragma_foreign_key_list(r.name))
			OR EXISTS (SELECT 1 FROM sqlite_schema s WHERE s.type = 'trigger' AND s.tbl_name = r.name)
			OR EXISTS (SELECT 1 FROM sqlink_rel o, pragma_foreign_key_list(o.name) f WHERE o.type = 'table' AND f."table" = r.name COLLATE NOCASE))) AS relhastriggers,
		0 AS relhassubclass, 0 AS relrowsecurity, 0 AS relforcerowsecurity, 1 AS relispopulated, 'd' AS relreplident, 0 AS relispartition,
		0 AS relrewrite, 0 AS relfrozenxid, 0 AS relminmxid, NULL AS relacl, NULL AS reloptions, NULL AS relpartbound
		FROM sqlink_rel r
		UNION ALL SELECT p.oid, p.name, 2200, 0, 0, 10, 403, p.oid, 0, 0, -1, 0, 0, 0, 0, 'p', 'i',
		(SELECT count(*) FROM pragma_table_info(p.tbl_name) WHERE pk > 0), 0, 0, 0, 0, 0, 0, 1, 'd', 0, 0, 0, 0, NULL, NULL, NULL FROM sqlink_pk p`},
	{name: "pg_attribute", deps: []string{"sqlink_rel", "sqlink_pk"}, sql: `SELECT r.oid AS attrelid, p.name AS attname, sqlink_decl_oid(p.type) AS atttypid,
		-1 AS attstattarget, sqlink_typlen(sqlink_decl_oid(p.type)) AS attlen, p.cid + 1 AS attnum, 0 AS attndims, -1 AS attcacheoff,
		sqlink_decl_typmod(p.type) AS atttypmod, sqlink_typlen(sqlink_decl_oid(p.type)) > 0 AS attbyval,
		CASE WHEN sqlink_typlen(sqlink_decl_oid(p.type)) > 0 THEN 'p' ELSE 'x' END AS attstorage, 'i' AS attalign,
		(p."notnull" OR (p.pk > 0 AND (upper(p.type) = 'INTEGER' AND (SELECT count(*) FROM pragma_table_info(r.name) WHERE pk > 0) = 1
			OR EXISTS (SELECT 1 FROM pragma_table_list(r.name) WHERE wr)))) AS attnotnull,
		p.dflt_value IS NOT NULL AS atthasdef, 0 AS atthasmissing, '' AS attidentity, '' AS attgenerated, 0 AS attisdropped,
		1 AS attislocal, 0 AS attinhcount, CASE WHEN sqlink_decl_oid(p.type) IN (25, 1043) THEN 100 ELSE 0 END AS attcollation,
		'' AS attcompression, NULL AS attacl, NULL AS attoptions, NULL AS attfdwoptions, NULL AS attmissingval
		FROM sqlink_rel r, pragma_table_info(r.name) p WHERE r.type IN ('table', 'view')
		UNION ALL SELECT r.oid, coalesce(i.name, 'expr'), coalesce((SELECT sqlink_decl_oid(t.type) FROM pragma_table_info(r.tbl_name) t WHERE t.cid = i.cid), 25),
		-1, -1, i.seqno + 1, 0, -1, -1, 0, 'p', 'i', 0, 0, 0, '', '', 0, 1, 0, 0, '', NULL, NULL, NULL, NULL
		FROM sqlink_rel r, pragma_index_info(r.name) i WHERE r.type = 'index'
		UNION ALL SELECT p.oid, t.name, sqlink_decl_oid(t.type), -1, -1, t.pk, 0, -1, -1, 0, 'p', 'i', 0, 0, 0, '', '', 0, 1, 0, 0, '', NULL, NULL, NULL, NULL
		FROM sqlink_pk p, pragma_table_info(p.tbl_name) t WHERE t.pk > 0`},
	{name: "pg_attrdef", deps: []string{"sqlink_rel"}, sql: `SELECT r.oid * 1000 + p.cid + 1 AS oid, r.oid AS adrelid, p.cid + 1 AS adnum, p.dflt_value AS adbin, p.dflt_value AS adsrc
		FROM sqlink_rel r, pragma_table_info(r.name) p WHERE r.type = 'table' AND p.dflt_value IS NOT NULL`},
	{name: "pg_index", deps: []string{"sqlink_idx"}, sql: `SELECT x.oid AS indexrelid, x.tbl_oid AS indrelid,
		(SELECT count(*) FROM pragma_index_info(x.name)) + (x.sql IS NULL AND x.origin = 'pk' AND x.oid > 1000000) * (SELECT count(*) FROM pragma_table_info(x.tbl_name) WHERE pk > 0) AS indnatts,
		(SELECT count(*) FROM pragma_index_info(x.name)) + (x.sql IS NULL AND x.origin = 'pk' AND x.oid > 1000000) * (SELECT count(*) FROM pragma_table_info(x.tbl_name) WHERE pk > 0) AS indnkeyatts,
		x.isunique AS indisunique, 0 AS indnullsnotdistinct, x.isprimary AS indisprimary, 0 AS indisexclusion, 1 AS indimmediate, 0 AS indisclustered, 1 AS indisvalid,
		0 AS indcheckxmin, 1 AS indisready, 1 AS indislive, 0 AS indisreplident,
		CASE WHEN x.oid > 1000000 AND x.sql IS NULL AND x.origin = 'pk' AND NOT EXISTS (SELECT 1 FROM pragma_index_info(x.name))
			THEN (SELECT group_concat(cid + 1, ' ') FROM (SELECT cid FROM pragma_table_info(x.tbl_name) WHERE pk > 0 ORDER BY pk))
			ELSE (SELECT group_concat(CASE WHEN cid < 0 THEN 0 ELSE cid + 1 END, ' ') FROM (SELECT cid FROM pragma_index_info(x.name) ORDER BY seqno)) END AS indkey,
		NULL AS indcollation, NULL AS indclass, NULL AS indoption, NULL AS indexprs,
		CASE WHEN x.partial THEN substr(x.sql, instr(upper(x.sql), ' WHERE ') + 7) END AS indpred
		FROM sqlink_idx x`},
	{name: "pg_constraint", deps: []string{"sqlink_rel", "sqlink_idx"}, sql: `SELECT x.oid + 3000000 AS oid,
		CASE WHEN x.isprimary THEN x.tbl_name || '_pkey' ELSE x.name END AS conname, 2200 AS connamespace,
		CASE WHEN x.isprimary THEN 'p' ELSE 'u' END AS contype, 0 AS condeferrable, 0 AS condeferred, 1 AS convalidated,
		x.tbl_oid AS conrelid, 0 AS contypid, x.oid AS conindid, 0 AS conparentid, 0 AS confrelid, ' ' AS confupdtype, ' ' AS confdeltype,
		' ' AS confmatchtype, 1 AS conislocal, 0 AS coninhcount, 1 AS connoinherit,
		'{' || (SELECT group_concat(n, ',') FROM (SELECT a.cid + 1 AS n FROM pragma_table_info(x.tbl_name) a WHERE a.name IN
			(SELECT name FROM pragma_index_info(x.name)) OR (x.oid > 1000000 AND a.pk > 0) ORDER BY 1)) || '}' AS conkey,
		NULL AS confkey, NULL AS conbin,
		CASE WHEN x.isprimary THEN 'PRIMARY KEY (' ELSE 'UNIQUE (' END || coalesce((SELECT group_concat(name, ', ') FROM pragma_index_info(x.name)),
			(SELECT group_concat(name, ', ') FROM (SELECT name FROM pragma_table_info(x.tbl_name) WHERE pk > 0 ORDER BY pk))) || ')' AS sqlink_def
		FROM sqlink_idx x WHERE x.origin IN ('pk', 'u')
		UNION ALL SELECT 2000000 + t.oid * 100 + f.id, t.name || '_' || (SELECT group_concat("from", '_') FROM pragma_foreign_key_list(t.name) g WHERE g.id = f.id) || '_fkey',
		2200, 'f', 0, 0, 1, t.oid, 0, coalesce((SELECT x.oid FROM sqlink_idx x WHERE x.tbl_name = f."table" COLLATE NOCASE AND x.isprimary), 0), 0,
		coalesce((SELECT oid FROM sqlink_rel WHERE name = f."table" COLLATE NOCASE AND type = 'table'), 0),
		` + fkAction("f.on_update") + `, ` + fkAction("f.on_delete") + `, 's', 1, 0, 1,
		'{' || (SELECT group_concat(a.cid + 1, ',') FROM pragma_foreign_key_list(t.name) g, pragma_table_info(t.name) a WHERE g.id = f.id AND a.name = g."from") || '}',
		'{' || (SELECT group_concat(a.cid + 1, ',') FROM pragma_foreign_key_list(t.name) g, pragma_table_info(f."table") a WHERE g.id = f.id AND a.name = g."to") || '}', NULL,
		'FOREIGN KEY (' || (SELECT group_concat("from", ', ') FROM pragma_foreign_key_list(t.name) g WHERE g.id = f.id) || ') REFERENCES ' || f."table" ||
			coalesce('(' || (SELECT group_concat("to", ', ') FROM pragma_foreign_key_list(t.name) g WHERE g.id = f.id) || ')', '') ||
			CASE f.on_update WHEN 'NO ACTION' THEN '' ELSE ' ON UPDATE ' || f.on_update END || CASE f.on_delete WHEN 'NO ACTION' THEN '' ELSE ' ON DELETE ' || f.on_delete END
		FROM sqlink_rel t, pragma_foreign_key_list(t.name) f WHERE t.type = 'table' AND f.seq = 0
		UNION ALL SELECT 2500000 + t.oid * 100 + c.key, json_extract(c.value, '$.name'), 2200, 'c', 0, 0, 1, t.oid, 0, 0, 0, 0, ' ', ' ', ' ', 1, 0, 0,
		NULL, NULL, json_extract(c.value, '$.expr'), 'CHECK (' || json_extract(c.value, '$.expr') || ')'
		FROM sqlink_rel t, json_each(sqlink_checks(t.name, t.sql)) c WHERE t.type = 'table'`},
	{name: "pg_type", session: typeRows},
	{name: "pg_am", sql: `SELECT 2 AS oid, 'heap' AS amname, 't' AS amtype, NULL AS amhandler UNION ALL SELECT 403, 'btree', 'i', NULL`},
	{name: "pg_tablespace", sql: `SELECT 1663 AS oid, 'pg_default' AS spcname, 10 AS spcowner, NULL AS spcacl, NULL AS spcoptions`},
	{name: "pg_database", session: databaseRows},
	{name: "pg_roles", session: roleRows},
	{name: "pg_user", deps: []string{"pg_roles"}, sql: `SELECT rolname AS usename, oid AS usesysid, rolcreatedb AS usecreatedb, rolsuper AS usesuper,
		rolreplication AS userepl, rolbypassrls AS usebypassrls, '********' AS passwd, rolvaliduntil AS valuntil, rolconfig AS useconfig FROM pg_roles`},
	{name: "pg_authid", deps: []string{"pg_roles"}, sql: `SELECT * FROM pg_roles`},
	{name: "pg_settings", session: settingRows},
	{name: "pg_tables", deps: []string{"pg_class", "pg_roles"}, sql: `SELECT 'public' AS schemaname, relname AS tablename, ` + ownerSQL + ` AS tableowner, NULL AS tablespace,
		relhasindex AS hasindexes, 0 AS hasrules, relhastriggers AS hastriggers, 0 AS rowsecurity FROM pg_class WHERE relkind = 'r'`},
	{name: "pg_views", deps: []string{"sqlink_rel", "pg_roles"}, sql: `SELECT 'public' AS schemaname, name AS viewname, ` + ownerSQL + ` AS viewowner,
		ltrim(substr(sql, instr(upper(sql), ' AS ') + 4)) AS definition FROM sqlink_rel WHERE type = 'view'`},
	{name: "pg_indexes", deps: []string{"sqlink_idx", "sqlink_indexdef"}, sql: `SELECT 'public' AS schemaname, x.tbl_name AS tablename, x.name AS indexname, NULL AS tablespace,
		d.def AS indexdef FROM sqlink_idx x JOIN sqlink_indexdef d ON d.oid = x.oid`},
	{name: "sqlink_indexdef", deps: []string{"sqlink_idx"}, sql: `SELECT oid, coalesce(sqlink_pg_indexdef(sql), 'CREATE UNIQUE INDEX ' || name || ' ON public.' || tbl_name || ' USING btree (' ||
		coalesce((SELECT group_concat(name, ', ') FROM pragma_index_info(x.name)), (SELECT group_concat(name, ', ') FROM (SELECT name FROM pragma_table_info(x.tbl_name) WHERE pk > 0 ORDER BY pk))) || ')') AS def
		FROM sqlink_idx x`},
	{name: "pg_description", sql: emptySQL("objoid", "classoid", "objsubid", "description")},
	{name: "pg_shdescription", sql: emptySQL("objoid", "classoid", "description")},
	{name: "pg_auth_members", sql: emptySQL("oid", "roleid", "member", "grantor", "admin_option")},
	{name: "pg_inherits", sql: emptySQL("inhrelid", "inhparent", "inhseqno", "inhdetachpending")},
	{name: "pg_policy", sql: emptySQL("oid", "polname", "polrelid", "polcmd", "polpermissive", "polroles", "polqual", "polwithcheck")},
	{name: "pg_statistic_ext", sql: emptySQL("oid", "stxrelid", "stxname", "stxnamespace", "stxowner", "stxstattarget", "stxkeys", "stxkind", "stxexprs")},
	{name: "pg_publication", sql: emptySQL("oid", "pubname", "pubowner", "puballtables", "pubinsert", "pubupdate", "pubdelete", "pubtruncate", "pubviaroot")},
	{name: "pg_publication_rel", sql: emptySQL("oid", "prpubid", "prrelid", "prqual", "prattrs")},
	{name: "pg_publication_namespace", sql: emptySQL("oid", "pnpubid", "pnnspid")},
	{name: "pg_extension", sql: emptySQL("oid", "extname", "extowner", "extnamespace", "extrelocatable", "extversion", "extconfig", "extcondition")},
	{name: "pg_proc", sql: emptySQL("oid", "proname", "pronamespace", "proowner", "prolang", "procost", "prorows", "provariadic", "prosupport",
		"prokind", "prosecdef", "proleakproof", "proisstrict", "proretset", "provolatile", "proparallel", "pronargs", "pronargdefaults",
		"prorettype", "proargtypes", "proallargtypes", "proargmodes", "proargnames", "proargdefaults", "protrftypes", "prosrc", "probin", "proconfig", "proacl")},
	{name: "pg_trigger", deps: []string{"sqlink_rel"}, sql: `SELECT 4000000 + s.rowid AS oid, t.oid AS tgrelid, 0 AS tgparentid, s.name AS tgname, 0 AS tgfoid, 0 AS tgtype,
		'O' AS tgenabled, 0 AS tgisinternal, 0 AS tgconstrrelid, 0 AS tgconstrindid, 0 AS tgconstraint, 0 AS tgdeferrable, 0 AS tginitdeferred,
		0 AS tgnargs, '' AS tgattr, NULL AS tgargs, NULL AS tgqual, NULL AS tgoldtable, NULL AS tgnewtable, s.sql AS sqlink_def
		FROM sqlite_schema s JOIN sqlink_rel t ON t.name = s.tbl_name AND t.type IN ('table', 'view') WHERE s.type = 'trigger'`},
	{name: "pg_rewrite", sql: emptySQL("oid", "rulename", "ev_class", "ev_type", "ev_enabled", "is_instead", "ev_qual", "ev_action")},
	{name: "pg_sequence", sql: emptySQL("seqrelid", "seqtypid", "seqstart", "seqincrement", "seqmax", "seqmin", "seqcache", "seqcycle")},
	{name: "pg_enum", sql: emptySQL("oid", "enumtypid", "enumsortorder", "enumlabel")},
	{name: "pg_collation", sql: `SELECT 100 AS oid, 'default' AS collname, 11 AS collnamespace, 10 AS collowner, 'd' AS collprovider, 1 AS collisdeterministic,
		-1 AS collencoding, NULL AS collcollate, NULL AS collctype UNION ALL SELECT 950, 'C', 11, 10, 'c', 1, -1, 'C', 'C'`},
	{name: "pg_depend", sql: emptySQL("classid", "objid", "objsubid", "refclassid", "refobjid", "refobjsubid", "deptype")},
	{name: "pg_foreign_table", sql: emptySQL("ftrelid", "ftserver", "ftoptions")},
	{name: "pg_partitioned_table", sql: emptySQL("partrelid", "partstrat", "partnatts", "partdefid", "partattrs", "partclass", "partcollation", "partexprs")},
	{name: "pg_event_trigger", sql: emptySQL("oid", "evtname", "evtevent", "evtowner", "evtfoid", "evtenabled", "evttags")},
	{name: "pg_matviews", sql: emptySQL("schemaname", "matviewname", "matviewowner", "tablespace", "hasindexes", "ispopulated", "definition")},
	{name: "pg_language", sql: `SELECT 12 AS oid, 'internal' AS lanname, 10 AS lanowner, 0 AS lanispl, 1 AS lanpltrusted UNION ALL SELECT 14, 'sql', 10, 0, 1`},

	{name: "information_schema_schemata", deps: []string{"pg_roles"}, sql: `SELECT current_database() AS catalog_name, 'public' AS schema_name, ` + ownerSQL + ` AS schema_owner,
		NULL AS default_character_set_catalog, NULL AS default_character_set_schema, NULL AS default_character_set_name, NULL AS sql_path`},
	{name: "information_schema_tables", deps: []string{"sqlink_rel"}, sql: `SELECT current_database() AS table_catalog, 'public' AS table_schema, name AS table_name,
		CASE type WHEN 'table' THEN 'BASE TABLE' ELSE 'VIEW' END AS table_type, NULL AS self_referencing_column_name, NULL AS reference_generation,
		NULL AS user_defined_type_catalog, NULL AS user_defined_type_schema, NULL AS user_defined_type_name,
		CASE type WHEN 'table' THEN 'YES' ELSE 'NO' END AS is_insertable_into, 'NO' AS is_typed, NULL AS commit_action
		FROM sqlink_rel WHERE type IN ('table', 'view')`},
	{name: "information_schema_views", deps: []string{"pg_views"}, sql: `SELECT current_database() AS table_catalog, 'public' AS table_schema, viewname AS table_name,
		definition AS view_definition, 'NONE' AS check_option, 'NO' AS is_updatable, 'NO' AS is_insertable_into, 'NO' AS is_trigger_updatable,
		'NO' AS is_trigger_deletable, 'NO' AS is_trigger_insertable_into FROM pg_views`},
	{name: "information_schema_columns", deps: []string{"pg_attribute", "sqlink_rel", "pg_type"}, sql: `SELECT current_database() AS table_catalog, 'public' AS table_schema,
		r.name AS table_name, a.attname AS column_name, a.attnum AS ordinal_position, d.dflt_value AS column_default,
		CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END AS is_nullable, format_type(a.atttypid, -1) AS data_type,
		CASE WHEN a.atttypid = 1043 AND a.atttypmod > 4 THEN a.atttypmod - 4 END AS character_maximum_length,
		CASE WHEN a.atttypid IN (25, 1043) THEN 1073741824 END AS character_octet_length,
		CASE a.atttypid WHEN 21 THEN 16 WHEN 23 THEN 32 WHEN 20 THEN 64 WHEN 700 THEN 24 WHEN 701 THEN 53
			WHEN 1700 THEN CASE WHEN a.atttypmod > 4 THEN (a.atttypmod - 4) >> 16 END END AS numeric_precision,
		CASE WHEN a.atttypid IN (21, 23, 20, 700, 701) THEN 2 WHEN a.atttypid = 1700 THEN 10 END AS numeric_precision_radix,
		CASE WHEN a.atttypid IN (21, 23, 20) THEN 0 WHEN a.atttypid = 1700 AND a.atttypmod > 4 THEN (a.atttypmod - 4) & 65535 END AS numeric_scale,
		CASE WHEN a.atttypid IN (1082, 1083, 1114, 1184) THEN CASE a.atttypid WHEN 1082 THEN 0 ELSE 6 END END AS datetime_precision,
		NULL AS interval_type, NULL AS interval_precision, NULL AS character_set_catalog, NULL AS character_set_schema, NULL AS character_set_name,
		NULL AS collation_catalog, NULL AS collation_schema, NULL AS collation_name, NULL AS domain_catalog, NULL AS domain_schema, NULL AS domain_name,
		current_database() AS udt_catalog, 'pg_catalog' AS udt_schema, (SELECT typname FROM pg_type WHERE oid = a.atttypid) AS udt_name,
		NULL AS scope_catalog, NULL AS scope_schema, NULL AS scope_name, NULL AS maximum_cardinality, a.attnum AS dtd_identifier,
		'NO' AS is_self_referencing, 'NO' AS is_identity, NULL AS identity_generation, NULL AS identity_start, NULL AS identity_increment,
		NULL AS identity_maximum, NULL AS identity_minimum, NULL AS identity_cycle, 'NEVER' AS is_generated, NULL AS generation_expression,
		CASE r.type WHEN 'table' THEN 'YES' ELSE 'NO' END AS is_updatable
		FROM sqlink_rel r JOIN pg_attribute a ON a.attrelid = r.oid LEFT JOIN pragma_table_info(r.name) d ON d.cid + 1 = a.attnum
		WHERE r.type IN ('table', 'view')`},
	{name: "information_schema_table_constraints", deps: []string{"pg_constraint", "sqlink_rel"}, sql: `SELECT current_database() AS constraint_catalog,
		'public' AS constraint_schema, c.conname AS constraint_name, current_database() AS table_catalog, 'public' AS table_schema, r.name AS table_name,
		CASE c.contype WHEN 'p' THEN 'PRIMARY KEY' WHEN 'u' THEN 'UNIQUE' WHEN 'f' THEN 'FOREIGN KEY' ELSE 'CHECK' END AS constraint_type,
		'NO' AS is_deferrable, 'NO' AS initially_deferred, 'YES' AS enforced, NULL AS nulls_distinct
		FROM pg_constraint c JOIN sqlink_rel r ON r.oid = c.conrelid`},
	{name: "information_schema_key_column_usage", deps: []string{"pg_constraint", "sqlink_rel"}, sql: `SELECT current_database() AS constraint_catalog,
		'public' AS constraint_schema, c.conname AS constraint_name, current_database() AS table_catalog, 'public' AS table_schema, r.name AS table_name,
		a.name AS column_name, k.key + 1 AS ordinal_position, CASE WHEN c.contype = 'f' THEN k.key + 1 END AS position_in_unique_constraint
		FROM pg_constraint c JOIN sqlink_rel r ON r.oid = c.conrelid, json_each('[' || substr(c.conkey, 2, length(c.conkey) - 2) || ']') k
		JOIN pragma_table_info(r.name) a ON a.cid + 1 = k.value WHERE c.contype IN ('p', 'u', 'f')`},
	{name: "information_schema_referential_constraints", deps: []string{"pg_constraint"}, sql: `SELECT current_database() AS constraint_catalog,
		'public' AS constraint_schema, c.conname AS constraint_name, current_database() AS unique_constraint_catalog, 'public' AS unique_constraint_schema,
		(SELECT u.conname FROM pg_constraint u WHERE u.conrelid = c.confrelid AND u.contype = 'p') AS unique_constraint_name,
		'NONE' AS match_option, CASE c.confupdtype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END AS update_rule,
		CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END AS delete_rule
		FROM pg_constraint c WHERE c.contype = 'f'`},
}

func fkAction(col string) string {
	return "CASE " + col + " WHEN 'CASCADE' THEN 'c' WHEN 'SET NULL' THEN 'n' WHEN 'SET DEFAULT' THEN 'd' WHEN 'RESTRICT' THEN 'r' ELSE 'a' END"
}

// ownerSQL is the name of role 10, bound by the session.
const ownerSQL = "(SELECT rolname FROM pg_roles WHERE oid = 10)"

func emptySQL(cols ...string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "NULL AS " + c
	}
	return "SELECT " + strings.Join(parts, ", ") + " WHERE 0"
}

var catalogViewByName = func() map[string]*catalogView {
	m := make(map[string]*catalogView, len(catalogViews))
	for _, v := range catalogViews {
		m[v.name] = v
	}
	return m
}()

// rowsSQL turns rows into a SELECT of named columns.
func rowsSQL(cols []string, rows [][]any) string {
	var b []byte
	if len(rows) == 0 {
		return emptySQL(cols...)
	}
	for i, r := range rows {
		if i > 0 {
			b = append(b, " UNION ALL "...)
		}
		b = append(b, "SELECT "...)
		for j, v := range r {
			if j > 0 {
				b = append(b, ", "...)
			}
			if t, ok := v.(bool); ok {
				v = int64(0)
				if t {
					v = int64(1)
				}
			}
			b = sqlLiteral(b, v)
			if i == 0 {
				b = append(b, " AS "...)
				b = append(b, cols[j]...)
			}
		}
	}
	return string(b)
}

// catalogTypes are the pg_type rows: the types sqlink describes columns
// with.
var catalogTypes = []uint32{oidBool, oidBytea, oidChar, oidName, oidInt8, oidInt2, oidInt4, oidText, oidOID, oidJSON, oidFloat4, oidFloat8,
	oidBPChar, oidVarchar, oidDate, oidTime, oidTimestamp, oidTimestamptz, oidNumeric, oidUUID, oidJSONB}

var pgTypeNames = map[uint32]string{oidBool: "bool", oidBytea: "bytea", oidChar: "char", oidName: "name", oidInt8: "int8", oidInt2: "int2",
	oidInt4: "int4", oidText: "text", oidOID: "oid", oidJSON: "json", oidFloat4: "float4", oidFloat8: "float8", oidBPChar: "bpchar",
	oidVarchar: "varchar", oidDate: "date", oidTime: "time", oidTimestamp: "timestamp", oidTimestamptz: "timestamptz",
	oidNumeric: "numeric", oidUUID: "uuid", oidJSONB: "jsonb"}

var pgTypeCategory = map[uint32]string{oidBool: "B", oidBytea: "U", oidInt8: "N", oidInt2: "N", oidInt4: "N", oidOID: "N", oidFloat4: "N",
	oidFloat8: "N", oidNumeric: "N", oidDate: "D", oidTime: "D", oidTimestamp: "D", oidTimestamptz: "D", oidJSON: "U", oidJSONB: "U", oidUUID: "U"}

func typeRows(context.Context, *clientConn) (string, error) {
	cols := []string{"oid", "typname", "typnamespace", "typowner", "typlen", "typbyval", "typtype", "typcategory", "typispreferred",
		"typisdefined", "typdelim", "typrelid", "typelem", "typarray", "typinput", "typoutput", "typreceive", "typsend", "typnotnull",
		"typbasetype", "typtypmod", "typndims", "typcollation", "typdefault", "typacl"}
	var rows [][]any
	for _, oid := range catalogTypes {
		cat := pgTypeCategory[oid]
		if cat == "" {
			cat = "S"
		}
		coll := int64(0)
		if cat == "S" && oid != oidChar && oid != oidName {
			coll = 100
		}
		name := pgTypeNames[oid]
		rows = append(rows, []any{int64(oid), name, int64(11), int64(10), int64(typeSize(oid)), typeSize(oid) > 0 && typeSize(oid) <= 8,
			"b", cat, false, true, ",", int64(0), int64(0), int64(0), name + "in", name + "out", name + "recv", name + "send", false,
			int64(0), int64(-1), int64(0), coll, nil, nil})
	}
	return rowsSQL(cols, rows), nil
}

func databaseRows(ctx context.Context, c *clientConn) (string, error) {
	names := []string{c.database}
	if l, ok := c.srv.backend.(DatabaseLister); ok {
		all, err := l.ListDatabases(ctx)
		if err != nil {
			return "", err
		}
		names = all
	}
	sort.Strings(names)
	var size any
	var pages, pageSize int64
	if err := c.sess.Conn().QueryRowContext(ctx, "SELECT page_count, page_size FROM pragma_page_count, pragma_page_size").Scan(&pages, &pageSize); err == nil {
		size = pages * pageSize
	}
	cols := []string{"oid", "datname", "datdba", "encoding", "datlocprovider", "datistemplate", "datallowconn", "datconnlimit",
		"datfrozenxid", "datminmxid", "dattablespace", "datcollate", "datctype", "daticulocale", "daticurules", "datcollversion", "datacl", "sqlink_size"}
	var rows [][]any
	for i, n := range names {
		var sz any
		if n == c.database {
			sz = size
		}
		rows = append(rows, []any{int64(16000 + i), n, int64(10), int64(6), "c", false, true, int64(-1), int64(0), int64(0), int64(1663),
			"C", "C", nil, nil, nil, nil, sz})
	}
	return rowsSQL(cols, rows), nil
}

// Role is a login PostgreSQL clients see as a role.
type Role struct {
	Name      string
	Superuser bool
}

// RoleLister is an optional Backend capability: the logins pg_roles
// lists. Without it pg_roles holds the session's login only.
type RoleLister interface {
	ListRoles(ctx context.Context) ([]Role, error)
}

func roleRows(ctx context.Context, c *clientConn) (string, error) {
	roles := []Role{{Name: c.user, Superuser: c.superuser()}}
	if l, ok := c.srv.backend.(RoleLister); ok {
		all, err := l.ListRoles(ctx)
		if err != nil {
			return "", err
		}
		roles = all
	}
	cols := []string{"oid", "rolname", "rolsuper", "rolinherit", "rolcreaterole", "rolcreatedb", "rolcanlogin", "rolreplication",
		"rolconnlimit", "rolpassword", "rolvaliduntil", "rolbypassrls", "rolconfig"}
	var rows [][]any
	// Role 10 owns everything: the session's login.
	rows = append(rows, []any{int64(10), c.user, c.superuser(), true, c.superuser(), c.superuser(), true, false, int64(-1), "********", nil, false, nil})
	for i, r := range roles {
		if r.Name == c.user {
			continue
		}
		rows = append(rows, []any{int64(16384 + i), r.Name, r.Superuser, true, r.Superuser, r.Superuser, true, false, int64(-1), "********", nil, false, nil})
	}
	return rowsSQL(cols, rows), nil
}

var settingNames = []string{"application_name", "bytea_output", "client_encoding", "datestyle", "default_transaction_isolation",
	"default_transaction_read_only", "extra_float_digits", "idle_in_transaction_session_timeout", "integer_datetimes", "intervalstyle",
	"is_superuser", "lc_collate", "lc_ctype", "lc_messages", "lc_monetary", "lc_numeric", "lc_time", "lock_timeout", "max_connections",
	"max_identifier_length", "search_path", "server_encoding", "server_version", "server_version_num", "session_authorization",
	"standard_conforming_strings", "statement_timeout", "synchronous_commit", "timezone", "transaction_isolation", "transaction_read_only"}

func settingRows(_ context.Context, c *clientConn) (string, error) {
	cols := []string{"name", "setting", "unit", "category", "short_desc", "extra_desc", "context", "vartype", "source", "min_val",
		"max_val", "enumvals", "boot_val", "reset_val", "sourcefile", "sourceline", "pending_restart"}
	var rows [][]any
	// Compile-time limits clients ask for (pgJDBC's MaxIndexKeys).
	for _, kv := range [][2]string{{"max_index_keys", "32"}, {"block_size", "8192"}, {"max_function_args", "100"}} {
		rows = append(rows, []any{kv[0], kv[1], nil, "Preset Options", "", nil, "internal", "integer", "default", nil, nil, nil, kv[1], kv[1], nil, nil, false})
	}
	for _, n := range settingNames {
		v, err := c.show(n)
		if err != nil {
			continue
		}
		rows = append(rows, []any{n, v, nil, "", "", nil, "user", "string", "default", nil, nil, nil, v, v, nil, nil, false})
	}
	return rowsSQL(cols, rows), nil
}

// viewSQL returns the definition of view v for session c.
func (v *catalogView) viewSQL(ctx context.Context, c *clientConn) (string, error) {
	if v.session != nil {
		return v.session(ctx, c)
	}
	return v.sql, nil
}
