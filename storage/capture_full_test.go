package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/testutil"
)

// A commit whose record does not fit in the log (a full disk; here a file
// size limit the SQLite WAL, rewritten from its start, stays under) is
// durable in the database but not in the log: the writer is told so, the
// database stays writable, and the next write captures both commits, with
// records a secondary applies to an equal copy (no delta against the
// failed attempt's pages).
func TestCapture_LogAppendFailsThenResumes(t *testing.T) {
	ctx := context.Background()
	p, s := mustOpenPair(t)
	mustExecWrite(t, p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
	for i := 0; i < 100; i++ {
		mustExecWrite(t, p, "INSERT INTO t(v) VALUES (randomblob(3000))")
	}
	ship(t, p, s, 10)
	if err := p.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(p.Path()+"-log", "*.seg"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("log segments: %v %v", segs, err)
	}
	// The last segment's entries end where the log's bytes say (the
	// zeros written ahead of them are not room the limit should leave).
	end := p.Stats().LogBytes
	for _, seg := range segs[:len(segs)-1] {
		fi, err := os.Stat(seg)
		if err != nil {
			t.Fatal(err)
		}
		end -= fi.Size()
	}
	before := p.Pos().LSN

	restore := testutil.LimitFileSize(t, end+64)
	c, err := p.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.BeginWrite(ctx); err != nil {
		t.Fatal(err)
	}
	_, xerr := c.SQL().ExecContext(ctx, "UPDATE t SET v = randomblob(3000) WHERE id % 7 = 0")
	_, werr := c.EndWrite(ctx)
	c.Close()
	// Before the limit goes: once it has, the background capture may log
	// the commit at any moment.
	posUnderLimit := p.Pos().LSN
	restore()
	if xerr != nil {
		t.Fatalf("the commit itself failed (the limit was meant for the log only): %v", xerr)
	}
	if sqlink.ErrorCode(werr) != sqlink.EUNAVAILABLE || !errors.Is(werr, syscall.EFBIG) && !strings.Contains(werr.Error(), "file too large") ||
		!strings.Contains(sqlink.ErrorHint(werr), "durable") {
		t.Fatalf("capture of a commit the log had no room for: %v (hint %q)", werr, sqlink.ErrorHint(werr))
	}
	if posUnderLimit != before {
		t.Fatalf("the log advanced to %d past the failed append (was %d)", posUnderLimit, before)
	}
	// Room again: the database is writable, and the next write captures
	// both commits.
	if got := mustExecWrite(t, p, "INSERT INTO t(v) VALUES ('after')"); got != before+2 {
		t.Fatalf("the next write ends at LSN %d, want %d (the missed commit, then it)", got, before+2)
	}
	ship(t, p, s, 10)
	mustComparePages(t, p.Path(), s.Path())
}
