package rbac

import (
	"fmt"
	"strings"

	"github.com/sqlink/sqlink"
)

// Names of the built-in roles.
const (
	// Sysadmin holds every permission.
	Sysadmin = "sysadmin"
	// LinkContributor holds what an operator needs to create, monitor,
	// fail over and drop links and to manage trust certificates, plus read
	// access to the instance, its databases and their backups. It cannot
	// create, change or drop databases or change the instance.
	LinkContributor = "link-contributor"
)

// Role is a named set of permissions. Built-in roles come from
// BuiltinRoles; custom roles are stored by the catalog.
type Role struct {
	Name        string
	Permissions []Permission
}

// Has reports whether r grants p.
func (r Role) Has(p Permission) bool {
	for _, q := range r.Permissions {
		if q == p {
			return true
		}
	}
	return false
}

// linkContributorPermissions is everything but databases/write,
// databases/delete and instance/write.
var linkContributorPermissions = []Permission{
	InstanceRead,
	InstanceHybridCertificate,
	DatabasesRead,
	DatabasesCompleteRestore,
	DatabasesReadBackups,
	DatabasesRestoreDetailsRead,
	LinksRead,
	LinksWrite,
	LinksDelete,
	LinksSetRole,
	EndpointCertificatesRead,
	ServerTrustCertificatesRead,
	ServerTrustCertificatesWrite,
	ServerTrustCertificatesDelete,
}

// BuiltinRoles returns the built-in roles, sysadmin first. The caller owns
// the returned roles.
func BuiltinRoles() []Role {
	return []Role{
		{Name: Sysadmin, Permissions: AllPermissions()},
		{Name: LinkContributor, Permissions: append([]Permission(nil), linkContributorPermissions...)},
	}
}

// BuiltinRole returns the built-in role called name.
func BuiltinRole(name string) (Role, bool) {
	for _, r := range BuiltinRoles() {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}

// IsBuiltin reports whether name is the name of a built-in role.
func IsBuiltin(name string) bool {
	_, ok := BuiltinRole(name)
	return ok
}

// MaxRoleNameLen is the longest role name, the same limit as for every
// other catalog name (PostgreSQL's identifier length).
const MaxRoleNameLen = 63

// ValidateRoleName checks that name starts with a letter, has only letters,
// digits, '_' and '-', and is at most MaxRoleNameLen bytes.
func ValidateRoleName(name string) error {
	const hint = "start with a letter; use only letters, digits, '_' and '-'; at most 63 characters"
	if name == "" {
		return sqlink.Errorf(sqlink.EINVALID, hint, "role name is empty")
	}
	if len(name) > MaxRoleNameLen {
		return sqlink.Errorf(sqlink.EINVALID, hint, "role name is %d characters long", len(name))
	}
	for i, c := range name {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		ok := letter || i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-')
		if !ok {
			return sqlink.Errorf(sqlink.EINVALID, hint, "invalid role name %q", name)
		}
	}
	return nil
}

// Validate checks that r is a valid custom role: a valid name that is not a
// built-in one, at least one permission, and only known permissions.
func (r Role) Validate() error {
	if err := ValidateRoleName(r.Name); err != nil {
		return err
	}
	if IsBuiltin(r.Name) {
		return sqlink.Errorf(sqlink.ECONFLICT, "choose another name for the custom role",
			"role %q is built in", r.Name)
	}
	if len(r.Permissions) == 0 {
		return sqlink.Errorf(sqlink.EINVALID, "give at least one permission, e.g. "+string(DatabasesRead),
			"role %q has no permissions", r.Name)
	}
	for _, p := range r.Permissions {
		if _, err := ParsePermission(string(p)); err != nil {
			return fmt.Errorf("role %q: %w", r.Name, err)
		}
	}
	return nil
}

// Authorize returns nil when one of roles grants need, and otherwise a
// *sqlink.Error with code EFORBIDDEN naming need. It is AuthorizePrincipal
// without a principal name.
func Authorize(roles []Role, need Permission) error {
	return AuthorizePrincipal("", roles, need)
}

// AuthorizePrincipal is Authorize with the caller's name in the message:
// "permission denied: principal "bob" lacks databases/write". An unknown
// permission is never granted, so a typo in a route table fails closed.
func AuthorizePrincipal(principal string, roles []Role, need Permission) error {
	if need.Valid() {
		for _, r := range roles {
			if r.Has(need) {
				return nil
			}
		}
	}
	who := "the caller"
	if principal != "" {
		who = fmt.Sprintf("principal %q", principal)
	}
	return &sqlink.Error{
		Code:    sqlink.EFORBIDDEN,
		Message: fmt.Sprintf("permission denied: %s lacks %s", who, need),
		Hint:    grantHint(need),
	}
}

// grantHint says which built-in roles grant p.
func grantHint(p Permission) string {
	var names []string
	for _, r := range BuiltinRoles() {
		if r.Has(p) {
			names = append(names, r.Name)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("%s is not a known permission", p)
	}
	return fmt.Sprintf("ask a sysadmin to grant a role with %s (built-in: %s) or a custom role that includes it",
		p, strings.Join(names, ", "))
}
