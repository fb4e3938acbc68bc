package pgwire

import (
	"bufio"
	"strings"
	"testing"
)

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

// FuzzTranslate feeds statement text through the splitter and the
// translator: translating never panics, and never changes where SQLite
// ends statements: every statement it returns is one statement to SQLite
// (statementEnds, which FuzzSplitAgreesWithSQLite checks against SQLite),
// so a rewrite can never let text escape the statement it came from.
func FuzzTranslate(f *testing.F) {
	for _, s := range []string{
		`select '\x00'::bytea; select a::int::text from t`,
		`select E'\';select 1'::text`,
		`select e'a\x3b'`,
		`drop table a, b -- c;`,
		`drop table a - - b, c`,
		`truncate a, b; vacuum analyze t (a, b), u`,
		`create table t (id serial primary key, v text) with (fillfactor=100)`,
		`create trigger tr after insert on t begin select 1::int; end; select 2`,
		`select (x)::int, f(y)::text, [a]::int, "q"::numeric, ?1::int, :a::int`,
		`select current_setting('x'), pg_catalog.version()`,
		`select ::`, `select 1 ::`, `select x::"`, `select x::timestamp with`,
		`select 'unterminated::int`, `select /* x::int`, `select $$a;b$$::text`,
		"select 1::int\n-- trailing comment",
	} {
		f.Add(s)
	}
	env := testEnv()
	f.Fuzz(func(t *testing.T, q string) {
		if strings.IndexByte(q, 0) >= 0 {
			return
		}
		for _, st := range splitStatements(q) {
			st = strings.TrimRight(strings.TrimSpace(st), "; \t\r\n")
			out, err := translate(st, env)
			if err != nil {
				if err.Code == "" || err.Message == "" {
					t.Fatalf("translate(%q): error without code or message: %+v", st, err)
				}
				continue
			}
			for _, o := range out {
				if strings.IndexByte(o, 0) >= 0 {
					t.Fatalf("translate(%q) = %q: a zero byte", st, o)
				}
				if ends := statementEnds(o); len(ends) > 0 {
					t.Fatalf("translate(%q) = %q: SQLite ends a statement at %d", st, o, ends[0])
				}
			}
			// Translating the output again must not fail on the
			// translator's own forms.
			for _, o := range out {
				lexSQL(o)
			}
		}
	})
}
