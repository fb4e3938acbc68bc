package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/rbac"
)

// Role is a role as the catalog lists it: built in or custom.
type Role struct {
	rbac.Role
	Builtin   bool
	CreatedAt time.Time // zero for built-in roles
}

// CreateRole creates a custom role. Its name must not be a built-in one and
// its permissions must be known (see rbac.Role.Validate).
func (c *Catalog) CreateRole(ctx context.Context, role rbac.Role) error {
	if err := role.Validate(); err != nil {
		return err
	}
	perms, err := json.Marshal(role.Permissions)
	if err != nil {
		return err
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM roles WHERE name = ?", role.Name)
		if err != nil {
			return err
		}
		if ok {
			return sqlink.Errorf(sqlink.ECONFLICT, "choose another name, or drop the role first",
				"role %q already exists", role.Name)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO roles (name, permissions, created_at) VALUES (?, ?, ?)",
			role.Name, string(perms), ts(c.now()))
		return err
	})
}

// GetRole returns the built-in or custom role called name.
func (c *Catalog) GetRole(ctx context.Context, name string) (Role, error) {
	if r, ok := rbac.BuiltinRole(name); ok {
		return Role{Role: r, Builtin: true}, nil
	}
	var perms string
	var created int64
	err := c.db.QueryRowContext(ctx, "SELECT permissions, created_at FROM roles WHERE name = ?", name).Scan(&perms, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Role{}, notFound("role", name, "list roles to see their names")
	}
	if err != nil {
		return Role{}, fmt.Errorf("get role: %w", err)
	}
	return decodeRole(name, perms, created)
}

func decodeRole(name, perms string, created int64) (Role, error) {
	r := Role{Role: rbac.Role{Name: name}, CreatedAt: fromTS(created)}
	if err := json.Unmarshal([]byte(perms), &r.Permissions); err != nil {
		return Role{}, fmt.Errorf("role %q: bad permissions in catalog: %w", name, err)
	}
	return r, nil
}

// ListRoles returns the built-in roles, then the custom ones sorted by name.
func (c *Catalog) ListRoles(ctx context.Context) ([]Role, error) {
	var out []Role
	for _, r := range rbac.BuiltinRoles() {
		out = append(out, Role{Role: r, Builtin: true})
	}
	rows, err := c.db.QueryContext(ctx, "SELECT name, permissions, created_at FROM roles ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, perms string
		var created int64
		if err := rows.Scan(&name, &perms, &created); err != nil {
			return nil, err
		}
		r, err := decodeRole(name, perms, created)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DropRole drops a custom role. It refuses built-in roles, and roles still
// granted to a principal.
func (c *Catalog) DropRole(ctx context.Context, name string) error {
	if rbac.IsBuiltin(name) {
		return sqlink.Errorf(sqlink.EINVALID, "built-in roles cannot be dropped; create a custom role for narrower access",
			"role %q is built in", name)
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM roles WHERE name = ?", name)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("role", name, "list roles to see their names")
		}
		rows, err := tx.QueryContext(ctx, "SELECT principal FROM principal_roles WHERE role = ? ORDER BY principal", name)
		if err != nil {
			return err
		}
		var users []string
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return err
			}
			users = append(users, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(users) > 0 {
			return sqlink.Errorf(sqlink.ECONFLICT, "change those principals' roles or drop them first",
				"role %q is granted to %s", name, strings.Join(users, ", "))
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM roles WHERE name = ?", name)
		return err
	})
}
