package e2e_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestLink_TransactionLargerThanTheLimit: a transaction that changes more
// pages than --max-transaction-size (its record would not fit the
// replication log, 2 GiB at most) is refused at its COMMIT with SQLSTATE
// 54000 and a hint, through psql, and nothing of it is committed. Before
// the size guard, such a commit reached SQLite but its log entry read back
// as a torn end: the link stopped for good and a restart cut the log.
// Transactions under the limit go on as usual, and a secondary that catches
// up may apply them merged into groups larger than the limit (the storage
// test TestTxGuard_RefusesATransactionLargerThanTheLimit makes sure it
// does): the limit is on what a client commits, not on what replicates.
func TestLink_TransactionLargerThanTheLimit(t *testing.T) {
	alpha, beta := startLinkedFWith(t, []string{"--max-transaction-size", "16MiB"}, "tx", `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);`)
	waitCaughtUp(t, alpha, beta, "tx", 0)

	insert := func(mb int) string {
		return `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ` +
			strconv.Itoa(mb*256) + `) INSERT INTO t (v) SELECT randomblob(4000) FROM n;`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, script := range []string{
		"\\set VERBOSITY verbose\n" + insert(24),
		"\\set VERBOSITY verbose\nBEGIN;\n" + insert(8) + insert(8) + insert(8) + "COMMIT;",
	} {
		out, err := alpha.Psql(ctx, "f", script)
		if err == nil || !strings.Contains(out, "ERROR:  54000: transaction too large") || !strings.Contains(out, "HINT:  Nothing of it was committed") {
			t.Fatalf("a 24 MB transaction against a 16 MiB limit: err %v, psql said:\n%s", err, out)
		}
	}
	if got := alpha.MustPsql("f", `SELECT count(*) FROM t;`); got != "0" {
		t.Fatalf("the refused transactions left %s rows", got)
	}
	// A client that keeps its session after the refused COMMIT (a pool)
	// finds it idle, not in a failed transaction, and the write lock free.
	conn, err := pgx.Connect(ctx, alpha.ConnString("f"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, insert(24)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); pgErrCode(err) != "54000" {
		t.Fatalf("pgx commit of a 24 MB transaction: %v, want 54000", err)
	}
	if st := conn.PgConn().TxStatus(); st != 'I' {
		t.Fatalf("after the refused COMMIT the session is in state %q, want idle", st)
	}
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES (x'00'); DELETE FROM t;`) // another session writes
	if _, err := conn.Exec(ctx, `INSERT INTO t (v) VALUES (x'00'); `); err != nil {
		t.Fatalf("the same session after the refusal: %v", err)
	}
	alpha.MustPsql("f", `DELETE FROM t;`)

	// Three 10 MB transactions while the secondary is down: it catches up.
	beta.Stop()
	for i := 0; i < 3; i++ {
		alpha.MustPsql("f", insert(10))
	}
	beta.Start()
	waitCaughtUp(t, alpha, beta, "tx", time.Minute)
	t.Log(mustVerify(t, alpha, beta, "tx"))
	if got := beta.MustPsql("f", `SELECT count(*), sum(length(v)) FROM t;`); got != "7680|30720000" {
		t.Fatalf("the secondary has %q rows and bytes, want 7680|30720000", got)
	}
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES (x'01');`)
	waitCaughtUp(t, alpha, beta, "tx", time.Minute)
}

// TestLink_BigTransactionRolledBack: a transaction larger than SQLite's
// page cache, rolled back right after the link was seeded (the WAL fully
// checkpointed, so its spilled pages restarted the WAL), then a write from
// another session. The capture took the fresh WAL header that write put
// down for a lost WAL and stopped every write of the database until the
// instance restarted.
func TestLink_BigTransactionRolledBack(t *testing.T) {
	alpha, beta := startLinkedF(t, "rb", `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);`, nil)
	waitCaughtUp(t, alpha, beta, "rb", 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, alpha.ConnString("f"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for round := 0; round < 3; round++ {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO t (v) SELECT randomblob(4000) FROM n;`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		alpha.MustPsql("f", `INSERT INTO t (v) VALUES (x'01');`)
		alpha.MustPsql("f", `INSERT INTO t (v) VALUES (x'02');`)
	}
	waitCaughtUp(t, alpha, beta, "rb", time.Minute)
	t.Log(mustVerify(t, alpha, beta, "rb"))
	if got := beta.MustPsql("f", `SELECT count(*) FROM t;`); got != "6" {
		t.Fatalf("the secondary has %s rows, want 6", got)
	}
}

// TestLink_PragmasThatWouldBreakReplication: a checkpoint or a journal mode
// change run by a client would act behind the replication log's back (a
// TRUNCATE checkpoint used to stop every later write of the database with
// "capture stopped"); they are refused with 42501 and a reason, reading
// their values still works, and the link goes on.
func TestLink_PragmasThatWouldBreakReplication(t *testing.T) {
	alpha, beta := startLinkedF(t, "pr", `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);`, nil)
	waitCaughtUp(t, alpha, beta, "pr", 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, q := range []string{
		"PRAGMA wal_checkpoint(TRUNCATE);",
		"PRAGMA main.journal_mode = DELETE;",
		"PRAGMA synchronous = OFF;",
		"PRAGMA wal_autocheckpoint = 1;",
	} {
		alpha.MustPsql("f", `INSERT INTO t (v) VALUES (randomblob(5000));`)
		out, err := alpha.Psql(ctx, "f", "\\set VERBOSITY verbose\n"+q)
		if err == nil || !strings.Contains(out, "ERROR:  42501: PRAGMA") || !strings.Contains(out, "HINT:") {
			t.Fatalf("%s: err %v, psql said:\n%s", q, err, out)
		}
		alpha.MustPsql("f", `INSERT INTO t (v) VALUES (randomblob(5000));`)
	}
	if got := alpha.MustPsql("f", `PRAGMA journal_mode;`); got != "wal" {
		t.Fatalf("PRAGMA journal_mode read %q", got)
	}
	// PRAGMAs that write are writes: replicated, and refused on the secondary.
	alpha.MustPsql("f", `PRAGMA user_version(7);`)
	waitCaughtUp(t, alpha, beta, "pr", time.Minute)
	if got := beta.MustPsql("f", `PRAGMA user_version;`); got != "7" {
		t.Fatalf("user_version on the secondary: %q", got)
	}
	if out, err := beta.Psql(ctx, "f", "\\set VERBOSITY verbose\nPRAGMA user_version(8);"); err == nil || !strings.Contains(out, "25006") {
		t.Fatalf("PRAGMA user_version(8) on the secondary: %v\n%s", err, out)
	}
	waitCaughtUp(t, alpha, beta, "pr", time.Minute)
	t.Log(mustVerify(t, alpha, beta, "pr"))
}
