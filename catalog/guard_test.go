package catalog_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/rbac"
)

// TestLastFullCredential: the last valid token holding every permission
// cannot be revoked, nor its principal dropped or demoted; once another
// exists, it can.
func TestLastFullCredential(t *testing.T) {
	ctx := context.Background()
	c := MustOpenCatalog(t)
	if err := c.CreatePrincipal(ctx, "root", []string{rbac.Sysadmin}); err != nil {
		t.Fatal(err)
	}
	_, tok, err := c.CreateToken(ctx, "root", "")
	if err != nil {
		t.Fatal(err)
	}
	// A custom role with every permission counts as sysadmin.
	if err := c.CreateRole(ctx, rbac.Role{Name: "all", Permissions: rbac.AllPermissions()}); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"revoke":  c.RevokeToken(ctx, tok.ID),
		"drop":    c.DropPrincipal(ctx, "root"),
		"demote":  c.SetPrincipalRoles(ctx, "root", []string{rbac.LinkContributor}),
		"nothing": c.SetPrincipalRoles(ctx, "root", nil),
	} {
		wantCode(t, err, sqlink.EFORBIDDEN)
		if !strings.Contains(sqlink.ErrorMessage(err), "last valid token") || sqlink.ErrorHint(err) == "" {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if err := c.SetPrincipalRoles(ctx, "root", []string{"all"}); err != nil {
		t.Fatalf("a role with every permission instead of sysadmin: %v", err)
	}
	if _, _, err := c.Authenticate(ctx, "x"); sqlink.ErrorCode(err) != sqlink.EUNAUTHORIZED {
		t.Fatal(err)
	}
	// With a second one, the first can go.
	if err := c.CreatePrincipal(ctx, "root2", []string{rbac.Sysadmin}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CreateToken(ctx, "root2", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DropPrincipal(ctx, "root"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.DropPrincipal(ctx, "root2"), sqlink.EFORBIDDEN)
}
