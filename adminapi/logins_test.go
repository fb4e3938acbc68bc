package adminapi_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
)

func rightsString(l adminapi.LoginInfo) string {
	s := ""
	for _, r := range l.Rights {
		s += fmt.Sprintf("%s:%s ", r.Right, r.Database)
	}
	return s
}

func TestLoginRights(t *testing.T) {
	env := MustServe(t, adminapi.Config{}, &fakeInstance{})
	ctx := context.Background()
	c := env.admin
	if _, err := env.cat.AddDatabase(ctx, catalog.Database{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateLogin(ctx, "app", "pw"); err != nil {
		t.Fatal(err)
	}
	l, err := c.GetLogin(ctx, "app")
	if err != nil || len(l.Rights) != 0 {
		t.Fatalf("new login = %+v, %v; want no rights", l, err)
	}
	if l, err = c.GrantRight(ctx, "app", "shop", catalog.RightWrite); err != nil {
		t.Fatal(err)
	}
	if l, err = c.GrantRight(ctx, "app", catalog.AllDatabases, catalog.RightConnect); err != nil {
		t.Fatal(err)
	}
	if got, want := rightsString(l), "connect:* write:shop "; got != want {
		t.Fatalf("rights after grants = %q, want %q", got, want)
	}
	if l, err = c.RevokeRight(ctx, "app", "shop", catalog.RightWrite); err != nil {
		t.Fatal(err)
	}
	if got, want := rightsString(l), "connect:* read:shop "; got != want {
		t.Fatalf("rights after revoking write = %q, want %q", got, want)
	}
	if l, err = c.RevokeRight(ctx, "app", catalog.AllDatabases, catalog.RightNone); err != nil {
		t.Fatal(err)
	}
	if got, want := rightsString(l), "read:shop "; got != want {
		t.Fatalf("rights after revoking * = %q, want %q", got, want)
	}
	ls, err := c.ListLogins(ctx)
	if err != nil || len(ls) != 1 || rightsString(ls[0]) != "read:shop " {
		t.Fatalf("ListLogins = %+v, %v", ls, err)
	}

	// Bad input: clear codes.
	_, err = c.GrantRight(ctx, "app", "nodb", catalog.RightRead)
	wantCode(t, err, sqlink.ENOTFOUND)
	_, err = c.GrantRight(ctx, "nobody", "shop", catalog.RightRead)
	wantCode(t, err, sqlink.ENOTFOUND)
	_, err = c.GetLogin(ctx, "nobody")
	wantCode(t, err, sqlink.ENOTFOUND)
	err = c.Do(ctx, "PUT", "/v1/logins/app/rights/shop", map[string]string{"right": "all"}, nil)
	wantCode(t, err, sqlink.EINVALID)
	err = c.Do(ctx, "DELETE", "/v1/logins/app/rights/shop?right=sudo", nil, nil)
	wantCode(t, err, sqlink.EINVALID)

	// Granting needs instance/write; reading instance/read.
	reader := env.Client(env.MustToken(t, "viewer", "link-contributor"))
	_, err = reader.GrantRight(ctx, "app", "shop", catalog.RightWrite)
	wantCode(t, err, sqlink.EFORBIDDEN)

	// The audit log names the grant.
	entries, err := c.Audit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Action == "logins.grant" && e.Target == "app write on shop" && e.Result == "ok" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit entry for the grant: %+v", entries)
	}
}
