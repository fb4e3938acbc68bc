package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/internal/testutil"
)

// failoverPassword is the SQL password of the admin login on every instance
// of a failover test: a multi-host connection string carries one password
// for all its hosts (pgx uses the first host's for all of them).
const failoverPassword = "pw-failover"

// MustStartFailoverInstance starts an instance like MustStartInstance, with
// the SQL password every failover test instance shares.
func MustStartFailoverInstance(tb testing.TB, name string, extra ...string) *Instance {
	tb.Helper()
	return mustStartInstanceWithPassword(tb, name, failoverPassword, extra...)
}

// StartEnv runs `sqlink serve` with extra environment variables (such as
// SQLINK_FAILPOINT) and waits until the admin API answers. The process may
// then end by itself: see Exited.
func (in *Instance) StartEnv(env ...string) {
	in.t.Helper()
	if err := in.tryStart(env); err != nil {
		in.t.Fatal(err)
	}
}

// Exited reports whether the serve process has ended by itself.
func (in *Instance) Exited() bool {
	in.mu.Lock()
	done := in.done
	in.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// Freeze stops the serve process with SIGSTOP (it neither answers nor
// crashes); Thaw resumes it.
func (in *Instance) Freeze() { in.sendRaw(syscall.SIGSTOP) }
func (in *Instance) Thaw()   { in.sendRaw(syscall.SIGCONT) }

func (in *Instance) sendRaw(sig syscall.Signal) {
	in.t.Helper()
	in.mu.Lock()
	cmd := in.cmd
	in.mu.Unlock()
	if cmd == nil {
		in.t.Fatalf("instance %s is not running", in.Name)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		in.t.Fatalf("signal %v to %s: %v", sig, in.Name, err)
	}
}

// multiHost returns a libpq/pgx key-value connection string naming every
// instance, that connects to the one taking writes.
func multiHost(db string, ins ...*Instance) string {
	var hosts, ports []string
	for _, in := range ins {
		hosts = append(hosts, in.Host())
		ports = append(ports, in.Port())
	}
	return fmt.Sprintf("host=%s port=%s user=admin password=%s dbname=%s sslmode=disable connect_timeout=5 target_session_attrs=read-write",
		strings.Join(hosts, ","), strings.Join(ports, ","), failoverPassword, db)
}

// failoverOut is what `sqlink link failover --json` prints.
type failoverOut struct {
	adminapi.FailoverResult
	Type         string               `json:"type"`
	Instance     string               `json:"instance"`
	Partner      *adminapi.LinkStatus `json:"partner"`
	PartnerError string               `json:"partner_error"`
	Nothing      string               `json:"nothing"`
}

// partnerFlags names in as the partner on a failover command line.
func partnerFlags(in *Instance) []string {
	return []string{"--partner", in.AdminURL(), "--partner-token", in.Token, "--partner-fingerprint", in.Fingerprint()}
}

// runFailover runs `sqlink link failover NAME --json` on `on` with the
// partner and extra flags, and decodes what it printed.
func runFailover(t testing.TB, on, partner *Instance, name string, extra ...string) (failoverOut, CLIResult) {
	t.Helper()
	args := append([]string{"link", "failover", name, "--json"}, extra...)
	if partner != nil {
		args = append(args, partnerFlags(partner)...)
	}
	r := on.CLI(args...)
	var out failoverOut
	if strings.TrimSpace(r.Stdout) != "" {
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("link failover --json printed %q: %v\nstderr: %s", r.Stdout, err, r.Stderr)
		}
	}
	return out, r
}

// mustFailover runs a failover that must succeed and finish.
func mustFailover(t testing.TB, on, partner *Instance, name string, extra ...string) failoverOut {
	t.Helper()
	out, r := runFailover(t, on, partner, name, extra...)
	if r.Code != 0 || out.Paused != "" {
		t.Fatalf("sqlink link failover %s %v on %s: exit %d, paused %q\nstdout: %s\nstderr: %s\n%s log tail:\n%s",
			name, extra, on.Name, r.Code, out.Paused, r.Stdout, r.Stderr, on.Name, tail(on.Output(), 40))
	}
	return out
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// checkAtMostOnePrimary fails if more than one instance reports itself
// primary of the link: a planned failover, however interrupted, persists
// the old primary's demotion before the new primary takes its role. The
// instances are asked one after the other, so a handoff between two
// answers can show both (the old primary asked before its demotion, the
// new one after its promotion); asked in the other order, that handoff
// cannot, so they are asked again in reverse before it fails.
func checkAtMostOnePrimary(t testing.TB, name string, ins ...*Instance) {
	t.Helper()
	if primaries := primariesOf(name, ins...); len(primaries) <= 1 {
		return
	}
	rev := slices.Clone(ins)
	slices.Reverse(rev)
	if primaries := primariesOf(name, rev...); len(primaries) > 1 {
		t.Fatalf("two primaries of link %s: %v", name, primaries)
	}
}

// primariesOf asks ins in turn for their role in link name and returns
// those that say primary.
func primariesOf(name string, ins ...*Instance) []string {
	var primaries []string
	for _, in := range ins {
		if st, err := linkStatus(in, name); err == nil && st.Local.Role == sqlink.RolePrimary {
			primaries = append(primaries, fmt.Sprintf("%s (epoch %d, read-only %v)", in.Name, st.Epoch, st.Local.ReadOnly))
		}
	}
	return primaries
}

// waitSettled waits until exactly one instance is the link's writable
// primary and the other its secondary, with no failover in progress and no
// split brain on either side, and returns the primary and the secondary.
func waitSettled(t testing.TB, name string, a, b *Instance, timeout time.Duration) (p, s *Instance) {
	t.Helper()
	testutil.RetryUntil(t, timeout, func() error {
		sa, err := linkStatus(a, name)
		if err != nil {
			return err
		}
		sb, err := linkStatus(b, name)
		if err != nil {
			return err
		}
		for _, x := range []struct {
			in *Instance
			st adminapi.LinkStatus
		}{{a, sa}, {b, sb}} {
			if x.st.Failover != nil || x.st.SplitBrain != nil || x.st.State == "SPLIT_BRAIN" || x.st.State == "FAILOVER_IN_PROGRESS" {
				return fmt.Errorf("%s: state %s, failover %+v, split brain %+v", x.in.Name, x.st.State, x.st.Failover, x.st.SplitBrain)
			}
		}
		switch {
		case sa.Local.Role == sqlink.RolePrimary && sb.Local.Role == sqlink.RoleSecondary && !sa.Local.ReadOnly:
			p, s = a, b
		case sb.Local.Role == sqlink.RolePrimary && sa.Local.Role == sqlink.RoleSecondary && !sb.Local.ReadOnly:
			p, s = b, a
		default:
			return fmt.Errorf("roles: %s %s (read-only %v, epoch %d), %s %s (read-only %v, epoch %d)", a.Name, sa.Local.Role, sa.Local.ReadOnly, sa.Epoch,
				b.Name, sb.Local.Role, sb.Local.ReadOnly, sb.Epoch)
		}
		return nil
	})
	return p, s
}

// loadLoop runs pgbench (TPC-B, prepared, 4 clients) in short back-to-back
// invocations against a multi-host connection string, so each invocation
// finds the current primary: pgbench aborts a client whose connection
// fails, so a failover ends an invocation and the next one starts on the
// new primary. Every invocation logs its transactions (-l).
type loadLoop struct {
	dir    string
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	runs   int
	ok     int
	last   string
	cancel context.CancelFunc
}

// startLoad starts the loop; perRun is each client's -t.
func startLoad(t testing.TB, db string, perRun int, ins ...*Instance) *loadLoop {
	t.Helper()
	requireTool(t, "pgbench")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	l := &loadLoop{dir: t.TempDir(), stop: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	conn := multiHost(db, ins...)
	go func() {
		defer close(l.done)
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-ctx.Done():
				return
			default:
			}
			cmd := exec.CommandContext(ctx, "pgbench", "-n", "-M", "prepared", "-c", "4", "-j", "4", "-t", strconv.Itoa(perRun),
				"-l", "--log-prefix", filepath.Join(l.dir, fmt.Sprintf("run%05d", i)), "-f", tpcbScript, conn)
			cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5")
			out, err := cmd.CombinedOutput()
			l.mu.Lock()
			l.runs++
			if err == nil {
				l.ok++
			}
			l.last = string(out)
			l.mu.Unlock()
			if err != nil {
				// No primary right now (a failover is under way): pace the
				// retries instead of spinning.
				select {
				case <-l.stop:
					return
				case <-ctx.Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}()
	t.Cleanup(func() { l.Stop(t) })
	return l
}

// Stop lets the current invocation finish, stops the loop and returns the
// number of transactions pgbench saw committed over every invocation.
func (l *loadLoop) Stop(t testing.TB) int64 {
	t.Helper()
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
	l.cancel()
	return l.Acked(t)
}

// Acked counts the committed transactions logged so far.
func (l *loadLoop) Acked(t testing.TB) int64 {
	t.Helper()
	return countLogged(t, filepath.Join(l.dir, "run*"))
}

// Runs returns how many invocations ran and how many ended cleanly, and the
// last one's output.
func (l *loadLoop) Runs() (runs, ok int, last string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.runs, l.ok, l.last
}

// mustSetupTPCBLink starts alpha and beta, creates tpcb on alpha with the
// TPC-B tables and a notes table, and links it to beta with extra `link
// create` flags; it returns once beta has caught up.
func mustSetupTPCBLink(t *testing.T, name string, extra ...string) (alpha, beta *Instance) {
	t.Helper()
	alpha = MustStartFailoverInstance(t, "alpha")
	beta = MustStartFailoverInstance(t, "beta")
	alpha.MustCLI("db", "create", "tpcb")
	MustInitTPCB(t, alpha, "tpcb")
	alpha.MustPsql("tpcb", `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);`)
	mustFullBackup(t, alpha, "tpcb")
	MustCreateLink(t, alpha, beta, name, "tpcb", extra...)
	waitCaughtUp(t, alpha, beta, name, 0)
	return alpha, beta
}

// mustWrite inserts a note through psql and fails on error.
func mustWrite(t testing.TB, in *Instance, body string) {
	t.Helper()
	in.MustPsql("tpcb", fmt.Sprintf(`INSERT INTO notes (body) VALUES ('%s');`, body))
}

// writeErr tries to insert a note and returns the psql error output.
func writeErr(in *Instance, body string) (string, error) {
	return in.Psql(context.Background(), "tpcb", fmt.Sprintf(`INSERT INTO notes (body) VALUES ('%s');`, body))
}

// pgxPrimaryPort connects with the multi-host string and returns the port
// of the server pgx picked.
func pgxPrimaryPort(ctx context.Context, conn string) (string, *pgx.Conn, error) {
	c, err := pgx.Connect(ctx, conn)
	if err != nil {
		return "", nil, err
	}
	_, port, _ := net.SplitHostPort(c.PgConn().Conn().RemoteAddr().String())
	return port, c, nil
}

// restartAfterFailpoint waits until in has killed itself at failpoint fp
// (SIGKILL, SQLINK_FAILPOINT), reaps it and starts it again unarmed.
func restartAfterFailpoint(t testing.TB, in *Instance, fp string) {
	t.Helper()
	testutil.RetryUntil(t, time.Minute, func() error {
		if !in.Exited() {
			return fmt.Errorf("%s is still running: failpoint %s not reached", in.Name, fp)
		}
		return nil
	})
	if !strings.Contains(in.Output(), fp) {
		t.Fatalf("%s exited without reaching %s:\n%s", in.Name, fp, in.Output())
	}
	in.Kill() // reap
	in.Start()
}
