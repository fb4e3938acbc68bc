package e2e_test

import (
	"testing"
	"time"
)

// TestNetLab_PartitionAndHeal: the partition tests' lab works: a 3-member
// etcd cluster and two instances, each in a network namespace of its own,
// reachable from the test; a cut stops traffic between exactly the pair
// cut, in both directions, and healing restores it.
func TestNetLab_PartitionAndHeal(t *testing.T) {
	lab := newNetLab(t, "alpha", "beta", "etcd1", "etcd2", "etcd3")
	ms := startEtcdCluster(t, lab, "etcd1", "etcd2", "etcd3")
	eps := etcdEndpoints(ms)
	alpha := startNetInstance(t, lab, "alpha", "--etcd-endpoints", eps)
	beta := startNetInstance(t, lab, "beta", "--etcd-endpoints", eps)
	lab.healAtEnd()
	a, b := lab.Node("alpha"), lab.Node("beta")

	reach := func(from *netNode, addr string, want bool) {
		t.Helper()
		err := dialFrom(from.NS, addr, 500*time.Millisecond)
		if want && err != nil {
			t.Fatalf("%s does not reach %s: %v", from.Name, addr, err)
		}
		if !want && err == nil {
			t.Fatalf("%s reaches %s across a cut", from.Name, addr)
		}
	}
	for _, addr := range []string{alpha.ClientAddr, beta.ClientAddr, ms[0].node.IP + ":2379"} {
		if err := dialFrom("", addr, time.Second); err != nil {
			t.Fatalf("the test does not reach %s: %v", addr, err)
		}
	}
	reach(a, beta.EndpointAddr, true)
	reach(b, alpha.EndpointAddr, true)
	reach(a, ms[0].node.IP+":2379", true)

	lab.Cut("alpha", "beta", "etcd1")
	reach(a, beta.EndpointAddr, false)
	reach(b, alpha.EndpointAddr, false)
	reach(a, ms[0].node.IP+":2379", false)
	reach(ms[0].node, alpha.AdminAddr, false)
	reach(a, ms[1].node.IP+":2379", true)
	reach(b, ms[0].node.IP+":2379", true)
	if err := dialFrom("", alpha.ClientAddr, time.Second); err != nil {
		t.Fatalf("the test does not reach a partitioned instance: %v", err)
	}

	lab.Heal()
	reach(a, beta.EndpointAddr, true)
	reach(b, alpha.EndpointAddr, true)
	reach(a, ms[0].node.IP+":2379", true)
	waitEtcdQuorum(t, ms)
}
