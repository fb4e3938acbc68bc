package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestProgress_JSONEventsAndBar(t *testing.T) {
	clock := time.Unix(1000, 0)
	var out bytes.Buffer
	p := &progress{w: &out, json: true, op: "backup", unit: "bytes", total: 100, now: func() time.Time { return clock }}
	p.start = clock
	clock = clock.Add(2 * time.Second)
	p.Add(50)
	clock = clock.Add(2 * time.Second)
	p.Add(50)
	p.End(nil)
	var evs []ProgressEvent
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev ProgressEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		evs = append(evs, ev)
	}
	first, last := evs[0], evs[len(evs)-1]
	if first.Done != 50 || first.Percent != 50 || first.Rate != 25 || first.ETASeconds != 2 || first.Finished {
		t.Fatalf("first event %+v", first)
	}
	if !last.Finished || last.Done != 100 || last.ETASeconds != 0 {
		t.Fatalf("last event %+v", last)
	}
	line := progressLine(first)
	for _, want := range []string{"backup", "[===============", "50.0%", "50 B/100 B", "25 B/s", "ETA 2s"} {
		if !strings.Contains(line, want) {
			t.Fatalf("bar %q lacks %q", line, want)
		}
	}
	if l := progressLine(last); !strings.Contains(l, "done in 4s") {
		t.Fatalf("final bar %q", l)
	}
}

func TestProgress_OffWithoutTerminalOrJSON(t *testing.T) {
	m := &Main{Stderr: &bytes.Buffer{}, output: "table"}
	if p := m.newProgress("backup", "bytes", 10, m.Stderr); p.enabled() {
		t.Fatal("progress on without a terminal or --json")
	}
	var p *progress
	p.Add(1) // a nil progress does nothing
	p.End(nil)
}
