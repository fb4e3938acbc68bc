package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
)

// otherProgram runs statements on the database file through a plain SQLite
// connection, as another program would, and closes it (SQLite then
// checkpoints and deletes the WAL).
func otherProgram(tb testing.TB, path string, stmts ...string) {
	tb.Helper()
	o, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	defer o.Close()
	o.SetMaxOpenConns(1)
	for _, q := range stmts {
		if _, err := o.Exec(q); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	if err := o.Close(); err != nil {
		tb.Fatal(err)
	}
}

func countRows(tb testing.TB, db *storage.DB, where string) int {
	tb.Helper()
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	var n int
	if err := c.SQL().QueryRowContext(ctx, "SELECT count(*) FROM t WHERE "+where).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// mustGapAt checks that db's history has a gap marked at LSN want: no
// reader can start before it, one can start at it, and the next commit
// follows it.
func mustGapAt(tb testing.TB, db *storage.DB, want sqlink.LSN) {
	tb.Helper()
	ctx := context.Background()
	g := db.Gap()
	if g == nil || g.LSN != want || g.Why == "" {
		tb.Fatalf("gap %+v, want one at LSN %d", g, want)
	}
	if db.Pos().LSN != want {
		tb.Fatalf("position %d after the gap, want %d (the record that marks it)", db.Pos().LSN, want)
	}
	if db.LastFullBackupID() != "" {
		tb.Fatalf("the backup chain goes on across the gap (last full backup %q)", db.LastFullBackupID())
	}
	for _, from := range []sqlink.LSN{0, want - 1} {
		_, err := db.ReadLog(ctx, from)
		if sqlink.ErrorCode(err) != sqlink.ECONFLICT || !strings.Contains(err.Error(), "gap") || sqlink.ErrorHint(err) == "" {
			tb.Fatalf("reading the log from LSN %d, across the gap: %v", from, err)
		}
	}
	lr, err := db.ReadLog(ctx, want)
	if err != nil {
		tb.Fatalf("reading the log from the gap on: %v", err)
	}
	defer lr.Close()
	next := mustExecWrite(tb, db, "INSERT INTO t (v) VALUES ('after the gap')")
	if next != want+1 {
		tb.Fatalf("the commit after the gap got LSN %d, want %d", next, want+1)
	}
	rec, err := lr.Next(ctx)
	if err != nil || rec.LSN != next {
		tb.Fatalf("read after the gap: %v %v", rec, err)
	}
}

func TestGap_OtherProgramWritesWhileStopped(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := storage.OpenDB(ctx, path, storage.DBConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	before := mustExecWrite(t, db, "INSERT INTO t (v) VALUES ('before')")
	if _, err := db.Backup(ctx, io.Discard, false); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// Reopened untouched: no gap.
	db = MustOpenDBAt(t, path, storage.DBConfig{})
	if g := db.Gap(); g != nil || db.Pos().LSN != before || db.LastFullBackupID() == "" {
		t.Fatalf("clean reopen: gap %+v, position %d (want %d), backup %q", g, db.Pos().LSN, before, db.LastFullBackupID())
	}
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Another program only reads: no gap either.
	otherProgram(t, path, "SELECT count(*) FROM t")
	db = MustOpenDBAt(t, path, storage.DBConfig{})
	if g := db.Gap(); g != nil || db.Pos().LSN != before {
		t.Fatalf("reopen after a reader: gap %+v, position %d (want %d)", g, db.Pos().LSN, before)
	}
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// Another program writes (and, closing, checkpoints it into the file).
	otherProgram(t, path, "INSERT INTO t (v) VALUES ('behind its back')")
	db = MustOpenDBAt(t, path, storage.DBConfig{})
	if n := countRows(t, db, "v = 'behind its back'"); n != 1 {
		t.Fatalf("the other program's row: %d", n)
	}
	mustGapAt(t, db, before+1)
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The gap stays recorded, and a clean reopen adds none.
	db = MustOpenDBAt(t, path, storage.DBConfig{})
	if g := db.Gap(); g == nil || g.LSN != before+1 || db.Pos().LSN != before+2 {
		t.Fatalf("reopen after the gap: gap %+v, position %d (want %d)", g, db.Pos().LSN, before+2)
	}
	if st := db.Stats(); st.Gap == nil || st.Gap.LSN != before+1 {
		t.Fatalf("stats: gap %+v", st.Gap)
	}
}

// TestGap_CaptureStoppedIsAGapAfterRestart: the capture stops when another
// program restarts the WAL while the instance runs (writes are refused);
// after a restart the database is writable again, and the gap is marked
// rather than bridged.
func TestGap_CaptureStoppedIsAGapAfterRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := storage.OpenDB(ctx, path, storage.DBConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	before := mustExecWrite(t, db, "INSERT INTO t (v) VALUES ('before')")
	otherProgram(t, path, "PRAGMA wal_checkpoint(TRUNCATE)", "INSERT INTO t (v) VALUES ('behind its back')",
		"PRAGMA wal_checkpoint(TRUNCATE)", "INSERT INTO t (v) VALUES ('again')")
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err = c.BeginWrite(ctx); err == nil {
		_, err = c.SQL().ExecContext(ctx, "INSERT INTO t (v) VALUES ('refused')")
		if _, err2 := c.EndWrite(ctx); err == nil {
			err = err2
		}
	}
	c.Close()
	if err == nil || db.CaptureStopped() == nil {
		t.Fatalf("a write after the other program's checkpoints: %v (capture stopped: %v)", err, db.CaptureStopped())
	}
	db.Close(ctx) // fails: the capture stopped

	db = MustOpenDBAt(t, path, storage.DBConfig{})
	if db.CaptureStopped() != nil {
		t.Fatal(db.CaptureStopped())
	}
	if n := countRows(t, db, "v IN ('behind its back', 'again')"); n != 2 {
		t.Fatalf("the other program's rows: %d", n)
	}
	mustGapAt(t, db, before+1)
}

// TestGap_OtherProgramAfterACrash: the instance is killed (its WAL stays),
// another program writes and checkpoints; the next open finds the WAL the
// log ends in gone. Without the other program a crash is no gap
// (TestCrash_KillDuringWritesRecovers checks that too).
func TestGap_OtherProgramAfterACrash(t *testing.T) {
	if testing.Short() {
		t.Skip("re-execs the test binary")
	}
	ctx := context.Background()
	for _, other := range []bool{false, true} {
		t.Run(fmt.Sprintf("other=%v", other), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db.sqlite")
			db, err := storage.OpenDB(ctx, path, storage.DBConfig{})
			if err != nil {
				t.Fatal(err)
			}
			mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
			if err := db.Close(ctx); err != nil {
				t.Fatal(err)
			}
			cmd, sc := startCrashChild(t, path)
			last := 0
			for sc.Scan() {
				var i int
				if _, err := fmt.Sscanf(sc.Text(), "%d %d", &i, &last); err != nil {
					t.Fatalf("child said %q", sc.Text())
				}
				if i == 150 { // past a checkpoint (every 97 commits) and a WAL restart
					cmd.Process.Signal(syscall.SIGKILL)
					break
				}
			}
			cmd.Wait()
			if other {
				otherProgram(t, path, "INSERT INTO t (v) VALUES ('behind its back')", "PRAGMA wal_checkpoint(TRUNCATE)")
			}
			db = MustOpenDBAt(t, path, storage.DBConfig{})
			if !other {
				if g := db.Gap(); g != nil {
					t.Fatalf("a crash alone made a gap: %+v", g)
				}
				// LSN 1 created the table; each row is one commit.
				rows := countRows(t, db, "1")
				if rows < 150 || db.Pos().LSN != sqlink.LSN(1+rows) {
					t.Fatalf("position %d after recovery with %d rows, want one LSN per commit", db.Pos().LSN, rows)
				}
				return
			}
			if n := countRows(t, db, "v = 'behind its back'"); n != 1 {
				t.Fatalf("the other program's row: %d", n)
			}
			// The child's acknowledged commits are in the log: the gap
			// comes after them. A commit it made but did not acknowledge
			// before it was killed may be in the log, or in the WAL the
			// other program checkpointed away (then it is in the gap).
			childRows := countRows(t, db, "1") - 1
			g := db.Gap()
			if g == nil || g.LSN < sqlink.LSN(last)+1 || g.LSN > sqlink.LSN(1+childRows)+1 {
				t.Fatalf("gap %+v, want one after the last acknowledged LSN %d and at most after the child's last commit (LSN %d)", g, last, 1+childRows)
			}
			mustGapAt(t, db, g.LSN)
		})
	}
}

// TestGap_SecondaryChangedWhileStopped: another program writes to a
// secondary's file while it is closed. The copy no longer matches its log
// (and its later deltas' bases), so the next open marks it diverged and it
// applies nothing more; a clean reopen, or another program that only
// reads, does not.
func TestGap_SecondaryChangedWhileStopped(t *testing.T) {
	ctx := context.Background()
	p := MustOpenDB(t, storage.DBConfig{})
	path := filepath.Join(t.TempDir(), "secondary.sqlite")
	s, err := storage.OpenDB(ctx, path, storage.DBConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s.SetReadOnly("primary-1")
	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	mustExecWrite(t, p, "INSERT INTO t (v) VALUES ('one')")
	ship(t, p, s, 1)
	reopen := func() *storage.DB {
		t.Helper()
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		return MustOpenDBAt(t, path, storage.DBConfig{})
	}

	s = reopen()
	if d := s.Diverged(); d != nil {
		t.Fatalf("clean reopen: diverged %+v", d)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	otherProgram(t, path, "SELECT count(*) FROM t")
	s = MustOpenDBAt(t, path, storage.DBConfig{})
	if d := s.Diverged(); d != nil {
		t.Fatalf("reopen after a reader: diverged %+v", d)
	}
	mustExecWrite(t, p, "INSERT INTO t (v) VALUES ('two')")
	ship(t, p, s, 1)
	redone := s.Redone().LSN

	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	otherProgram(t, path, "UPDATE t SET v = 'behind its back' WHERE v = 'one'")
	s = MustOpenDBAt(t, path, storage.DBConfig{})
	d := s.Diverged()
	if d == nil || d.LSN != redone || !strings.Contains(d.Why, "changed while the instance was stopped") {
		t.Fatalf("reopen after another program wrote: diverged %+v, want one at redone LSN %d", d, redone)
	}
	if st := s.Stats(); st.Diverged == nil || !st.ReadOnly {
		t.Fatalf("stats: diverged %+v, read-only %v", st.Diverged, st.ReadOnly)
	}
	// Nothing more is applied to it, with an error that says why.
	mustExecWrite(t, p, "INSERT INTO t (v) VALUES ('three')")
	recs := readRecords(t, p, s.Pos().LSN)
	if err := s.Harden(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	err = s.Apply(ctx, recs...)
	if sqlink.ErrorCode(err) != sqlink.ECONFLICT || !strings.Contains(err.Error(), "no longer matches its log") || sqlink.ErrorHint(err) == "" {
		t.Fatalf("apply to a diverged copy: %v", err)
	}
	if s.Redone().LSN != redone {
		t.Fatalf("redone moved to %d on a diverged copy", s.Redone().LSN)
	}
	// It stays marked across reopens, clean or not.
	s = reopen()
	if d := s.Diverged(); d == nil || d.LSN != redone {
		t.Fatalf("second reopen: diverged %+v", d)
	}

	// A secondary whose file is gone is diverged too (not a silently empty copy).
	q := MustOpenDB(t, storage.DBConfig{})
	q.SetReadOnly("primary-1")
	ship(t, p, q, 1)
	qpath := q.Path()
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(qpath); err != nil {
		t.Fatal(err)
	}
	q = MustOpenDBAt(t, qpath, storage.DBConfig{})
	if d := q.Diverged(); d == nil || !strings.Contains(d.Why, "gone") {
		t.Fatalf("reopen with the file gone: diverged %+v", d)
	}
}

// mustPairWithARow opens a primary and a secondary holding table t with
// one row.
func mustPairWithARow(tb testing.TB) (p, s *storage.DB) {
	tb.Helper()
	p, s = mustOpenPair(tb)
	mustExecWrite(tb, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	mustExecWrite(tb, p, "INSERT INTO t (v) VALUES ('one')")
	ship(tb, p, s, 1)
	return p, s
}

// TestGap_SecondaryWrittenWhileOpen: every commit in a secondary's WAL is
// its applier's, so another program's commit is seen by the next scan (the
// applier's, or the background loop's), and the copy is marked diverged.
func TestGap_SecondaryWrittenWhileOpen(t *testing.T) {
	ctx := context.Background()
	p, s := mustPairWithARow(t)
	ship(t, p, s, 1) // nothing new: no commit, nothing flagged
	if d := s.Diverged(); d != nil {
		t.Fatalf("diverged after the applier's own commits: %+v", d)
	}
	redone := s.Redone().LSN
	otherProgram(t, s.Path(), "UPDATE t SET v = 'behind its back'")
	mustExecWrite(t, p, "INSERT INTO t (v) VALUES ('two')")
	recs := readRecords(t, p, s.Pos().LSN)
	if err := s.Harden(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	err := s.Apply(ctx, recs...)
	if !errors.Is(err, storage.ErrDiverged) || sqlink.ErrorHint(err) == "" {
		t.Fatalf("apply after another program's commit: %v", err)
	}
	d := s.Diverged()
	if d == nil || d.LSN != redone || !strings.Contains(d.Why, "while the instance ran") {
		t.Fatalf("diverged %+v, want one at %d", d, redone)
	}
	if err := s.Apply(ctx, recs...); !errors.Is(err, storage.ErrDiverged) {
		t.Fatalf("apply again: %v", err)
	}
}

// shipTwoMore commits two rows on p, hardens their records on s and
// applies them one at a time (the first apply writes to s's WAL, whose next
// scan may find what another program did), up to the first error.
func shipTwoMore(tb testing.TB, p, s *storage.DB) error {
	tb.Helper()
	mustExecWrite(tb, p, "INSERT INTO t (v) VALUES ('two')")
	mustExecWrite(tb, p, "INSERT INTO t (v) VALUES ('three')")
	recs := readRecords(tb, p, s.Pos().LSN)
	if err := s.Harden(context.Background(), recs...); err != nil {
		tb.Fatal(err)
	}
	for _, rec := range recs {
		if err := s.Apply(context.Background(), rec); err != nil {
			return err
		}
	}
	return nil
}

// TestGap_SecondaryWALRestartedWhileOpen: another program that checkpoints
// a secondary's WAL and restarts it hides whether it committed in the
// generation it ended: the copy is marked diverged (it used to stop the
// capture for good, and with it every apply, until a restart).
func TestGap_SecondaryWALRestartedWhileOpen(t *testing.T) {
	p, s := mustPairWithARow(t)
	otherProgram(t, s.Path(), "PRAGMA wal_checkpoint(TRUNCATE)")
	if err := shipTwoMore(t, p, s); !errors.Is(err, storage.ErrDiverged) {
		t.Fatalf("apply after another program restarted the WAL: %v", err)
	}
	if d := s.Diverged(); d == nil || !strings.Contains(d.Why, "restarted") {
		t.Fatalf("diverged %+v", d)
	}
}

// TestGap_DivergedCopyMadeWritable: a diverged secondary made writable (a
// forced failover, or its link dropped) keeps its copy as it stands, the
// hardened records it could not redo left out; its divergence becomes a
// gap in its history, so no replica follows on across it and the backup
// chain starts again. Also when the other program restarted the WAL: the
// capture reads on from the new one.
func TestGap_DivergedCopyMadeWritable(t *testing.T) {
	for _, how := range []string{"commit", "wal restart"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			p, s := mustPairWithARow(t)
			if how == "commit" {
				otherProgram(t, s.Path(), "UPDATE t SET v = 'behind its back'")
			} else {
				otherProgram(t, s.Path(), "UPDATE t SET v = 'behind its back'", "PRAGMA wal_checkpoint(TRUNCATE)")
			}
			if err := shipTwoMore(t, p, s); !errors.Is(err, storage.ErrDiverged) || s.Diverged() == nil {
				t.Fatalf("apply after another program's change: %v (diverged %+v)", err, s.Diverged())
			}
			hardened := s.Pos().LSN
			before := [3]int{countRows(t, s, "v = 'behind its back'"), countRows(t, s, "v = 'two'"), countRows(t, s, "v = 'three'")}

			s.SetReadOnly("")
			if d := s.Diverged(); d != nil {
				t.Fatalf("still diverged once writable: %+v", d)
			}
			if g := s.Gap(); g == nil || !strings.Contains(g.Why, "no longer matched its log") || !strings.Contains(g.Why, "another program") {
				t.Fatalf("gap %+v", g)
			}
			if after := [3]int{countRows(t, s, "v = 'behind its back'"), countRows(t, s, "v = 'two'"), countRows(t, s, "v = 'three'")}; after != before || after[2] != 0 {
				t.Fatalf("rows changed, other program's, two, three: %v, were %v (three was never redone)", after, before)
			}
			if how == "commit" {
				mustGapAt(t, s, hardened+1)
			} else {
				// The capture reads the new WAL from its start: the
				// applier's commits in it come after the gap again.
				if g := s.Gap(); g.LSN != hardened+1 || s.LastFullBackupID() != "" {
					t.Fatalf("gap %+v, want one at LSN %d, and no backup chain", g, hardened+1)
				}
				if _, err := s.ReadLog(ctx, hardened); err == nil || !strings.Contains(err.Error(), "gap") {
					t.Fatalf("reading the log across the gap: %v", err)
				}
				mustExecWrite(t, s, "INSERT INTO t (v) VALUES ('after the gap')")
			}
			if st := s.Stats(); st.Diverged != nil || st.Gap == nil || st.ReadOnly {
				t.Fatalf("stats: diverged %+v, gap %+v, read-only %v", st.Diverged, st.Gap, st.ReadOnly)
			}

			// It stays so across a reopen.
			path := s.Path()
			if err := s.Close(ctx); err != nil {
				t.Fatal(err)
			}
			s = MustOpenDBAt(t, path, storage.DBConfig{})
			if d, g := s.Diverged(), s.Gap(); d != nil || g == nil || g.LSN != hardened+1 {
				t.Fatalf("reopened: diverged %+v, gap %+v", d, g)
			}
			mustExecWrite(t, s, "INSERT INTO t (v) VALUES ('after a reopen')")
			if n := countRows(t, s, "v LIKE 'after%'"); n != 2 {
				t.Fatalf("%d rows written after the gap, want 2", n)
			}
		})
	}
}

// TestGap_SecondaryLogDamaged: a record a secondary hardened but has not
// redone is damaged on disk. Redoing it at open fails its checksum; the
// database opens all the same, marked diverged (it used to fail the open,
// and with it the instance), and a reader of the log at run time that
// finds such a record marks it the same way (DB.LogCorrupt).
func TestGap_SecondaryLogDamaged(t *testing.T) {
	ctx := context.Background()
	cfg := storage.DBConfig{SegmentBytes: 1} // a segment per record: the damage is not in the last one
	p := MustOpenDB(t, storage.DBConfig{})
	path := filepath.Join(t.TempDir(), "secondary.sqlite")
	s := MustOpenDBAt(t, path, cfg)
	s.SetReadOnly("primary-1")
	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	mustExecWrite(t, p, "INSERT INTO t (v) VALUES ('one')")
	ship(t, p, s, 1)
	redone := s.Redone().LSN
	for _, v := range []string{"two", "three", "four"} {
		mustExecWrite(t, p, "INSERT INTO t (v) VALUES ('"+v+"')")
	}
	recs := readRecords(t, p, s.Pos().LSN)
	if err := s.Harden(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	damage := func(lsn sqlink.LSN) {
		t.Helper()
		seg := filepath.Join(path+"-log", fmt.Sprintf("%016x.seg", uint64(lsn)))
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		b[len(trimZeros(b))/2] ^= 0xff
		if err := os.WriteFile(seg, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// At run time: the applier's read of the damaged record.
	damage(redone + 1)
	lr, err := s.ReadLog(ctx, redone)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lr.TryNext()
	lr.Close()
	if !errors.Is(err, storage.ErrCorruptRecord) {
		t.Fatalf("reading the damaged record: %v", err)
	}
	if err := s.LogCorrupt(err); !errors.Is(err, storage.ErrDiverged) {
		t.Fatalf("LogCorrupt: %v", err)
	}
	if d := s.Diverged(); d == nil || d.LSN != redone || !strings.Contains(d.Why, "log is damaged") {
		t.Fatalf("diverged %+v, want one at %d", d, redone)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// At open: a second secondary, closed with the records hardened and
	// not redone, then damaged.
	path = filepath.Join(t.TempDir(), "secondary2.sqlite")
	s = MustOpenDBAt(t, path, cfg)
	s.SetReadOnly("primary-1")
	ship(t, p, s, 1)
	redone = s.Redone().LSN
	mustExecWrite(t, p, "INSERT INTO t (v) VALUES ('five')")
	mustExecWrite(t, p, "INSERT INTO t (v) VALUES ('six')")
	if err := s.Harden(ctx, readRecords(t, p, s.Pos().LSN)...); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	damage(redone + 1)
	s, err = storage.OpenDB(ctx, path, cfg)
	if err != nil {
		t.Fatalf("open with a damaged record to redo: %v", err)
	}
	defer s.Close(ctx)
	if d := s.Diverged(); d == nil || !strings.Contains(d.Why, "log is damaged") {
		t.Fatalf("diverged %+v", d)
	}
	if n := countRows(t, s, "v = 'five' OR v = 'six'"); n != 0 {
		t.Fatalf("%d rows from the damaged records", n)
	}
}
