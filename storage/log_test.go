package storage_test

import (
	"context"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
)

func TestLog_RetentionPrunesOldSegmentsAfterCheckpoint(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t, storage.DBConfig{SegmentBytes: 32 << 10, LogRetentionBytes: 64 << 10})
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
	for i := 0; i < 100; i++ {
		mustExecWrite(t, db, "INSERT INTO t(v) VALUES (randomblob(500))")
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	st := db.Stats()
	if st.LogFirstLSN <= 1 || st.LogBytes > 200<<10 {
		t.Fatalf("log not pruned: %+v", st)
	}
	if _, err := db.ReadLog(ctx, 0); sqlink.ErrorCode(err) != sqlink.ECONFLICT {
		t.Fatalf("ReadLog(0) after pruning = %v, want conflict", err)
	}
	r, err := db.ReadLog(ctx, st.LogFirstLSN-1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for want := st.LogFirstLSN; want <= db.Pos().LSN; want++ {
		rec, err := r.Next(ctx)
		if err != nil || rec.LSN != want {
			t.Fatalf("record %d: %v, %v", want, rec, err)
		}
	}
	// A retention floor keeps what a secondary still needs.
	floor := db.Pos().LSN
	db.SetRetentionFloor(floor, true)
	for i := 0; i < 100; i++ {
		mustExecWrite(t, db, "INSERT INTO t(v) VALUES (randomblob(500))")
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ReadLog(ctx, floor); err != nil {
		t.Fatalf("ReadLog(floor) = %v", err)
	}
}

func BenchmarkCommit(b *testing.B) {
	for _, sync := range []string{"NORMAL", "FULL"} {
		b.Run(sync, func(b *testing.B) {
			ctx := context.Background()
			db := MustOpenDB(b, storage.DBConfig{Synchronous: sync})
			mustExecWrite(b, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
			c, err := db.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.BeginWrite(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := c.SQL().ExecContext(ctx, "INSERT INTO t(v) VALUES (randomblob(100))"); err != nil {
					b.Fatal(err)
				}
				if _, err := c.EndWrite(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
