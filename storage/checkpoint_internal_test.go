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
				if err := c.BeginWrite(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := c.SQL().ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
				if _, err := c.EndWrite(ctx); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
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

// readAll returns the records of db's log after from.
func readAll(t *testing.T, db *DB, from sqlink.LSN) []*Record {
	t.Helper()
	var recs []*Record
	if err := db.scanLog(context.Background(), from, db.Pos().LSN, func(r *Record) { recs = append(recs, r) }); err != nil {
		t.Fatal(err)
	}
	return recs
}
