package storage_test

import (
	"context"
	"testing"

	"github.com/sqlink/sqlink/storage"
)

// A transaction that changes more pages than MaxTransactionBytes is refused
// at its COMMIT (explicit or autocommit): nothing of it is in the database
// or the log, the database stays writable, and smaller transactions, before
// and after, commit as usual. On a secondary the applier's merged groups are
// not limited (their records are in the log already).
func TestTxGuard_RefusesATransactionLargerThanTheLimit(t *testing.T) {
	ctx := context.Background()
	const limit = storage.MinTransactionBytes // 16 MiB
	p := MustOpenDB(t, storage.DBConfig{MaxTransactionBytes: limit})
	s := MustOpenDB(t, storage.DBConfig{MaxTransactionBytes: limit})
	s.SetReadOnly("primary-1")
	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
	// 10 MiB in one transaction: under the limit.
	mustExecWrite(t, p, "BEGIN IMMEDIATE", "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2560) INSERT INTO t(v) SELECT randomblob(4000) FROM n", "COMMIT")
	before := p.Pos()

	write := func(db *storage.DB, stmts ...string) error {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.BeginWrite(ctx); err != nil {
			t.Fatal(err)
		}
		var xerr error
		for _, q := range stmts {
			if _, xerr = c.SQL().ExecContext(ctx, q); xerr != nil {
				break
			}
		}
		if _, err := c.EndWrite(ctx); err != nil {
			t.Fatalf("capture after %v: %v", xerr, err)
		}
		return xerr
	}
	big := "INSERT INTO t(v) SELECT randomblob(4000) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 5000) SELECT i FROM n)"
	for _, tc := range []struct {
		name  string
		stmts []string
	}{
		{"autocommit", []string{big}},
		{"explicit", []string{"BEGIN IMMEDIATE", "UPDATE t SET v = randomblob(4000)", big, "COMMIT"}},
	} {
		err := write(p, tc.stmts...)
		if !storage.IsTransactionTooLarge(err) {
			t.Fatalf("%s: a 20 MB transaction against a %d MiB limit: got %v, want the size guard's refusal", tc.name, limit>>20, err)
		}
		if got := p.Pos(); got != before {
			t.Fatalf("%s: the refused transaction moved the log from %v to %v", tc.name, before, got)
		}
		var n int
		c, _ := p.Conn(ctx)
		if err := c.SQL().QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2560 {
			t.Fatalf("%s: rows after the refusal: %d %v, want 2560", tc.name, n, err)
		}
		c.Close()
	}
	// Still writable; and the rows written in many transactions reach a
	// secondary that applies them as one merged group far over the limit.
	for i := 0; i < 3; i++ {
		mustExecWrite(t, p, "BEGIN IMMEDIATE", "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2560) INSERT INTO t(v) SELECT randomblob(4000) FROM n", "COMMIT")
	}
	ship(t, p, s, 100)
	if got, want := s.Redone(), p.Pos(); got != want {
		t.Fatalf("secondary redone %v, primary %v", got, want)
	}
	mustComparePages(t, p.Path(), s.Path())

	// Promoted, the secondary's clients are limited too.
	s.SetReadOnly("")
	err := write(s, big)
	if !storage.IsTransactionTooLarge(err) {
		t.Fatalf("a 20 MB transaction on the promoted secondary: got %v, want the size guard's refusal", err)
	}
}

func TestTxGuard_ConfigBounds(t *testing.T) {
	for _, n := range []int64{-1, 1 << 20, storage.MaxRecordBytes + 1} {
		if err := (storage.DBConfig{MaxTransactionBytes: n}).Validate(); err == nil {
			t.Errorf("MaxTransactionBytes %d accepted", n)
		}
	}
	for _, n := range []int64{0, storage.MinTransactionBytes, storage.MaxRecordBytes} {
		if err := (storage.DBConfig{MaxTransactionBytes: n}).Validate(); err != nil {
			t.Errorf("MaxTransactionBytes %d: %v", n, err)
		}
	}
}
