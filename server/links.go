package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/rbac"
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

// LinkRoutes implements adminapi.LinkManager.
func (i instance) LinkRoutes() []adminapi.Route {
	e := i.s.eng
	route := func(method, path string, perm rbac.Permission, action string, audit bool, h func(w http.ResponseWriter, r *http.Request) error) adminapi.Route {
		return adminapi.Route{Method: method, Path: path, Permission: perm, Action: action, Audit: audit, Handler: h}
	}
	return []adminapi.Route{
		route("GET", "/v1/links", rbac.LinksRead, "links.list", false, func(w http.ResponseWriter, r *http.Request) error {
			adminapi.WriteJSON(w, http.StatusOK, e.ListLinks(r.Context()))
			return nil
		}),
		route("GET", "/v1/links/{name}", rbac.LinksRead, "links.read", false, func(w http.ResponseWriter, r *http.Request) error {
			st, err := e.Link(r.Context(), r.PathValue("name"))
			if err != nil {
				return err
			}
			adminapi.WriteJSON(w, http.StatusOK, st)
			return nil
		}),
		route("POST", "/v1/links", rbac.LinksWrite, "links.create", true, func(w http.ResponseWriter, r *http.Request) error {
			var req adminapi.CreateLinkRequest
			if err := adminapi.DecodeJSON(r, &req); err != nil {
				return err
			}
			adminapi.SetAuditTarget(r, req.Name)
			adminapi.SetAuditDetail(r, fmt.Sprintf("database=%s role=%s partner=%s", req.Database, req.Role, req.PartnerName))
			st, err := e.CreateLink(r.Context(), req)
			if err != nil {
				return err
			}
			adminapi.WriteJSON(w, http.StatusCreated, st)
			return nil
		}),
		route("DELETE", "/v1/links/{name}", rbac.LinksDelete, "links.drop", true, func(w http.ResponseWriter, r *http.Request) error {
			if err := e.DropLink(r.Context(), r.PathValue("name")); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}),
		route("GET", "/v1/links/{name}/digest", rbac.LinksRead, "links.digest", false, func(w http.ResponseWriter, r *http.Request) error {
			q := r.URL.Query().Get("lsn")
			if q == "" {
				return sqlink.Errorf(sqlink.EINVALID, "pass ?lsn=N", "no LSN given")
			}
			lsn, err := sqlink.ParseLSN(q)
			if err != nil {
				return err
			}
			d, err := e.LinkDigest(r.Context(), r.PathValue("name"), lsn)
			if err != nil {
				return err
			}
			adminapi.WriteJSON(w, http.StatusOK, d)
			return nil
		}),
		route("POST", "/v1/links/{name}/failover", rbac.LinksSetRole, "links.failover", true, func(w http.ResponseWriter, r *http.Request) error {
			var req adminapi.FailoverRequest
			if err := adminapi.DecodeJSON(r, &req); err != nil {
				return err
			}
			adminapi.SetAuditTarget(r, r.PathValue("name"))
			adminapi.SetAuditDetail(r, fmt.Sprintf("type=%s drop_link=%t resume=%t abort=%t", req.Type, req.DropLink, req.Resume, req.Abort))
			res, err := e.Failover(r.Context(), r.PathValue("name"), req)
			if err != nil {
				return err
			}
			adminapi.WriteJSON(w, http.StatusOK, res)
			return nil
		}),
		route("POST", "/v1/links/{name}/set-role", rbac.LinksSetRole, "links.setRole", true, func(w http.ResponseWriter, r *http.Request) error {
			var req adminapi.SetRoleRequest
			if err := adminapi.DecodeJSON(r, &req); err != nil {
				return err
			}
			adminapi.SetAuditTarget(r, r.PathValue("name"))
			adminapi.SetAuditDetail(r, "primary="+req.Primary)
			res, err := e.SetRole(r.Context(), r.PathValue("name"), req)
			if err != nil {
				return err
			}
			adminapi.WriteJSON(w, http.StatusOK, res)
			return nil
		}),
	}
}

var _ adminapi.LinkManager = instance{}
