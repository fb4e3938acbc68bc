package catalog

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestMigrateKeepsOldLoginsRights checks that an upgrade locks no one out:
// the logins of a catalog from before login rights could use every
// database, and keep write on all of them.
func TestMigrateKeepsOldLoginsRights(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{migrations[0], "PRAGMA user_version = 1",
		"INSERT INTO logins (name, salt, iterations, stored_key, server_key, created_at, updated_at) VALUES ('old', x'00', 4096, x'00', x'00', 0, 0)"} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r, err := c.DatabaseRight(ctx, "old", "any"); err != nil || r != RightWrite {
		t.Fatalf("old login's right after the upgrade = %s, %v; want write", r, err)
	}
	if err := c.CreateLogin(ctx, "new", "pw"); err != nil {
		t.Fatal(err)
	}
	if r, err := c.DatabaseRight(ctx, "new", "any"); err != nil || r != RightNone {
		t.Fatalf("new login's right = %s, %v; want none", r, err)
	}
}
