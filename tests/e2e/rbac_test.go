package e2e_test

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRBAC_CustomRoleAndRevokedToken(t *testing.T) {
	in := MustStartInstance(t, "rbac")
	in.MustCLI("role", "create", "reader", "--permissions", "databases/read,instance/read")
	in.MustCLI("principal", "create", "bob", "--roles", "reader")
	out := in.MustCLI("token", "create", "--principal", "bob", "--json")
	var tok struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Secret == "" || tok.ID == "" {
		t.Fatalf("token create: %v\n%s", err, out)
	}

	// bob can read but not create: the refusal names the permission.
	if r := in.CLIWithToken(tok.Secret, "db", "list"); r.Code != 0 {
		t.Fatalf("db list as reader: exit %d\n%s", r.Code, r.Stderr)
	}
	r := in.CLIWithToken(tok.Secret, "db", "create", "nope")
	if r.Code != 4 || !strings.Contains(r.Stderr, "databases/write") {
		t.Fatalf("db create as reader: exit %d, want 4 naming databases/write\n%s", r.Code, r.Stderr)
	}
	if r := in.CLI("db", "show", "nope"); r.Code != 5 {
		t.Fatalf("the refused create must not have created anything: exit %d\n%s", r.Code, r.Stdout)
	}

	// A revoked token stops working at once.
	in.MustCLI("token", "revoke", tok.ID)
	r = in.CLIWithToken(tok.Secret, "db", "list")
	if r.Code != 3 || !strings.Contains(r.Stderr, "Try:") {
		t.Fatalf("db list with a revoked token: exit %d, want 3\n%s", r.Code, r.Stderr)
	}
	// No token at all.
	r = in.CLIWithToken("", "db", "list")
	if r.Code != 3 {
		t.Fatalf("db list without a token: exit %d, want 3\n%s", r.Code, r.Stderr)
	}

	// The audit log has who did what.
	audit := in.MustCLI("audit", "--json")
	for _, want := range []string{"bob", "databases/write", "sysadmin"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %q:\n%s", want, audit)
		}
	}
}
