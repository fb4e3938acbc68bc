package rbac_test

import (
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/rbac"
)

func TestAllPermissions(t *testing.T) {
	want := []string{
		"instance/read", "instance/write", "instance/hybridCertificate/action",
		"databases/read", "databases/write", "databases/delete",
		"databases/completeRestore/action", "databases/readBackups/action",
		"databases/restoreDetails/read", "links/read", "links/write",
		"links/delete", "links/setRole/action", "endpointCertificates/read",
		"serverTrustCertificates/read", "serverTrustCertificates/write",
		"serverTrustCertificates/delete",
	}
	got := rbac.AllPermissions()
	if len(got) != len(want) {
		t.Fatalf("got %d permissions, want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("permission %d = %q, want %q", i, got[i], want[i])
		}
	}
	got[0] = "mutated"
	if rbac.AllPermissions()[0] != rbac.InstanceRead {
		t.Fatal("AllPermissions returned shared storage")
	}
}

func TestParsePermission(t *testing.T) {
	for _, tt := range []struct {
		in       string
		want     rbac.Permission
		code     string
		hintPart string
	}{
		{in: "databases/write", want: rbac.DatabasesWrite},
		{in: "  links/setRole/action ", want: rbac.LinksSetRole},
		{in: "Databases/Write", code: sqlink.EINVALID, hintPart: "case-sensitive"},
		{in: "databases/*", code: sqlink.EINVALID, hintPart: "instance/read"},
		{in: "", code: sqlink.EINVALID, hintPart: "use one of"},
	} {
		got, err := rbac.ParsePermission(tt.in)
		if got != tt.want {
			t.Errorf("ParsePermission(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if code := sqlink.ErrorCode(err); code != tt.code {
			t.Errorf("ParsePermission(%q) code = %q, want %q", tt.in, code, tt.code)
		}
		if !strings.Contains(sqlink.ErrorHint(err), tt.hintPart) {
			t.Errorf("ParsePermission(%q) hint = %q, want it to contain %q", tt.in, sqlink.ErrorHint(err), tt.hintPart)
		}
	}
}

func TestParsePermissionsDeduplicates(t *testing.T) {
	ps, err := rbac.ParsePermissions([]string{"links/read", "instance/read", "links/read"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ps), 2; got != want {
		t.Fatalf("got %v", ps)
	}
	if _, err := rbac.ParsePermissions([]string{"links/read", "nope"}); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("err = %v", err)
	}
}

func TestBuiltinRoles(t *testing.T) {
	sa, ok := rbac.BuiltinRole(rbac.Sysadmin)
	if !ok {
		t.Fatal("no sysadmin")
	}
	lc, ok := rbac.BuiltinRole(rbac.LinkContributor)
	if !ok {
		t.Fatal("no link-contributor")
	}
	denied := map[rbac.Permission]bool{
		rbac.DatabasesWrite: true, rbac.DatabasesDelete: true, rbac.InstanceWrite: true,
	}
	for _, p := range rbac.AllPermissions() {
		if !sa.Has(p) {
			t.Errorf("sysadmin lacks %s", p)
		}
		if got, want := lc.Has(p), !denied[p]; got != want {
			t.Errorf("link-contributor has %s = %v, want %v", p, got, want)
		}
	}
	if rbac.IsBuiltin("custom") || !rbac.IsBuiltin("sysadmin") {
		t.Fatal("IsBuiltin wrong")
	}
}

func TestAuthorize(t *testing.T) {
	reader := rbac.Role{Name: "reader", Permissions: []rbac.Permission{rbac.DatabasesRead, rbac.LinksRead}}
	lc, _ := rbac.BuiltinRole(rbac.LinkContributor)
	sa, _ := rbac.BuiltinRole(rbac.Sysadmin)
	for _, tt := range []struct {
		name  string
		roles []rbac.Role
		need  rbac.Permission
		ok    bool
	}{
		{"no roles", nil, rbac.DatabasesRead, false},
		{"custom grants", []rbac.Role{reader}, rbac.DatabasesRead, true},
		{"custom lacks", []rbac.Role{reader}, rbac.DatabasesWrite, false},
		{"union of roles", []rbac.Role{reader, lc}, rbac.LinksSetRole, true},
		{"link-contributor cannot create databases", []rbac.Role{lc}, rbac.DatabasesWrite, false},
		{"link-contributor cannot drop databases", []rbac.Role{lc}, rbac.DatabasesDelete, false},
		{"link-contributor cannot write instance", []rbac.Role{lc}, rbac.InstanceWrite, false},
		{"link-contributor fails over", []rbac.Role{lc}, rbac.LinksSetRole, true},
		{"sysadmin", []rbac.Role{sa}, rbac.DatabasesDelete, true},
		{"unknown permission fails closed", []rbac.Role{{Name: "x", Permissions: []rbac.Permission{"bogus/read"}}}, "bogus/read", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := rbac.Authorize(tt.roles, tt.need)
			if tt.ok {
				if err != nil {
					t.Fatalf("Authorize = %v, want nil", err)
				}
				return
			}
			if got, want := sqlink.ErrorCode(err), sqlink.EFORBIDDEN; got != want {
				t.Fatalf("code = %q, want %q", got, want)
			}
			if !strings.Contains(sqlink.ErrorMessage(err), string(tt.need)) {
				t.Fatalf("message %q does not name %s", sqlink.ErrorMessage(err), tt.need)
			}
			if sqlink.ErrorHint(err) == "" {
				t.Fatal("no hint")
			}
		})
	}
}

func TestAuthorizePrincipalNamesCaller(t *testing.T) {
	err := rbac.AuthorizePrincipal("bob", nil, rbac.DatabasesWrite)
	if got, want := sqlink.ErrorMessage(err), `permission denied: principal "bob" lacks databases/write`; got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}
	if !strings.Contains(sqlink.ErrorHint(err), "sysadmin") {
		t.Fatalf("hint = %q", sqlink.ErrorHint(err))
	}
}

func TestRoleValidate(t *testing.T) {
	for _, tt := range []struct {
		role rbac.Role
		code string
	}{
		{rbac.Role{Name: "ops", Permissions: []rbac.Permission{rbac.LinksRead}}, ""},
		{rbac.Role{Name: "ops-2_x", Permissions: []rbac.Permission{rbac.LinksRead}}, ""},
		{rbac.Role{Name: "", Permissions: []rbac.Permission{rbac.LinksRead}}, sqlink.EINVALID},
		{rbac.Role{Name: "1ops", Permissions: []rbac.Permission{rbac.LinksRead}}, sqlink.EINVALID},
		{rbac.Role{Name: "ops/x", Permissions: []rbac.Permission{rbac.LinksRead}}, sqlink.EINVALID},
		{rbac.Role{Name: strings.Repeat("a", 64), Permissions: []rbac.Permission{rbac.LinksRead}}, sqlink.EINVALID},
		{rbac.Role{Name: "ops"}, sqlink.EINVALID},
		{rbac.Role{Name: "ops", Permissions: []rbac.Permission{"links/*"}}, sqlink.EINVALID},
		{rbac.Role{Name: "sysadmin", Permissions: []rbac.Permission{rbac.LinksRead}}, sqlink.ECONFLICT},
	} {
		if got := sqlink.ErrorCode(tt.role.Validate()); got != tt.code {
			t.Errorf("Validate(%+v) code = %q, want %q", tt.role, got, tt.code)
		}
	}
}
