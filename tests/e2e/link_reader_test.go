package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestLink_LongReaderOnTheSecondary holds a read transaction open on the
// secondary while the primary writes 80 MB: the secondary keeps applying
// (it catches up with the reader open), the reader's snapshot does not
// move, and once it ends the copies are equal.
func TestLink_LongReaderOnTheSecondary(t *testing.T) {
	alpha, beta := startLinkedF(t, "lr", blobTable, nil)
	waitCaughtUp(t, alpha, beta, "lr", 0)

	ctx := context.Background()
	c, err := pgx.Connect(ctx, beta.ConnString("f"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var before int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	const load = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
INSERT INTO t (v) SELECT randomblob(100000) FROM n;`
	for i := 0; i < 8; i++ {
		alpha.MustPsql("f", load)
	}
	waitCaughtUp(t, alpha, beta, "lr", time.Minute)
	var during int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&during); err != nil {
		t.Fatal(err)
	}
	if during != before {
		t.Fatalf("the open read transaction saw %d rows, then %d", before, during)
	}
	if got, err := queryInt(beta, "f", `SELECT count(*) FROM t;`); err != nil || got != 800 {
		t.Fatalf("a new session on the secondary sees %d rows (%v), want 800", got, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	alpha.MustPsql("f", load)
	waitCaughtUp(t, alpha, beta, "lr", time.Minute)
	t.Log(mustVerify(t, alpha, beta, "lr"))
}
