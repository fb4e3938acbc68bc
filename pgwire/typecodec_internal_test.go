package pgwire

import (
	"bytes"
	"testing"
)

func TestNumericBinaryRoundTrip(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "12345.5", "0.00001234", "10000", "-9223372036854775808", "123456789.000001", "0.5"} {
		b, err := appendNumericBinary(nil, s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		got, err := decodeNumericBinary(b)
		if err != nil || got != s {
			t.Errorf("numeric %s: round trip gave %v, %v", s, got, err)
		}
	}
	for _, bad := range []string{"1x", "1e999999999", "", "-", "1.2.3"} {
		if _, err := appendNumericBinary(nil, bad); err == nil {
			t.Errorf("%q encoded as numeric", bad)
		}
	}
	if b, err := appendNumericBinary(nil, "1.5e3"); err != nil {
		t.Error(err)
	} else if got, _ := decodeNumericBinary(b); got != "1500" {
		t.Errorf("1.5e3: %v", got)
	}
	if got := pgIndexDef("CREATE INDEX a"); got != "CREATE INDEX a" {
		t.Errorf("pgIndexDef of a truncated statement: %q", got)
	}
}

func TestByteaText(t *testing.T) {
	for in, want := range map[string][]byte{`\x0001fffe`: {0, 1, 0xff, 0xfe}, `a\000\\b\377`: {'a', 0, '\\', 'b', 0xff}, "plain": []byte("plain")} {
		got, err := decodeByteaText(in)
		if err != nil || !bytes.Equal(got.([]byte), want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	if _, err := decodeByteaText(`\x0g`); err == nil {
		t.Error(`\x0g accepted`)
	}
}

func TestDeclaredTypes(t *testing.T) {
	for decl, want := range map[string]uint32{"INTEGER": oidInt4, "int": oidInt4, "BIGINT": oidInt8, "boolean": oidBool, "VARCHAR(20)": oidVarchar,
		"numeric(10, 2)": oidNumeric, "timestamp with time zone": oidTimestamptz, "TIMESTAMPTZ": oidTimestamptz, "date": oidDate, "uuid": oidUUID,
		"jsonb": oidJSONB, "blob": oidBytea, "double precision": oidFloat8, "unsigned big int": oidInt8, "whatever": oidNumeric, "": oidUnknown} {
		if got := oidForDeclType(decl); got != want {
			t.Errorf("%q: %d, want %d", decl, got, want)
		}
	}
}

func TestExpressionTypes(t *testing.T) {
	for e, want := range map[string]uint32{"count(*)": oidInt8, "COUNT(x) AS n": oidInt8, "upper(name)": oidText, "'a'": oidText, "1": oidInt8,
		"2.5": oidFloat8, "x'00ff'": oidBytea, "1=1": oidBool, "'A' LIKE 'a'": oidBool, "a IS NULL": oidBool, "j ->> 'x'": oidUnknown,
		"CASE WHEN a = 1 THEN 'x' END": oidUnknown, "1 + 1": oidUnknown, "max(x)": oidUnknown, "total(x) t": oidFloat8, "a || 'x'": oidText, "t || $3 AS x": oidText} {
		if got := exprOID(e); got != want {
			t.Errorf("%q: %d, want %d", e, got, want)
		}
	}
	if got := selectList("SELECT count(*), upper(f(a, b)) AS u FROM t WHERE x = 1"); len(got) != 2 || got[1] != "upper(f(a, b)) AS u" {
		t.Errorf("selectList: %q", got)
	}
	if got := selectList("WITH x(a) AS (SELECT 1), y AS (SELECT 2) SELECT count(*), a FROM x"); len(got) != 2 || got[0] != "count(*)" {
		t.Errorf("selectList of WITH: %q", got)
	}
	if got := selectList("UPDATE t SET a = 1 RETURNING id, upper(b) AS u"); len(got) != 2 || got[1] != "upper(b) AS u" {
		t.Errorf("selectList of RETURNING: %q", got)
	}
	if got := pgColumnName("count(*)"); got != "count" {
		t.Errorf("pgColumnName: %q", got)
	}
}

func TestCatalogRewrite(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default AND c.oid = '16385'`: `SELECT c.relname FROM pg_class c WHERE c.relname   REGEXP   '^(t)$' AND c.oid = 16385`,
		`SELECT 'pg_class'::regclass, x::text FROM information_schema.tables`:                                                                       `SELECT (SELECT oid FROM pg_class WHERE relname = 'pg_class'), x FROM information_schema_tables`,
		`SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.relname = E'a\'b'`:                                                   `SELECT (SELECT rolname FROM pg_roles WHERE oid = (c.relowner)) FROM pg_class c WHERE c.relname = 'a''b'`,
		`SELECT 1 FROM pg_class WHERE relkind = ANY(ARRAY['r','v'])`:                                                                                `SELECT 1 FROM pg_class WHERE relkind IN (SELECT value FROM json_each(sqlink_array_json(json_array('r','v'))))`,
	} {
		if got := rewriteCatalogQuery(in); got != want {
			t.Errorf("rewrite %s\n got %s\nwant %s", in, got, want)
		}
	}
	if got := arrayJSON(`{r,"a b",NULL,3}`); got != `["r","a b",null,3]` {
		t.Errorf("arrayJSON: %s", got)
	}
	checks := checkConstraints("t", `CREATE TABLE t (a INT CHECK (a > 0), b TEXT, CONSTRAINT b_len CHECK (length(b) < 10), c INT CHECK(c <> 'x)'))`)
	if len(checks) != 3 || checks[0] != (checkConstraint{"t_check", "a > 0"}) || checks[1] != (checkConstraint{"b_len", "length(b) < 10"}) ||
		checks[2] != (checkConstraint{"t_check1", "c <> 'x)'"}) {
		t.Errorf("checkConstraints: %+v", checks)
	}
}
