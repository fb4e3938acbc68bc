package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// promtool returns the path of promtool; it skips the test when promtool is
// missing, except in CI, where .ci/run installs it (Debian's prometheus).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed; .ci/run must install it (apt-get install prometheus)")
		}
		t.Skip("promtool is not installed (apt-get install --no-install-recommends prometheus)")
	}
	return p
}

func runPromtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

// TestAlertRules checks the alert rules with promtool and runs their unit
// tests (prometheus/alerts_test.yml: each alert fires on its case).
func TestAlertRules(t *testing.T) {
	runPromtool(t, "prometheus", "check", "rules", "alerts.yml")
	runPromtool(t, "prometheus", "test", "rules", "alerts_test.yml")
}

// TestAlertAnnotations checks every alert has a severity, a summary and a
// description that says what to do.
func TestAlertAnnotations(t *testing.T) {
	exprs, err := AlertExpressions()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SqlinkSecondaryLagHigh", "SqlinkLinkDisconnected", "SqlinkLinkReseedRequired",
		"SqlinkLinkSplitBrain", "SqlinkEndpointCertificateExpiring", "SqlinkTLSCertificateExpiring", "SqlinkLogNearCap",
		"SqlinkEtcdUnreachable", "SqlinkLeaseFailsafe", "SqlinkLinkNoWritablePrimary", "SqlinkAutomaticFailover"} {
		if exprs[want] == "" {
			t.Errorf("alerts.yml has no alert %s", want)
		}
	}
	b, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(b), "- alert: ")[1:] {
		name, _, _ := strings.Cut(block, "\n")
		for _, want := range []string{"severity:", "summary:", "description:", "What to do:"} {
			if !strings.Contains(block, want) {
				t.Errorf("alert %s has no %q", name, want)
			}
		}
	}
}

// TestDashboardExpressions checks that the dashboard queries through its
// datasource variable and that each of its expressions parses, by giving
// them to promtool as recording rules (Grafana's variables replaced by
// values).
func TestDashboardExpressions(t *testing.T) {
	d, err := LoadDashboard()
	if err != nil {
		t.Fatal(err)
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" {
			hasDS = true
		}
	}
	if !hasDS {
		t.Error("the dashboard has no datasource variable named datasource")
	}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if !strings.Contains(string(p.Datasource), "${datasource}") {
			t.Errorf("panel %q does not query through ${datasource}: %s", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
	exprs, err := DashboardExpressions()
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(exprs))
	for k := range exprs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", `"$instance"`, `".*"`, `"$link"`, `".*"`)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, k := range keys {
		e := exprs[k]
		if strings.HasPrefix(k, "variable ") {
			// label_values(SELECTOR, label) is Grafana's, not PromQL: check
			// the selector.
			inner := strings.TrimSuffix(strings.TrimPrefix(e, "label_values("), ")")
			i := strings.LastIndex(inner, ",")
			if !strings.HasPrefix(e, "label_values(") || i < 0 {
				t.Errorf("%s: unexpected query %q", k, e)
				continue
			}
			e = inner[:i]
		}
		if strings.Contains(r.Replace(e), "$") {
			t.Errorf("%s: a variable the check does not replace: %s", k, e)
		}
		n++
		fmt.Fprintf(&rules, "      - record: dashboard:expr%d\n        expr: %s\n", n, strconv.Quote(r.Replace(e)))
	}
	f := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	if err := os.WriteFile(f, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, ".", "check", "rules", f)
}

// TestMetricNames checks the extraction the e2e test relies on.
func TestMetricNames(t *testing.T) {
	got := MetricNames(`sqlink_link_log_send_queue_bytes{role="primary", state="SPLIT_BRAIN"} / on (instance, link) sqlink_link_log_cap_bytes + rate(process_cpu_seconds_total[5m]) + sqlink_link_log_cap_bytes`)
	want := []string{"process_cpu_seconds_total", "sqlink_link_log_cap_bytes", "sqlink_link_log_send_queue_bytes"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("MetricNames = %v, want %v", got, want)
	}
}
