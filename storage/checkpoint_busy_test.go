package storage_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/storage"
)

// TestCheckpoint_UnderASteadyStreamOfWriters: with several sessions
// writing back to back the write lock is never free, yet the WAL must
// still be checkpointed and restarted; it used to grow without bound (the
// background checkpoint only tried the lock: 800 MB in 40 s of pgbench at
// 4 clients).
func TestCheckpoint_UnderASteadyStreamOfWriters(t *testing.T) {
	const ckpt = 256 << 10 // the WAL restarts at 4 x this
	db := MustOpenDB(t, storage.DBConfig{CheckpointBytes: ckpt})
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var commits atomic.Int64
	errc := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := db.Conn(ctx)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			for ctx.Err() == nil {
				if err := c.BeginWrite(ctx); err != nil {
					if ctx.Err() == nil {
						errc <- err
					}
					return
				}
				_, err := c.SQL().ExecContext(ctx, "INSERT INTO t (v) VALUES (randomblob(3000))")
				if _, err2 := c.EndWrite(ctx); err == nil {
					err = err2
				}
				if err != nil {
					if ctx.Err() == nil {
						errc <- err
					}
					return
				}
				commits.Add(1)
			}
		}()
	}
	testutil.RetryUntil(t, 0, func() error {
		select {
		case err := <-errc:
			t.Fatal(err)
		default:
		}
		if n := db.Stats().Checkpoints; n < 3 {
			return fmt.Errorf("%d checkpoints that restart the WAL after %d commits; want 3", n, commits.Load())
		}
		return nil
	})
	cancel()
	wg.Wait()
	fi, err := os.Stat(db.Path() + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// The WAL keeps its largest size across restarts: a few restart sizes
	// at most (writers go on during a checkpoint's unlocked pass).
	if fi.Size() > 4*4*ckpt {
		t.Fatalf("WAL of %d bytes after %d commits with restarts at %d", fi.Size(), commits.Load(), 4*ckpt)
	}
	t.Logf("%d commits, %d checkpoints, WAL %d bytes", commits.Load(), db.Stats().Checkpoints, fi.Size())
}
