package replication

import (
	"context"
	"os"
	"path/filepath"
	"time"
)

// databasePath is where a database's file lives in a data directory (as
// the server lays it out).
func databasePath(dir, name string) string {
	return filepath.Join(dir, "databases", name+".db")
}

// removeDatabaseFiles removes a database file and everything beside it that
// belongs to it (WAL, shared memory, replication log).
func removeDatabaseFiles(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		os.Remove(p)
	}
	matches, _ := filepath.Glob(path + "-*")
	for _, m := range matches {
		os.RemoveAll(m)
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// backoff returns the next reconnect delay after prev, capped at max.
func backoff(prev, max time.Duration) time.Duration {
	if prev == 0 {
		return 20 * time.Millisecond
	}
	return min(2*prev, max)
}
