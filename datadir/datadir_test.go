package datadir_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/sqlink/sqlink/datadir"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestSecureMakesEverythingPrivate(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	if err := os.MkdirAll(datadir.DatabasesDir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	db := datadir.DatabasePath(dir, "shop")
	if err := os.WriteFile(db, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := datadir.Secure(dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: datadir.DirMode, datadir.DatabasesDir(dir): datadir.DirMode, db: datadir.FileMode} {
		if got := mode(t, path); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
}

func TestAuthSecretMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	a, err := datadir.AuthSecret(dir)
	if err != nil || len(a) != 32 {
		t.Fatalf("first: %d bytes, %v", len(a), err)
	}
	if got := mode(t, datadir.AuthKeyPath(dir)); got != datadir.FileMode {
		t.Fatalf("auth.key mode %v", got)
	}
	b, err := datadir.AuthSecret(dir)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second call returned another key (%v)", err)
	}
	if filepath.Base(datadir.CatalogPath(dir)) != "catalog.db" {
		t.Fatal("catalog path moved")
	}
}
