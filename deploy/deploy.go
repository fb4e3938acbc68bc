// Package deploy holds the files for running sqlink under Prometheus and
// Grafana (prometheus/alerts.yml, grafana/sqlink.json) and reads the PromQL
// expressions out of them, so that tests can check each metric they use is
// one an instance exports.
package deploy

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"

	"go.yaml.in/yaml/v3"
)

//go:embed prometheus/alerts.yml
var alertsYAML []byte

//go:embed grafana/sqlink.json
var dashboardJSON []byte

// AlertExpressions returns each alert rule's name and expression.
func AlertExpressions() (map[string]string, error) {
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(alertsYAML, &f); err != nil {
		return nil, fmt.Errorf("parse alerts.yml: %w", err)
	}
	out := make(map[string]string)
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out[r.Alert] = r.Expr
		}
	}
	return out, nil
}

// Dashboard is the part of the Grafana dashboard the checks read.
type Dashboard struct {
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource json.RawMessage `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []Panel `json:"panels"`
}

// Panel is one dashboard panel (rows are panels with no targets).
type Panel struct {
	Title      string          `json:"title"`
	Type       string          `json:"type"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []struct {
		Expr       string          `json:"expr"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
}

// LoadDashboard parses grafana/sqlink.json.
func LoadDashboard() (*Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(dashboardJSON, &d); err != nil {
		return nil, fmt.Errorf("parse sqlink.json: %w", err)
	}
	return &d, nil
}

// DashboardExpressions returns the dashboard's query expressions, each
// under its panel's title and its index in the panel, and those of its
// template variables (label_values(...) queries) under "variable NAME".
func DashboardExpressions() (map[string]string, error) {
	d, err := LoadDashboard()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	for _, p := range d.Panels {
		for i, t := range p.Targets {
			out[fmt.Sprintf("panel %q target %d", p.Title, i)] = t.Expr
		}
	}
	for _, v := range d.Templating.List {
		var q struct {
			Query string `json:"query"`
		}
		if v.Type == "query" && json.Unmarshal(v.Query, &q) == nil && q.Query != "" {
			out["variable "+v.Name] = q.Query
		}
	}
	return out, nil
}

// metricName matches the names of the metrics sqlink exports, the Go
// client's process and runtime metrics included; label names and PromQL
// functions never start with these prefixes.
var metricName = regexp.MustCompile(`\b(?:sqlink|process|go)_[a-zA-Z0-9_]+\b`)

// MetricNames returns the metric names in expr, sorted, once each.
func MetricNames(expr string) []string {
	seen := make(map[string]bool)
	var out []string
	for _, m := range metricName.FindAllString(expr, -1) {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}
