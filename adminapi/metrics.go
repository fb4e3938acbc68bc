package adminapi

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's own request metrics.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sqlink_admin_requests_total",
			Help: "Admin API requests by action and HTTP status.",
		}, []string{"action", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sqlink_admin_request_duration_seconds",
			Help:    "Admin API request latency by action.",
			Buckets: prometheus.DefBuckets,
		}, []string{"action"}),
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	return m
}

// register registers c, or returns the collector already registered under
// its name, so that two handlers can share one registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("adminapi: register metrics: " + err.Error())
	}
	return c
}

func (m *metrics) observe(action string, status int, d time.Duration) {
	m.requests.WithLabelValues(action, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(action).Observe(d.Seconds())
}
