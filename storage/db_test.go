package storage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
)

// MustOpenDB opens a database in a fresh temporary directory and closes it
// when the test ends.
func MustOpenDB(tb testing.TB, cfg storage.DBConfig) *storage.DB {
	tb.Helper()
	return MustOpenDBAt(tb, filepath.Join(tb.TempDir(), "db.sqlite"), cfg)
}

// MustOpenDBAt opens the database at path and closes it when the test ends.
func MustOpenDBAt(tb testing.TB, path string, cfg storage.DBConfig) *storage.DB {
	tb.Helper()
	db, err := storage.OpenDB(context.Background(), path, cfg)
	if err != nil {
		tb.Fatalf("open db: %v", err)
	}
	tb.Cleanup(func() { db.Close(context.Background()) })
	return db
}

// mustExecWrite runs statements as one write on a fresh Conn and returns the
// LSN EndWrite reported.
func mustExecWrite(tb testing.TB, db *storage.DB, stmts ...string) sqlink.LSN {
	tb.Helper()
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if err := c.BeginWrite(ctx); err != nil {
		tb.Fatal(err)
	}
	for _, s := range stmts {
		var err error
		switch {
		case strings.HasPrefix(s, "PRAGMA"):
			// Tests' own knobs (cache_size...), which sessions may not turn.
			err = storage.ExecTrusted(c, s)
		case strings.HasPrefix(s, "VACUUM"):
			if err = c.Statement(storage.StatementVacuum); err == nil {
				_, err = c.SQL().ExecContext(ctx, s)
			}
		default:
			if err = c.Statement(storage.StatementWrite); err == nil {
				_, err = c.SQL().ExecContext(ctx, s)
			}
		}
		if err != nil {
			c.EndWrite(ctx)
			tb.Fatalf("%s: %v", s, err)
		}
	}
	lsn, err := c.EndWrite(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return lsn
}

func TestDB_WriteCapturesOneRecordPerCommit(t *testing.T) {
	db := MustOpenDB(t, storage.DBConfig{})
	if got, want := mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"), sqlink.LSN(1); got != want {
		t.Fatalf("lsn = %d, want %d", got, want)
	}
	if got, want := mustExecWrite(t, db, "BEGIN IMMEDIATE", "INSERT INTO t(v) VALUES ('a')", "INSERT INTO t(v) VALUES ('b')", "COMMIT"), sqlink.LSN(2); got != want {
		t.Fatalf("lsn = %d, want %d", got, want)
	}
	// A rolled-back transaction makes no record.
	if got, want := mustExecWrite(t, db, "BEGIN IMMEDIATE", "INSERT INTO t(v) VALUES ('c')", "ROLLBACK"), sqlink.LSN(2); got != want {
		t.Fatalf("lsn after rollback = %d, want %d", got, want)
	}
	if got, want := mustExecWrite(t, db, "INSERT INTO t(v) VALUES ('d')"), sqlink.LSN(3); got != want {
		t.Fatalf("lsn = %d, want %d", got, want)
	}
	st := db.Stats()
	if st.Pos.LSN != 3 || st.Pos.Checksum == 0 || st.PageCount < 2 || st.LogBytes == 0 {
		t.Fatalf("unexpected stats %+v", st)
	}
}

func TestDB_ConcurrentWriters(t *testing.T) {
	db := MustOpenDB(t, storage.DBConfig{})
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, w INT, v TEXT)")
	const writers, each = 4, 50
	ctx := context.Background()
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	lsns := make(chan sqlink.LSN, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := db.Conn(ctx)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			for i := 0; i < each; i++ {
				if err := c.BeginWrite(ctx); err != nil {
					errc <- err
					return
				}
				_, err := c.SQL().ExecContext(ctx, "BEGIN IMMEDIATE")
				if err == nil {
					_, err = c.SQL().ExecContext(ctx, "INSERT INTO t(w, v) VALUES (?, ?)", w, strings.Repeat("x", i*10))
				}
				if err == nil {
					_, err = c.SQL().ExecContext(ctx, "COMMIT")
				}
				lsn, err2 := c.EndWrite(ctx)
				if err = errors.Join(err, err2); err != nil {
					errc <- err
					return
				}
				lsns <- lsn
			}
		}()
	}
	// Readers run concurrently on their own connections.
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		c, err := db.Conn(ctx)
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int
			if err := c.SQL().QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
				errc <- fmt.Errorf("reader: %w", err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	close(lsns)
	seen := map[sqlink.LSN]bool{}
	for l := range lsns {
		if seen[l] {
			t.Fatalf("LSN %d returned twice", l)
		}
		seen[l] = true
	}
	if got, want := db.Pos().LSN, sqlink.LSN(1+writers*each); got != want {
		t.Fatalf("pos = %d, want %d", got, want)
	}
	for l := sqlink.LSN(2); l <= 1+writers*each; l++ {
		if !seen[l] {
			t.Fatalf("LSN %d missing", l)
		}
	}
}

// A second DB on the same files would capture, checkpoint and prune behind
// the first one's back: OpenDB refuses it until the first is closed (the
// same file through another spelling of its path too).
func TestOpenDB_OncePerProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := storage.OpenDB(ctx, path, storage.DBConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mustExecWrite(t, db, "CREATE TABLE t (x)")
	other := filepath.Join(filepath.Dir(path), ".", "db.sqlite")
	if _, err := storage.OpenDB(ctx, other, storage.DBConfig{}); sqlink.ErrorCode(err) != sqlink.ECONFLICT || !strings.Contains(err.Error(), "already open") {
		t.Fatalf("second open: %v, want ECONFLICT (already open)", err)
	}
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}
	db = MustOpenDBAt(t, path, storage.DBConfig{})
	if got := db.Pos().LSN; got != 1 {
		t.Fatalf("reopened at LSN %d, want 1", got)
	}
}

// TryBeginWrite takes a free write lock without waiting, reports false
// when another session holds it, and refuses on a secondary as
// BeginWrite does.
func TestConn_TryBeginWrite(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t, storage.DBConfig{})
	a, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, err := a.TryBeginWrite(); !got || err != nil {
		t.Fatalf("free lock: %v, %v", got, err)
	}
	if got, err := b.TryBeginWrite(); got || err != nil {
		t.Fatalf("held lock: %v, %v, want false, nil", got, err)
	}
	if _, err := a.EndWrite(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := b.TryBeginWrite(); !got || err != nil {
		t.Fatalf("released lock: %v, %v", got, err)
	}
	if _, err := b.EndWrite(ctx); err != nil {
		t.Fatal(err)
	}
	db.SetReadOnly("primary-1")
	if got, err := a.TryBeginWrite(); got || sqlink.ErrorCode(err) != sqlink.EREADONLY {
		t.Fatalf("secondary: %v, %v, want EREADONLY", got, err)
	}
}
