package pgwire

import (
	"slices"
	"strings"
	"testing"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteComplete is SQLite's own sqlite3_complete: whether text ends with
// a complete statement, by SQLite's tokenizer.
func sqliteComplete(tls *libc.TLS, text string) bool {
	p, err := libc.CString(text)
	if err != nil {
		panic(err)
	}
	defer libc.Xfree(tls, p)
	return sqlite3.Xsqlite3_complete(tls, p) != 0
}

// sqliteEnds returns the offsets of the semicolons that end a statement in
// q, by asking SQLite whether the text up to each one is complete.
func sqliteEnds(tls *libc.TLS, q string) []int {
	var ends []int
	start := 0
	for i := 0; i < len(q); i++ {
		if q[i] != ';' {
			continue
		}
		// sqlite3_complete restarts at the start of the text: give it the
		// statement that began after the last end.
		if sqliteComplete(tls, q[start:i+1]) {
			ends = append(ends, i)
			start = i + 1
		}
	}
	return ends
}

// FuzzSplitAgreesWithSQLite feeds statement text to the splitter and to
// SQLite's tokenizer (sqlite3_complete) and fails on any disagreement on
// where a statement ends: a boundary SQLite sees and the splitter does not
// would let a second statement run under the first one's classification.
func FuzzSplitAgreesWithSQLite(f *testing.F) {
	for _, s := range []string{
		"select 1; select 2",
		"SELECT 1 AS a$t$; ATTACH '/x/catalog.db' AS c; INSERT INTO c.tokens VALUES(1); SELECT 2 AS b$t$",
		"CREATE TABLE trigger(x); ATTACH 'x' AS c; SELECT 1 AS end;",
		"CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; select 2;",
		"create trigger t before delete on x begin select ';'; end ; x",
		"explain create temporary trigger a after insert on b begin select 1; end; select 3;",
		"select [a;b], `c;d`, \"e;f\", 'g;h' -- i;\n; /* j; */ select 2",
		"select $$a;b$$; select E'\\';'; select 1",
		"select 1 /* unterminated ; ",
		"select 'unterminated ; select 2",
		"-- only a comment ;",
		";;; select 1 ;;",
		"CREATE TRIGGER end AFTER INSERT ON t BEGIN SELECT 1; END; END;",
		"select é; select ü$;",
	} {
		f.Add(s)
	}
	tls := libc.NewTLS()
	defer tls.Close()
	f.Fuzz(func(t *testing.T, q string) {
		if strings.IndexByte(q, 0) >= 0 || len(q) > 4096 {
			return // SQLite's C string ends at a NUL; the front end refuses NULs
		}
		got, want := statementEnds(q), sqliteEnds(tls, q)
		if !slices.Equal(got, want) {
			t.Fatalf("statement ends of %q: splitter %v, SQLite %v", q, got, want)
		}
	})
}
