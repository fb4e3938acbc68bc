package storage

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
)

// The background checkpoint copies most of the WAL without the write lock.
// When no commit comes during that pass it copies all of it, and a writer
// that then began before the locked pass used to restart the WAL before the
// log was synced and the restart announced, which stopped capture with
// errWALRestart. The guard's read transaction keeps the WAL from restarting
// until the locked pass has announced it.
func TestCheckpointOnline_WriterAfterACompleteUnlockedPass(t *testing.T) {
	for _, secondary := range []bool{false, true} {
		name := map[bool]string{false: "primary", true: "secondary"}[secondary]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			cfg := DBConfig{PollInterval: time.Hour} // the test runs the checkpoint itself
			p, err := OpenDB(ctx, filepath.Join(dir, "p.db"), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(ctx)
			db := p
			var s *DB
			if secondary {
				if s, err = OpenDB(ctx, filepath.Join(dir, "s.db"), cfg); err != nil {
					t.Fatal(err)
				}
				defer s.Close(ctx)
				s.SetReadOnly("p")
				db = s
			}
			c, err := p.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			write := func(q string) {
				t.Helper()
				commit(t, c, q)
				if s != nil {
					recs := readAll(t, p, s.Pos().LSN)
					if err := s.Harden(ctx, recs...); err != nil {
						t.Fatal(err)
					}
					if err := s.Apply(ctx, recs...); err != nil {
						t.Fatalf("apply: %v", err)
					}
				}
			}
			write("CREATE TABLE t(v)")
			write("INSERT INTO t VALUES (1)")

			frame := func() uint32 {
				db.capMu.Lock()
				defer db.capMu.Unlock()
				return db.wal.pos.Frame
			}
			testHookAfterUnlockedPass = func() {
				// The pass copied everything (nothing was written during
				// it). Writers go on, without restarting the WAL.
				before := frame()
				write("INSERT INTO t VALUES (2)")
				write("INSERT INTO t VALUES (22)")
				if after := frame(); after <= before {
					t.Errorf("WAL restarted before the locked pass (frame %d -> %d)", before, after)
				}
			}
			defer func() { testHookAfterUnlockedPass = nil }()
			if err := db.lockWrite(ctx); err != nil {
				t.Fatal(err)
			}
			if err := db.checkpointOnline(ctx); err != nil {
				t.Fatal(err)
			}
			// The locked pass completed the checkpoint and announced the
			// restart: the next write restarts the WAL.
			write("INSERT INTO t VALUES (3)")
			if f := frame(); f > 3 {
				t.Fatalf("the write after the checkpoint left the WAL at frame %d: not restarted", f)
			}
			if err := db.capture(); err != nil {
				t.Fatalf("capture after the restart: %v", err)
			}
			var n int
			if err := db.sqldb.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 4 {
				t.Fatalf("rows = %d, %v; want 4", n, err)
			}
		})
	}
}

// commit runs q as one write on c.
func commit(t *testing.T, c *Conn, q string) {
	t.Helper()
	ctx := context.Background()
	if err := c.BeginWrite(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SQL().ExecContext(ctx, q); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EndWrite(ctx); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// readAll returns the records of db's log after from.
func readAll(t *testing.T, db *DB, from sqlink.LSN) []*Record {
	t.Helper()
	var recs []*Record
	if err := db.scanLog(context.Background(), from, db.Pos().LSN, func(r *Record) { recs = append(recs, r) }); err != nil {
		t.Fatal(err)
	}
	return recs
}

// A background checkpoint whose unlocked pass leaves frames behind (here a
// reader's old snapshot holds them) ends there: it does not take the write
// lock to complete, so writers are not stalled for its fsyncs, and the WAL
// goes on growing. Once the WAL holds CheckpointBytes*restartFactor, the
// checkpoint completes under the lock and the next write restarts the WAL.
func TestCheckpointOnline_CompletesUnderTheLockOnlyToRestart(t *testing.T) {
	ctx := context.Background()
	cfg := DBConfig{PollInterval: time.Hour, CheckpointBytes: 64 << 10}
	db, err := OpenDB(ctx, filepath.Join(t.TempDir(), "p.db"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	write := func(q string) { t.Helper(); commit(t, c, q) }
	frame := func() uint32 {
		db.capMu.Lock()
		defer db.capMu.Unlock()
		return db.wal.pos.Frame
	}
	checkpoints := func() int64 {
		db.mu.Lock()
		defer db.mu.Unlock()
		return db.checkpoints
	}
	checkpoint := func() {
		t.Helper()
		if err := db.lockWrite(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.checkpointOnline(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write("CREATE TABLE t(v)")
	// A reader whose snapshot keeps the checkpoint from copying what
	// comes after it.
	r, err := db.sqldb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := r.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	walBytes := func() int64 { return int64(frame()) * (walFrameHeaderSize + 4096) }
	for walBytes() < 2*cfg.CheckpointBytes { // past CheckpointBytes, short of the restart size
		write("INSERT INTO t VALUES (randomblob(3000))")
	}
	before := checkpoints()
	checkpoint()
	if got := checkpoints(); got != before {
		t.Fatalf("an incomplete unlocked pass went on under the lock (%d -> %d checkpoints)", before, got)
	}
	f := frame()
	write("INSERT INTO t VALUES (1)")
	if frame() <= f {
		t.Fatalf("the WAL restarted after an incomplete checkpoint (frame %d -> %d)", f, frame())
	}
	if _, err := r.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	for walBytes() < cfg.CheckpointBytes*restartFactor {
		write("INSERT INTO t VALUES (randomblob(3000))")
	}
	checkpoint()
	if got := checkpoints(); got != before+1 {
		t.Fatalf("a WAL past the restart size was not checkpointed under the lock (%d -> %d checkpoints)", before, got)
	}
	write("INSERT INTO t VALUES (2)")
	if f := frame(); f > 3 {
		t.Fatalf("the write after the locked checkpoint left the WAL at frame %d: not restarted", f)
	}
	if err := db.capture(); err != nil {
		t.Fatalf("capture after the restart: %v", err)
	}
}
