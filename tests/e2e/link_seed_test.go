package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sqlink/sqlink/adminapi"
)

// fillBlobs adds n MiB of random blobs to db in transactions of 32 MiB.
func fillBlobs(t *testing.T, in *Instance, db string, mib int) {
	t.Helper()
	in.MustPsql(db, `CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, b BLOB NOT NULL);`)
	for done := 0; done < mib; done += 32 {
		rows := min(32, mib-done) * 16 // 64 KiB each
		in.MustPsql(db, fmt.Sprintf(`INSERT INTO blobs (b) WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < %d) SELECT randomblob(65536) FROM n;`, rows))
	}
}

// dbSize returns the database's size in bytes from `db show`.
func dbSize(t *testing.T, in *Instance, db string) int64 {
	t.Helper()
	f, _ := dbShow(t, in, db)["size_bytes"].(float64)
	if f <= 0 {
		t.Fatalf("db show %s has no size", db)
	}
	return int64(f)
}

// writeLoop inserts into db's table ticks until stop is called, which
// returns how many inserts succeeded.
func writeLoop(t *testing.T, in *Instance, db string) (stop func() int64) {
	t.Helper()
	in.MustPsql(db, `CREATE TABLE IF NOT EXISTS ticks (id INTEGER PRIMARY KEY, at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);`)
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, in.ConnString(db))
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, err := conn.Exec(ctx, `INSERT INTO ticks DEFAULT VALUES`); err == nil {
					n.Add(1)
				}
			}
		}
	}()
	return func() int64 {
		cancel()
		wg.Wait()
		conn.Close(context.Background())
		return n.Load()
	}
}

// TestLink_SeedingResumesAfterKill seeds a 256 MiB database while writes
// go on, kills the secondary half-way through and checks that seeding
// resumes where it was instead of starting over.
func TestLink_SeedingResumesAfterKill(t *testing.T) {
	p := MustStartInstance(t, "alpha")
	s := MustStartInstance(t, "beta")
	p.MustCLI("db", "create", "big")
	fillBlobs(t, p, "big", 256)
	size := dbSize(t, p, "big")
	if size < 256<<20 {
		t.Fatalf("database is %d bytes, want at least 256 MiB", size)
	}
	mustFullBackup(t, p, "big")

	stop := writeLoop(t, p, "big")
	MustCreateLink(t, p, s, "big", "big")

	// Kill the secondary half-way through seeding: starting over would then
	// send at least 1.5 times the database.
	var before adminapi.SeedingStatus
	waitLink(t, s, "big", 0, func(st adminapi.LinkStatus) error {
		sd := seedingOf(st)
		if sd == nil || sd.BytesDone < sd.BytesTotal/2 || sd.BytesDone >= sd.BytesTotal {
			return fmt.Errorf("seeding %+v", sd)
		}
		before = *sd
		return nil
	})
	s.Kill()
	t.Logf("killed the secondary at %d of %d seed bytes (attempt %d)", before.BytesDone, before.BytesTotal, before.Attempts)
	s.Start()

	// The first progress seen after the restart continues from where it was.
	if st, err := linkStatus(s, "big"); err == nil {
		if sd := seedingOf(st); sd != nil && sd.State == "SEEDING" && sd.BytesDone < before.BytesDone/2 {
			t.Errorf("seeding restarted from %d bytes after being killed at %d", sd.BytesDone, before.BytesDone)
		}
	}
	waitCaughtUp(t, p, s, "big", 3*time.Minute)
	writes := stop()
	waitCaughtUp(t, p, s, "big", 0)
	if writes == 0 {
		t.Fatalf("no write succeeded on the primary during seeding")
	}
	st := mustLinkStatus(t, s, "big")
	sd := seedingOf(st)
	if sd == nil || sd.Attempts < 2 {
		t.Fatalf("seeding after a kill: %+v, want more than one attempt", sd)
	}
	if sd.BytesSent == 0 {
		t.Errorf("seeding status does not report bytes_sent across attempts: %+v", sd)
	} else if sd.BytesSent >= sd.BytesTotal+before.BytesDone/2 || float64(sd.BytesSent) >= 1.5*float64(size) {
		t.Fatalf("seeding sent %d bytes for a %d-byte database, killed at %d: it started over", sd.BytesSent, size, before.BytesDone)
	}
	want, err := queryInt(p, "big", `SELECT count(*) FROM ticks;`)
	if err != nil {
		t.Fatal(err)
	}
	if got := waitRows(t, s, "big", `SELECT count(*) FROM ticks;`, want, 0); got != want || want < writes {
		t.Fatalf("ticks: secondary %d, primary %d, inserts acknowledged %d", got, want, writes)
	}
	mustVerify(t, p, s, "big")
	t.Logf("seeded %d bytes in %d attempts, %d bytes sent; %d writes during seeding", size, sd.Attempts, sd.BytesSent, writes)
}

// TestLink_SeedFromBackupShipsOnlyTheLog seeds the secondary from a backup
// restored there: only the log after the backup crosses the link.
func TestLink_SeedFromBackupShipsOnlyTheLog(t *testing.T) {
	p := MustStartInstance(t, "alpha")
	s := MustStartInstance(t, "beta")
	p.MustCLI("db", "create", "shop")
	fillBlobs(t, p, "shop", 32)
	size := dbSize(t, p, "shop")
	file := filepath.Join(t.TempDir(), "shop.bak")
	mustBackup(t, p, "shop", file, false)
	p.MustPsql("shop", `CREATE TABLE after (id INTEGER PRIMARY KEY, v TEXT);
INSERT INTO after (v) WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 50) SELECT 'row ' || x FROM n;`)

	s.MustCLI("restore", file, "--as", "shop", "--restoring")
	// Without --seed-from-backup the restored copy is in the way.
	r := p.CLI(append([]string{"link", "create", "--name", "shop", "--database", "shop"}, linkFlags(p, s)...)...)
	if r.Code == 0 || !strings.Contains(r.Stderr, "--seed-from-backup") {
		t.Fatalf("link create over a RESTORING copy without --seed-from-backup: exit %d\n%s", r.Code, r.Stderr)
	}
	MustCreateLink(t, p, s, "shop", "shop", "--seed-from-backup")
	waitCaughtUp(t, p, s, "shop", 0)
	if got := waitRows(t, s, "shop", `SELECT count(*) FROM after;`, 50, 0); got != 50 {
		t.Fatalf("secondary has %d rows written after the backup, want 50", got)
	}
	st := mustLinkStatus(t, s, "shop")
	sd := seedingOf(st)
	if sd == nil || !sd.FromBackup {
		t.Fatalf("seeding status %+v does not say it seeded from the backup", sd)
	}
	shipped := max(sd.BytesDone, sd.BytesSent)
	if shipped > size/4 {
		t.Fatalf("seeding from a backup shipped %d bytes of a %d-byte database", shipped, size)
	}
	mustVerify(t, p, s, "shop")
	t.Logf("seeded from backup: %d seed bytes for a %d-byte database (state %s, seed LSN %d)", shipped, size, sd.State, sd.SeedLSN)
}

// TestLink_KilledAtEachSeedingStep kills the secondary (SIGKILL, from its
// own failpoint) at each step of receiving its seed: plan saved, pages
// written, seed moved into place, caught up and ONLINE in the catalog; and
// the primary half-way through sending it.
// After the restart it ends as a secondary equal to the primary (link
// verify) that follows new writes.
func TestLink_KilledAtEachSeedingStep(t *testing.T) {
	for _, fp := range []string{"seed/after-plan", "seed/after-flush", "seed/primary-sending", "seed/after-finish", "seed/after-online"} {
		t.Run(strings.TrimPrefix(fp, "seed/"), func(t *testing.T) { testSeedCrash(t, fp) })
	}
}

func testSeedCrash(t *testing.T, fp string) {
	p := MustStartInstance(t, "alpha")
	s := MustStartInstance(t, "beta")
	p.MustCLI("db", "create", "small")
	fillBlobs(t, p, "small", 8)
	mustFullBackup(t, p, "small")
	victim := s // the secondary, or the primary at the primary's failpoints
	if strings.HasPrefix(fp, "seed/primary-") {
		victim = p
	}
	victim.Stop()
	victim.StartEnv("SQLINK_FAILPOINT=" + fp)
	r := p.CLI(append([]string{"link", "create", "--name", "small", "--database", "small"}, linkFlags(p, s)...)...)
	t.Logf("link create with %s armed on %s: exit %d\nstderr: %s", fp, victim.Name, r.Code, r.Stderr)
	restartAfterFailpoint(t, victim, fp)
	waitCaughtUp(t, p, s, "small", 0)
	p.MustPsql("small", `INSERT INTO blobs (b) VALUES (x'00');`)
	want, err := queryInt(p, "small", `SELECT count(*) FROM blobs;`)
	if err != nil {
		t.Fatal(err)
	}
	waitRows(t, s, "small", `SELECT count(*) FROM blobs;`, want, 0)
	t.Log(mustVerify(t, p, s, "small"))
	if r := s.CLI("db", "show", "small"); r.Code != 0 || !strings.Contains(r.Stdout, "ONLINE") {
		t.Fatalf("db show on beta: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}
