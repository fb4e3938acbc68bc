package server

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// collector exports per-database figures at scrape time, so nothing is
// counted twice on the commit path.
type collector struct {
	s          *Server
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

func newCollector(s *Server) *collector {
	l := []string{"database"}
	ll := []string{"link", "database", "role"}
	return &collector{
		s:          s,
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

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lsn, c.pages, c.walBytes, c.logBytes, c.readOnly, c.capStopped, c.lastCommit, c.sessions, c.certExpiry, c.tlsExpiry,
		c.linkConnected, c.linkLag, c.linkSendQueue, c.linkRedoQueue, c.linkSendRate, c.linkRedoRate, c.linkLSN,
		c.linkLossTx, c.linkLossSec, c.linkLogBytes, c.linkLogCap, c.linkState, c.linkSeedBytes, c.linkEpoch, c.linkDiverged} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	snap := make(map[string]*dbStats, len(c.s.dbs))
	for name, db := range c.s.dbs {
		st := db.Stats()
		snap[name] = &dbStats{lsn: float64(st.Pos.LSN), pages: float64(st.PageCount), wal: float64(st.WALBytes),
			log: float64(st.LogBytes), ro: st.ReadOnly, stopped: st.CaptureError != "", last: st.LastCommit.Unix()}
		if st.LastCommit.IsZero() {
			snap[name].last = 0
		}
	}
	c.s.mu.Unlock()
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
	if c.s.pg != nil {
		ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(c.s.pg.NumSessions()))
	}
	if cert, _ := c.s.endpointCert(); cert.Leaf != nil {
		ch <- prometheus.MustNewConstMetric(c.certExpiry, prometheus.GaugeValue, float64(cert.Leaf.NotAfter.Unix()))
	}
	if c.s.tlsCert != nil {
		if ci := c.s.tlsCert.info.Load(); ci != nil {
			ch <- prometheus.MustNewConstMetric(c.tlsExpiry, prometheus.GaugeValue, float64(ci.NotAfter.Unix()))
		}
	}
	c.collectLinks(ch)
}

// collectLinks exports each link's local replica status.
func (c *collector) collectLinks(ch chan<- prometheus.Metric) {
	links, _ := c.s.eng.ListLinks(context.Background())
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
