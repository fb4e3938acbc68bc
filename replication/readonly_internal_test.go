package replication

import (
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/etcdlease"
	"github.com/sqlink/sqlink/link"
)

// A fenced primary's writers are told what etcd says, never that the
// partner is primary when etcd has not given it the link.
func TestFencedReason(t *testing.T) {
	for _, tc := range []struct {
		o          *etcdlease.Observation
		want, hint string
	}{
		{nil, "no etcd configured", "--etcd-endpoints"},
		{&etcdlease.Observation{Healthy: false, Err: "context deadline exceeded"}, "etcd is unreachable from here (context deadline exceeded)", "etcd answers again"},
		{&etcdlease.Observation{Healthy: true, Holder: "beta", Epoch: 2}, "etcd holds a newer epoch 2 at instance beta", "connect to instance beta"},
		{&etcdlease.Observation{Healthy: true, KeyEpoch: 1}, "etcd holds no live lease (epoch 1)", "renews its lease"},
		{&etcdlease.Observation{Healthy: true, Holder: "alpha", Epoch: 1}, "holds the lease again", "retry"},
	} {
		r := fencedReason("af", "alpha", 1, tc.o)
		if !strings.Contains(r.Why, "fenced itself: its etcd lease was not renewed in time") || !strings.Contains(r.Why, tc.want) || !strings.Contains(r.Hint, tc.hint) {
			t.Errorf("fencedReason(%+v) = %+v, want %q and hint %q", tc.o, r, tc.want, tc.hint)
		}
	}
	hs := link.HardState{AutoFailover: true, Role: sqlink.RolePrimary}
	if !fencedPrimary(hs) {
		t.Error("a read-only auto-failover primary is not fenced")
	}
	hs.Role = sqlink.RoleSecondary
	if fencedPrimary(hs) {
		t.Error("a secondary counted as a fenced primary")
	}
	hs = link.HardState{AutoFailover: true, Role: sqlink.RolePrimary, Op: link.Op{Kind: link.OpPlanned, Step: link.StepDraining}}
	if fencedPrimary(hs) {
		t.Error("a primary draining for a planned failover counted as fenced")
	}
}
