package storage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
)

// A database made read-only for a reason other than being a secondary (a
// fenced primary) says that reason, not that another instance is primary.
func TestDB_ReadOnlyReason(t *testing.T) {
	db := MustOpenDB(t, storage.DBConfig{})
	ctx := context.Background()
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
	db.SetReadOnlyReason(storage.ReadOnlyReason{Why: "fenced itself: lease not renewed", Hint: "wait for the lease"})
	db.SetReadOnly("beta")
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.BeginWrite(ctx)
	if sqlink.ErrorCode(err) != sqlink.EREADONLY || !strings.Contains(sqlink.ErrorMessage(err), "fenced itself: lease not renewed") ||
		strings.Contains(err.Error(), "beta") || sqlink.ErrorHint(err) != "wait for the lease" {
		t.Fatalf("BeginWrite on a fenced database = %v (hint %q)", err, sqlink.ErrorHint(err))
	}
	if ro, primary := db.ReadOnly(); !ro || primary != "" {
		t.Fatalf("ReadOnly() = %v, %q; want true and no primary", ro, primary)
	}
	if st := db.Stats(); st.Primary != "" || st.ReadOnlyWhy == "" {
		t.Fatalf("Stats: primary %q, why %q", st.Primary, st.ReadOnlyWhy)
	}
	// Cleared: a secondary of beta again.
	db.SetReadOnlyReason(storage.ReadOnlyReason{})
	if err := c.BeginWrite(ctx); !strings.Contains(err.Error(), "secondary replica of instance beta") {
		t.Fatalf("BeginWrite on a secondary = %v", err)
	}
	// Writable again clears any reason.
	db.SetReadOnlyReason(storage.ReadOnlyReason{Why: "x"})
	db.SetReadOnly("")
	db.SetReadOnly("beta")
	if _, primary := db.ReadOnly(); primary != "beta" {
		t.Fatalf("primary %q after writable and read-only again", primary)
	}
}
