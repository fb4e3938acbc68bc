package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/rbac"
)

// errLastFullCredential refuses a change that would leave no valid token
// whose principal holds every permission: nobody could then grant
// anything again, short of editing the catalog file.
var errLastFullCredential = &sqlink.Error{
	Code:    sqlink.EFORBIDDEN,
	Message: "refused: this would remove the last valid token holding every permission (sysadmin)",
	Hint:    "create another sysadmin first (sqlink principal create NAME --roles sysadmin; sqlink token create --principal NAME), then retry",
}

// writeKeepingAdmin is write for changes to principals, roles and tokens:
// when a valid token holding every permission existed before fn, one must
// exist after it, or the transaction is rolled back with EFORBIDDEN.
func (c *Catalog) writeKeepingAdmin(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		before, err := fullCredentials(ctx, tx)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		if before == 0 {
			return nil
		}
		after, err := fullCredentials(ctx, tx)
		if err != nil {
			return err
		}
		if after == 0 {
			return errLastFullCredential
		}
		return nil
	})
}

// fullCredentials counts the valid tokens whose principal's roles grant
// every permission.
func fullCredentials(ctx context.Context, q queryer) (int, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT t.principal, COUNT(*), (SELECT json_group_array(role) FROM principal_roles WHERE principal = t.principal)
		FROM tokens t WHERE t.revoked_at = 0 GROUP BY t.principal`)
	if err != nil {
		return 0, fmt.Errorf("count sysadmin tokens: %w", err)
	}
	type holder struct {
		n     int
		roles []string
	}
	var hs []holder
	for rows.Next() {
		var p, roles string
		var h holder
		if err := rows.Scan(&p, &h.n, &roles); err != nil {
			rows.Close()
			return 0, err
		}
		if err := json.Unmarshal([]byte(roles), &h.roles); err != nil {
			rows.Close()
			return 0, fmt.Errorf("roles of principal %q: %w", p, err)
		}
		hs = append(hs, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	total := 0
	for _, h := range hs {
		perms := map[rbac.Permission]bool{}
		for _, name := range h.roles {
			ps, err := rolePermissions(ctx, q, name)
			if err != nil {
				return 0, err
			}
			for _, p := range ps {
				perms[p] = true
			}
		}
		full := true
		for _, p := range rbac.AllPermissions() {
			full = full && perms[p]
		}
		if full {
			total += h.n
		}
	}
	return total, nil
}

// rolePermissions returns the permissions of a built-in or custom role;
// none for a role that does not exist.
func rolePermissions(ctx context.Context, q queryer, name string) ([]rbac.Permission, error) {
	if r, ok := rbac.BuiltinRole(name); ok {
		return r.Permissions, nil
	}
	var perms string
	err := q.QueryRowContext(ctx, "SELECT permissions FROM roles WHERE name = ?", name).Scan(&perms)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ps []rbac.Permission
	if err := json.Unmarshal([]byte(perms), &ps); err != nil {
		return nil, fmt.Errorf("role %q: bad permissions in catalog: %w", name, err)
	}
	return ps, nil
}
