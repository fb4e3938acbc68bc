// Package rbac is sqlink's authorization policy for the admin API: the
// permissions an endpoint can require, the built-in roles, custom roles as
// named sets of permissions, and Authorize, which decides whether a set of
// roles grants a permission.
//
// The package is pure: no I/O, no globals that change. Roles are stored by
// the catalog and checked by adminapi; every admin API endpoint requires
// exactly one Permission. A refusal is a *sqlink.Error with code EFORBIDDEN
// whose message names the missing permission and whose hint says which
// built-in roles grant it.
package rbac
