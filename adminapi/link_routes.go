package adminapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/rbac"
)

// LinkManager is implemented by an Instance that has links. NewHandler
// serves the link routes (see the table in doc.go) only when the Instance
// implements it; otherwise they answer ENOTFOUND like any unknown route.
// Errors are *sqlink.Error values, mapped to statuses like the others.
type LinkManager interface {
	// ListLinks returns every link of this instance, as it sees them.
	ListLinks(ctx context.Context) ([]LinkStatus, error)
	// GetLink returns one link, ENOTFOUND if there is none of that name.
	GetLink(ctx context.Context, name string) (LinkStatus, error)
	// CreateLink creates this instance's half of a link.
	CreateLink(ctx context.Context, req CreateLinkRequest) (LinkStatus, error)
	// DropLink drops this instance's half (and tells the partner if it can).
	DropLink(ctx context.Context, name string) error
	// LinkDigest returns the page checksums of the local copy at lsn (0:
	// where the copy stands; on the primary the secondary then holds its
	// apply there).
	LinkDigest(ctx context.Context, name string, lsn sqlink.LSN) (PageDigest, error)
	// Failover starts, resumes or aborts a failover (failover.go).
	Failover(ctx context.Context, name string, req FailoverRequest) (FailoverResult, error)
	// SetRole designates the primary of a link in split brain.
	SetRole(ctx context.Context, name string, req SetRoleRequest) (SetRoleResult, error)
}

// linkRoutes are the link routes, served by s.links.
func (s *server) linkRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/v1/links", Permission: rbac.LinksRead, Action: "links.list", Handler: s.listLinks},
		{Method: "GET", Path: "/v1/links/{name}", Permission: rbac.LinksRead, Action: "links.read", Handler: s.getLink},
		{Method: "POST", Path: "/v1/links", Permission: rbac.LinksWrite, Action: "links.create", Audit: true, Handler: s.createLink},
		{Method: "DELETE", Path: "/v1/links/{name}", Permission: rbac.LinksDelete, Action: "links.drop", Audit: true, Handler: s.dropLink},
		{Method: "GET", Path: "/v1/links/{name}/digest", Permission: rbac.LinksRead, Action: "links.digest", Handler: s.linkDigest},
		{Method: "POST", Path: "/v1/links/{name}/failover", Permission: rbac.LinksSetRole, Action: "links.failover", Audit: true, Handler: s.failover},
		{Method: "POST", Path: "/v1/links/{name}/set-role", Permission: rbac.LinksSetRole, Action: "links.setRole", Audit: true, Handler: s.setRole},
	}
}

func (s *server) listLinks(w http.ResponseWriter, r *http.Request) error {
	ls, err := s.links.ListLinks(r.Context())
	if err != nil {
		return err
	}
	if ls == nil {
		ls = []LinkStatus{}
	}
	WriteJSON(w, http.StatusOK, ls)
	return nil
}

func (s *server) getLink(w http.ResponseWriter, r *http.Request) error {
	st, err := s.links.GetLink(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, st)
	return nil
}

func (s *server) createLink(w http.ResponseWriter, r *http.Request) error {
	var req CreateLinkRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	SetAuditTarget(r, req.Name)
	SetAuditDetail(r, fmt.Sprintf("database=%s role=%s partner=%s", req.Database, req.Role, req.PartnerName))
	st, err := s.links.CreateLink(r.Context(), req)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, st)
	return nil
}

func (s *server) dropLink(w http.ResponseWriter, r *http.Request) error {
	if err := s.links.DropLink(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) linkDigest(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query().Get("lsn")
	if q == "" {
		return sqlink.Errorf(sqlink.EINVALID, "pass ?lsn=N", "no LSN given")
	}
	lsn, err := sqlink.ParseLSN(q)
	if err != nil {
		return err
	}
	d, err := s.links.LinkDigest(r.Context(), r.PathValue("name"), lsn)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, d)
	return nil
}

func (s *server) failover(w http.ResponseWriter, r *http.Request) error {
	var req FailoverRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	SetAuditTarget(r, r.PathValue("name"))
	SetAuditDetail(r, fmt.Sprintf("type=%s drop_link=%t resume=%t abort=%t", req.Type, req.DropLink, req.Resume, req.Abort))
	res, err := s.links.Failover(r.Context(), r.PathValue("name"), req)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

func (s *server) setRole(w http.ResponseWriter, r *http.Request) error {
	var req SetRoleRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	SetAuditTarget(r, r.PathValue("name"))
	SetAuditDetail(r, "primary="+req.Primary)
	res, err := s.links.SetRole(r.Context(), r.PathValue("name"), req)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}
