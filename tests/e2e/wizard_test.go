package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

// The wizards are driven like a person would: the real binary runs in a
// tmux pane (a terminal), the test types keys with send-keys and reads the
// screen with capture-pane. With WIZARD_CAPTURE_DIR set, the screens of
// the main pages are saved there (docs/wizard/ holds the committed ones).

// tmuxTerm is one wizard running in a tmux pane.
type tmuxTerm struct {
	t    *testing.T
	sock string
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// startWizard runs sqlink args in a fresh tmux server with env.
func startWizard(t *testing.T, env []string, args ...string) *tmuxTerm {
	t.Helper()
	requireTool(t, "tmux")
	tt := &tmuxTerm{t: t, sock: fmt.Sprintf("sqlink-wiz-%d-%d", os.Getpid(), time.Now().UnixNano())}
	var cmd []string
	for _, e := range env {
		cmd = append(cmd, shq(e))
	}
	cmd = append(cmd, shq(sqlinkBin))
	for _, a := range args {
		cmd = append(cmd, shq(a))
	}
	line := "env " + strings.Join(cmd, " ") + `; echo "WIZARD-EXIT=$?"; exec sleep 3600`
	tt.tmux("new-session", "-d", "-s", "w", "-x", "500", "-y", "80", "sh", "-c", line)
	t.Cleanup(func() { exec.Command("tmux", "-L", tt.sock, "kill-server").Run() })
	return tt
}

func (tt *tmuxTerm) tmux(args ...string) string {
	tt.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tt.sock}, args...)...).CombinedOutput()
	if err != nil {
		tt.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys sends tmux key names (Enter, Escape, Tab, C-c, Space...).
func (tt *tmuxTerm) keys(keys ...string) {
	tt.t.Helper()
	tt.tmux(append([]string{"send-keys", "-t", "w"}, keys...)...)
}

// typeText types s literally.
func (tt *tmuxTerm) typeText(s string) { tt.t.Helper(); tt.tmux("send-keys", "-t", "w", "-l", s) }

func (tt *tmuxTerm) screen() string {
	tt.t.Helper()
	lines := strings.Split(tt.tmux("capture-pane", "-p", "-t", "w"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.TrimSpace(strings.Join(lines, "\n")) + "\n"
}

// waitFor polls the screen until it shows all of want.
func (tt *tmuxTerm) waitFor(timeout time.Duration, want ...string) string {
	tt.t.Helper()
	var scr string
	testutil.RetryUntil(tt.t, timeout, func() error {
		scr = tt.screen()
		for _, w := range want {
			if !strings.Contains(scr, w) {
				return fmt.Errorf("screen lacks %q:\n%s", w, scr)
			}
		}
		return nil
	})
	return scr
}

// capture saves the screen as docs would show it, when asked to.
func capture(t *testing.T, name, scr string) {
	dir := os.Getenv("WIZARD_CAPTURE_DIR")
	if dir == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(scr), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWizard_LinkCreateThroughEveryPage(t *testing.T) {
	p := MustStartInstance(t, "alpha")
	s := MustStartInstance(t, "beta")
	p.MustCLI("db", "create", "app")
	p.MustPsql("app", `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL); INSERT INTO notes (body) VALUES ('one'), ('two');`)
	s.MustCLI("db", "create", "app") // in the way until dropped on the Validation page

	tt := startWizard(t, p.cliEnv(p.Token), "link", "create")
	scr := tt.waitFor(30*time.Second, "== Introduction ==", "Enter Next")
	capture(t, "introduction", scr)
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "== Link options ==", "Link name:")
	tt.typeText("shop")
	tt.keys("Enter")

	// No full backup yet: the requirement fails, Next refuses, and after
	// the backup is taken a re-run passes.
	scr = tt.waitFor(30*time.Second, "== Requirements ==", "[FAIL] full backup", "Requirements not met")
	capture(t, "requirements-failed", scr)
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "Error: requirements not met", "== Requirements ==")
	mustFullBackup(t, p, "app")
	tt.keys("r")
	tt.waitFor(30*time.Second, "Requirements met: 1 database(s) can be linked", "[ok]   full backup")
	tt.keys("Enter")

	tt.waitFor(10*time.Second, "== Select databases ==", "[x] app", "Links to create: shop")
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "== Secondary replica ==", "Admin API URL:")
	tt.typeText(s.AdminURL())
	tt.keys("Tab")
	tt.typeText(s.Token)
	tt.keys("Tab")
	tt.typeText(s.Fingerprint())
	scr = tt.screen()
	if strings.Contains(scr, s.Token) {
		t.Fatalf("the secondary's token shows on the screen:\n%s", scr)
	}
	tt.keys("Enter")

	// The secondary's database is in the way: validation fails, Next
	// refuses, and after it is dropped a re-run passes.
	tt.waitFor(time.Minute, "== Validation ==", "[FAIL] database on the secondary", "Validation failed")
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "Error: validation did not pass", "== Validation ==")
	s.MustCLI("db", "drop", "app")
	tt.keys("r")
	scr = tt.waitFor(time.Minute, "== Validation ==", "All validations passed.")
	capture(t, "validation", scr)
	tt.keys("Enter")
	scr = tt.waitFor(10*time.Second, "== Summary ==", "Select Finish", "Link shop:  database app", "Enter Finish")
	capture(t, "summary", scr)

	// Script shows what `link create --script` prints for the same answers.
	tt.keys("s")
	scr = tt.waitFor(10*time.Second, "#!/usr/bin/env bash", `"$SQLINK" link create`)
	capture(t, "summary-script", scr)
	r := runBinary(t, p.cliEnv(p.Token), "link", "create", "--script", "--name", "shop", "--database", "app",
		"--primary", p.AdminURL(), "--secondary", s.AdminURL(), "--primary-fingerprint", p.Fingerprint(), "--secondary-fingerprint", s.Fingerprint())
	if r.Code != 0 {
		t.Fatalf("link create --script: %d %s", r.Code, r.Stderr)
	}
	for _, l := range strings.Split(r.Stdout, "\n") {
		if strings.HasPrefix(l, `"$SQLINK"`) && !strings.Contains(scr, l) {
			t.Fatalf("the wizard's script lacks the line of link create --script:\n%s\nscreen:\n%s", l, scr)
		}
	}
	tt.keys("s")
	tt.waitFor(10*time.Second, "Select Finish")
	tt.keys("Enter")

	scr = tt.waitFor(2*time.Minute, "== Results ==", "[ok]   Create the link on both instances", "Seed shop: COMPLETED", "target_session_attrs=read-write")
	capture(t, "results", scr)
	want := fmt.Sprintf("host=%s,%s port=%s,%s dbname=app target_session_attrs=read-write", p.Host(), s.Host(), p.Port(), s.Port())
	if !strings.Contains(scr, want) {
		t.Fatalf("results lack the connection string %q:\n%s", want, scr)
	}
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "WIZARD-EXIT=0")

	waitCaughtUp(t, p, s, "shop", 0)
	waitRows(t, s, "app", `SELECT count(*) FROM notes;`, 2, 0)
}

func TestWizard_CancelAndNoInput(t *testing.T) {
	p := MustStartInstance(t, "alpha")
	p.MustCLI("db", "create", "app")
	mustFullBackup(t, p, "app")

	// Without a token in the environment the wizard asks for the
	// primary's. Ctrl-C before Executing changes nothing; Esc goes back.
	tt := startWizard(t, []string{"SQLINK_SERVER=" + p.AdminURL(), "SQLINK_FINGERPRINT=" + p.Fingerprint(), "SQLINK_TOKEN="}, "link", "create")
	tt.waitFor(30*time.Second, "== Introduction ==")
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "== Primary ==", "Admin API URL: "+p.AdminURL())
	tt.keys("Tab")
	tt.typeText("wrong-token")
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "== Primary ==", "Error: primary:")
	tt.keys("C-u")
	tt.typeText(p.Token)
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "== Link options ==")
	tt.keys("Escape")
	tt.waitFor(10*time.Second, "== Primary ==")
	tt.keys("Escape")
	tt.waitFor(10*time.Second, "== Introduction ==")
	tt.keys("Enter", "Enter")
	tt.waitFor(10*time.Second, "== Link options ==")
	tt.typeText("shop")
	tt.keys("Enter")
	tt.waitFor(30*time.Second, "Requirements met")
	tt.keys("C-c")
	tt.waitFor(10*time.Second, "Cancelled: nothing was changed.", "WIZARD-EXIT=0")
	if out := p.MustCLI("link", "list", "--json"); strings.Contains(out, "shop") {
		t.Fatalf("a cancelled wizard left a link:\n%s", out)
	}

	// --no-input on a terminal, and no terminal at all: a missing flag is
	// an error that names it.
	tt = startWizard(t, p.cliEnv(p.Token), "link", "create", "--no-input")
	scr := tt.waitFor(30*time.Second, "WIZARD-EXIT=2")
	if !strings.Contains(scr, "--primary") {
		t.Fatalf("link create --no-input did not name the missing flag:\n%s", scr)
	}
	r := p.CLI("link", "create")
	if r.Code == 0 || !strings.Contains(r.Stderr, "--primary") {
		t.Fatalf("link create without a terminal: exit %d\n%s", r.Code, r.Stderr)
	}
	r = p.CLI("link", "failover")
	if r.Code == 0 || !strings.Contains(r.Stderr, "link name") {
		t.Fatalf("link failover without a terminal: exit %d\n%s", r.Code, r.Stderr)
	}
}

func TestWizard_ForcedFailoverNeedsAcknowledgement(t *testing.T) {
	p := MustStartInstance(t, "alpha")
	s := MustStartInstance(t, "beta")
	p.MustCLI("db", "create", "app")
	p.MustPsql("app", `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL); INSERT INTO notes (body) VALUES ('one');`)
	mustFullBackup(t, p, "app")
	MustCreateLink(t, p, s, "shop", "app")
	waitCaughtUp(t, p, s, "shop", 0)
	p.Kill()

	// Without a link name the wizard asks which link.
	tt := startWizard(t, s.cliEnv(s.Token), "link", "failover")
	tt.waitFor(30*time.Second, "== Introduction ==")
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "== Select link ==", "(*) shop")
	tt.keys("Enter")
	scr := tt.waitFor(30*time.Second, "== Choose failover type ==", "planned: no", "forced:  yes", "(*) forced",
		"To proceed, type the link's name (shop)", "Acknowledgement:")
	capture(t, "failover-type", scr)

	// Refused until the acknowledgement is typed.
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "Error: a forced failover needs the acknowledgement typed", "== Choose failover type ==")
	tt.keys("Tab")
	tt.typeText("yes")
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "Error: a forced failover needs the acknowledgement typed", "== Choose failover type ==")
	if st := mustLinkStatus(t, s, "shop"); st.Local.Role != sqlink.RoleSecondary {
		t.Fatalf("the link changed before the acknowledgement: role %s", st.Local.Role)
	}
	tt.keys("C-u")
	tt.typeText("shop")
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "== Sign in ==")
	tt.keys("Enter") // the old primary is down: no sign-in
	tt.waitFor(10*time.Second, "== Post-failover options ==", "(*) drop the link")
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "== Summary ==", "forced failover of link shop", "Data loss accepted")
	tt.keys("s")
	tt.waitFor(10*time.Second, `"$SQLINK" link failover shop`, "--force --allow-data-loss --drop-link")
	tt.keys("s")
	tt.keys("Enter")
	scr = tt.waitFor(2*time.Minute, "== Results ==", "WIZARD-EXIT=0", "[ok]   Link shop failed over.")
	capture(t, "failover-results", scr)
	s.MustPsql("app", `INSERT INTO notes (body) VALUES ('after');`)
}

func TestWizard_PlannedFailoverKeepsTheLink(t *testing.T) {
	p := MustStartInstance(t, "alpha")
	s := MustStartInstance(t, "beta")
	p.MustCLI("db", "create", "app")
	p.MustPsql("app", `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL); INSERT INTO notes (body) VALUES ('one');`)
	mustFullBackup(t, p, "app")
	MustCreateLink(t, p, s, "shop", "app", "--two-way")
	waitCaughtUp(t, p, s, "shop", 0)
	waitLink(t, p, "shop", time.Minute, func(st adminapi.LinkStatus) error {
		if st.Local.SyncState != sqlink.Synchronized || !st.Local.Connected {
			return fmt.Errorf("not synchronized yet")
		}
		return nil
	})

	// Run from the primary, with the link's name: the secondary is the
	// other side to sign in to.
	tt := startWizard(t, p.cliEnv(p.Token), "link", "failover", "shop")
	tt.waitFor(30*time.Second, "== Introduction ==")
	tt.keys("Enter")
	tt.waitFor(30*time.Second, "== Choose failover type ==", "planned: yes", "forced:  only on the secondary", "(*) planned")
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "== Sign in ==")
	tt.keys("Enter") // a planned failover needs the other side
	tt.waitFor(10*time.Second, "Error: a planned failover needs both replicas")
	tt.typeText(s.AdminURL())
	tt.keys("Tab")
	tt.typeText(s.Token)
	tt.keys("Tab")
	tt.typeText(s.Fingerprint())
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "== Post-failover options ==", "(*) keep the link")
	tt.keys("Escape") // Back shows the sign-in's result
	tt.waitFor(10*time.Second, "== Sign in ==")
	tt.keys("Enter")
	tt.waitFor(10*time.Second, "== Post-failover options ==")
	tt.keys("Enter")
	// No acknowledgement page for a planned failover.
	tt.waitFor(10*time.Second, "== Summary ==", "planned failover of link shop", "New primary: beta", "Keep the link")
	tt.keys("Enter")
	tt.waitFor(2*time.Minute, "== Results ==", "WIZARD-EXIT=0", "[ok]   Link shop failed over.")
	waitLink(t, s, "shop", time.Minute, func(st adminapi.LinkStatus) error {
		if st.Local.Role != sqlink.RolePrimary {
			return fmt.Errorf("beta is %s", st.Local.Role)
		}
		return nil
	})
	s.MustPsql("app", `INSERT INTO notes (body) VALUES ('after');`)
	waitRows(t, p, "app", `SELECT count(*) FROM notes;`, 2, 0)
}
