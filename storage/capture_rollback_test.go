package storage_test

import (
	"context"
	"testing"

	"github.com/sqlink/sqlink/storage"
)

// A transaction larger than the page cache spills pages into the WAL
// before its COMMIT; when it is the first write after a complete checkpoint
// it restarts the WAL (new salts) as it does, and when it then rolls back
// (or its COMMIT is refused), the next writer on another connection may
// write a fresh WAL header: checkpoint sequence 0 and random salts (SQLite
// keeps the sequence per connection, and randomizes the salts when it is
// 0). The WAL held no commit in between, so nothing was lost; the capture
// took it for a restart with uncaptured frames and stopped every write of
// the database until the instance restarted.
func TestCapture_RolledBackSpillThenAnotherConnection(t *testing.T) {
	ctx := context.Background()
	for _, refused := range []bool{false, true} {
		p := MustOpenDB(t, storage.DBConfig{MaxTransactionBytes: storage.MinTransactionBytes})
		mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
		for round := 0; round < 3; round++ {
			mustExecWrite(t, p, "INSERT INTO t(v) VALUES (randomblob(100))")
			if err := p.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			// The big transaction, on a connection kept open so that the
			// next write gets another one from the pool.
			a, err := p.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.BeginWrite(ctx); err != nil {
				t.Fatal(err)
			}
			rows := "1000" // 4 MB: spills, then rolls back
			end := "ROLLBACK"
			if refused {
				rows, end = "5000", "COMMIT" // 20 MB: refused at COMMIT
			}
			a.SQL().ExecContext(ctx, "BEGIN IMMEDIATE")
			if _, err := a.SQL().ExecContext(ctx, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < "+rows+") INSERT INTO t(v) SELECT randomblob(4000) FROM n"); err != nil {
				t.Fatal(err)
			}
			_, err = a.SQL().ExecContext(ctx, end)
			if refused != storage.IsTransactionTooLarge(err) {
				t.Fatalf("%s: %v", end, err)
			}
			a.SQL().ExecContext(ctx, "ROLLBACK")
			if _, err := a.EndWrite(ctx); err != nil {
				t.Fatalf("round %d: capture after the %s: %v", round, end, err)
			}
			for i := 0; i < 3; i++ {
				mustExecWrite(t, p, "INSERT INTO t(v) VALUES (randomblob(100))")
			}
			a.Close()
		}
		var n int
		c, _ := p.Conn(ctx)
		c.SQL().QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n)
		c.Close()
		if n != 12 {
			t.Fatalf("%d rows, want 12", n)
		}
	}
}
