package schema_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sqlink/sqlink/internal/schema"
	_ "modernc.org/sqlite"
)

func TestTableColumns(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, price NUMERIC(10,2), raw)"); err != nil {
		t.Fatal(err)
	}
	got, err := schema.TableColumns(ctx, db, "t")
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"id", "INTEGER"}, {"name", "TEXT"}, {"price", "NUMERIC(10,2)"}, {"raw", ""}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("columns %v, want %v", got, want)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got, err := schema.TableColumns(ctx, conn, "missing"); err != nil || len(got) != 0 {
		t.Fatalf("a missing table: %v, %v", got, err)
	}
}
