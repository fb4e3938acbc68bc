package guide_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
)

// fakeLocal is an instance with one database, "app", and no links.
func fakeLocal(free int64, freeErr error) guide.Local {
	return guide.Local{
		Name:      "east",
		ListLinks: func(context.Context) ([]adminapi.LinkStatus, error) { return nil, nil },
		GetDatabase: func(_ context.Context, name string) (adminapi.DatabaseInfo, error) {
			if name != "app" {
				return adminapi.DatabaseInfo{}, sqlink.Errorf(sqlink.ENOTFOUND, "", "no database %q", name)
			}
			return adminapi.DatabaseInfo{Name: "app", State: sqlink.DatabaseOnline, SizeBytes: 1 << 20}, nil
		},
		WriteRate: func(context.Context, string) int64 { return 0 },
		FreeDisk:  func() (int64, error) { return free, freeErr },
		SeedRate:  100 << 20,
	}
}

func checkNamed(res adminapi.ValidateLinkResponse, name string) *adminapi.ValidationCheck {
	for i := range res.Checks {
		if res.Checks[i].Name == name {
			return &res.Checks[i]
		}
	}
	return nil
}

func TestValidateLocal_SecondaryDisk(t *testing.T) {
	ctx := context.Background()
	req := adminapi.ValidateLinkRequest{Role: sqlink.RoleSecondary,
		Links: []adminapi.ValidateLinkItem{{Name: "L", Database: "new", SizeBytes: 10 << 30}}}
	res, err := guide.ValidateLocal(ctx, fakeLocal(1<<20, nil), req)
	if err != nil {
		t.Fatal(err)
	}
	if c := checkNamed(res, guide.CheckDisk); c == nil || c.Status != adminapi.CheckFail {
		t.Fatalf("disk check with 1 MiB free for 10 GiB: %+v", c)
	}
	res, err = guide.ValidateLocal(ctx, fakeLocal(0, errors.New("statfs: denied")), req)
	if err != nil {
		t.Fatal(err)
	}
	if c := checkNamed(res, guide.CheckDisk); c == nil || c.Status != adminapi.CheckWarning || c.Hint == "" {
		t.Fatalf("disk check when the free space is unreadable: %+v", c)
	}
}

func TestValidateLocal_PrimaryMissingDatabase(t *testing.T) {
	req := adminapi.ValidateLinkRequest{Role: sqlink.RolePrimary,
		Links: []adminapi.ValidateLinkItem{{Name: "L", Database: "nope"}}}
	res, err := guide.ValidateLocal(context.Background(), fakeLocal(0, nil), req)
	if err != nil {
		t.Fatal(err)
	}
	if c := checkNamed(res, guide.CheckOnline); c == nil || c.Status != adminapi.CheckFail {
		t.Fatalf("a missing primary database: %+v", res.Checks)
	}
	if checkNamed(res, guide.CheckLogCap) != nil {
		t.Fatal("the log cap was checked for a database that does not exist")
	}
}
