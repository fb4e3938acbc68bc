package server

import (
	"context"

	"github.com/sqlink/sqlink/replication"
	"github.com/sqlink/sqlink/storage"
)

// newEngine makes the replication engine that runs this instance's links,
// with the server as its host.
func (s *Server) newEngine() *replication.Engine {
	return replication.New(replication.Config{
		DataDir:                s.cfg.DataDir,
		Instance:               s.info,
		Logger:                 s.log,
		Now:                    s.cfg.Now,
		LinkTick:               s.cfg.LinkTick,
		LinkSessionTimeout:     s.cfg.LinkSessionTimeout,
		LinkHardenDelay:        s.cfg.LinkHardenDelay,
		LinkLogCapBytes:        s.cfg.LinkLogCapBytes,
		LinkDigestTimeout:      s.cfg.LinkDigestTimeout,
		LinkSeedBytesPerSecond: s.cfg.LinkSeedBytesPerSecond,
		FailoverTimeout:        s.cfg.FailoverTimeout,
		FailoverDrainTimeout:   s.cfg.FailoverDrainTimeout,
		DB:                     s.dbConfig(),
		ClientTLS:              s.clientTLS,
		Etcd:                   s.cfg.Etcd,
		ObserveLag: func(link, database, kind string, seconds float64) {
			if h := s.lagHist; h != nil {
				h.WithLabelValues(link, database, kind).Observe(seconds)
			}
		},
	}, s.cat, linkHost{s})
}

// linkHost is the server as the replication engine's host.
type linkHost struct{ s *Server }

var _ replication.Host = linkHost{}

func (h linkHost) Database(name string) *storage.DB {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.dbs[name]
}

func (h linkHost) OpenDatabase(ctx context.Context, name string) (*storage.DB, error) {
	return h.s.db(ctx, name)
}

func (h linkHost) RegisterDatabase(name string, db *storage.DB) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.dbs[name] = db
}

func (h linkHost) UnregisterDatabase(name string, db *storage.DB) *storage.DB {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	cur := h.s.dbs[name]
	if cur == nil || db != nil && cur != db {
		return nil
	}
	delete(h.s.dbs, name)
	return cur
}

func (h linkHost) ReserveName(name string) bool {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if _, open := h.s.dbs[name]; open || h.s.restoring[name] {
		return false
	}
	h.s.restoring[name] = true
	return true
}

func (h linkHost) ReleaseName(name string) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	delete(h.s.restoring, name)
}

func (h linkHost) ChainStarted(ctx context.Context, database string, db *storage.DB) (bool, error) {
	return h.s.chainStarted(ctx, database, db)
}

func (h linkHost) EndSessions(database, code, message string) {
	if h.s.pg != nil {
		h.s.pg.EndSessions(database, code, message)
	}
}

func (h linkHost) Failpoint(name string) { h.s.failpoint(name) }

func (h linkHost) EndpointAddr() string { return h.s.EndpointAddr() }
