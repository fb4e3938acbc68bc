package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// `sqlink instance` alone shows the instance, as `instance show` does.
func TestInstance_WithoutSubcommandShowsIt(t *testing.T) {
	in := startTestInstance(t)
	show, errOut, code := in.cli("instance", "show")
	if code != 0 || !strings.Contains(show, "Name:") {
		t.Fatalf("instance show: exit %d\n%s%s", code, show, errOut)
	}
	bare, errOut, code := in.cli("instance")
	if code != 0 || !strings.Contains(bare, "Name:") || !strings.Contains(bare, "hints") || strings.Contains(bare, "Usage:") {
		t.Fatalf("instance: exit %d\n%s%s", code, bare, errOut)
	}
	if _, errOut, code := in.cli("instance", "shwo"); code != 2 || !strings.Contains(errOut, "Try:") {
		t.Fatalf("instance shwo: exit %d\n%s", code, errOut)
	}
}

// The server commands call no admin API: their help does not list
// --server and --token, and giving one is refused; client commands keep
// them.
func TestServerCommands_WithoutClientFlags(t *testing.T) {
	for _, c := range []string{"serve", "init", "demo"} {
		out, errOut, code := runCLI(c, "--help")
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Fatalf("%s --help: exit %d\n%s%s", c, code, out, errOut)
		}
		if strings.Contains(out, "--server") || strings.Contains(out, "--token ") {
			t.Errorf("%s --help lists --server or --token:\n%s", c, out)
		}
		if !strings.Contains(out, "--json") {
			t.Errorf("%s --help lost the other global flags:\n%s", c, out)
		}
		// (A bad --log-level ends the demo at once should --token be
		// taken: it must not run.)
		args := []string{c, "--token", "x"}
		if c == "demo" {
			args = append(args, "--log-level", "bogus")
		}
		_, errOut, code = runCLI(args...)
		if code != 2 || !strings.Contains(errOut, "--token does not apply") {
			t.Errorf("%s --token x: exit %d\n%s", c, code, errOut)
		}
	}
	out, _, _ := runCLI("db", "list", "--help")
	if !strings.Contains(out, "--server") || !strings.Contains(out, "--token") {
		t.Errorf("db list --help lacks --server/--token:\n%s", out)
	}
}

// A backup file that is not there: one message naming it once, a hint,
// and the not-found exit code.
func TestRestore_MissingFile(t *testing.T) {
	in := startTestInstance(t)
	missing := filepath.Join(t.TempDir(), "nofile.bak")
	_, errOut, code := in.cli("restore", missing, "--as", "x")
	if code != 5 || strings.Count(errOut, "nofile.bak") != 1 || !strings.Contains(errOut, "does not exist") || !strings.Contains(errOut, "\nTry: ") {
		t.Fatalf("restore of a missing file: exit %d\n%s", code, errOut)
	}
}

// A database restored with --restoring: backing it up names the command
// that brings it online (no seeding is going on), and db show does not
// suggest a backup that cannot be taken.
func TestRestoring_Hints(t *testing.T) {
	in := startTestInstance(t)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"db", "create", "shop"},
		{"backup", "shop", "--to", filepath.Join(dir, "shop.bak")},
		{"restore", filepath.Join(dir, "shop.bak"), "--as", "r", "--restoring"},
	} {
		if out, errOut, code := in.cli(args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	_, errOut, code := in.cli("backup", "r", "--to", filepath.Join(dir, "r.bak"))
	if code == 0 || !strings.Contains(errOut, "sqlink db complete-restore r") || strings.Contains(errOut, "seeding") || strings.Contains(errOut, "restore --complete") {
		t.Fatalf("backup of a RESTORING database: exit %d\n%s", code, errOut)
	}
	out, errOut, code := in.cli("db", "show", "r")
	if code != 0 || !strings.Contains(out, "RESTORING") || strings.Contains(out, "sqlink backup") {
		t.Fatalf("db show of a RESTORING database: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, _ := in.cli("db", "show", "shop"); !strings.Contains(out, "Backup chain started:") {
		t.Fatalf("db show shop:\n%s", out)
	}
	// Bringing it online works as the hint says.
	if out, errOut, code := in.cli("db", "complete-restore", "r"); code != 0 {
		t.Fatalf("complete-restore: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := in.cli("backup", "r", "--to", filepath.Join(dir, "r.bak")); code != 0 {
		t.Fatalf("backup after complete-restore: exit %d\n%s%s", code, out, errOut)
	}
}

// A wrong token for one side of a two-instance command names that side's
// flag and variable, not --token.
func TestSideTokens_HintNamesTheSide(t *testing.T) {
	in := startTestInstance(t)
	for _, side := range []string{"primary", "secondary"} {
		tokens := map[string]string{"primary": in.token, "secondary": in.token}
		tokens[side] = "wrong"
		sides := []string{"--primary", in.url, "--fingerprint", in.fp, "--primary-token", tokens["primary"], "--secondary", in.url, "--fingerprint", in.fp, "--secondary-token", tokens["secondary"]}
		want := "Try: pass --" + side + "-token or set SQLINK_" + strings.ToUpper(side) + "_TOKEN"
		// link create stops at the side that refuses the token...
		args := append([]string{"link", "create", "--name", "l", "--database", "d"}, sides...)
		if out, errOut, code := runCLI(args...); code != 3 || !strings.Contains(errOut, want) || strings.Contains(errOut, "--token or") {
			t.Errorf("link create, wrong %s token: exit %d, want 3 and %q\n%s%s", side, code, want, out, errOut)
		}
		// ...link status reports both sides, the one refused with the hint.
		args = append([]string{"link", "status"}, sides...)
		if out, errOut, code := runCLI(args...); !strings.Contains(out, want) || strings.Contains(out, "--token or") {
			t.Errorf("link status, wrong %s token: exit %d, want %q\n%s%s", side, code, want, out, errOut)
		}
	}
	if _, errOut, code := runCLI("link", "status", "--server", in.url, "--fingerprint", in.fp, "--token", "wrong"); code != 3 || !strings.Contains(errOut, "Try: pass --token or set SQLINK_TOKEN") {
		t.Errorf("link status --server, wrong token: exit %d\n%s", code, errOut)
	}
	// The environment variable the hint names works.
	env := map[string]string{"SQLINK_SECONDARY_TOKEN": in.token}
	if out, errOut, code := runCLIEnv(env, "link", "status", "--primary", in.url, "--fingerprint", in.fp, "--primary-token", in.token, "--secondary", in.url, "--fingerprint", in.fp); code != 0 {
		t.Fatalf("SQLINK_SECONDARY_TOKEN: exit %d\n%s%s", code, out, errOut)
	}
}

func TestSelfCommand(t *testing.T) {
	abs, _ := filepath.Abs("bin/sqlink")
	for _, tc := range []struct{ argv0, want string }{
		{"/tmp/go-build2931470712/b001/exe/sqlink", "go run ./cmd/sqlink"},
		{"sqlink", "sqlink"},
		{"/usr/local/bin/sqlink", "/usr/local/bin/sqlink"},
		{"bin/sqlink", abs},
	} {
		if got := selfCommand(tc.argv0); got != tc.want {
			t.Errorf("selfCommand(%q) = %q, want %q", tc.argv0, got, tc.want)
		}
	}
}
