package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/storage"
)

// gather scrapes c and returns each metric's value by name and labels.
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func TestCollectorReadsItsSources(t *testing.T) {
	expiry := time.Unix(2_000_000_000, 0)
	c := NewCollector(Sources{
		Databases: func() map[string]storage.Stats {
			return map[string]storage.Stats{"app": {Pos: sqlink.Pos{LSN: 42}, PageCount: 7, ReadOnly: true, CaptureError: "disk full"}}
		},
		Sessions:     func() int { return 3 },
		CertNotAfter: func() time.Time { return expiry },
		Links: func(context.Context) ([]adminapi.LinkStatus, error) {
			return []adminapi.LinkStatus{{Name: "l1", Database: "app", State: "SYNCHRONIZED", Epoch: 4,
				Local: adminapi.ReplicaStatus{Role: sqlink.RolePrimary, Connected: true, LastSentLSN: 40}}}, nil
		},
	})
	got := gather(t, c)
	want := map[string]float64{
		"sqlink_database_lsn,database=app":                                       42,
		"sqlink_database_pages,database=app":                                     7,
		"sqlink_database_read_only,database=app":                                 1,
		"sqlink_database_capture_stopped,database=app":                           1,
		"sqlink_database_last_commit_timestamp_seconds,database=app":             0,
		"sqlink_client_sessions":                                                 3,
		"sqlink_endpoint_certificate_expiry_timestamp_seconds":                   float64(expiry.Unix()),
		"sqlink_link_connected,database=app,link=l1,role=PRIMARY":                1,
		"sqlink_link_lsn,database=app,kind=sent,link=l1,role=PRIMARY":            40,
		"sqlink_link_state,database=app,link=l1,role=PRIMARY,state=SYNCHRONIZED": 1,
		"sqlink_link_epoch,database=app,link=l1,role=PRIMARY":                    4,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

func TestCollectorWithoutSources(t *testing.T) {
	if got := gather(t, NewCollector(Sources{})); len(got) != 0 {
		t.Fatalf("metrics without sources: %v", got)
	}
}
