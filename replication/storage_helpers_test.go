package replication

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
)

// openTestDB opens a database named name in dir, closed when the test ends.
func openTestDB(t *testing.T, dir, name string) *storage.DB {
	t.Helper()
	ctx := context.Background()
	db, err := storage.OpenDB(ctx, filepath.Join(dir, name), storage.DBConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(ctx) })
	return db
}

// writeTestSQL runs q as one write transaction on db.
func writeTestSQL(t *testing.T, db *storage.DB, q string) {
	t.Helper()
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.BeginWrite(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SQL().ExecContext(ctx, q); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EndWrite(ctx); err != nil {
		t.Fatal(err)
	}
}

// logRecords returns the records db's log holds after LSN from.
func logRecords(t *testing.T, db *storage.DB, from sqlink.LSN) []*storage.Record {
	t.Helper()
	lr, err := db.ReadLog(context.Background(), from)
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	var recs []*storage.Record
	for rec, err := lr.TryNext(); err == nil; rec, err = lr.TryNext() {
		recs = append(recs, rec)
	}
	return recs
}
