package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/storage"
)

// takeBackupUnderWrites takes a backup while a writer commits continuously.
func takeBackupUnderWrites(t *testing.T, db *storage.DB) (*bytes.Buffer, storage.Manifest) {
	t.Helper()
	ctx := context.Background()
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			mustExecWrite(t, db, fmt.Sprintf("INSERT INTO t(v) VALUES (randomblob(%d))", 100+i%5000))
		}
	}()
	testutil.RetryUntil(t, 0, func() error {
		if db.Pos().LSN < 200 {
			return fmt.Errorf("only %d commits", db.Pos().LSN)
		}
		return nil
	})
	var buf bytes.Buffer
	m, err := db.Backup(ctx, &buf, false)
	if err != nil {
		t.Fatal(err)
	}
	at := db.Pos().LSN
	testutil.RetryUntil(t, 0, func() error {
		if db.Pos().LSN < at+50 {
			return fmt.Errorf("only %d commits", db.Pos().LSN)
		}
		return nil
	})
	stop.Store(true)
	wg.Wait()
	return &buf, m
}

func TestBackup_UnderWritesRestoresPageIdentical(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t, storage.DBConfig{CheckpointBytes: 1 << 20})
	buf, m := takeBackupUnderWrites(t, db)
	if m.LSN == 0 || m.LSN >= db.Pos().LSN || m.Pos.LSN != m.LSN || m.PageCount < 2 || m.ID == "" || m.CopyOnly {
		t.Fatalf("unexpected manifest %+v (db at %s)", m, db.Pos())
	}
	if got := db.LastFullBackupID(); got != m.ID {
		t.Fatalf("last full backup = %q, want %q", got, m.ID)
	}
	got, err := storage.ReadManifest(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID || got.Pos != m.Pos || got.SHA256 != m.SHA256 {
		t.Fatalf("ReadManifest = %+v, want %+v", got, m)
	}

	dst := filepath.Join(t.TempDir(), "restored.sqlite")
	if _, err := storage.Restore(ctx, bytes.NewReader(buf.Bytes()), dst); err != nil {
		t.Fatal(err)
	}
	// The restored file equals the source at the backup's LSN, rebuilt
	// from the log alone.
	mustComparePages(t, dst, replayToFile(t, db, m.LSN))

	// Restoring over an existing database is refused.
	if _, err := storage.Restore(ctx, bytes.NewReader(buf.Bytes()), dst); sqlink.ErrorCode(err) != sqlink.ECONFLICT {
		t.Fatalf("restore over existing = %v", err)
	}

	// LSNs continue from the backup's position.
	rdb := MustOpenDBAt(t, dst, storage.DBConfig{})
	if got := rdb.Pos(); got != m.Pos {
		t.Fatalf("restored pos = %s, want %s", got, m.Pos)
	}
	mustIntegrityOK(t, rdb)
	if got, want := mustExecWrite(t, rdb, "INSERT INTO t(v) VALUES (x'00')"), m.LSN+1; got != want {
		t.Fatalf("lsn after restore = %d, want %d", got, want)
	}
	if _, err := rdb.ReadLog(ctx, m.LSN-1); sqlink.ErrorCode(err) != sqlink.ECONFLICT {
		t.Fatalf("ReadLog before the restored base = %v, want conflict", err)
	}
}

func TestBackup_CorruptOrTruncatedIsRefused(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t, storage.DBConfig{})
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)", "INSERT INTO t(v) VALUES (randomblob(10000))")
	var buf bytes.Buffer
	if _, err := db.Backup(ctx, &buf, true); err != nil {
		t.Fatal(err)
	}
	if db.LastFullBackupID() != "" {
		t.Fatal("a copy-only backup started the backup chain")
	}
	good := buf.Bytes()
	flipped := bytes.Clone(good)
	flipped[5000] ^= 1
	cases := map[string][]byte{
		"empty":     nil,
		"flipped":   flipped,
		"truncated": good[:len(good)/2],
		"no tail":   good[:len(good)-3],
		"header":    good[:10],
	}
	for name, b := range cases {
		if _, err := storage.ReadManifest(bytes.NewReader(b)); sqlink.ErrorCode(err) != sqlink.EINVALID {
			t.Errorf("%s: ReadManifest = %v, want invalid", name, err)
		}
		dst := filepath.Join(t.TempDir(), "x.sqlite")
		if _, err := storage.Restore(ctx, bytes.NewReader(b), dst); sqlink.ErrorCode(err) != sqlink.EINVALID {
			t.Errorf("%s: Restore = %v, want invalid", name, err)
		}
		if m, _ := filepath.Glob(dst + "*"); len(m) != 0 {
			t.Errorf("%s: restore left %v behind", name, m)
		}
	}
}
