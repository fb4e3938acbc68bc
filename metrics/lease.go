package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sqlink/sqlink/adminapi"
)

// LeaseCollector exports the etcd leases of the links with automatic
// failover (LinkStatus.AutoFailover); other links export nothing.
type LeaseCollector struct {
	links                               func(context.Context) ([]adminapi.LinkStatus, error)
	holder, held, expiry, fence, health *prometheus.Desc
	failsafe, failovers                 *prometheus.Desc
}

// NewLeaseCollector returns the collector; links returns every link's
// status, as the admin API does.
func NewLeaseCollector(links func(context.Context) ([]adminapi.LinkStatus, error)) *LeaseCollector {
	l := []string{"link", "database"}
	return &LeaseCollector{
		links:     links,
		holder:    prometheus.NewDesc("sqlink_link_lease_holder", "1 for the instance whose etcd lease holds the link (holder \"\" when none does).", append(l, "holder"), nil),
		held:      prometheus.NewDesc("sqlink_link_lease_held", "1 when this instance holds the link's etcd lease.", l, nil),
		expiry:    prometheus.NewDesc("sqlink_link_lease_expiry_seconds", "Seconds until the holder's etcd lease expires unless renewed (0 when none holds it).", l, nil),
		fence:     prometheus.NewDesc("sqlink_link_lease_fence_seconds", "Primary: seconds until it stops writes unless a renewal is confirmed.", l, nil),
		health:    prometheus.NewDesc("sqlink_link_etcd_healthy", "1 when this instance reaches an etcd quorum for the link.", l, nil),
		failsafe:  prometheus.NewDesc("sqlink_link_lease_failsafe", "1 when etcd is unreachable from both instances and the sync primary keeps writes on its secondary's word.", l, nil),
		failovers: prometheus.NewDesc("sqlink_link_automatic_failovers_total", "Automatic promotions of this replica since the instance started.", l, nil),
	}
}

func (c *LeaseCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.holder, c.held, c.expiry, c.fence, c.health, c.failsafe, c.failovers} {
		ch <- d
	}
}

func (c *LeaseCollector) Collect(ch chan<- prometheus.Metric) {
	if c.links == nil {
		return
	}
	links, _ := c.links(context.Background())
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, ls := range links {
		as := ls.AutoFailover
		if as == nil {
			continue
		}
		lv := []string{ls.Name, ls.Database}
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
