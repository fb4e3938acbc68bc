package catalog_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/catalog"
)

func mustRight(tb testing.TB, c *catalog.Catalog, login, db string, want catalog.Right) {
	tb.Helper()
	got, err := c.DatabaseRight(context.Background(), login, db)
	if err != nil {
		tb.Fatal(err)
	}
	if got != want {
		tb.Fatalf("DatabaseRight(%s, %s) = %s, want %s", login, db, got, want)
	}
}

func TestLoginRights(t *testing.T) {
	ctx := context.Background()
	c := MustOpenCatalog(t)
	for _, db := range []string{"a", "b"} {
		if _, err := c.AddDatabase(ctx, catalog.Database{Name: db}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.CreateLogin(ctx, "app", "pw"); err != nil {
		t.Fatal(err)
	}
	// A new login has no right anywhere.
	mustRight(t, c, "app", "a", catalog.RightNone)
	mustRight(t, c, "nobody", "a", catalog.RightNone)

	if err := c.GrantRight(ctx, "app", "a", catalog.RightWrite); err != nil {
		t.Fatal(err)
	}
	if err := c.GrantRight(ctx, "app", "b", catalog.RightConnect); err != nil {
		t.Fatal(err)
	}
	mustRight(t, c, "app", "a", catalog.RightWrite)
	mustRight(t, c, "app", "b", catalog.RightConnect)

	// Granting replaces: read where it had write lowers it.
	if err := c.GrantRight(ctx, "app", "a", catalog.RightRead); err != nil {
		t.Fatal(err)
	}
	mustRight(t, c, "app", "a", catalog.RightRead)

	// A right on every database adds to the named ones.
	if err := c.GrantRight(ctx, "app", catalog.AllDatabases, catalog.RightRead); err != nil {
		t.Fatal(err)
	}
	mustRight(t, c, "app", "b", catalog.RightRead)
	mustRight(t, c, "app", "later", catalog.RightRead)

	logins, err := c.ListLogins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []catalog.LoginRight{{"*", catalog.RightRead}, {"a", catalog.RightRead}, {"b", catalog.RightConnect}}
	if got, _ := json.Marshal(logins[0].Rights); string(got) != mustJSON(t, want) {
		t.Fatalf("ListLogins rights = %s, want %s", got, mustJSON(t, want))
	}

	// Revoking a right takes the rights that include it too.
	left, err := c.RevokeRight(ctx, "app", catalog.AllDatabases, catalog.RightRead)
	if err != nil || left != catalog.RightConnect {
		t.Fatalf("RevokeRight(read on *) = %s, %v; want connect left", left, err)
	}
	mustRight(t, c, "app", "later", catalog.RightConnect)
	left, err = c.RevokeRight(ctx, "app", catalog.AllDatabases, catalog.RightNone)
	if err != nil || left != catalog.RightNone {
		t.Fatalf("RevokeRight(all on *) = %s, %v", left, err)
	}
	mustRight(t, c, "app", "later", catalog.RightNone)
	// Revoking write from a login that only reads leaves it reading.
	left, err = c.RevokeRight(ctx, "app", "a", catalog.RightWrite)
	if err != nil || left != catalog.RightRead {
		t.Fatalf("RevokeRight(write on a) = %s, %v; want read left", left, err)
	}

	// Bad input.
	wantCode(t, c.GrantRight(ctx, "app", "nodb", catalog.RightRead), sqlink.ENOTFOUND)
	wantCode(t, c.GrantRight(ctx, "nobody", "a", catalog.RightRead), sqlink.ENOTFOUND)
	wantCode(t, c.GrantRight(ctx, "app", "a", catalog.RightNone), sqlink.EINVALID)
	_, err = c.RevokeRight(ctx, "nobody", "a", catalog.RightRead)
	wantCode(t, err, sqlink.ENOTFOUND)
	_, err = catalog.ParseRight("admin")
	wantCode(t, err, sqlink.EINVALID)

	// Dropping the database drops the rights on it: a database created
	// later under the same name starts with no grants.
	if err := c.RemoveDatabase(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddDatabase(ctx, catalog.Database{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	mustRight(t, c, "app", "b", catalog.RightNone)

	// Dropping the login drops its rights.
	if err := c.DropLogin(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateLogin(ctx, "app", "pw"); err != nil {
		t.Fatal(err)
	}
	mustRight(t, c, "app", "a", catalog.RightNone)
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
