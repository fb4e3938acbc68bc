package e2e_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"

	_ "modernc.org/sqlite"
)

// TestCapture_StoppedByAnotherProgramIsVisible: another program checkpoints
// and writes a database file behind the instance's back (a gap in the
// replication log that nothing can fill). The capture stops, writes are
// refused with the reason, and an operator sees it where they look: `db
// show`, the link's status on the primary (NOT_HEALTHY, last error) and
// /metrics. It used to show only in the server log and in the refused
// writes.
func TestCapture_StoppedByAnotherProgramIsVisible(t *testing.T) {
	alpha, beta := startLinkedF(t, "cs", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);`, nil)
	waitCaughtUp(t, alpha, beta, "cs", 0)
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('before');`)

	otherProgram(t, alpha, `PRAGMA wal_checkpoint(TRUNCATE)`, `INSERT INTO t (v) VALUES ('behind its back')`, `PRAGMA wal_checkpoint(TRUNCATE)`, `INSERT INTO t (v) VALUES ('again')`)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	testutil.RetryUntil(t, 30*time.Second, func() error {
		out, err := alpha.Psql(ctx, "f", `INSERT INTO t (v) VALUES ('after');`)
		if err == nil || !strings.Contains(out, "capture stopped") {
			return fmt.Errorf("a write after the gap: err %v, psql said %q", err, out)
		}
		return nil
	})
	if out := alpha.MustCLI("db", "show", "f"); !strings.Contains(out, "Capture:") || !strings.Contains(out, "STOPPED") {
		t.Fatalf("db show does not say the capture stopped:\n%s", out)
	}
	st := mustLinkStatus(t, alpha, "cs")
	if st.Local.Health != "NOT_HEALTHY" || st.Local.LastError == nil || !strings.Contains(st.Local.LastError.Message, "capture stopped") || st.Local.LastError.Hint == "" {
		t.Fatalf("the primary's link status: health %s, last error %+v", st.Local.Health, st.Local.LastError)
	}
	if body := metricsText(t, alpha); !strings.Contains(body, `sqlink_database_capture_stopped{database="f"} 1`) {
		t.Fatalf("/metrics has no capture_stopped 1 for f:\n%s", grepLines(body, "capture_stopped"))
	}
	// Its shutdown fails the same way (exit 1, the reason printed), which
	// the harness's Stop counts as an error.
	alpha.Kill()

	// Restarted, the database takes writes again, and the gap is marked,
	// not bridged: the secondary, whose copy lacks the other program's
	// rows, reseeds by itself instead of following on, and the backup
	// chain needs a new full backup.
	attempts := seedAttempts(mustLinkStatus(t, beta, "cs"))
	alpha.Start()
	show := alpha.MustCLI("db", "show", "f")
	if !strings.Contains(show, "History gap:") || !regexpChainNo.MatchString(show) {
		t.Fatalf("db show after the restart does not show the gap and the ended chain:\n%s", show)
	}
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('after the restart');`)
	waitCaughtUp(t, alpha, beta, "cs", 2*time.Minute)
	if got := seedAttempts(mustLinkStatus(t, beta, "cs")); got <= attempts {
		t.Fatalf("the secondary went on across the gap without a reseed: %d seeding attempts, was %d", got, attempts)
	}
	waitRows(t, beta, "f", `SELECT count(*) FROM t WHERE v IN ('behind its back', 'again', 'after the restart');`, 3, 0)
	mustVerify(t, alpha, beta, "cs")
}

// TestCapture_WritesWhileStoppedAreAGap: another program writes to a
// database file while its instance is stopped (SQLite checkpoints the
// write into the file and deletes the WAL when that program closes it).
// Nothing watched, so the next start must find it: the secondary reseeds
// and gets the rows, where it used to follow on without them.
func TestCapture_WritesWhileStoppedAreAGap(t *testing.T) {
	alpha, beta, attempts := linkedWithARow(t, "ws")
	alpha.Stop()
	otherProgram(t, alpha, `INSERT INTO t (v) VALUES ('while stopped')`)

	alpha.Start()
	if show := alpha.MustCLI("db", "show", "f"); !strings.Contains(show, "History gap:") || !strings.Contains(show, "changed while the instance was stopped") {
		t.Fatalf("db show after the restart does not show the gap:\n%s", show)
	}
	st := waitLink(t, alpha, "ws", time.Minute, func(st adminapi.LinkStatus) error {
		if st.Local.LastError == nil || !strings.Contains(st.Local.LastError.Message, "gap") {
			return fmt.Errorf("the primary's last error does not name the gap: %+v", st.Local.LastError)
		}
		return nil
	})
	t.Logf("the primary's last error: %s", st.Local.LastError.Message)
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('after');`)
	waitCaughtUp(t, alpha, beta, "ws", 2*time.Minute)
	if got := seedAttempts(mustLinkStatus(t, beta, "ws")); got <= attempts {
		t.Fatalf("the secondary went on across the gap without a reseed: %d seeding attempts, was %d", got, attempts)
	}
	waitRows(t, beta, "f", `SELECT count(*) FROM t;`, 3, 0)
	mustVerify(t, alpha, beta, "ws")
}

// TestCapture_SecondaryWrittenWhileStoppedReseeds: another program writes
// to a secondary's file while its instance is stopped. That copy no longer
// matches the primary, and its log cannot say how: at the next start the
// secondary must reseed, where it used to follow on with the other
// program's row (and link verify then found pages that differ).
//
// After a clean stop the next start finds the file changed (its stamp);
// after a kill it cannot, and the first record whose page delta does not
// apply to the changed page says so.
func TestCapture_SecondaryWrittenWhileStoppedReseeds(t *testing.T) {
	for _, stop := range []string{"stopped", "killed", "running"} {
		t.Run(stop, func(t *testing.T) { testSecondaryWrittenWhileStopped(t, stop) })
	}
}

func testSecondaryWrittenWhileStopped(t *testing.T, stop string) {
	alpha, beta, attempts := linkedWithARow(t, "sw")
	switch stop {
	case "killed":
		beta.Kill()
	case "stopped":
		beta.Stop()
	}
	otherProgram(t, beta, `UPDATE t SET v = 'behind its back'`)
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('while stopped');`)

	if stop != "running" {
		beta.Start()
	}
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('after');`)
	waitCaughtUp(t, alpha, beta, "sw", 2*time.Minute)
	if got := seedAttempts(mustLinkStatus(t, beta, "sw")); got <= attempts {
		t.Fatalf("the secondary followed on from a copy another program changed: %d seeding attempts, was %d", got, attempts)
	}
	why := map[string]string{ // how each case is found
		"stopped": "changed while the instance was stopped",
		"killed":  "a page delta does not apply",
		"running": "committed to the secondary's database while the instance ran",
	}[stop]
	if !strings.Contains(beta.Output(), why) {
		t.Fatalf("the secondary's log does not say why it reseeded (%q):\n%s", why, beta.Output())
	}
	waitRows(t, beta, "f", `SELECT count(*) FROM t WHERE v IN ('before', 'while stopped', 'after');`, 3, 0)
	if n, err := queryInt(beta, "f", `SELECT count(*) FROM t WHERE v = 'behind its back'`); err != nil || n != 0 {
		t.Fatalf("the other program's change is still on the secondary: %d rows (%v)", n, err)
	}
	mustVerify(t, alpha, beta, "sw")
}

// linkedWithARow links database f, table t with the row 'before', as name
// with extra create flags, waits for the secondary to catch up and returns
// its seeding attempts so far.
func linkedWithARow(t *testing.T, name string, extra ...string) (alpha, beta *Instance, attempts int) {
	t.Helper()
	alpha, beta = startLinkedF(t, name, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);`, nil, extra...)
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('before');`)
	waitCaughtUp(t, alpha, beta, name, 0)
	return alpha, beta, seedAttempts(mustLinkStatus(t, beta, name))
}

// otherProgram runs stmts on database f of in through a SQLite connection
// of its own, as another program would, and closes it.
func otherProgram(t *testing.T, in *Instance, stmts ...string) {
	t.Helper()
	other, err := sql.Open("sqlite", "file:"+filepath.Join(in.Dir, "databases", "f.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, q := range stmts {
		if _, err := other.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
}

var regexpChainNo = regexp.MustCompile(`Backup chain started:\s+no`)

// metricsText returns in's /metrics page.
func metricsText(t testing.TB, in *Instance) string {
	t.Helper()
	req, _ := http.NewRequest("GET", in.AdminURL()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+in.Token)
	resp, err := in.HTTPClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(body)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestCapture_SecondaryChangedWhilePrimaryAway: another program writes to a
// secondary's file while both instances are stopped, and the secondary
// starts alone. Its copy, perhaps the only one left, is kept and stays
// readable, with a last error that says why it applies nothing more (it
// used to be thrown away at once, leaving nothing if the primary never came
// back). When the primary returns it is saved under diverged/ and the
// secondary reseeds; forced over instead, it becomes the primary as it
// stands, its history with a gap.
func TestCapture_SecondaryChangedWhilePrimaryAway(t *testing.T) {
	for _, then := range []string{"primary returns", "forced failover"} {
		t.Run(then, func(t *testing.T) { testSecondaryChangedWhilePrimaryAway(t, then) })
	}
}

func testSecondaryChangedWhilePrimaryAway(t *testing.T, then string) {
	alpha, beta, attempts := linkedWithARow(t, "pa", "--two-way")
	beta.Stop()
	alpha.Stop()
	otherProgram(t, beta, `INSERT INTO t (v) VALUES ('behind its back')`)

	beta.Start()
	waitLink(t, beta, "pa", time.Minute, func(st adminapi.LinkStatus) error {
		if e := st.Local.LastError; e == nil || !strings.Contains(e.Message, "no longer matches its log") || !strings.Contains(e.Message, "changed while the instance was stopped") || !strings.Contains(e.Message, "once the primary is reachable") {
			return fmt.Errorf("last error %+v", e)
		}
		return nil
	})
	if n, err := queryInt(beta, "f", `SELECT count(*) FROM t`); err != nil || n != 2 {
		t.Fatalf("the secondary's copy was not kept readable while the primary is away: %d rows (%v)", n, err)
	}
	if show := beta.MustCLI("db", "show", "f"); !strings.Contains(show, "Diverged:") {
		t.Fatalf("db show does not say the copy diverged:\n%s", show)
	}

	switch then {
	case "primary returns":
		alpha.Start()
		alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('after');`)
		waitCaughtUp(t, alpha, beta, "pa", 2*time.Minute)
		if got := seedAttempts(mustLinkStatus(t, beta, "pa")); got <= attempts {
			t.Fatalf("the secondary followed on from a changed copy: %d seeding attempts, was %d", got, attempts)
		}
		waitRows(t, beta, "f", `SELECT count(*) FROM t WHERE v IN ('before', 'after')`, 2, 0)
		if n, err := queryInt(beta, "f", `SELECT count(*) FROM t WHERE v = 'behind its back'`); err != nil || n != 0 {
			t.Fatalf("the other program's row is still on the reseeded secondary: %d (%v)", n, err)
		}
		mustVerify(t, alpha, beta, "pa")
		// The changed copy was saved first, an ordinary SQLite file.
		saved, _ := filepath.Glob(filepath.Join(beta.Dir, "diverged", "pa-f-changed-*.db"))
		if len(saved) != 1 {
			t.Fatalf("saved copies: %v", saved)
		}
		db, err := sql.Open("sqlite", "file:"+saved[0]+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM t WHERE v = 'behind its back'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("the saved copy %s does not hold the other program's row: %d (%v)", saved[0], n, err)
		}
		if !strings.Contains(beta.Output(), saved[0]) {
			t.Fatalf("the secondary's log does not name the saved copy %s", saved[0])
		}
	case "forced failover":
		out := mustFailover(t, beta, alpha, "pa", "--force", "--allow-data-loss")
		if out.NewPrimary != "beta" {
			t.Fatalf("forced failover: new primary %q", out.NewPrimary)
		}
		beta.MustPsql("f", `INSERT INTO t (v) VALUES ('on the new primary');`)
		if n, err := queryInt(beta, "f", `SELECT count(*) FROM t`); err != nil || n != 3 {
			t.Fatalf("the new primary holds %d rows (%v), want its copy as it stood and the new one", n, err)
		}
		show := beta.MustCLI("db", "show", "f")
		if strings.Contains(show, "Diverged:") || !strings.Contains(show, "History gap:") || !strings.Contains(show, "changed while the instance was stopped") {
			t.Fatalf("db show on the new primary:\n%s", show)
		}
		if saved, _ := filepath.Glob(filepath.Join(beta.Dir, "diverged", "pa-f-changed-*")); len(saved) != 0 {
			t.Fatalf("a copy saved for a reseed that never happened: %v", saved)
		}
	}
}

// TestLink_PrimaryLogDamagedReseeds: a record the secondary still needs is
// damaged in the primary's log (on disk, under a running instance). It
// cannot be sent, and sending again cannot mend it: the link becomes
// RESEED_REQUIRED and the secondary reseeds from a copy of the database,
// where the sender used to fail on it and reconnect forever.
func TestLink_PrimaryLogDamagedReseeds(t *testing.T) {
	alpha, beta, attempts := linkedWithARow(t, "ld")
	beta.Stop()
	for i := 0; i < 5; i++ {
		alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('while away');`)
	}
	segs, _ := filepath.Glob(filepath.Join(alpha.Dir, "databases", "f.db-log", "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no log segment on the primary")
	}
	last := segs[len(segs)-1] // names sort by first LSN
	seg, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	// The active segment's entries are followed by zeros written ahead:
	// the last record ends at (or, its checksum ending in zero bytes,
	// just after) the last byte that is not zero.
	end := len(seg) - 1
	for end >= 0 && seg[end] == 0 {
		end--
	}
	if end < 16 {
		t.Fatalf("log segment %s holds no record", last)
	}
	off := end - 16 // inside the last record, which the secondary lacks
	seg[off] ^= 0xff
	if err := os.WriteFile(last, seg, 0); err != nil {
		t.Fatal(err)
	}

	beta.Start()
	waitLink(t, alpha, "ld", time.Minute, func(st adminapi.LinkStatus) error {
		if e := st.Local.LastError; e == nil || !strings.Contains(e.Message, "damaged") {
			return fmt.Errorf("the primary's last error does not say the log is damaged: %+v", e)
		}
		return nil
	})
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('after');`)
	waitCaughtUp(t, alpha, beta, "ld", 2*time.Minute)
	if got := seedAttempts(mustLinkStatus(t, beta, "ld")); got <= attempts {
		t.Fatalf("caught up without a reseed across a damaged record: %d seeding attempts, was %d", got, attempts)
	}
	waitRows(t, beta, "f", `SELECT count(*) FROM t`, 7, 0)
	mustVerify(t, alpha, beta, "ld")
}
