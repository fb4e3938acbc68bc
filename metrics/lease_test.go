package metrics

import (
	"context"
	"testing"

	"github.com/sqlink/sqlink/adminapi"
)

// Only links with automatic failover export lease metrics.
func TestLeaseCollector(t *testing.T) {
	c := NewLeaseCollector(func(context.Context) ([]adminapi.LinkStatus, error) {
		return []adminapi.LinkStatus{
			{Name: "plain", Database: "a"},
			{Name: "af", Database: "b", AutoFailover: &adminapi.AutoFailoverStatus{Holder: "beta", Epoch: 3, Held: true,
				ExpiresInSeconds: 7.5, FenceInSeconds: 5, EtcdHealthy: true, AutomaticFailovers: 2}},
		}, nil
	})
	got := gather(t, c)
	want := map[string]float64{
		"sqlink_link_lease_holder,database=b,holder=beta,link=af":  1,
		"sqlink_link_lease_held,database=b,link=af":                1,
		"sqlink_link_lease_expiry_seconds,database=b,link=af":      7.5,
		"sqlink_link_lease_fence_seconds,database=b,link=af":       5,
		"sqlink_link_etcd_healthy,database=b,link=af":              1,
		"sqlink_link_lease_failsafe,database=b,link=af":            0,
		"sqlink_link_automatic_failovers_total,database=b,link=af": 2,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d series, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if got := gather(t, NewLeaseCollector(nil)); len(got) != 0 {
		t.Fatalf("without a source: %v", got)
	}
}
