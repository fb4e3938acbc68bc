package replication

import (
	"github.com/prometheus/client_golang/prometheus"
)

// leaseCollector exports the etcd leases of the links with automatic
// failover.
type leaseCollector struct {
	s                                   *Engine
	holder, held, expiry, fence, health *prometheus.Desc
	failsafe, failovers                 *prometheus.Desc
}

// LeaseCollector returns the /metrics collector of the links' etcd
// leases (links without automatic failover export nothing).
func (s *Engine) LeaseCollector() prometheus.Collector {
	l := []string{"link", "database"}
	return &leaseCollector{
		s:         s,
		holder:    prometheus.NewDesc("sqlink_link_lease_holder", "1 for the instance whose etcd lease holds the link (holder \"\" when none does).", append(l, "holder"), nil),
		held:      prometheus.NewDesc("sqlink_link_lease_held", "1 when this instance holds the link's etcd lease.", l, nil),
		expiry:    prometheus.NewDesc("sqlink_link_lease_expiry_seconds", "Seconds until the holder's etcd lease expires unless renewed (0 when none holds it).", l, nil),
		fence:     prometheus.NewDesc("sqlink_link_lease_fence_seconds", "Primary: seconds until it stops writes unless a renewal is confirmed.", l, nil),
		health:    prometheus.NewDesc("sqlink_link_etcd_healthy", "1 when this instance reaches an etcd quorum for the link.", l, nil),
		failsafe:  prometheus.NewDesc("sqlink_link_lease_failsafe", "1 when the primary keeps writes without etcd because its secondary holds every commit.", l, nil),
		failovers: prometheus.NewDesc("sqlink_link_automatic_failovers_total", "Automatic promotions of this replica since the instance started.", l, nil),
	}
}

func (c *leaseCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.holder, c.held, c.expiry, c.fence, c.health, c.failsafe, c.failovers} {
		ch <- d
	}
}

func (c *leaseCollector) Collect(ch chan<- prometheus.Metric) {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, rt := range c.s.runtimes() {
		rt.mu.Lock()
		as := rt.autoFailoverStatusLocked()
		rt.mu.Unlock()
		if as == nil {
			continue
		}
		lv := []string{rt.id.name, rt.id.database}
		g := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(lv, extra...)...)
		}
		g(c.holder, 1, as.Holder)
		g(c.held, b(as.Held))
		g(c.expiry, as.ExpiresInSeconds)
		g(c.fence, as.FenceInSeconds)
		g(c.health, b(as.EtcdHealthy))
		g(c.failsafe, b(as.Failsafe))
		ch <- prometheus.MustNewConstMetric(c.failovers, prometheus.CounterValue, float64(as.AutomaticFailovers), lv...)
	}
}
