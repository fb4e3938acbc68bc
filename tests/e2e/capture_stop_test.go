package e2e_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

	other, err := sql.Open("sqlite", "file:"+filepath.Join(alpha.Dir, "databases", "f.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, q := range []string{`PRAGMA wal_checkpoint(TRUNCATE)`, `INSERT INTO t (v) VALUES ('behind its back')`, `PRAGMA wal_checkpoint(TRUNCATE)`, `INSERT INTO t (v) VALUES ('again')`} {
		if _, err := other.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	other.Close()

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
}

// metricsText returns in's /metrics page.
func metricsText(t testing.TB, in *Instance) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+in.AdminAddr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+in.Token)
	resp, err := http.DefaultClient.Do(req)
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
