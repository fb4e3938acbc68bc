package catalog

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sqlink/sqlink"
)

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.SchemaVersion(ctx); v != len(migrations) {
		t.Fatalf("schema version = %d, want %d", v, len(migrations))
	}
	if _, err := c.db.ExecContext(ctx, "PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	_, err = Open(ctx, path)
	if got := sqlink.ErrorCode(err); got != sqlink.EINVALID {
		t.Fatalf("open newer catalog: %v", err)
	}
}

func TestSynchronousFull(t *testing.T) {
	ctx := context.Background()
	c, err := Open(ctx, filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var sync int
	if err := c.db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if sync != 2 {
		t.Fatalf("synchronous = %d, want 2 (FULL)", sync)
	}
}
