package storage_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
)

const crashEnv = "SQLINK_STORAGE_CRASH_CHILD"

// TestMain lets the crash test re-exec this binary as a writer child.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

// crashChild writes commits in a loop, printing each acknowledged id and
// LSN, until it is killed. It checkpoints now and then so recovery crosses
// WAL generations.
func crashChild(path string) {
	ctx := context.Background()
	db, err := storage.OpenDB(ctx, path, storage.DBConfig{CheckpointBytes: 256 << 10, SegmentBytes: 64 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 1; ; i++ {
		if err := c.BeginWrite(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		_, err := c.SQL().ExecContext(ctx, "INSERT INTO t(v) VALUES (randomblob(200))")
		lsn, err2 := c.EndWrite(ctx)
		if err != nil || err2 != nil {
			fmt.Fprintln(os.Stderr, err, err2)
			os.Exit(2)
		}
		fmt.Fprintf(out, "%d %d\n", i, lsn)
		out.Flush()
		if i%97 == 0 {
			if err := db.Checkpoint(ctx); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
	}
}

func TestCrash_KillDuringWritesRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("re-execs the test binary")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := storage.OpenDB(ctx, path, storage.DBConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mustExecWrite(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}

	rowsBefore, lsnBefore := 0, 1
	for run := 0; run < 3; run++ {
		cmd, sc := startCrashChild(t, path)
		n := 0
		for sc.Scan() {
			var i, lsn int
			if _, err := fmt.Sscanf(sc.Text(), "%d %d", &i, &lsn); err != nil {
				t.Fatalf("child said %q", sc.Text())
			}
			if got, want := lsn, lsnBefore+i; got != want {
				t.Fatalf("run %d: commit %d acknowledged at LSN %d, want %d", run, i, got, want)
			}
			n = i
			if n == 300+run*50 {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		cmd.Wait()
		// Tear the log's tail, as a power loss would lose unsynced log
		// writes: recovery must re-capture those commits from the WAL.
		chopLastSegment(t, path+"-log", 1000)

		db := MustOpenDBAt(t, path, storage.DBConfig{})
		var rows int
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SQL().QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if rows < rowsBefore+n {
			t.Fatalf("run %d: %d rows, but %d commits were acknowledged", run, rows, rowsBefore+n)
		}
		if got, want := db.Pos().LSN, sqlink.LSN(lsnBefore+rows-rowsBefore); got != want {
			t.Fatalf("run %d: LSN after recovery %d, want %d (one per commit)", run, got, want)
		}
		if g := db.Gap(); g != nil {
			t.Fatalf("run %d: recovery marked a gap: %+v", run, g)
		}
		mustIntegrityOK(t, db)
		mustComparePages(t, db.Path(), replayToFile(t, db, db.Pos().LSN))
		rowsBefore, lsnBefore = rows, int(db.Pos().LSN)
		if err := db.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// startCrashChild starts crashChild writing to path; sc reads its
// acknowledgments ("i lsn" lines).
func startCrashChild(tb testing.TB, path string) (*exec.Cmd, *bufio.Scanner) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return cmd, bufio.NewScanner(stdout)
}

func chopLastSegment(tb testing.TB, dir string, n int64) {
	tb.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(segs) == 0 {
		tb.Fatalf("no segments in %s: %v", dir, err)
	}
	last := segs[len(segs)-1]
	b, err := os.ReadFile(last)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(last, max(8, int64(len(trimZeros(b)))-n)); err != nil {
		tb.Fatal(err)
	}
}

// trimZeros returns a log segment's bytes without the zeros written ahead
// of its entries (and any zero bytes that end its last checksum).
func trimZeros(seg []byte) []byte {
	end := len(seg)
	for end > 0 && seg[end-1] == 0 {
		end--
	}
	return seg[:end]
}
