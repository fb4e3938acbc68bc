package server

import (
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
	lastCommit *prometheus.Desc
}

func newCollector(s *Server) *collector {
	l := []string{"database"}
	return &collector{
		s:          s,
		lsn:        prometheus.NewDesc("sqlink_database_lsn", "Last committed LSN of the database.", l, nil),
		pages:      prometheus.NewDesc("sqlink_database_pages", "Database size in pages.", l, nil),
		walBytes:   prometheus.NewDesc("sqlink_database_wal_bytes", "Size of the database's SQLite WAL file.", l, nil),
		logBytes:   prometheus.NewDesc("sqlink_database_log_bytes", "Size of the database's replication log.", l, nil),
		readOnly:   prometheus.NewDesc("sqlink_database_read_only", "1 when the database is a read-only secondary.", l, nil),
		lastCommit: prometheus.NewDesc("sqlink_database_last_commit_timestamp_seconds", "Time of the last commit.", l, nil),
		sessions:   prometheus.NewDesc("sqlink_client_sessions", "Open PostgreSQL client sessions.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lsn, c.pages, c.walBytes, c.logBytes, c.readOnly, c.lastCommit, c.sessions} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	snap := make(map[string]*dbStats, len(c.s.dbs))
	for name, db := range c.s.dbs {
		st := db.Stats()
		snap[name] = &dbStats{lsn: float64(st.Pos.LSN), pages: float64(st.PageCount), wal: float64(st.WALBytes),
			log: float64(st.LogBytes), ro: st.ReadOnly, last: st.LastCommit.Unix()}
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
		ch <- prometheus.MustNewConstMetric(c.lastCommit, prometheus.GaugeValue, float64(st.last), name)
	}
	if c.s.pg != nil {
		ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(c.s.pg.NumSessions()))
	}
}

type dbStats struct {
	lsn, pages, wal, log float64
	ro                   bool
	last                 int64
}
