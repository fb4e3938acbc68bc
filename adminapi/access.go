package adminapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/rbac"
)

func (s *server) listAudit(w http.ResponseWriter, r *http.Request) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return sqlink.Errorf(sqlink.EINVALID, "use a non-negative number; 0 means the default", "invalid limit=%q", v)
		}
		limit = n
	}
	es, err := s.cat.ListAudit(r.Context(), limit)
	if err != nil {
		return err
	}
	out := make([]AuditEntry, 0, len(es))
	for _, e := range es {
		out = append(out, AuditEntry(e))
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) listLogins(w http.ResponseWriter, r *http.Request) error {
	ls, err := s.cat.ListLogins(r.Context())
	if err != nil {
		return err
	}
	out := make([]LoginInfo, 0, len(ls))
	for _, l := range ls {
		out = append(out, loginInfo(l))
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) createLogin(w http.ResponseWriter, r *http.Request) error {
	var req CreateLoginRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	SetAuditTarget(r, req.Name)
	if err := s.cat.CreateLogin(r.Context(), req.Name, req.Password); err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, LoginInfo{Name: req.Name})
	return nil
}

func (s *server) setLoginPassword(w http.ResponseWriter, r *http.Request) error {
	var req SetPasswordRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.cat.SetLoginPassword(r.Context(), r.PathValue("name"), req.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) dropLogin(w http.ResponseWriter, r *http.Request) error {
	if err := s.cat.DropLogin(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) listPrincipals(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.cat.ListPrincipals(r.Context())
	if err != nil {
		return err
	}
	out := make([]PrincipalInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, principalInfo(p))
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getPrincipal(w http.ResponseWriter, r *http.Request) error {
	p, err := s.cat.GetPrincipal(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, principalInfo(p))
	return nil
}

func (s *server) createPrincipal(w http.ResponseWriter, r *http.Request) error {
	var req CreatePrincipalRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	SetAuditTarget(r, req.Name)
	if err := s.checkGrantRoles(r, req.Name, req.Roles); err != nil {
		return err
	}
	if err := s.cat.CreatePrincipal(r.Context(), req.Name, req.Roles); err != nil {
		return err
	}
	p, err := s.cat.GetPrincipal(r.Context(), req.Name)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, principalInfo(p))
	return nil
}

func (s *server) setPrincipalRoles(w http.ResponseWriter, r *http.Request) error {
	var req SetRolesRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := s.checkActOn(r, name, "change"); err != nil {
		return err
	}
	if err := s.checkGrantRoles(r, name, req.Roles); err != nil {
		return err
	}
	if err := s.cat.SetPrincipalRoles(r.Context(), name, req.Roles); err != nil {
		return err
	}
	p, err := s.cat.GetPrincipal(r.Context(), name)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, principalInfo(p))
	return nil
}

func (s *server) dropPrincipal(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkActOn(r, r.PathValue("name"), "drop"); err != nil {
		return err
	}
	if err := s.cat.DropPrincipal(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.cat.ListTokens(r.Context(), r.URL.Query().Get("principal"))
	if err != nil {
		return err
	}
	out := make([]TokenInfo, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenInfo(t))
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req CreateTokenRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	SetAuditTarget(r, req.Principal)
	if err := s.checkActOn(r, req.Principal, "create a token for"); err != nil {
		return err
	}
	secret, tok, err := s.cat.CreateToken(r.Context(), req.Principal, req.Description)
	if err != nil {
		return err
	}
	SetAuditDetail(r, "token "+tok.ID)
	w.Header().Set("Cache-Control", "no-store")
	WriteJSON(w, http.StatusCreated, CreateTokenResponse{Token: tokenInfo(tok), Secret: secret})
	return nil
}

func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	owner, err := s.tokenPrincipal(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.checkActOn(r, owner, "revoke a token of"); err != nil {
		return err
	}
	if err := s.cat.RevokeToken(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) listRoles(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.cat.ListRoles(r.Context())
	if err != nil {
		return err
	}
	out := make([]RoleInfo, 0, len(rs))
	for _, role := range rs {
		out = append(out, roleInfo(role))
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) createRole(w http.ResponseWriter, r *http.Request) error {
	var req CreateRoleRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	SetAuditTarget(r, req.Name)
	perms, err := rbac.ParsePermissions(req.Permissions)
	if err != nil {
		return err
	}
	if err := escalation(r, fmt.Sprintf("create role %q with them", req.Name), perms); err != nil {
		return err
	}
	if err := s.cat.CreateRole(r.Context(), rbac.Role{Name: req.Name, Permissions: perms}); err != nil {
		return err
	}
	role, err := s.cat.GetRole(r.Context(), req.Name)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, roleInfo(role))
	return nil
}

func (s *server) dropRole(w http.ResponseWriter, r *http.Request) error {
	if err := s.cat.DropRole(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
