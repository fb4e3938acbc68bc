package e2e_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
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
	limit := []string{"--max-transaction-size", "16MiB"}
	alpha := MustStartInstance(t, "alpha", limit...)
	beta := MustStartInstance(t, "beta", limit...)
	alpha.MustCLI("db", "create", "f")
	alpha.MustPsql("f", `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);`)
	mustFullBackup(t, alpha, "f")
	MustCreateLink(t, alpha, beta, "tx", "f")
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
