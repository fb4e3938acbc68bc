package rbac

import (
	"strings"

	"github.com/sqlink/sqlink"
)

// Permission is one action on one kind of resource, written
// "resource/verb" or "resource/name/action" as in Azure RBAC. The set is
// fixed (SPEC section 7); ParsePermission rejects anything else.
type Permission string

// Permissions, as listed in SPEC section 7.
const (
	InstanceRead                  Permission = "instance/read"
	InstanceWrite                 Permission = "instance/write"
	InstanceHybridCertificate     Permission = "instance/hybridCertificate/action"
	DatabasesRead                 Permission = "databases/read"
	DatabasesWrite                Permission = "databases/write"
	DatabasesDelete               Permission = "databases/delete"
	DatabasesCompleteRestore      Permission = "databases/completeRestore/action"
	DatabasesReadBackups          Permission = "databases/readBackups/action"
	DatabasesRestoreDetailsRead   Permission = "databases/restoreDetails/read"
	LinksRead                     Permission = "links/read"
	LinksWrite                    Permission = "links/write"
	LinksDelete                   Permission = "links/delete"
	LinksSetRole                  Permission = "links/setRole/action"
	EndpointCertificatesRead      Permission = "endpointCertificates/read"
	ServerTrustCertificatesRead   Permission = "serverTrustCertificates/read"
	ServerTrustCertificatesWrite  Permission = "serverTrustCertificates/write"
	ServerTrustCertificatesDelete Permission = "serverTrustCertificates/delete"
)

// allPermissions is the fixed, ordered list AllPermissions copies.
var allPermissions = []Permission{
	InstanceRead,
	InstanceWrite,
	InstanceHybridCertificate,
	DatabasesRead,
	DatabasesWrite,
	DatabasesDelete,
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

// AllPermissions returns every permission, in the order of SPEC section 7.
// The caller owns the returned slice.
func AllPermissions() []Permission {
	return append([]Permission(nil), allPermissions...)
}

// Valid reports whether p is one of AllPermissions.
func (p Permission) Valid() bool {
	for _, q := range allPermissions {
		if p == q {
			return true
		}
	}
	return false
}

// String returns the permission as written in SPEC section 7.
func (p Permission) String() string { return string(p) }

// ParsePermission returns the permission named s. Surrounding spaces are
// ignored; the name is otherwise exact (permissions are case-sensitive, as
// in Azure RBAC), but a wrong case is pointed out in the hint.
func ParsePermission(s string) (Permission, error) {
	s = strings.TrimSpace(s)
	if p := Permission(s); p.Valid() {
		return p, nil
	}
	for _, q := range allPermissions {
		if strings.EqualFold(string(q), s) {
			return "", sqlink.Errorf(sqlink.EINVALID, "permissions are case-sensitive: write "+string(q),
				"unknown permission %q", s)
		}
	}
	return "", sqlink.Errorf(sqlink.EINVALID, "use one of: "+joinPermissions(allPermissions),
		"unknown permission %q", s)
}

// ParsePermissions parses each of ss with ParsePermission and removes
// duplicates, keeping the first occurrence's order.
func ParsePermissions(ss []string) ([]Permission, error) {
	out := make([]Permission, 0, len(ss))
	seen := make(map[Permission]bool, len(ss))
	for _, s := range ss {
		p, err := ParsePermission(s)
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

func joinPermissions(ps []Permission) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(p))
	}
	return b.String()
}
