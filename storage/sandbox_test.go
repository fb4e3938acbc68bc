package storage_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlink/sqlink/storage"
)

// TestSandbox_DeniesDirectly runs each denied action straight on a
// session's SQLite connection, past every check of the wire front end: the
// authorizer inside SQLite refuses it.
func TestSandbox_DeniesDirectly(t *testing.T) {
	db := MustOpenDB(t, storage.DBConfig{})
	mustExecWrite(t, db, "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
	dir := filepath.Dir(db.Path())
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.BeginWrite(ctx); err != nil { // a write lock held: only the sandbox stands in the way
		t.Fatal(err)
	}
	defer c.EndWrite(ctx)
	if err := c.Statement(storage.StatementWrite); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"ATTACH '" + filepath.Join(dir, "other.db") + "' AS o",
		"ATTACH ':memory:' AS o",
		"ATTACH '' AS o", // only a VACUUM may attach its temporary database
		"DETACH main",
		"VACUUM INTO '" + filepath.Join(dir, "copy.db") + "'",
		"PRAGMA wal_checkpoint(TRUNCATE)",
		"PRAGMA journal_mode = DELETE",
		"PRAGMA wal_autocheckpoint = 1",
		"PRAGMA journal_size_limit = 0",
		"PRAGMA locking_mode = EXCLUSIVE",
		"PRAGMA synchronous = OFF",
		"PRAGMA query_only = OFF",
		"PRAGMA writable_schema = ON",
		"PRAGMA trusted_schema = ON",
		"PRAGMA ignore_check_constraints = ON",
		"PRAGMA cell_size_check = ON",
		"PRAGMA schema_version = 1",
		"PRAGMA soft_heap_limit = 1",
		"PRAGMA hard_heap_limit = 1",
		"PRAGMA threads = 8",
		"PRAGMA mmap_size = 1000000000",
		"PRAGMA cache_size = -1000000",
		"PRAGMA cache_spill = 0",
		"PRAGMA busy_timeout = 0",
		"PRAGMA max_page_count = 8",
		"PRAGMA shrink_memory",
		"PRAGMA temp_store_directory = '/tmp'",
		"PRAGMA data_store_directory = '/tmp'",
		"PRAGMA database_list",
		"SELECT * FROM pragma_database_list",
		"SELECT * FROM sqlite_dbpage",
		"INSERT INTO sqlite_dbpage VALUES (1, zeroblob(4096))",
		"SELECT load_extension('x')",
		"SELECT readfile('/etc/passwd')",
		"CREATE VIRTUAL TABLE v USING dbstat",
		"CREATE VIRTUAL TABLE v USING sqlite_dbpage",
	} {
		_, err := c.SQL().ExecContext(ctx, q)
		ref := c.Refusal()
		if err == nil {
			t.Errorf("%s: ran", q)
			continue
		}
		if strings.Contains(q, "readfile") && strings.Contains(err.Error(), "no such function") {
			continue // not built in: nothing to refuse
		}
		if !errors.Is(ref, storage.ErrRefused) {
			t.Errorf("%s: %v, not refused by the sandbox", q, err)
		}
	}
	if err := c.Statement(storage.StatementVacuum); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SQL().ExecContext(ctx, "VACUUM"); err != nil {
		t.Errorf("VACUUM declared as one: %v", err)
	}
	if _, err := c.SQL().ExecContext(ctx, "VACUUM INTO '"+filepath.Join(dir, "copy.db")+"'"); err == nil {
		t.Error("VACUUM INTO ran")
	}
}

// TestSandbox_WritesNeedTheirDeclarationAndRight: a write declared as a
// read is refused (it would run without the write lock, escaping the
// capture), as is any write without the write right or read without the
// read right.
func TestSandbox_WritesNeedTheirDeclarationAndRight(t *testing.T) {
	db := MustOpenDB(t, storage.DBConfig{})
	mustExecWrite(t, db, "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	refused := func(q string) bool {
		t.Helper()
		_, err := c.SQL().ExecContext(ctx, q)
		return err != nil && errors.Is(c.Refusal(), storage.ErrRefused)
	}
	c.Statement(storage.StatementRead)
	for _, q := range []string{"INSERT INTO t VALUES (2)", "UPDATE t SET x = 3", "DELETE FROM t", "CREATE TABLE u (x)", "DROP TABLE t",
		"ALTER TABLE t ADD COLUMN y", "CREATE INDEX i ON t(x)", "ANALYZE", "PRAGMA user_version = 3", "PRAGMA incremental_vacuum",
		"WITH w AS (SELECT 1) INSERT INTO t SELECT * FROM w"} {
		if !refused(q) {
			t.Errorf("%s declared as a read: not refused", q)
		}
	}
	// Temporary objects are the connection's own: no write lock needed.
	for _, q := range []string{"CREATE TEMP TABLE tt (x)", "INSERT INTO tt VALUES (1)", "SELECT * FROM t"} {
		if refused(q) {
			t.Errorf("%s: refused", q)
		}
	}

	c.SetAccess(storage.AccessRead)
	c.Statement(storage.StatementWrite)
	if !refused("INSERT INTO t VALUES (2)") || !refused("DROP TABLE t") {
		t.Error("a write with the read right only was not refused")
	}
	if refused("SELECT count(*) FROM t") {
		t.Error("a read with the read right was refused")
	}
	c.SetAccess(storage.AccessConnect)
	c.Statement(storage.StatementRead)
	if !refused("SELECT x FROM t") || !refused("SELECT count(*) FROM t") || !refused("PRAGMA table_info(t)") {
		t.Error("a read with the connect right only was not refused")
	}
	if refused("SELECT 1") || refused("SELECT name FROM sqlite_schema") {
		t.Error("the connect right cannot run SELECT 1 or list tables")
	}
}
