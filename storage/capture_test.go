package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
)

// replayToFile writes records 1..upto of db's log into a new file, page by
// page: an oracle for capture that does not use SQLite at all.
func replayToFile(tb testing.TB, db *storage.DB, upto sqlink.LSN) string {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "replay.sqlite")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := db.ReadLog(ctx, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	for want := sqlink.LSN(1); want <= upto; want++ {
		rec, err := r.TryNext()
		if err != nil {
			tb.Fatalf("read record %d: %v", want, err)
		}
		if rec.LSN != want {
			tb.Fatalf("record LSN %d, want %d", rec.LSN, want)
		}
		for _, p := range rec.Pages {
			off := int64(p.Pgno-1) * int64(rec.PageSize)
			data := p.Data
			if p.Delta != nil {
				data = make([]byte, rec.PageSize)
				if _, err := f.ReadAt(data, off); err != nil {
					tb.Fatalf("record %d: read base of page %d: %v", rec.LSN, p.Pgno, err)
				}
				if err := storage.ApplyDelta(data, data, p.Delta); err != nil {
					tb.Fatalf("record %d: page %d: %v", rec.LSN, p.Pgno, err)
				}
			}
			if _, err := f.WriteAt(data, off); err != nil {
				tb.Fatal(err)
			}
		}
		if err := f.Truncate(int64(rec.DBSize) * int64(rec.PageSize)); err != nil {
			tb.Fatal(err)
		}
	}
	return path
}

// mustComparePages fails unless the two files hold equal pages.
func mustComparePages(tb testing.TB, a, b string) {
	tb.Helper()
	res, err := storage.ComparePages(context.Background(), a, b)
	if err != nil {
		tb.Fatal(err)
	}
	if !res.Equal || res.PageCountA < 2 {
		tb.Fatalf("pages differ (or empty): %+v", res)
	}
}

func mustIntegrityOK(tb testing.TB, db *storage.DB) {
	tb.Helper()
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	var s string
	if err := c.SQL().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&s); err != nil {
		tb.Fatal(err)
	}
	if s != "ok" {
		tb.Fatalf("integrity_check: %s", s)
	}
}

func TestCapture_BigTransactionsDDLAndVacuum(t *testing.T) {
	// A small cache makes the big transaction spill to the WAL before
	// COMMIT. No background checkpoint may restart the WAL during the test:
	// the spill check below compares WAL sizes.
	db := MustOpenDB(t, storage.DBConfig{CheckpointBytes: 1 << 40})
	blob := strings.Repeat("y", 3000)
	lsn := mustExecWrite(t, db,
		"CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
		"CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT)")
	stmts := []string{"PRAGMA cache_size=10", "BEGIN IMMEDIATE"}
	for i := 0; i < 2000; i++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO t(v) VALUES ('%d%s')", i, blob))
	}
	stmts = append(stmts, "COMMIT", "PRAGMA cache_size=-2000")
	if got, want := mustExecWrite(t, db, stmts...), lsn+1; got != want {
		t.Fatalf("big tx lsn = %d, want %d", got, want)
	}
	mustExecWrite(t, db, "CREATE INDEX t_v ON t(v)")
	mustExecWrite(t, db, "INSERT INTO u(v) SELECT v FROM t WHERE id % 3 = 0")
	mustExecWrite(t, db, "DELETE FROM t WHERE id % 2 = 0")
	// A spilled, rolled-back transaction leaves frames but no record.
	before := db.Pos().LSN
	walBefore := db.Stats().WALBytes
	stmts = []string{"PRAGMA cache_size=10", "BEGIN IMMEDIATE"}
	for i := 0; i < 500; i++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO u(v) VALUES ('%d%s')", i, blob))
	}
	stmts = append(stmts, "ROLLBACK", "PRAGMA cache_size=-2000")
	if got := mustExecWrite(t, db, stmts...); got != before {
		t.Fatalf("rolled back spill made LSN %d, want %d", got, before)
	}
	if db.Stats().WALBytes <= walBefore {
		t.Fatalf("rolled-back transaction did not spill (wal %d -> %d bytes)", walBefore, db.Stats().WALBytes)
	}
	mustExecWrite(t, db, "DROP TABLE u")
	mustExecWrite(t, db, "VACUUM")
	end := mustExecWrite(t, db, "INSERT INTO t(v) VALUES ('after vacuum')")
	if got, want := end, before+3; got != want {
		t.Fatalf("final LSN %d, want %d", got, want)
	}
	mustIntegrityOK(t, db)
	mustComparePages(t, db.Path(), replayToFile(t, db, end))
}

func TestCapture_CheckpointKeepsLSNsDense(t *testing.T) {
	db := MustOpenDB(t, storage.DBConfig{})
	ctx := context.Background()
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	for round := 0; round < 5; round++ {
		for i := 0; i < 20; i++ {
			mustExecWrite(t, db, fmt.Sprintf("INSERT INTO t(v) VALUES ('%d-%d')", round, i))
		}
		if err := db.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := db.Pos().LSN, sqlink.LSN(101); got != want {
		t.Fatalf("lsn = %d, want %d", got, want)
	}
	if db.Stats().Checkpoints < 5 {
		t.Fatalf("checkpoints = %d", db.Stats().Checkpoints)
	}
	mustComparePages(t, db.Path(), replayToFile(t, db, 101))
}

func TestCapture_ReopenContinuesLSNs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	ctx := context.Background()
	db, err := storage.OpenDB(ctx, path, storage.DBConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	mustExecWrite(t, db, "INSERT INTO t(v) VALUES ('a')")
	pos := db.Pos()
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}
	db = MustOpenDBAt(t, path, storage.DBConfig{})
	if got := db.Pos(); got != pos {
		t.Fatalf("pos after reopen = %s, want %s", got, pos)
	}
	if got, want := mustExecWrite(t, db, "INSERT INTO t(v) VALUES ('b')"), sqlink.LSN(3); got != want {
		t.Fatalf("lsn = %d, want %d", got, want)
	}
	mustComparePages(t, db.Path(), replayToFile(t, db, 3))
}

func TestCapture_WriteOutsideLockIsCapturedInBackground(t *testing.T) {
	db := MustOpenDB(t, storage.DBConfig{})
	ctx := context.Background()
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A write statement that a caller misclassified as a read: the SQL
	// sandbox refuses it...
	_, err = c.SQL().ExecContext(ctx, "INSERT INTO t DEFAULT VALUES")
	if err == nil || !errors.Is(c.Refusal(), storage.ErrRefused) {
		t.Fatalf("write declared as a read: err %v, refusal %v; want refused", err, c.Refusal())
	}
	// ...and if one ran all the same (sqlink's own, outside the sandbox),
	// the background capture would still log it.
	if err := storage.ExecTrusted(c, "INSERT INTO t DEFAULT VALUES"); err != nil {
		t.Fatal(err)
	}
	if err := db.WaitLSN(ctx, 2); err != nil {
		t.Fatal(err)
	}
}

func TestDB_ReadOnly(t *testing.T) {
	db := MustOpenDB(t, storage.DBConfig{})
	ctx := context.Background()
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
	db.SetReadOnly("inst-a")
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.BeginWrite(ctx)
	if sqlink.ErrorCode(err) != sqlink.EREADONLY || !strings.Contains(err.Error(), "secondary replica of instance inst-a") {
		t.Fatalf("BeginWrite on read-only = %v", err)
	}
	if _, err := c.SQL().ExecContext(ctx, "INSERT INTO t DEFAULT VALUES"); err == nil {
		t.Fatal("write on query_only connection succeeded")
	}
	db.SetReadOnly("")
	mustExecWrite(t, db, "INSERT INTO t DEFAULT VALUES")
}

func TestDB_BeginWriteHonoursContext(t *testing.T) {
	db := MustOpenDB(t, storage.DBConfig{})
	ctx := context.Background()
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
	if err := a.BeginWrite(ctx); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.BeginWrite(cctx); err == nil {
		t.Fatal("BeginWrite with a cancelled context succeeded while the lock was held")
	}
	// Closing a Conn that holds the lock releases it.
	a.Close()
	if err := b.BeginWrite(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.EndWrite(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDB_CloseFailsOpenSessions(t *testing.T) {
	ctx := context.Background()
	db, err := storage.OpenDB(ctx, filepath.Join(t.TempDir(), "db.sqlite"), storage.DBConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SQL().ExecContext(ctx, "SELECT 1"); err == nil {
		t.Fatal("query after Close succeeded")
	}
	if err := c.BeginWrite(ctx); err == nil {
		t.Fatal("BeginWrite after Close succeeded")
	}
	if _, err := db.Conn(ctx); sqlink.ErrorCode(err) != sqlink.EUNAVAILABLE {
		t.Fatalf("Conn after Close = %v", err)
	}
	c.Close()
}
