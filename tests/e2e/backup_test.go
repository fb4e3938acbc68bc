package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/storage"
)

type manifest struct {
	ID        string `json:"id"`
	LSN       uint64 `json:"lsn"`
	CopyOnly  bool   `json:"copy_only"`
	PageCount int64  `json:"page_count"`
}

func mustBackup(t *testing.T, in *Instance, db, file string, copyOnly bool) manifest {
	t.Helper()
	args := []string{"backup", db, "--to", file, "--json"}
	if copyOnly {
		args = append(args, "--copy-only")
	}
	out := in.MustCLI(args...)
	var m manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("backup json: %v\n%s", err, out)
	}
	return m
}

func TestBackup_UnderLoadRestoresAtItsLSN(t *testing.T) {
	requireTool(t, "pgbench")
	in := MustStartInstance(t, "backup")
	in.MustCLI("db", "create", "tpcb")
	MustInitTPCB(t, in, "tpcb")
	lsn0 := lsnOf(t, in, "tpcb")

	// A full backup and a copy-only one, both taken while pgbench writes.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done := make(chan string, 1)
	go func() {
		out, _ := in.Pgbench(ctx, "tpcb", "-n", "-M", "prepared", "-c", "2", "-j", "2", "-t", "1500", "-f", tpcbScript)
		done <- out
	}()
	dir := t.TempDir()
	full := filepath.Join(dir, "full.bak")
	copyOnly := filepath.Join(dir, "copy.bak")
	waitForLSN(t, in, "tpcb", lsn0+200)
	mFull := mustBackup(t, in, "tpcb", full, false)
	mCopy := mustBackup(t, in, "tpcb", copyOnly, true)
	out := <-done
	if _, failed := pgbenchCounts(t, out); failed != 0 {
		t.Fatalf("pgbench failed transactions during backup:\n%s", out)
	}
	if mFull.LSN <= lsn0 || mFull.LSN >= lsnOf(t, in, "tpcb") {
		t.Fatalf("full backup LSN %d not taken mid-load (start %d, end %d)", mFull.LSN, lsn0, lsnOf(t, in, "tpcb"))
	}

	// The restore holds exactly the transactions up to the backup's LSN:
	// one history row per pgbench transaction, balances consistent.
	in.MustCLI("restore", full, "--as", "restored")
	if rows := checkTPCBConsistent(t, in, "restored"); uint64(rows) != mFull.LSN-lsn0 {
		t.Fatalf("restored database has %d transactions, backup LSN says %d", rows, mFull.LSN-lsn0)
	}
	if got := lsnOf(t, in, "restored"); got != mFull.LSN {
		t.Fatalf("restored database LSN %d, want the backup's %d", got, mFull.LSN)
	}
	if got := in.MustPsql("restored", `PRAGMA integrity_check;`); got != "ok" {
		t.Fatalf("integrity_check: %s", got)
	}

	// The full backup started the chain; the copy-only one did not.
	v := dbShow(t, in, "tpcb")
	if v["chain_started"] != true {
		t.Fatalf("chain_started = %v after a full backup", v["chain_started"])
	}
	in.MustCLI("db", "create", "other")
	mustBackup(t, in, "other", filepath.Join(dir, "other.bak"), true)
	if v := dbShow(t, in, "other"); v["chain_started"] != false {
		t.Fatalf("chain_started = %v after only a copy-only backup", v["chain_started"])
	}
	_ = mCopy

	// --restoring leaves the database unreadable until completed.
	in.MustCLI("restore", copyOnly, "--as", "seedme", "--restoring")
	if _, err := in.Psql(context.Background(), "seedme", `SELECT 1;`); err == nil {
		t.Fatalf("a RESTORING database answered a query")
	}
	in.MustCLI("db", "complete-restore", "seedme")
	if rows := checkTPCBConsistent(t, in, "seedme"); uint64(rows) != mCopy.LSN-lsn0 {
		t.Fatalf("copy-only restore has %d transactions, backup LSN says %d", rows, mCopy.LSN-lsn0)
	}

	// With writes stopped, a backup restores page-identical to its source.
	quiet := filepath.Join(dir, "quiet.bak")
	mQuiet := mustBackup(t, in, "tpcb", quiet, true)
	in.MustCLI("restore", quiet, "--as", "twin")
	if got := lsnOf(t, in, "twin"); got != mQuiet.LSN {
		t.Fatalf("twin LSN %d, want %d", got, mQuiet.LSN)
	}
	in.Stop()
	res, err := storage.ComparePages(context.Background(), filepath.Join(in.Dir, "databases", "tpcb.db"), filepath.Join(in.Dir, "databases", "twin.db"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal {
		t.Fatalf("restored copy differs from its source: %+v", res)
	}
}

// waitForLSN polls until db's LSN reaches lsn.
func waitForLSN(t *testing.T, in *Instance, db string, lsn uint64) {
	t.Helper()
	testutil.RetryUntil(t, 0, func() error {
		if got := lsnOf(t, in, db); got < lsn {
			return fmt.Errorf("LSN of %s is %d, waiting for %d", db, got, lsn)
		}
		return nil
	})
}
