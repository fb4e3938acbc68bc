package adminapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/rbac"
)

// No escalation: a caller can only hand out permissions it holds itself.
// It cannot create a role, grant roles to a principal (itself included) or
// create a token for a principal carrying a permission it lacks, and it
// cannot change, drop or revoke the tokens of a principal that holds a
// permission it lacks. The catalog in turn keeps the last valid token
// holding every permission.

// callerRoles returns the roles of the request's authenticated principal.
func callerRoles(r *http.Request) []rbac.Role {
	roles, _ := r.Context().Value(rolesKey).([]rbac.Role)
	return roles
}

// escalation returns the EFORBIDDEN error for doing what with permissions
// the caller lacks, or nil when it lacks none.
func escalation(r *http.Request, what string, perms []rbac.Permission) error {
	missing := rbac.Missing(callerRoles(r), perms)
	if len(missing) == 0 {
		return nil
	}
	who, _ := PrincipalFromContext(r.Context())
	return &sqlink.Error{
		Code:    sqlink.EFORBIDDEN,
		Message: fmt.Sprintf("permission denied: principal %q lacks %s, so it cannot %s", who, joinPerms(missing), what),
		Hint:    "a principal can only grant, or act on principals with, permissions it holds itself; ask a sysadmin",
	}
}

func joinPerms(ps []rbac.Permission) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += ", "
		}
		s += string(p)
	}
	return s
}

// rolesPermissions returns the permissions the named roles grant. An
// unknown role is ENOTFOUND.
func (s *server) rolesPermissions(ctx context.Context, names []string) ([]rbac.Permission, error) {
	var out []rbac.Permission
	for _, n := range names {
		r, err := s.cat.GetRole(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Permissions...)
	}
	return out, nil
}

// principalPermissions returns the permissions principal name holds; roles
// that no longer exist grant none.
func (s *server) principalPermissions(ctx context.Context, name string) ([]rbac.Permission, error) {
	if name == "" { // GetPrincipal("") would list them all
		return nil, sqlink.Errorf(sqlink.ENOTFOUND, "name the principal", "no principal given")
	}
	p, err := s.cat.GetPrincipal(ctx, name)
	if err != nil {
		return nil, err
	}
	var out []rbac.Permission
	for _, n := range p.Roles {
		r, err := s.cat.GetRole(ctx, n)
		if sqlink.ErrorCode(err) == sqlink.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r.Permissions...)
	}
	return out, nil
}

// checkActOn refuses to act on a principal holding permissions the caller
// lacks.
func (s *server) checkActOn(r *http.Request, principal, what string) error {
	perms, err := s.principalPermissions(r.Context(), principal)
	if err != nil {
		return err
	}
	return escalation(r, fmt.Sprintf("%s principal %q, which holds them", what, principal), perms)
}

// checkGrantRoles refuses to grant roles carrying permissions the caller
// lacks.
func (s *server) checkGrantRoles(r *http.Request, principal string, roles []string) error {
	perms, err := s.rolesPermissions(r.Context(), roles)
	if err != nil {
		return err
	}
	return escalation(r, fmt.Sprintf("grant roles carrying them to principal %q", principal), perms)
}

// tokenPrincipal returns the principal of token id.
func (s *server) tokenPrincipal(ctx context.Context, id string) (string, error) {
	ts, err := s.cat.ListTokens(ctx, "")
	if err != nil {
		return "", err
	}
	for _, t := range ts {
		if t.ID == id {
			return t.Principal, nil
		}
	}
	return "", sqlink.Errorf(sqlink.ENOTFOUND, "list tokens to see their IDs", "token %q not found", id)
}
