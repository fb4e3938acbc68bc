package storage_test

import (
	"context"
	"testing"

	"github.com/sqlink/sqlink/storage"
)

// BenchmarkGroupCommitLone commits one small transaction at a time on one
// Conn, each followed by a reply's pass through the output gate, as one
// client's session does: the cost of group commit's uncontended path. Run
// with TMPDIR on tmpfs to leave the fdatasync itself out.
func BenchmarkGroupCommitLone(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b, storage.DBConfig{})
	mustExecWrite(b, db, "CREATE TABLE a (id INTEGER PRIMARY KEY, bal INTEGER)", "INSERT INTO a VALUES (1, 0)")
	c, err := db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := c.BeginWrite(ctx); err != nil {
			b.Fatal(err)
		}
		if err := c.Statement(storage.StatementWrite); err != nil {
			b.Fatal(err)
		}
		if _, err := c.SQL().ExecContext(ctx, "UPDATE a SET bal = bal + 1 WHERE id = 1"); err != nil {
			b.Fatal(err)
		}
		if _, err := c.EndWrite(ctx); err != nil {
			b.Fatal(err)
		}
		if err := c.WaitOutput(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
