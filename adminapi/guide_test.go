package adminapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/rbac"
)

// The fake instance validates nothing and answers every probe: the routes'
// own work (decoding, the permission check) is what is tested here.

func (f *fakeInstance) ValidateLink(ctx context.Context, req adminapi.ValidateLinkRequest) (adminapi.ValidateLinkResponse, error) {
	return adminapi.ValidateLinkResponse{Instance: "fake"}, nil
}

func (f *fakeInstance) ProbeEndpoint(ctx context.Context, req adminapi.ProbeRequest) (adminapi.ProbeResponse, error) {
	return adminapi.ProbeResponse{Instance: "fake"}, nil
}

func TestValidateLink_NamesMissingPermissions(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &rotatingInstance{})
	ctx := context.Background()
	if err := env.cat.CreateRole(ctx, rbac.Role{Name: "reader", Permissions: []rbac.Permission{rbac.LinksRead, rbac.InstanceRead}}); err != nil {
		t.Fatal(err)
	}
	c := env.Client(env.MustToken(t, "carol", "reader"))
	res, err := c.ValidateLink(ctx, adminapi.ValidateLinkRequest{Role: sqlink.RoleSecondary})
	if err != nil {
		t.Fatal(err)
	}
	last := res.Checks[len(res.Checks)-1]
	if last.Name != "permissions" || last.Status != adminapi.CheckFail || !strings.Contains(last.Message, "links/write") ||
		!strings.Contains(last.Message, "databases/delete") || strings.Contains(last.Message, "links/read") || last.Hint == "" {
		t.Fatalf("permission check = %+v", last)
	}
	res, err = env.admin.ValidateLink(ctx, adminapi.ValidateLinkRequest{Role: sqlink.RolePrimary})
	if err != nil {
		t.Fatal(err)
	}
	if last := res.Checks[len(res.Checks)-1]; last.Status != adminapi.CheckPass {
		t.Fatalf("sysadmin's permission check = %+v", last)
	}
	if _, err := env.admin.ValidateLink(ctx, adminapi.ValidateLinkRequest{Role: "leader"}); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("invalid role: %v", err)
	}
	if _, err := env.admin.ProbeEndpoint(ctx, adminapi.ProbeRequest{}); sqlink.ErrorCode(err) != sqlink.EINVALID || sqlink.ErrorHint(err) == "" {
		t.Fatalf("probe without address: %v", err)
	}
}
