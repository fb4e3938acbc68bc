package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/deploy"
	"github.com/sqlink/sqlink/etcdlease/etcdtest"
	"github.com/sqlink/sqlink/internal/testutil"
)

// TestMetrics_DeployFilesUseExportedNames: every metric the Prometheus alert
// rules (deploy/prometheus/alerts.yml) and the Grafana dashboard
// (deploy/grafana/sqlink.json) query is on a real instance's /metrics, the
// link metrics included: a renamed metric must not leave a silent alert or
// an empty panel behind.
func TestMetrics_DeployFilesUseExportedNames(t *testing.T) {
	alerts, err := deploy.AlertExpressions()
	if err != nil {
		t.Fatal(err)
	}
	dash, err := deploy.DashboardExpressions()
	if err != nil {
		t.Fatal(err)
	}
	used := make(map[string][]string) // metric -> where it is used
	for where, exprs := range map[string]map[string]string{"alerts.yml": alerts, "sqlink.json": dash} {
		for k, e := range exprs {
			names := deploy.MetricNames(e)
			if len(names) == 0 {
				t.Errorf("%s %s: no sqlink metric in %q", where, k, e)
			}
			for _, n := range names {
				used[n] = append(used[n], where+" "+k)
			}
		}
	}
	if len(used) < 10 {
		t.Fatalf("only %d metric names found in the deploy files: %v", len(used), used)
	}

	alpha, beta := startLinkedF(t, "mx", `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);`, nil)
	waitCaughtUp(t, alpha, beta, "mx", 0)
	// A commit acknowledged by the secondary gives the acknowledgment lag
	// histogram its first series.
	alpha.MustPsql("f", `INSERT INTO t (v) VALUES ('a'); INSERT INTO t (v) VALUES ('b');`)
	waitCaughtUp(t, alpha, beta, "mx", 0)

	// The lease metrics exist only on links with --auto-failover: a second
	// pair, connected to an embedded etcd, has one.
	c := etcdtest.Start(t, 1)
	autoA, autoB := mustSetupAutoLink(t, c, "af")

	var missing []string
	var exported map[string]bool
	testutil.RetryUntil(t, 30*time.Second, func() error {
		exported = map[string]bool{}
		for _, in := range []*Instance{alpha, beta, autoA, autoB} {
			for n := range exportedNames(metricsText(t, in)) {
				exported[n] = true
			}
		}
		missing = missing[:0]
		for n, where := range used {
			if !exported[n] {
				sort.Strings(where)
				missing = append(missing, fmt.Sprintf("%s (used in %s)", n, strings.Join(where, "; ")))
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return fmt.Errorf("not on /metrics of either instance:\n%s", strings.Join(missing, "\n"))
		}
		return nil
	})

	// And docs/metrics.md documents every sqlink metric exported.
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	undocumented := make(map[string]bool)
	for n := range exported {
		if !strings.HasPrefix(n, "sqlink_") {
			continue
		}
		base := n
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suf); ok && exported[b+"_count"] && exported[b+"_sum"] {
				base = b
			}
		}
		if !strings.Contains(string(doc), "`"+base+"`") {
			undocumented[base] = true
		}
	}
	for n := range undocumented {
		t.Errorf("docs/metrics.md does not document %s", n)
	}
}

// exportedNames returns the names of the samples in a /metrics text.
func exportedNames(body string) map[string]bool {
	out := make(map[string]bool)
	for _, l := range strings.Split(body, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, _, _ := strings.Cut(l, "{")
		name, _, _ = strings.Cut(name, " ")
		out[name] = true
	}
	return out
}
