package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/storage"
)

// mustOpenPair opens a primary and a secondary (read-only, following
// "primary-1") database.
func mustOpenPair(tb testing.TB) (p, s *storage.DB) {
	tb.Helper()
	p = MustOpenDB(tb, storage.DBConfig{})
	s = MustOpenDB(tb, storage.DBConfig{})
	s.SetReadOnly("primary-1")
	return p, s
}

// ship copies every record the secondary lacks from the primary's log,
// hardening then applying them in batches of up to batch records.
func ship(tb testing.TB, primary, secondary *storage.DB, batch int) {
	tb.Helper()
	ctx := context.Background()
	r, err := primary.ReadLog(ctx, secondary.Pos().LSN)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var recs []*storage.Record
	flush := func() {
		if err := secondary.Harden(ctx, recs...); err != nil {
			tb.Fatal(err)
		}
		if err := secondary.Apply(ctx, recs...); err != nil {
			tb.Fatal(err)
		}
		recs = recs[:0]
	}
	for {
		rec, err := r.TryNext()
		if err != nil {
			break
		}
		recs = append(recs, rec)
		if len(recs) == batch {
			flush()
		}
	}
	flush()
}

func TestApply_SecondaryMatchesPrimaryPageForPage(t *testing.T) {
	ctx := context.Background()
	p, s := mustOpenPair(t)

	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)", "CREATE INDEX t_v ON t(v)")
	for i := 0; i < 50; i++ {
		mustExecWrite(t, p, fmt.Sprintf("INSERT INTO t(v) VALUES (randomblob(%d))", 10+i*97))
	}
	ship(t, p, s, 1)
	if got, want := s.Pos(), p.Pos(); got != want {
		t.Fatalf("secondary at %s, primary at %s", got, want)
	}
	mustComparePages(t, p.Path(), s.Path())

	// Shrinking, DDL and merged batches.
	mustExecWrite(t, p, "DELETE FROM t WHERE id % 2 = 0")
	mustExecWrite(t, p, "CREATE TABLE u (x)")
	mustExecWrite(t, p, "VACUUM")
	mustExecWrite(t, p, "DROP TABLE u")
	if err := p.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		mustExecWrite(t, p, fmt.Sprintf("INSERT INTO t(v) VALUES (randomblob(%d))", 5000+i))
	}
	mustExecWrite(t, p, "DELETE FROM t WHERE id > 20")
	mustExecWrite(t, p, "VACUUM")
	ship(t, p, s, 7)
	if got, want := s.Redone(), p.Pos(); got != want {
		t.Fatalf("secondary redone %s, primary at %s", got, want)
	}
	mustComparePages(t, p.Path(), s.Path())
	mustIntegrityOK(t, s)

	// Readers on the secondary can query it; writes are refused.
	c, err := s.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int
	if err := c.SQL().QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 10 {
		t.Fatalf("count on secondary = %d, %v", n, err)
	}
	if err := c.BeginWrite(ctx); sqlink.ErrorCode(err) != sqlink.EREADONLY {
		t.Fatalf("BeginWrite on secondary = %v", err)
	}
}

func TestApply_ReadersNeverSeePartialTransactions(t *testing.T) {
	ctx := context.Background()
	p, s := mustOpenPair(t)
	mustExecWrite(t, p, "CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INT, pad BLOB)",
		"INSERT INTO acct(bal, pad) SELECT 100, randomblob(300) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 200) SELECT x FROM c)")
	ship(t, p, s, 1)

	var stop atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.Conn(ctx)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			for !stop.Load() {
				var sum, n int
				if err := c.SQL().QueryRowContext(ctx, "SELECT sum(bal), count(*) FROM acct").Scan(&sum, &n); err != nil {
					errc <- err
					return
				}
				if sum != 100*n {
					errc <- fmt.Errorf("reader saw sum %d over %d accounts", sum, n)
					return
				}
			}
		}()
	}
	for i := 0; i < 120; i++ {
		a, b := i%200+1, (i*7)%200+1
		mustExecWrite(t, p, "BEGIN IMMEDIATE",
			fmt.Sprintf("UPDATE acct SET bal = bal - 5, pad = randomblob(300) WHERE id = %d", a),
			fmt.Sprintf("UPDATE acct SET bal = bal + 5 WHERE id = %d", b),
			fmt.Sprintf("INSERT INTO acct(bal, pad) VALUES (100, randomblob(%d))", i*20),
			"COMMIT")
		if i%10 == 9 {
			ship(t, p, s, 1+i%4)
		}
	}
	ship(t, p, s, 3)
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	mustComparePages(t, p.Path(), s.Path())
}

func TestApply_SecondaryRecoversByRedoingHardenedLog(t *testing.T) {
	ctx := context.Background()
	p := MustOpenDB(t, storage.DBConfig{})
	spath := filepath.Join(t.TempDir(), "s.sqlite")
	s, err := storage.OpenDB(ctx, spath, storage.DBConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s.SetReadOnly("primary-1")
	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
	for i := 0; i < 20; i++ {
		mustExecWrite(t, p, "INSERT INTO t(v) VALUES (randomblob(2000))")
	}
	ship(t, p, s, 5)
	if err := s.Checkpoint(ctx); err != nil { // persists the redone position
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		mustExecWrite(t, p, "INSERT INTO t(v) VALUES (randomblob(3000))")
	}
	// Harden everything but apply only part of it, then "crash".
	recs := readRecords(t, p, s.Pos().LSN)
	if err := s.Harden(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, recs[:8]...); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s = MustOpenDBAt(t, spath, storage.DBConfig{})
	if ro, primary := s.ReadOnly(); !ro || primary != "primary-1" {
		t.Fatalf("reopened secondary read-only = %v, %q", ro, primary)
	}
	if got, want := s.Redone(), p.Pos(); got != want {
		t.Fatalf("redone after reopen %s, want %s", got, want)
	}
	mustComparePages(t, p.Path(), s.Path())
	// Replication continues.
	mustExecWrite(t, p, "INSERT INTO t(v) VALUES (1)")
	ship(t, p, s, 1)
	testutil.RetryUntil(t, 0, func() error {
		if s.Redone() != p.Pos() {
			return fmt.Errorf("redone %s, primary %s", s.Redone(), p.Pos())
		}
		return nil
	})
	mustComparePages(t, p.Path(), s.Path())
}

// A Harden that fails part-way (here: a gap) still publishes the records it
// appended, so a secondary promoted right after captures its next commit
// at the next LSN.
func TestApply_HardenPublishesWhatItAppendedBeforeAnError(t *testing.T) {
	ctx := context.Background()
	p, s := mustOpenPair(t)
	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
	for i := 0; i < 4; i++ {
		mustExecWrite(t, p, "INSERT INTO t(v) VALUES ('x')")
	}
	recs := readRecords(t, p, 0)
	if len(recs) != 5 {
		t.Fatalf("%d records", len(recs))
	}
	// Records 1, 2 then 4: the gap fails after two were appended.
	if err := s.Harden(ctx, recs[0], recs[1], recs[3]); sqlink.ErrorCode(err) != sqlink.ECONFLICT {
		t.Fatalf("harden across a gap: %v", err)
	}
	if got, want := s.Pos(), recs[1].Pos(); got != want {
		t.Fatalf("secondary at %s after the failed harden, want %s", got, want)
	}
	if err := s.Apply(ctx, recs[:2]...); err != nil {
		t.Fatal(err)
	}
	s.SetReadOnly("")
	mustExecWrite(t, s, "INSERT INTO t(v) VALUES ('promoted')")
	if got, want := s.Pos().LSN, recs[1].LSN+1; got != want {
		t.Fatalf("promoted secondary's next commit at LSN %d, want %d", got, want)
	}
}

// A secondary killed between checkpoints holds applied records after the
// redone position it persisted; recovery applies the log again from there.
// Deltas need the page as it was before their record, so recovery must
// recognize pages that are already past a record rather than fail or
// corrupt them.
func TestApply_RecoveryAfterKillWithDeltasAppliedPastTheCheckpoint(t *testing.T) {
	ctx := context.Background()
	p := MustOpenDB(t, storage.DBConfig{})
	spath := filepath.Join(t.TempDir(), "s.db")
	s := MustOpenDBAt(t, spath, storage.DBConfig{})
	s.SetReadOnly("primary-1")
	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, pad TEXT)")
	for i := 0; i < 200; i++ {
		mustExecWrite(t, p, fmt.Sprintf("INSERT INTO t(n, pad) VALUES (0, '%0100d')", i))
	}
	ship(t, p, s, 50)
	if err := s.Checkpoint(ctx); err != nil { // persists the redone position
		t.Fatal(err)
	}
	// Small updates of the same pages: their records are mostly deltas.
	for i := 0; i < 120; i++ {
		mustExecWrite(t, p, fmt.Sprintf("UPDATE t SET n = n + %d WHERE id = %d", i+1, 1+(i*7)%200))
	}
	deltas := 0
	for _, rec := range readRecords(t, p, s.Pos().LSN) {
		for _, pg := range rec.Pages {
			if pg.Delta != nil {
				deltas++
			}
		}
	}
	if deltas < 100 {
		t.Fatalf("only %d delta pages in 120 small updates", deltas)
	}
	ship(t, p, s, 7) // applied in batches, no checkpoint
	if s.Redone() != p.Pos() {
		t.Fatalf("secondary redone %s, primary %s", s.Redone(), p.Pos())
	}
	// "kill -9": copy the files as they are while the secondary is open
	// (the page cache survives a process crash).
	killed := filepath.Join(t.TempDir(), "killed.db")
	copyTree(t, spath, killed)
	copyTree(t, spath+"-wal", killed+"-wal")
	copyTree(t, spath+"-log", killed+"-log")
	k := MustOpenDBAt(t, killed, storage.DBConfig{})
	if got, want := k.Redone(), p.Pos(); got != want {
		t.Fatalf("recovered secondary redone %s, want %s", got, want)
	}
	mustComparePages(t, p.Path(), k.Path())
}

// readRecords returns every record of db's log after from.
func readRecords(tb testing.TB, db *storage.DB, from sqlink.LSN) []*storage.Record {
	tb.Helper()
	r, err := db.ReadLog(context.Background(), from)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var recs []*storage.Record
	for rec, err := r.TryNext(); err == nil; rec, err = r.TryNext() {
		recs = append(recs, rec)
	}
	return recs
}

// copyTree copies a file or a directory of files.
func copyTree(tb testing.TB, from, to string) {
	tb.Helper()
	fi, err := os.Stat(from)
	if err != nil {
		tb.Fatal(err)
	}
	if !fi.IsDir() {
		b, err := os.ReadFile(from)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		tb.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		copyTree(tb, filepath.Join(from, e.Name()), filepath.Join(to, e.Name()))
	}
}

// An Apply cancelled at any moment either applies its records (and moves
// the redone position) or applies nothing: applying again from the redone
// position always works. Deltas do not apply twice, so a COMMIT that went
// through behind a cancellation error would break the next apply.
func TestApply_CancelledApplyIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	p, s := mustOpenPair(t)
	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, pad TEXT)")
	for i := 0; i < 100; i++ {
		mustExecWrite(t, p, fmt.Sprintf("INSERT INTO t(n, pad) VALUES (0, '%0200d')", i))
	}
	ship(t, p, s, 100)
	for i := 0; i < 300; i++ {
		mustExecWrite(t, p, fmt.Sprintf("UPDATE t SET n = n + 1 WHERE id = %d", 1+(i*13)%100))
	}
	recs := readRecords(t, p, s.Pos().LSN)
	if err := s.Harden(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	cancelled := 0
	for s.Redone().LSN < s.Pos().LSN {
		from := int(s.Redone().LSN - recs[0].LSN + 1)
		batch := recs[from:min(len(recs), from+3)]
		actx, cancel := context.WithCancel(ctx)
		go func() {
			for range cancelled % 50 {
				runtime.Gosched()
			}
			cancel()
		}()
		if err := s.Apply(actx, batch...); err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("apply from %s: %v", s.Redone(), err)
			}
			cancelled++
		}
		cancel()
	}
	t.Logf("%d of the applies were cancelled", cancelled)
	mustComparePages(t, p.Path(), s.Path())
}

// The applier keeps the images it applied as the bases of later deltas, so
// a steady stream of small changes reads no pages; a wrong cached image is
// noticed by the delta's checksum and the page is read instead.
func TestApply_DeltaBasesComeFromTheApplierCacheAndAWrongOneIsReadAgain(t *testing.T) {
	p, s := mustOpenPair(t)
	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, pad TEXT)")
	for i := 0; i < 200; i++ {
		mustExecWrite(t, p, "INSERT INTO t(n, pad) VALUES (0, printf('%.100c', 'x'))")
	}
	ship(t, p, s, 1)

	update := func(rounds int) {
		for i := 0; i < rounds; i++ {
			mustExecWrite(t, p, fmt.Sprintf("UPDATE t SET n = n + 1 WHERE id = %d", 1+i%200))
		}
	}
	// Warm: every page the updates touch has been applied once.
	update(200)
	ship(t, p, s, 1)
	before := storage.ApplyBaseReads(s)
	update(300)
	ship(t, p, s, 1)
	if got := storage.ApplyBaseReads(s) - before; got != 0 {
		t.Errorf("applying 300 small updates read %d delta bases from the database, want 0 (cached)", got)
	}
	mustComparePages(t, p.Path(), s.Path())

	storage.PoisonApplyCache(s)
	before = storage.ApplyBaseReads(s)
	update(50)
	ship(t, p, s, 3)
	if got := storage.ApplyBaseReads(s) - before; got == 0 {
		t.Errorf("after the cache was poisoned no delta base was read: the wrong images were not noticed")
	}
	mustComparePages(t, p.Path(), s.Path())
	mustIntegrityOK(t, s)
}

// Schema changes between and inside batches: the applier's connection loads
// the schema after each change of the cookie, from pages it wrote through
// sqlite_dbpage, and must never parse a stale image of them.
func TestApply_SchemaChangesAmongDataChanges(t *testing.T) {
	for _, batch := range []int{1, 3} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			p, s := mustOpenPair(t)
			mustExecWrite(t, p, "CREATE TABLE base (id INTEGER PRIMARY KEY, v TEXT)")
			for i := 0; i < 40; i++ {
				mustExecWrite(t, p, fmt.Sprintf("CREATE TABLE t%d (id INTEGER PRIMARY KEY, v TEXT, w TEXT DEFAULT '%s')", i, strings.Repeat("w", i*20)))
				mustExecWrite(t, p, fmt.Sprintf("INSERT INTO t%d(v) SELECT printf('%%.300c', 'v') FROM base LIMIT 5", i),
					fmt.Sprintf("INSERT INTO base(v) VALUES ('row %d')", i))
				ship(t, p, s, batch)
				mustExecWrite(t, p, fmt.Sprintf("UPDATE base SET v = v || 'x' WHERE id %% 3 = %d", i%3))
				mustExecWrite(t, p, fmt.Sprintf("CREATE INDEX t%d_v ON t%d(v)", i, i))
				ship(t, p, s, batch)
				if i >= 3 {
					mustExecWrite(t, p, fmt.Sprintf("DROP TABLE t%d", i-3))
				}
				mustExecWrite(t, p, "UPDATE base SET v = v || 'y' WHERE id = 1")
				ship(t, p, s, batch)
			}
			mustComparePages(t, p.Path(), s.Path())
			mustIntegrityOK(t, s)
		})
	}
}

// Harden runs beside the applier and checkpoints (it does not take the
// capture mutex), so it must still end cleanly when the database closes
// under it: every batch is either hardened whole before the close or
// refused, and the log reopens at the last hardened record.
func TestHarden_ConcurrentWithClose(t *testing.T) {
	ctx := context.Background()
	p := MustOpenDB(t, storage.DBConfig{})
	mustExecWrite(t, p, "CREATE TABLE t (v)")
	for i := 0; i < 200; i++ {
		mustExecWrite(t, p, "INSERT INTO t VALUES (randomblob(300))")
	}
	recs := readRecords(t, p, 0)
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := storage.OpenDB(ctx, path, storage.DBConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s.SetReadOnly("primary-1")
	hardened := make(chan sqlink.LSN, 1)
	go func() {
		last := sqlink.LSN(0)
		defer func() { hardened <- last }()
		for i := 0; i < len(recs); i += 5 {
			batch := recs[i:min(i+5, len(recs))]
			if err := s.Harden(ctx, batch...); err != nil {
				if sqlink.ErrorCode(err) == "" || !strings.Contains(err.Error(), "closed") {
					t.Errorf("harden %d..: %v, want success or a closed database", batch[0].LSN, err)
				}
				return
			}
			last = batch[len(batch)-1].LSN
		}
	}()
	var last sqlink.LSN
	done := false
	for !done && s.Pos().LSN < 20 { // close in the middle of the stream
		select {
		case last = <-hardened:
			done = true
		default:
			runtime.Gosched()
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !done {
		last = <-hardened
	}
	s = MustOpenDBAt(t, path, storage.DBConfig{})
	if got := s.Pos().LSN; got != last {
		t.Fatalf("reopened log ends at %d, the last batch hardened before the close at %d", got, last)
	}
}

// The capture reuses the page buffers its delta cache lets go of (a page
// replaced by a newer image, or evicted). With a cache of a few pages,
// buffers are recycled on nearly every commit: a buffer reused while
// still referred to would corrupt an image or a delta base, and the
// secondary would no longer match the primary page for page.
func TestApply_RecycledCaptureBuffersKeepImagesIntact(t *testing.T) {
	p := MustOpenDB(t, storage.DBConfig{DeltaCacheBytes: 8 * 4096})
	s := MustOpenDB(t, storage.DBConfig{})
	s.SetReadOnly("primary-1")
	mustExecWrite(t, p, "CREATE TABLE a (id INTEGER PRIMARY KEY, v INTEGER, pad TEXT)",
		"INSERT INTO a WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000) SELECT x, 0, printf('%80s', '') FROM n",
		"CREATE TABLE h (x INTEGER, y INTEGER)")
	for i := 0; i < 300; i++ {
		// A TPC-B-like transaction: a few scattered pages, a hot page.
		mustExecWrite(t, p, "BEGIN",
			fmt.Sprintf("UPDATE a SET v = v + %d WHERE id = %d", i, 1+(i*7919)%2000),
			fmt.Sprintf("UPDATE a SET v = v - 1 WHERE id = %d", 1+(i*104729)%2000),
			fmt.Sprintf("INSERT INTO h VALUES (%d, %d)", i, i*i),
			"COMMIT")
		if i%50 == 49 {
			ship(t, p, s, 1+i%7)
		}
	}
	ship(t, p, s, 3)
	if got, want := s.Pos(), p.Pos(); got != want {
		t.Fatalf("secondary at %s, primary at %s", got, want)
	}
	mustComparePages(t, p.Path(), s.Path())
	mustIntegrityOK(t, s)
}
