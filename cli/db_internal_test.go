package cli

import (
	"bytes"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/sqlink/sqlink/adminapi"
)

// TestPrintDatabase_GapAndDivergence: db show names a gap in the history
// and a secondary's diverged copy, each with where and why.
func TestPrintDatabase_GapAndDivergence(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	d := adminapi.DatabaseInfo{
		Name:     "f",
		Gap:      &adminapi.HistoryGap{LSN: 7, Time: at, Why: "the database file changed while the instance was stopped"},
		Diverged: &adminapi.HistoryGap{LSN: 42, Time: at, Why: "another program committed to the secondary's database while the instance ran"},
	}
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	printDatabase(w, d)
	w.Flush()
	out := b.String()
	for _, want := range []string{"History gap:", "at LSN 7", "Diverged:", "at redone LSN 42", "while the instance ran", "reseeds"} {
		if !strings.Contains(out, want) {
			t.Errorf("db show lacks %q:\n%s", want, out)
		}
	}
	var plain bytes.Buffer
	w = tabwriter.NewWriter(&plain, 0, 4, 2, ' ', 0)
	printDatabase(w, adminapi.DatabaseInfo{Name: "f"})
	w.Flush()
	if s := plain.String(); strings.Contains(s, "Diverged") || strings.Contains(s, "History gap") {
		t.Errorf("db show of a database with neither:\n%s", s)
	}
}
