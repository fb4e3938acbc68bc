package replication

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
)

// A secondary whose copy changed outside sqlink cannot redo its hardened
// records: it takes writes as it stands only when losing them is accepted
// (a forced failover, a drop); a planned failover or a role change that
// would lose them is refused with an error that says what to do.
func TestRedoForWrites_DivergedCopy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(db *storage.DB, q string) { writeTestSQL(t, db, q) }
	ship := func(p, s *storage.DB) error {
		recs := logRecords(t, p, s.Pos().LSN)
		if err := s.Harden(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		return s.Apply(ctx, recs...)
	}
	p, s := openTestDB(t, dir, "p.db"), openTestDB(t, dir, "s.db")
	s.SetReadOnly("primary-1")
	write(p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	write(p, "INSERT INTO t (v) VALUES ('one')")
	if err := ship(p, s); err != nil {
		t.Fatal(err)
	}
	if err := redoForWrites(ctx, s, false); err != nil {
		t.Fatalf("a copy that did not diverge: %v", err)
	}

	other, err := sql.Open("sqlite", "file:"+s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec("UPDATE t SET v = 'behind its back'"); err != nil {
		t.Fatal(err)
	}
	other.Close()
	write(p, "INSERT INTO t (v) VALUES ('two')")
	if err := ship(p, s); !errors.Is(err, storage.ErrDiverged) {
		t.Fatalf("apply after another program's write: %v", err)
	}
	if s.Redone().LSN >= s.Pos().LSN {
		t.Fatalf("nothing left to redo (redone %d, hardened %d): the test needs a record the copy could not redo", s.Redone().LSN, s.Pos().LSN)
	}
	err = redoForWrites(ctx, s, false)
	if sqlink.ErrorCode(err) != sqlink.ECONFLICT || !strings.Contains(err.Error(), "cannot be redone") || !strings.Contains(sqlink.ErrorHint(err), "forced") {
		t.Fatalf("without accepting the loss: %v", err)
	}
	if err := redoForWrites(ctx, s, true); err != nil {
		t.Fatalf("accepting the loss: %v", err)
	}
}
