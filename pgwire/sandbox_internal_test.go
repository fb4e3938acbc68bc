package pgwire

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// TestMultipleStatements checks the tail check against SQLite's own
// prepare: the driver keeps a prepared statement only when SQLite read the
// whole text as one statement.
func TestMultipleStatements(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sc, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	for q, want := range map[string]bool{
		"SELECT 1":                           false,
		"SELECT 1 -- trailing comment":       false,
		"SELECT 1 /* c */":                   false,
		"SELECT 1; SELECT 2":                 true,
		"SELECT 1 AS a$t$; SELECT 2 AS b$t$": true,
		"SELECT 1;":                          false,
		"SELECT 1; -- c":                     true,
	} {
		err := sc.Raw(func(dc any) error {
			ds, err := dc.(driver.ConnPrepareContext).PrepareContext(context.Background(), q)
			if err != nil {
				return err
			}
			defer ds.Close()
			got, known := multipleStatements(ds)
			if !known {
				t.Fatalf("%s: the driver's statement has no pstmt field", q)
			}
			if got != want {
				t.Errorf("%s: multiple = %v, want %v", q, got, want)
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}
