package e2e_test

import (
	"testing"
	"time"

	"github.com/sqlink/sqlink"
)

// TestLink_TransactionsLargerThanAFrame: a transaction whose record is
// larger than a frame can carry (a 100 MB bulk load, then an index built
// over it) replicates, in parts, between ordinary small ones, and the
// copies are equal; so does a VACUUM that rewrites and shrinks the file.
// In sync mode the big commit returns only once the secondary hardened
// it. Such a transaction used to stop the link for good ("frame larger
// than the maximum", resent forever).
func TestLink_TransactionsLargerThanAFrame(t *testing.T) {
	for _, mode := range []sqlink.Mode{sqlink.ModeAsync, sqlink.ModeSync} {
		t.Run(string(mode), func(t *testing.T) { testBigTransactions(t, mode) })
	}
}

func testBigTransactions(t *testing.T, mode sqlink.Mode) {
	alpha, beta := startLinkedF(t, "big", `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB, k TEXT);`, nil, "--mode", string(mode))
	waitCaughtUp(t, alpha, beta, "big", 0)

	alpha.MustPsql("f", `INSERT INTO t (v, k) VALUES (x'01', 'small before');`)
	alpha.MustPsql("f", `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO t (v, k) SELECT randomblob(100000), hex(randomblob(40)) FROM n;`)
	if mode == sqlink.ModeSync {
		p, s := lsnOf(t, alpha, "f"), mustLinkStatus(t, beta, "big").Local.LastHardenedLSN
		if uint64(s) < p {
			t.Fatalf("the sync commit of the big transaction (LSN %d) returned with the secondary hardened to %d", p, s)
		}
	}
	alpha.MustPsql("f", `INSERT INTO t (v, k) VALUES (x'02', 'small after');`)
	alpha.MustPsql("f", `CREATE INDEX t_k ON t(k);`)
	alpha.MustPsql("f", `INSERT INTO t (v, k) VALUES (x'03', 'small last');`)
	waitCaughtUp(t, alpha, beta, "big", time.Minute)
	t.Log(mustVerify(t, alpha, beta, "big"))
	if got := beta.MustPsql("f", `SELECT count(*), sum(length(v)) FROM t;`); got != "1003|100000003" {
		t.Fatalf("the secondary has %q rows and bytes, want 1003|100000003", got)
	}

	alpha.MustPsql("f", `DELETE FROM t WHERE id % 3 <> 0;`)
	alpha.MustPsql("f", `VACUUM;`)
	alpha.MustPsql("f", `INSERT INTO t (v, k) VALUES (x'04', 'after vacuum');`)
	waitCaughtUp(t, alpha, beta, "big", time.Minute)
	t.Log(mustVerify(t, alpha, beta, "big"))
	want := alpha.MustPsql("f", `SELECT count(*), sum(length(v)) FROM t;`)
	if got := beta.MustPsql("f", `SELECT count(*), sum(length(v)) FROM t;`); got != want {
		t.Fatalf("after VACUUM the secondary has %q rows and bytes, the primary %q", got, want)
	}
	if got := beta.MustPsql("f", `PRAGMA integrity_check;`); got != "ok" {
		t.Fatalf("integrity_check on the secondary after VACUUM: %s", got)
	}
}
