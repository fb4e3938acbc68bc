package e2e_test

import (
	"bufio"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// progressEvent is one {"event":"progress"} line.
type progressEvent struct {
	Event     string  `json:"event"`
	Operation string  `json:"operation"`
	Done      int64   `json:"done"`
	Total     int64   `json:"total"`
	Rate      float64 `json:"rate_per_second"`
	Finished  bool    `json:"finished"`
}

// progressEvents returns the progress events among JSON lines.
func progressEvents(t *testing.T, out string) []progressEvent {
	t.Helper()
	var evs []progressEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var ev progressEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "progress" {
			evs = append(evs, ev)
		}
	}
	return evs
}

// mustFinish asserts the events end with a finished one of op at its total.
func mustFinish(t *testing.T, what, out, op string) {
	t.Helper()
	evs := progressEvents(t, out)
	if len(evs) == 0 {
		t.Fatalf("%s printed no progress event:\n%s", what, out)
	}
	last := evs[len(evs)-1]
	if !last.Finished || !strings.HasPrefix(last.Operation, op) || last.Total > 0 && last.Done != last.Total {
		t.Fatalf("%s: last progress event %+v", what, last)
	}
}

// TestGuide_ProgressEvents: with --json the long operations report
// progress as JSON events; without it (and no terminal) nothing changes.
func TestGuide_ProgressEvents(t *testing.T) {
	alpha := MustStartInstance(t, "alpha")
	beta := MustStartInstance(t, "beta")
	alpha.MustCLI("db", "create", "f")
	alpha.MustPsql("f", `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB); `+insert500kB)

	file := filepath.Join(t.TempDir(), "f.bak")
	r := alpha.CLI("backup", "f", "--to", file, "--json")
	if r.Code != 0 {
		t.Fatalf("backup: %d %s", r.Code, r.Stderr)
	}
	mustFinish(t, "backup --json", r.Stderr, "backup")
	if r := alpha.CLI("backup", "f", "--to", filepath.Join(t.TempDir(), "g.bak")); r.Code != 0 || r.Stderr != "" {
		t.Fatalf("backup without --json on a pipe printed on stderr: %q", r.Stderr)
	}
	r = beta.CLI("restore", file, "--as", "copy", "--json")
	if r.Code != 0 {
		t.Fatalf("restore: %d %s", r.Code, r.Stderr)
	}
	mustFinish(t, "restore --json", r.Stderr, "restore")

	out := alpha.MustCLI(append([]string{"link", "create", "--name", "l", "--database", "f", "--two-way", "--wait", "--json"}, linkFlags(alpha, beta)...)...)
	mustFinish(t, "link create --wait --json", out, "seed l")
	if evs := parseCreateOutput(t, out); evs[len(evs)-1].Event != "result" {
		t.Fatalf("link create --wait --json does not end with its result:\n%s", out)
	}
	waitCaughtUp(t, alpha, beta, "l", 0)

	r = alpha.CLI(append([]string{"link", "verify", "l", "--json"}, linkFlags(alpha, beta)...)...)
	if r.Code != 0 {
		t.Fatalf("verify: %d %s", r.Code, r.Stderr)
	}
	mustFinish(t, "verify --json", r.Stderr, "verify")

	r = alpha.CLI("link", "failover", "l", "--json")
	if r.Code != 0 {
		t.Fatalf("failover: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	mustFinish(t, "failover --json", r.Stderr, "drain")
}
