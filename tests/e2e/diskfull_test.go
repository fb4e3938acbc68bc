package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

// TestInstance_DiskFull fills the volume under an instance's data
// directory (a small tmpfs, so it needs root to mount; skipped otherwise):
// the write that does not fit fails with SQLSTATE 53100 and a hint, the
// instance stays up and readable, the background checkpoint that keeps
// failing is logged once (with a back-off), not every 25 ms; once space
// is freed, writes work again without a restart and the database is
// intact.
func TestInstance_DiskFull(t *testing.T) {
	in := MustStartInstance(t, "full")
	vol := moveOntoSmallVolume(t, in, "48m")
	in.MustCLI("db", "create", "f")
	in.MustPsql("f", blobTable)

	ctx := context.Background()
	cfg, err := pgx.ParseConfig(in.ConnString("f"))
	if err != nil {
		t.Fatal(err)
	}
	var notices []*pgconn.Notice
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n) }
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	// Until the disk is full, an insert either commits (perhaps with a
	// warning that its commit is not in the replication log yet, when the
	// log ran out of room first) or fails with 53100.
	var pe *pgconn.PgError
	committed := 0
	for i := 0; ; i++ {
		_, err := c.Exec(ctx, insert500kB)
		if err == nil {
			if committed++; committed > 200 {
				t.Fatalf("%d inserts of 500 kB fit on a 48 MiB volume", committed)
			}
			continue
		}
		if !errors.As(err, &pe) {
			t.Fatalf("insert %d on a full volume: %v, want a PostgreSQL error", i, err)
		}
		t.Logf("insert %d: %s %s (hint: %s)", i, pe.Code, pe.Message, pe.Hint)
		break
	}
	if pe.Code != "53100" || !strings.Contains(strings.ToLower(pe.Hint), "free space") {
		t.Fatalf("disk full: SQLSTATE %s, hint %q; want 53100 and a hint to free space", pe.Code, pe.Hint)
	}
	for _, n := range notices {
		t.Logf("notice: %s %s %s (hint: %s)", n.Severity, n.Code, n.Message, n.Hint)
		if n.Code != "01000" || !strings.Contains(n.Message, "not yet in the replication log") {
			t.Errorf("unexpected notice %s %s", n.Code, n.Message)
		}
	}

	// Still up: reads work, and the admin API answers.
	var rows int64
	if err := c.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&rows); err != nil {
		t.Fatalf("read on a full volume: %v", err)
	}
	in.MustCLI("db", "show", "f")
	const failedMsg = "background capture or checkpoint failed"
	testutil.RetryUntil(t, 0, func() error {
		if !strings.Contains(in.Output(), failedMsg) {
			return fmt.Errorf("the failing checkpoint is not logged")
		}
		return nil
	})

	// Free space: writes work again, without a restart.
	if out, err := exec.Command("mount", "-o", "remount,size=128m", vol).CombinedOutput(); err != nil {
		t.Fatalf("grow the volume: %v: %s", err, out)
	}
	testutil.RetryUntil(t, 0, func() error {
		_, err := c.Exec(ctx, insert500kB)
		return err
	})
	testutil.RetryUntil(t, 0, func() error {
		if !strings.Contains(in.Output(), "background capture and checkpoint work again") {
			return fmt.Errorf("the checkpoint's recovery is not logged")
		}
		return nil
	})
	if n := strings.Count(in.Output(), failedMsg); n > 3 {
		t.Errorf("the failing checkpoint was logged %d times while the volume was full, want it paced (once, plus changes)", n)
	}
	// Every insert that was not refused is there, warned ones included.
	var after int64
	if err := c.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&after); err != nil || after != rows+5 || rows != int64(5*committed) {
		t.Fatalf("%d inserts of 5 rows committed, %d rows on the full volume, %d after freeing space and one more (%v)", committed, rows, after, err)
	}
	if p := lsnOf(t, in, "f"); p != uint64(committed+2) {
		t.Errorf("the replication log ends at LSN %d, want %d: the table, %d inserts and the last", p, committed+2, committed)
	}
	if got := in.MustPsql("f", `PRAGMA integrity_check;`); got != "ok" {
		t.Fatalf("integrity_check after the full volume: %s", got)
	}
}

// moveOntoSmallVolume moves in's data directory onto a tmpfs of the given
// size (restarting it there) and returns the mount point; the test is
// skipped where mounting needs privileges it lacks.
func moveOntoSmallVolume(t *testing.T, in *Instance, size string) string {
	t.Helper()
	vol := filepath.Join(t.TempDir(), "vol")
	if err := os.Mkdir(vol, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", vol).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v: %s", err, out)
	}
	in.Stop()
	t.Cleanup(func() {
		in.Stop() // before its files go
		exec.Command("umount", "-l", vol).Run()
	})
	if out, err := exec.Command("cp", "-a", in.Dir, filepath.Join(vol, "data")).CombinedOutput(); err != nil {
		t.Fatalf("copy the data directory onto the small volume: %v: %s", err, out)
	}
	in.Dir = filepath.Join(vol, "data")
	in.Start()
	return vol
}

// growVolume remounts the tmpfs at vol with a new size.
func growVolume(t *testing.T, vol, size string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,size="+size, vol).CombinedOutput(); err != nil {
		t.Fatalf("grow the volume: %v: %s", err, out)
	}
}

// TestLink_SecondaryDiskFull fills the secondary's volume while the
// primary writes: the link's last error says why the secondary stopped,
// the primary keeps taking writes (async), and once space is freed the
// secondary catches up by itself, without a reseed, to an equal copy.
func TestLink_SecondaryDiskFull(t *testing.T) {
	var vol string
	alpha, beta := startLinkedF(t, "full", blobTable, func(_, beta *Instance) { vol = moveOntoSmallVolume(t, beta, "40m") })
	waitCaughtUp(t, alpha, beta, "full", 0)
	attempts := seedAttempts(mustLinkStatus(t, beta, "full"))

	ctx := context.Background()
	c, err := pgx.Connect(ctx, alpha.ConnString("f"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var lastErr string
	for i := 0; lastErr == ""; i++ {
		if i > 400 {
			t.Fatalf("%d inserts of 500 kB on the primary and the secondary's 40 MiB volume is not full", i)
		}
		if _, err := c.Exec(ctx, insert500kB); err != nil {
			t.Fatalf("insert %d on the primary (async link, the secondary filling up): %v", i, err)
		}
		st, err := linkStatus(beta, "full")
		if e := st.Local.LastError; err == nil && e != nil && (strings.Contains(e.Message, "no space") || strings.Contains(e.Message, "full")) {
			lastErr = e.Message
		}
	}
	t.Logf("the secondary's last error: %s", lastErr)
	// The primary goes on.
	if _, err := c.Exec(ctx, `INSERT INTO t (v) VALUES ('while the secondary is full')`); err != nil {
		t.Fatalf("write on the primary while the secondary's disk is full: %v", err)
	}

	growVolume(t, vol, "256m")
	waitCaughtUp(t, alpha, beta, "full", 2*time.Minute)
	t.Log(mustVerify(t, alpha, beta, "full"))
	if got := seedAttempts(mustLinkStatus(t, beta, "full")); got != attempts {
		t.Fatalf("the full disk made the secondary reseed: %d seeding attempts, was %d", got, attempts)
	}
}

// TestLink_SeedOntoAFullDisk seeds a database larger than the secondary's
// volume: the seeding fails for want of space and says so in the link's
// last error, the primary is unaffected, and once space is freed the
// seeding resumes where it stopped (what arrives then is about what was
// not yet written, not a whole copy) and the secondary comes online with
// an equal copy.
func TestLink_SeedOntoAFullDisk(t *testing.T) {
	var vol string
	alpha, beta := startLinkedF(t, "big", blobTable+`
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
INSERT INTO t (v) SELECT randomblob(100000) FROM n;`, func(_, beta *Instance) { vol = moveOntoSmallVolume(t, beta, "24m") },
		"--skip-check", "free-disk") // validation would refuse: the point is to fill it

	var lastErr string
	waitLink(t, beta, "big", 0, func(st adminapi.LinkStatus) error {
		if e := st.Local.LastError; e != nil && (strings.Contains(e.Message, "no space") || strings.Contains(e.Message, "full")) {
			lastErr = e.Message
			return nil
		}
		return fmt.Errorf("no disk-full error yet (seeding %+v)", seedingOf(st))
	})
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('while the secondary is full');`)
	// Where the seeding stands just before space is freed (each retry
	// while the disk was full received some pages it could not keep).
	sd := seedingOf(mustLinkStatus(t, beta, "big"))
	t.Logf("the secondary's last error: %s; seeding %+v", lastErr, sd)
	if sd == nil || sd.BytesDone == 0 {
		t.Fatalf("no seeding progress kept before the disk filled: %+v", sd)
	}

	growVolume(t, vol, "256m")
	waitCaughtUp(t, alpha, beta, "big", 2*time.Minute)
	t.Log(mustVerify(t, alpha, beta, "big"))
	done := seedingOf(mustLinkStatus(t, beta, "big"))
	t.Logf("seeding done: %+v", done)
	// Resumed, not started over: what came after the disk had room again
	// is about what was missing then, not a whole copy.
	if after, missing := done.BytesSent-sd.BytesSent, sd.BytesTotal-sd.BytesDone; after > missing+sd.BytesTotal/4 {
		t.Fatalf("after space was freed the seeding received %d bytes, %d were missing of %d: it started over\n%s", after, missing, sd.BytesTotal, beta.Output())
	}
}

// TestLink_PrimaryDiskFullSync fills the primary's volume under a sync
// link: every insert either commits, and is then on the secondary, or is
// refused with 53100 (a commit that reached the database but not the
// replication log cannot be confirmed on a sync link, and says it
// committed locally). Once space is freed the missed commits are logged
// and replicated: the copies are equal and hold every committed insert.
func TestLink_PrimaryDiskFullSync(t *testing.T) {
	var vol string
	alpha, beta := startLinkedF(t, "full", blobTable, func(alpha, _ *Instance) { vol = moveOntoSmallVolume(t, alpha, "48m") }, "--mode", "sync")
	waitCaughtUp(t, alpha, beta, "full", 0)

	ctx := context.Background()
	c, err := pgx.Connect(ctx, alpha.ConnString("f"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	committed, locallyOnly := 0, 0
	for i := 0; ; i++ {
		_, err := c.Exec(ctx, insert500kB)
		if err == nil {
			if committed++; committed > 200 {
				t.Fatalf("%d inserts of 500 kB fit on a 48 MiB volume", committed)
			}
			// Sync: an acknowledged commit is on the secondary already.
			if got, err := queryInt(beta, "f", `SELECT count(*) FROM t;`); err != nil || got < int64(5*committed) {
				t.Fatalf("after %d acknowledged sync commits the secondary has %d rows (%v)", committed, got, err)
			}
			continue
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "53100" {
			t.Fatalf("insert %d on a full volume: %v, want SQLSTATE 53100", i, err)
		}
		t.Logf("insert %d: %s %s (hint: %s)", i, pe.Code, pe.Message, pe.Hint)
		if strings.Contains(pe.Message, "replication log") {
			// Committed in the database, not confirmed: it counts once
			// space is freed.
			locallyOnly++
			if locallyOnly < 3 {
				continue
			}
		}
		break
	}
	growVolume(t, vol, "256m")
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES (x'00');`)
	waitCaughtUp(t, alpha, beta, "full", time.Minute)
	t.Log(mustVerify(t, alpha, beta, "full"))
	rows, err := queryInt(beta, "f", `SELECT count(*) FROM t;`)
	if err != nil || rows != int64(5*(committed+locallyOnly)+1) {
		t.Fatalf("the secondary has %d rows (%v): %d acknowledged inserts, %d committed locally only, and one more, of 5 rows each (the last 1)", rows, err, committed, locallyOnly)
	}
}
