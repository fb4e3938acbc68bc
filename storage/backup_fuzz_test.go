package storage_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
)

// FuzzReadBackup feeds arbitrary bytes to the backup decoder (ReadManifest
// and Restore): they must never panic, and whatever they refuse is an
// EINVALID error that leaves no database file behind.
func FuzzReadBackup(f *testing.F) {
	db := MustOpenDB(f, storage.DBConfig{})
	mustExecWrite(f, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO t(v) VALUES ('seed')")
	var good bytes.Buffer
	if _, err := db.Backup(context.Background(), &good, true); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:len(good.Bytes())/2])
	f.Add([]byte{})
	f.Add([]byte("SQLINKBK"))

	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := storage.ReadManifest(bytes.NewReader(b)); err != nil && sqlink.ErrorCode(err) != sqlink.EINVALID {
			t.Fatalf("ReadManifest error code %q: %v", sqlink.ErrorCode(err), err)
		}
		dst := filepath.Join(t.TempDir(), "restored.db")
		if _, err := storage.Restore(context.Background(), bytes.NewReader(b), dst); err != nil {
			if sqlink.ErrorCode(err) != sqlink.EINVALID {
				t.Fatalf("Restore error code %q: %v", sqlink.ErrorCode(err), err)
			}
			if matches, _ := filepath.Glob(dst + "*"); len(matches) > 0 {
				t.Fatalf("a refused restore left %v behind", matches)
			}
		}
	})
}
