package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const compatSchema = `
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE books (author_id INTEGER NOT NULL REFERENCES authors(id) ON DELETE CASCADE, isbn TEXT NOT NULL,
  title VARCHAR(200), price NUMERIC(10,2) CHECK (price >= 0), published DATE, PRIMARY KEY (author_id, isbn));
CREATE INDEX books_title ON books(title);
CREATE UNIQUE INDEX books_pub ON books(published, title);
CREATE INDEX books_lower ON books(lower(isbn)) WHERE price > 0;
CREATE VIEW titles AS SELECT title FROM books;
`

// psqlAligned runs psql with aligned output (as a user sees it).
func psqlAligned(t *testing.T, in *Instance, script string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", "-X", "-v", "ON_ERROR_STOP=1")
	cmd.Env = in.pgEnv("app")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q", what, w)
		}
	}
	if t.Failed() {
		t.Fatalf("%s output:\n%s", what, out)
	}
}

// TestCompat_PsqlDescribe checks that psql's describe commands show the
// schema as it is: indexes, a composite primary key, a foreign key (both
// ways), a CHECK, roles, schemas and databases. \d+ used to crash psql.
func TestCompat_PsqlDescribe(t *testing.T) {
	requireTool(t, "psql")
	in := startCompatInstance(t, "compat-psql")
	in.MustPsql("app", compatSchema)

	out, err := psqlAligned(t, in, `\d books`)
	if err != nil {
		t.Fatalf("\\d books: %v\n%s", err, out)
	}
	wantLines(t, `\d books`, out,
		`Table "public.books"`,
		` author_id | integer                |           | not null | `,
		` title     | character varying(200) |           |          | `,
		` price     | numeric(10,2)          |           |          | `,
		` published | date                   |           |          | `,
		`"sqlite_autoindex_books_1" PRIMARY KEY, btree (author_id, isbn)`,
		`"books_pub" UNIQUE, btree (published, title)`,
		`"books_title" btree (title)`,
		`"books_lower" btree (lower(isbn)) WHERE price > 0`,
		"Check constraints:\n    \"books_check\" CHECK (price >= 0)",
		"Foreign-key constraints:\n    \"books_author_id_fkey\" FOREIGN KEY (author_id) REFERENCES authors(id) ON DELETE CASCADE")

	out, err = psqlAligned(t, in, `\d+ books`)
	if err != nil || strings.Contains(out, "out of range") {
		t.Fatalf("\\d+ books: %v\n%s", err, out)
	}
	wantLines(t, `\d+ books`, out, "| Storage  |", " isbn      | text ", "| extended |", "Access method: heap", `"books_check" CHECK (price >= 0)`)

	out, err = psqlAligned(t, in, `\d authors`)
	if err != nil {
		t.Fatalf("\\d authors: %v\n%s", err, out)
	}
	wantLines(t, `\d authors`, out, `"authors_pkey" PRIMARY KEY, btree (id)`, `UNIQUE CONSTRAINT, btree (name)`,
		"Referenced by:\n    TABLE \"books\" CONSTRAINT \"books_author_id_fkey\" FOREIGN KEY (author_id) REFERENCES authors(id) ON DELETE CASCADE")

	out, err = psqlAligned(t, in, `\di`)
	if err != nil {
		t.Fatalf("\\di: %v\n%s", err, out)
	}
	wantLines(t, `\di`, out, "| books_pub ", "| books_title ", "| sqlite_autoindex_books_1 ", "| sqlite_autoindex_authors_1 ")

	out, err = psqlAligned(t, in, `\d`)
	if err != nil {
		t.Fatalf("\\d: %v\n%s", err, out)
	}
	wantLines(t, `\d`, out, " public | authors | table | admin", " public | books   | table | admin", " public | titles  | view  | admin")

	in.MustCLI("login", "create", "reader", "--password", "pw-reader")
	out, err = psqlAligned(t, in, `\du`)
	if err != nil {
		t.Fatalf("\\du: %v\n%s", err, out)
	}
	wantLines(t, `\du`, out, " admin     | Superuser", " reader    | ")

	out, err = psqlAligned(t, in, `\dn`)
	if err != nil {
		t.Fatalf("\\dn: %v\n%s", err, out)
	}
	wantLines(t, `\dn`, out, " public | admin", "(1 row)")

	out, err = psqlAligned(t, in, `\dt+`)
	if err != nil {
		t.Fatalf("\\dt+: %v\n%s", err, out)
	}
	wantLines(t, `\dt+`, out, " books   | table | admin | permanent   | heap          | ", " bytes ")

	out, err = psqlAligned(t, in, `\l+`)
	if err != nil {
		t.Fatalf("\\l+: %v\n%s", err, out)
	}
	wantLines(t, `\l+`, out, " app  | admin | UTF8 ", " kB ", "pg_default")

	// Plain queries on the catalogs.
	got := in.MustPsql("app", `SELECT count(*) FROM pg_catalog.pg_tables;
SELECT tablename FROM pg_tables ORDER BY 1;
SELECT table_name, table_type FROM information_schema.tables ORDER BY 1;
SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'books' ORDER BY ordinal_position;
SELECT constraint_name, constraint_type FROM information_schema.table_constraints WHERE table_name = 'books' ORDER BY 1;
SELECT column_name, ordinal_position FROM information_schema.key_column_usage WHERE constraint_name = 'books_pkey' ORDER BY 2;
SELECT indexname FROM pg_indexes WHERE tablename = 'books' ORDER BY 1;
SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate AND datname = 'app';
SELECT conname, contype, conkey, confkey FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_class r ON r.oid = c.conrelid WHERE r.relname = 'books' ORDER BY 1;`)
	want := `2
authors
books
authors|BASE TABLE
books|BASE TABLE
titles|VIEW
author_id|integer|NO
isbn|text|NO
title|character varying|YES
price|numeric|YES
published|date|YES
books_author_id_fkey|FOREIGN KEY
books_check|CHECK
books_pkey|PRIMARY KEY
author_id|1
isbn|2
books_lower
books_pub
books_title
sqlite_autoindex_books_1
app
books_author_id_fkey|f|{1}|{1}
books_check|c||
books_pkey|p|{1,2}|`
	if got != want {
		t.Fatalf("catalog queries:\n%s\nwant:\n%s", got, want)
	}
	// The count(*) column is named count, as PostgreSQL names it.
	if out, err := psqlAligned(t, in, "SELECT count(*) FROM pg_catalog.pg_tables"); err != nil || !strings.Contains(out, " count \n") {
		t.Fatalf("count column: %v\n%s", err, out)
	}

	// A catalog sqlink does not emulate is refused, not answered empty.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err = in.Psql(ctx, "app", "SELECT * FROM pg_catalog.pg_stat_user_tables", "-v", "VERBOSITY=verbose")
	if err == nil || !strings.Contains(out, "0A000") || !strings.Contains(out, "pg_stat_user_tables is not supported") {
		t.Fatalf("unsupported catalog: %v\n%s", err, out)
	}
}

// TestCompat_Pgcli starts pgcli, runs a query and \dt, and checks that
// neither pgcli nor its background completion queries fail.
func TestCompat_Pgcli(t *testing.T) {
	requireCompat(t, haveCommand("pgcli"), "pgcli", "apt-get install pgcli")
	in := startCompatInstance(t, "compat-pgcli")
	in.MustPsql("app", compatSchema)
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "pgcli", "--less-chatty", "-h", in.Host(), "-p", in.Port(), "-U", "admin", "app")
	cmd.Env = append(in.pgEnv("app"), "HOME="+home, "XDG_CONFIG_HOME="+home+"/.config", "PAGER=cat", "LESS=")
	cmd.Stdin = strings.NewReader("select 41 + 1 as answer;\n\\dt\n\\q\n")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "Traceback") {
		t.Fatalf("pgcli: %v\n%s", err, out)
	}
	wantLines(t, "pgcli", string(out), "| 42 ", "| authors ", "| books ")
	if strings.Contains(in.Output(), "catalog query refused") {
		t.Errorf("a catalog query of pgcli was refused:\n%s", in.Output())
	}
	log, _ := os.ReadFile(home + "/.config/pgcli/log")
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, " ERROR ") {
			t.Errorf("pgcli logged an error: %s", l)
		}
	}
}
