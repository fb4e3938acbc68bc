package e2e_test

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sqlink/sqlink/internal/testutil"
)

// The README's tour is run from README.md itself, so that it stays true.
// Its block lies between the <!-- tour:begin --> and <!-- tour:end -->
// markers; every indented line is a shell command or a comment. The test
// changes only what a second run on a shared machine must change: the
// ports (5432/7080/5022 are alpha's defaults, 5433/7081/5023 beta's), the
// /var/lib/sqlink directory, and the <NAME's admin token> and <NAME's SQL
// password> placeholders, which it fills from what `sqlink init` printed.
// It reads a few conventions a person follows too:
//
//   - `sqlink serve` runs in a terminal of its own: the test starts it in
//     the background and waits until its admin API answers;
//   - a comment "# Stop NAME (Ctrl-C ...)" stops that instance's serve;
//   - a trailing "# exit N: ..." is the command's documented exit code;
//   - a trailing "# until ... show(s) STATE" means: repeat the command
//     until its output has a "State: STATE" line (two with "both").
//
// Every other line must exit 0.

const tourReadme = "../../README.md"

// tourLine is one line of the tour: a command with its trailing comment,
// or a whole-line comment (cmd empty).
type tourLine struct {
	n       int // line number in README.md
	cmd     string
	comment string
}

// readTour returns the lines of the README's tour block.
func readTour(tb testing.TB) []tourLine {
	tb.Helper()
	b, err := os.ReadFile(tourReadme)
	if err != nil {
		tb.Fatal(err)
	}
	var out []tourLine
	in := false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "<!-- tour:begin"):
			in = true
			continue
		case strings.HasPrefix(line, "<!-- tour:end"):
			if !in {
				tb.Fatalf("README.md:%d: tour:end without tour:begin", i+1)
			}
			return out
		}
		if !in || strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.HasPrefix(line, "    ") {
			tb.Fatalf("README.md:%d: the tour block holds only indented lines: %q", i+1, line)
		}
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			out = append(out, tourLine{n: i + 1, comment: strings.TrimSpace(strings.TrimPrefix(line, "#"))})
			continue
		}
		tl := tourLine{n: i + 1, cmd: line}
		if m := trailingComment.FindStringSubmatchIndex(line); m != nil {
			tl.cmd, tl.comment = strings.TrimSpace(line[:m[0]]), line[m[2]:m[3]]
		}
		out = append(out, tl)
	}
	tb.Fatalf("README.md has no complete <!-- tour:begin --> ... <!-- tour:end --> block")
	return nil
}

var (
	trailingComment = regexp.MustCompile(`\s{2,}#\s*(.*)$`)
	tourPorts       = regexp.MustCompile(`\b(5432|5433|5022|5023|7080|7081)\b`)
	tourSecret      = regexp.MustCompile(`<(\w+)'s (admin token|SQL password)>`)
	tourStop        = regexp.MustCompile(`^Stop (\w+) \(Ctrl-C`)
	tourExit        = regexp.MustCompile(`^exit (\d+)\b`)
	tourUntil       = regexp.MustCompile(`^until\b.*\bshows? ([A-Z_]+)`)
	initToken       = regexp.MustCompile(`Admin token \(sysadmin\), shown only once: (\S+)`)
	initPassword    = regexp.MustCompile(`SQL login "admin" password, shown only once: (\S+)`)
	flagValue       = func(cmd, flag string) string {
		m := regexp.MustCompile(`(?:^|\s)` + flag + `[ =](\S+)`).FindStringSubmatch(cmd)
		if m == nil {
			return ""
		}
		return m[1]
	}
)

// tour runs the README's tour: the shell environment its exports build,
// the instances it started and the secrets their init printed.
type tour struct {
	t       *testing.T
	dir     string            // working directory (backups, PEM files)
	dataDir string            // stands for /var/lib/sqlink
	ports   map[string]string // README port -> port of this run
	env     []string
	secrets map[string]string // "alpha's admin token" -> value
	serves  map[string]*exec.Cmd
	done    map[string]chan struct{}
	outputs map[string]*bytes.Buffer
}

func TestReadmeTour(t *testing.T) {
	requireTool(t, "psql")
	lines := readTour(t)
	tr := &tour{t: t, dir: t.TempDir(), dataDir: filepath.Join(t.TempDir(), "sqlink"), ports: map[string]string{},
		secrets: map[string]string{}, serves: map[string]*exec.Cmd{}, done: map[string]chan struct{}{}, outputs: map[string]*bytes.Buffer{}}
	for _, p := range []string{"5432", "5433", "5022", "5023", "7080", "7081"} {
		_, port, _ := strings.Cut(testutil.FreeAddr(t), ":")
		tr.ports[p] = port
	}
	// The process's own settings must not leak into the tour's commands.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SQLINK_") && !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "PATH=") {
			tr.env = append(tr.env, kv)
		}
	}
	tr.env = append(tr.env, "PATH="+filepath.Dir(sqlinkBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Cleanup(tr.stopAll)

	var outputs []string
	for _, l := range lines {
		if l.cmd == "" {
			if m := tourStop.FindStringSubmatch(l.comment); m != nil {
				tr.stop(l, m[1])
			}
			continue
		}
		outputs = append(outputs, tr.run(l))
	}

	// What the tour says the commands show.
	all := strings.Join(outputs, "\n")
	for _, want := range []string{
		"Created database shop.",
		"read on shop", // login list
		"equal at LSN", // link verify
		"read-only",    // the INSERT on beta
		"beta is the primary",
		"INSERT 0 1", // the multi-host string reached the primary
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the tour's output lacks %q:\n%s", want, all)
		}
	}
	if last := outputs[len(outputs)-1]; !strings.Contains(last, "INSERT 0 1") {
		t.Errorf("the tour's closing psql did not write on the primary:\n%s", last)
	}
}

// expand substitutes the run's ports, directory and secrets in a command.
func (tr *tour) expand(l tourLine) string {
	s := strings.ReplaceAll(l.cmd, "/var/lib/sqlink", tr.dataDir)
	s = tourPorts.ReplaceAllStringFunc(s, func(p string) string { return tr.ports[p] })
	return tourSecret.ReplaceAllStringFunc(s, func(ph string) string {
		key := ph[1 : len(ph)-1]
		v, ok := tr.secrets[key]
		if !ok {
			tr.t.Fatalf("README.md:%d: %s is not known at this point of the tour (no init printed it)", l.n, ph)
		}
		return v
	})
}

// shell returns a bash running cmd in the tour's directory and
// environment, with nothing on its standard input.
func (tr *tour) shell(cmd string) *exec.Cmd {
	c := exec.Command("bash", "-c", cmd)
	c.Dir, c.Env = tr.dir, tr.env
	return c
}

// run runs one command line of the tour and returns what it printed.
func (tr *tour) run(l tourLine) string {
	t := tr.t
	t.Helper()
	cmd := tr.expand(l)
	t.Logf("README.md:%d: %s", l.n, l.cmd)
	switch {
	case strings.HasPrefix(cmd, "export ") || regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(cmd):
		tr.assign(l, cmd)
		return ""
	case strings.HasPrefix(cmd, "sqlink serve "):
		tr.serve(l, cmd)
		return ""
	}
	want := 0
	if m := tourExit.FindStringSubmatch(l.comment); m != nil {
		want, _ = strconv.Atoi(m[1])
	}
	var until string
	times := 1
	if m := tourUntil.FindStringSubmatch(l.comment); m != nil {
		until = m[1]
		if strings.Contains(l.comment, "both") {
			times = 2
		}
	}
	var out string
	deadline := time.Now().Add(testutil.DefaultTimeout)
	for {
		var code int
		out, code = tr.exec(cmd)
		if code != want {
			t.Fatalf("README.md:%d: %s\nexit %d, want %d\n%s", l.n, l.cmd, code, want, out)
		}
		if until == "" || countStateLines(out, until) >= times {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("README.md:%d: %s\nthe output never showed %s %d times:\n%s", l.n, l.cmd, until, times, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%s", out)
	if strings.HasPrefix(cmd, "sqlink init ") {
		name := flagValue(cmd, "--name")
		tok, pw := initToken.FindStringSubmatch(out), initPassword.FindStringSubmatch(out)
		if name == "" || tok == nil || pw == nil {
			t.Fatalf("README.md:%d: init printed no name, token or password:\n%s", l.n, out)
		}
		tr.secrets[name+"'s admin token"], tr.secrets[name+"'s SQL password"] = tok[1], pw[1]
	}
	return out
}

// countStateLines counts the lines of out that give state as a "State:".
func countStateLines(out, state string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "State:" && f[1] == state {
			n++
		}
	}
	return n
}

// exec runs cmd in the tour's shell and returns its output and exit code.
func (tr *tour) exec(cmd string) (string, int) {
	c := tr.shell(cmd)
	out, err := c.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		tr.t.Fatalf("run %s: %v", cmd, err)
	}
	return string(out), 0
}

// assign runs an export or a variable assignment and keeps the
// environment it leaves.
func (tr *tour) assign(l tourLine, cmd string) {
	c := tr.shell("set -a\n" + cmd + "\nenv -0")
	out, err := c.Output()
	if err != nil {
		tr.t.Fatalf("README.md:%d: %s: %v", l.n, l.cmd, err)
	}
	var env []string
	for _, kv := range strings.Split(string(out), "\x00") {
		if kv != "" && !strings.HasPrefix(kv, "_=") && !strings.HasPrefix(kv, "SHLVL=") && !strings.HasPrefix(kv, "PWD=") && !strings.HasPrefix(kv, "OLDPWD=") {
			env = append(env, kv)
		}
	}
	tr.env = env
}

// serve starts a `sqlink serve` line in the background, as its own
// terminal would, and waits until its admin API answers. alpha's line
// uses the default addresses: the environment gives it this run's.
func (tr *tour) serve(l tourLine, cmd string) {
	t := tr.t
	t.Helper()
	name := filepath.Base(flagValue(cmd, "--data-dir"))
	admin := flagValue(cmd, "--admin-addr")
	if admin == "" {
		admin = "127.0.0.1:" + tr.ports["7080"]
	}
	c := tr.shell("exec " + cmd)
	c.Env = append(append([]string{}, tr.env...),
		"SQLINK_CLIENT_ADDR=127.0.0.1:"+tr.ports["5432"], "SQLINK_ADMIN_ADDR=127.0.0.1:"+tr.ports["7080"],
		"SQLINK_ENDPOINT_ADDR=127.0.0.1:"+tr.ports["5022"])
	out := &bytes.Buffer{}
	c.Stdout, c.Stderr = out, out
	if err := c.Start(); err != nil {
		t.Fatalf("README.md:%d: %v", l.n, err)
	}
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	tr.serves[name], tr.done[name], tr.outputs[name] = c, done, out
	deadline := time.Now().Add(testutil.DefaultTimeout)
	for {
		select {
		case <-done:
			t.Fatalf("README.md:%d: %s exited:\n%s", l.n, l.cmd, out)
		default:
		}
		// Only a liveness poll: the tour's own commands verify the
		// certificate (SQLINK_CA_FILE).
		if resp, err := healthClient.Get("https://" + admin + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("README.md:%d: %s did not become healthy:\n%s", l.n, l.cmd, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop stops an instance's serve as Ctrl-C in its terminal does.
func (tr *tour) stop(l tourLine, name string) {
	c, ok := tr.serves[name]
	if !ok {
		tr.t.Fatalf("README.md:%d: no serve of %s runs", l.n, name)
	}
	tr.t.Logf("README.md:%d: # %s", l.n, l.comment)
	c.Process.Signal(syscall.SIGINT)
	select {
	case <-tr.done[name]:
	case <-time.After(time.Minute):
		c.Process.Kill()
		<-tr.done[name]
		tr.t.Fatalf("README.md:%d: %s did not stop on Ctrl-C:\n%s", l.n, name, tr.outputs[name])
	}
	if code := c.ProcessState.ExitCode(); code != 0 {
		tr.t.Errorf("%s exited with %d after Ctrl-C:\n%s", name, code, tr.outputs[name])
	}
	delete(tr.serves, name)
}

// stopAll stops the instances still running when the test ends.
func (tr *tour) stopAll() {
	for name, c := range tr.serves {
		c.Process.Signal(syscall.SIGTERM)
		select {
		case <-tr.done[name]:
		case <-time.After(time.Minute):
			c.Process.Kill()
			<-tr.done[name]
		}
		if tr.t.Failed() {
			tr.t.Logf("%s's output:\n%s", name, tr.outputs[name])
		}
	}
}

// healthClient polls an instance's /healthz while it starts, before the
// tour has its certificate in hand.
var healthClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
