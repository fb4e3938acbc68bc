// Package metrics exports an instance's figures to Prometheus: per
// database and per link, read at scrape time from the sources the server
// wires in, so nothing is counted twice on the commit path.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/storage"
)

// Sources are what the collector reads at each scrape. A nil func leaves
// its metrics out.
type Sources struct {
	// Databases returns the open databases' figures by name.
	Databases func() map[string]storage.Stats
	// Sessions returns the number of open client sessions.
	Sessions func() int
	// CertNotAfter returns the endpoint certificate's expiry (zero: none).
	CertNotAfter func() time.Time
	// TLSNotAfter returns the client and admin listeners' certificate's
	// expiry (zero: none).
	TLSNotAfter func() time.Time
	// Links returns every link's status, as the admin API does.
	Links func(context.Context) ([]adminapi.LinkStatus, error)
}

// Collector is a prometheus.Collector of an instance's databases and
// links. It holds no state of its own beyond its descriptions.
type Collector struct {
	src        Sources
	lsn        *prometheus.Desc
	pages      *prometheus.Desc
	walBytes   *prometheus.Desc
	logBytes   *prometheus.Desc
	readOnly   *prometheus.Desc
	sessions   *prometheus.Desc
	certExpiry *prometheus.Desc
	tlsExpiry  *prometheus.Desc
	lastCommit *prometheus.Desc

	linkConnected *prometheus.Desc
	capStopped    *prometheus.Desc
	linkLag       *prometheus.Desc
	linkSendQueue *prometheus.Desc
	linkRedoQueue *prometheus.Desc
	linkSendRate  *prometheus.Desc
	linkRedoRate  *prometheus.Desc
	linkLSN       *prometheus.Desc
	linkLossTx    *prometheus.Desc
	linkLossSec   *prometheus.Desc
	linkLogBytes  *prometheus.Desc
	linkLogCap    *prometheus.Desc
	linkState     *prometheus.Desc
	linkSeedBytes *prometheus.Desc
	linkEpoch     *prometheus.Desc
	linkDiverged  *prometheus.Desc
}

// NewCollector returns a collector reading src.
func NewCollector(src Sources) *Collector {
	l := []string{"database"}
	ll := []string{"link", "database", "role"}
	return &Collector{
		src:        src,
		lsn:        prometheus.NewDesc("sqlink_database_lsn", "Last committed LSN of the database.", l, nil),
		pages:      prometheus.NewDesc("sqlink_database_pages", "Database size in pages.", l, nil),
		walBytes:   prometheus.NewDesc("sqlink_database_wal_bytes", "Size of the database's SQLite WAL file.", l, nil),
		logBytes:   prometheus.NewDesc("sqlink_database_log_bytes", "Size of the database's replication log.", l, nil),
		readOnly:   prometheus.NewDesc("sqlink_database_read_only", "1 when the database is a read-only secondary.", l, nil),
		capStopped: prometheus.NewDesc("sqlink_database_capture_stopped", "1 when the capture of commits into the replication log stopped (writes fail until the instance restarts).", l, nil),
		lastCommit: prometheus.NewDesc("sqlink_database_last_commit_timestamp_seconds", "Time of the last commit.", l, nil),
		sessions:   prometheus.NewDesc("sqlink_client_sessions", "Open PostgreSQL client sessions.", nil, nil),
		certExpiry: prometheus.NewDesc("sqlink_endpoint_certificate_expiry_timestamp_seconds", "When this instance's endpoint certificate expires (rotate it before: sqlink cert rotate).", nil, nil),
		tlsExpiry:  prometheus.NewDesc("sqlink_tls_certificate_expiry_timestamp_seconds", "When the client and admin listeners' TLS certificate expires (replace its files before; SIGHUP reloads them).", nil, nil),

		linkConnected: prometheus.NewDesc("sqlink_link_connected", "1 when the link's replicas are connected.", ll, nil),
		linkLag:       prometheus.NewDesc("sqlink_link_secondary_lag_seconds", "Now minus the commit time of the oldest primary transaction the secondary has not redone.", ll, nil),
		linkSendQueue: prometheus.NewDesc("sqlink_link_log_send_queue_bytes", "Log committed on the primary and not yet hardened on the secondary (estimate).", ll, nil),
		linkRedoQueue: prometheus.NewDesc("sqlink_link_redo_queue_bytes", "Log hardened on the secondary and not yet redone (estimate).", ll, nil),
		linkSendRate:  prometheus.NewDesc("sqlink_link_log_send_rate_bytes", "Log sent (primary) or received (secondary), bytes per second.", ll, nil),
		linkRedoRate:  prometheus.NewDesc("sqlink_link_redo_rate_bytes", "Log redone on the secondary, bytes per second.", ll, nil),
		linkLSN:       prometheus.NewDesc("sqlink_link_lsn", "Last LSN of each kind (sent, received, hardened, redone, commit).", append(ll, "kind"), nil),
		linkLossTx:    prometheus.NewDesc("sqlink_link_estimated_loss_transactions", "Transactions a forced failover would lose now.", ll, nil),
		linkLossSec:   prometheus.NewDesc("sqlink_link_estimated_loss_seconds", "Seconds of commits a forced failover would lose now.", ll, nil),
		linkLogBytes:  prometheus.NewDesc("sqlink_link_log_bytes", "Replication log kept on this replica.", ll, nil),
		linkLogCap:    prometheus.NewDesc("sqlink_link_log_cap_bytes", "On a primary: the most log it keeps for a secondary that has not hardened it (--link-log-cap); past it the link is RESEED_REQUIRED.", ll, nil),
		linkState:     prometheus.NewDesc("sqlink_link_state", "1 for the link's current state.", append(ll, "state"), nil),
		linkSeedBytes: prometheus.NewDesc("sqlink_link_seed_bytes_done", "Bytes of the current seed copied.", ll, nil),
		linkEpoch:     prometheus.NewDesc("sqlink_link_epoch", "The link's epoch on this replica (it increases at every role change).", ll, nil),
		linkDiverged:  prometheus.NewDesc("sqlink_link_split_brain_diverged_transactions", "In a split brain, the transactions after the fork LSN on each side.", append(ll, "side"), nil),
	}
}

func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lsn, c.pages, c.walBytes, c.logBytes, c.readOnly, c.capStopped, c.lastCommit, c.sessions, c.certExpiry, c.tlsExpiry,
		c.linkConnected, c.linkLag, c.linkSendQueue, c.linkRedoQueue, c.linkSendRate, c.linkRedoRate, c.linkLSN,
		c.linkLossTx, c.linkLossSec, c.linkLogBytes, c.linkLogCap, c.linkState, c.linkSeedBytes, c.linkEpoch, c.linkDiverged} {
		ch <- d
	}
}

func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	var dbs map[string]storage.Stats
	if c.src.Databases != nil {
		dbs = c.src.Databases()
	}
	snap := make(map[string]*dbStats, len(dbs))
	for name, st := range dbs {
		snap[name] = &dbStats{lsn: float64(st.Pos.LSN), pages: float64(st.PageCount), wal: float64(st.WALBytes),
			log: float64(st.LogBytes), ro: st.ReadOnly, stopped: st.CaptureError != "", last: st.LastCommit.Unix()}
		if st.LastCommit.IsZero() {
			snap[name].last = 0
		}
	}
	for name, st := range snap {
		ch <- prometheus.MustNewConstMetric(c.lsn, prometheus.CounterValue, st.lsn, name)
		ch <- prometheus.MustNewConstMetric(c.pages, prometheus.GaugeValue, st.pages, name)
		ch <- prometheus.MustNewConstMetric(c.walBytes, prometheus.GaugeValue, st.wal, name)
		ch <- prometheus.MustNewConstMetric(c.logBytes, prometheus.GaugeValue, st.log, name)
		ro := 0.0
		if st.ro {
			ro = 1
		}
		ch <- prometheus.MustNewConstMetric(c.readOnly, prometheus.GaugeValue, ro, name)
		stopped := 0.0
		if st.stopped {
			stopped = 1
		}
		ch <- prometheus.MustNewConstMetric(c.capStopped, prometheus.GaugeValue, stopped, name)
		ch <- prometheus.MustNewConstMetric(c.lastCommit, prometheus.GaugeValue, float64(st.last), name)
	}
	if c.src.Sessions != nil {
		ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(c.src.Sessions()))
	}
	if c.src.CertNotAfter != nil {
		if t := c.src.CertNotAfter(); !t.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.certExpiry, prometheus.GaugeValue, float64(t.Unix()))
		}
	}
	if c.src.TLSNotAfter != nil {
		if t := c.src.TLSNotAfter(); !t.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.tlsExpiry, prometheus.GaugeValue, float64(t.Unix()))
		}
	}
	c.collectLinks(ch)
}

// collectLinks exports each link's local replica status.
func (c *Collector) collectLinks(ch chan<- prometheus.Metric) {
	if c.src.Links == nil {
		return
	}
	links, _ := c.src.Links(context.Background())
	for _, ls := range links {
		r := ls.Local
		lv := []string{ls.Name, ls.Database, string(r.Role)}
		g := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(lv, extra...)...)
		}
		conn := 0.0
		if r.Connected {
			conn = 1
		}
		g(c.linkConnected, conn)
		g(c.linkLag, r.SecondaryLag)
		g(c.linkSendQueue, float64(r.LogSendQueueBytes))
		g(c.linkRedoQueue, float64(r.RedoQueueBytes))
		g(c.linkSendRate, r.LogSendRate)
		g(c.linkRedoRate, r.RedoRate)
		g(c.linkLSN, float64(r.LastSentLSN), "sent")
		g(c.linkLSN, float64(r.LastReceivedLSN), "received")
		g(c.linkLSN, float64(r.LastHardenedLSN), "hardened")
		g(c.linkLSN, float64(r.LastRedoneLSN), "redone")
		g(c.linkLSN, float64(r.LastCommitLSN), "commit")
		g(c.linkLossTx, float64(r.EstimatedDataLoss.Transactions))
		g(c.linkLossSec, r.EstimatedDataLoss.Seconds)
		g(c.linkLogBytes, float64(r.LogBytes))
		if r.LogCapBytes > 0 {
			g(c.linkLogCap, float64(r.LogCapBytes))
		}
		g(c.linkState, 1, ls.State)
		if r.Seeding != nil {
			g(c.linkSeedBytes, float64(r.Seeding.BytesDone))
		}
		g(c.linkEpoch, float64(ls.Epoch))
		if sb := ls.SplitBrain; sb != nil {
			g(c.linkDiverged, float64(sb.DivergedLocal), "local")
			g(c.linkDiverged, float64(sb.DivergedPartner), "partner")
		}
	}
}

type dbStats struct {
	lsn, pages, wal, log float64
	ro, stopped          bool
	last                 int64
}

// NewAckLagHistogram returns the primary's histogram of acknowledgment
// lag, per link, database and kind (hardened or redone).
func NewAckLagHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sqlink_link_ack_lag_seconds",
		Help:    "On a primary: time from a transaction's commit to the secondary's acknowledgment that it hardened (kind=hardened) or redone (kind=redone) it, observed for the newest record of each acknowledgment.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 17), // 0.1 ms .. 6.6 s
	}, []string{"link", "database", "kind"})
}
