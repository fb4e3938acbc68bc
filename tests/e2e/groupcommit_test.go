package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/testutil"
)

// TestCrash_Kill9DuringGroupCommit kills the primary (SIGKILL) under 8
// pgbench clients, whose commits share fdatasyncs (group commit), with a
// sync-mode link: every transaction pgbench saw acknowledged is on the
// secondary with the primary down, and on the primary after its restart,
// whose log has no gap and no duplicate; then the copies are equal.
func TestCrash_Kill9DuringGroupCommit(t *testing.T) {
	requireTool(t, "pgbench")
	p := MustStartInstance(t, "alpha")
	s := MustStartInstance(t, "beta")
	p.MustCLI("db", "create", "tpcb")
	MustInitTPCB(t, p, "tpcb")
	mustFullBackup(t, p, "tpcb")
	MustCreateLink(t, p, s, "gc", "tpcb", "--mode", string(sqlink.ModeSync))
	waitCaughtUp(t, p, s, "gc", 0)
	lsn0 := lsnOf(t, p, "tpcb")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bench := startLoggedPgbench(t, ctx, p, "tpcb", "-c", "8", "-j", "2", "-T", "240")
	waitRows(t, p, "tpcb", historyQ, 800, 0)
	p.Kill()
	acked := bench.acked(t)
	onSecondary := waitRows(t, s, "tpcb", historyQ, acked, 30*time.Second)

	p.Start()
	rows := checkTPCBConsistent(t, p, "tpcb")
	if rows < acked {
		t.Fatalf("after kill -9: %d transactions in history, but pgbench saw %d committed", rows, acked)
	}
	if got := lsnOf(t, p, "tpcb") - lsn0; got != uint64(rows) {
		t.Fatalf("LSN advanced by %d over %d committed transactions", got, rows)
	}
	waitCaughtUp(t, p, s, "gc", 0)
	t.Log(mustVerify(t, p, s, "gc"))
	if got := checkTPCBConsistent(t, s, "tpcb"); got != rows {
		t.Fatalf("history rows: secondary %d, primary %d", got, rows)
	}
	t.Logf("pgbench saw %d committed; the secondary had %d with the primary down, the primary %d after its restart", acked, onSecondary, rows)
}

// TestGroupCommit_ReaderNeverSeesAnUnsyncedCommit holds the sync of a
// commit at the failpoint between its WAL write and its fdatasync
// (storage/wal-sync:hold). SQLite shows the commit to every reader from
// then on, but no reply may leave: the writer is not acknowledged and a
// reader on another connection gets no answer (the output gate) until the
// process is killed. After the restart the unacknowledged commit may be
// there or not (the kill kept the kernel's copy of the WAL), but the
// acknowledged ones are, and the log matches the database.
func TestGroupCommit_ReaderNeverSeesAnUnsyncedCommit(t *testing.T) {
	in := MustStartInstance(t, "gc")
	in.MustCLI("db", "create", "gc")
	in.MustPsql("gc", `CREATE TABLE t (k integer); INSERT INTO t VALUES (0);`)
	lsn0 := lsnOf(t, in, "gc")
	in.Stop()
	in.StartEnv("SQLINK_FAILPOINT=storage/wal-sync:hold")

	ctx, cancel := context.WithTimeout(context.Background(), testutil.DefaultTimeout)
	defer cancel()
	connect := func(app string) *pgx.Conn {
		c, err := pgx.Connect(ctx, in.ConnString("gc")+" application_name="+app)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	// Both connect first: with a commit held, no reply at all leaves.
	w, r := connect("gc-writer"), connect("gc-reader")

	wrote := make(chan error, 1)
	go func() {
		_, err := w.Exec(ctx, `INSERT INTO t VALUES (1)`, pgx.QueryExecModeSimpleProtocol)
		wrote <- err
	}()
	const reached = "failpoint storage/wal-sync reached: holding"
	testutil.RetryUntil(t, 0, func() error {
		if !strings.Contains(in.Output(), reached) {
			return fmt.Errorf("%q not in the server's output yet", reached)
		}
		return nil
	})

	type answer struct {
		n   int64
		err error
	}
	read := make(chan answer, 1)
	go func() {
		var a answer
		// One message (simple protocol): a prepare's reply would be held
		// at the gate too, before the query is even sent.
		a.err = r.QueryRow(ctx, `SELECT count(*) FROM t WHERE k = 1`, pgx.QueryExecModeSimpleProtocol).Scan(&a.n)
		read <- a
	}()
	// The server has the reader's query (the admin API is not gated).
	testutil.RetryUntil(t, 0, func() error {
		ss, err := in.API().ListSessions(ctx)
		if err != nil {
			return err
		}
		for _, s := range ss {
			if s.ApplicationName == "gc-reader" && strings.Contains(s.Query, "k = 1") {
				return nil
			}
		}
		return fmt.Errorf("the reader's query has not reached the server: %+v", ss)
	})
	select {
	case a := <-read:
		t.Fatalf("the reader got an answer while the commit was not durable: %+v", a)
	case err := <-wrote:
		t.Fatalf("the commit was acknowledged before its fdatasync: %v", err)
	default:
	}

	in.Kill()
	if a := <-read; a.err == nil {
		t.Fatalf("the reader saw %d rows of a commit that was never durable", a.n)
	}
	if err := <-wrote; err == nil {
		t.Fatal("the held commit was acknowledged")
	}

	in.Start()
	got := in.MustPsql("gc", `SELECT string_agg(k::text, ',' ORDER BY k) FROM t;`)
	if got != "0" && got != "0,1" {
		t.Fatalf("rows after the restart: %q, want 0 (and 1, unacknowledged, or not)", got)
	}
	commits := uint64(strings.Count(got, ","))
	if lsn := lsnOf(t, in, "gc"); lsn != lsn0+commits {
		t.Fatalf("LSN %d after the restart (rows %s, LSN before %d), want %d: the log does not match the database\n%s", lsn, got, lsn0, lsn0+commits, in.Output())
	}
	in.MustPsql("gc", `INSERT INTO t VALUES (2);`)
	if lsn := lsnOf(t, in, "gc"); lsn != lsn0+commits+1 {
		t.Fatalf("LSN %d after one more commit, want %d", lsn, lsn0+commits+1)
	}
	t.Logf("after the kill: rows %s (the unacknowledged commit %s)", got, map[bool]string{true: "kept", false: "lost"}[commits == 1])
}
