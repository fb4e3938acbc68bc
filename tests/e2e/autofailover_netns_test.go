package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/etcdlease/etcdtest"
	"github.com/sqlink/sqlink/internal/testutil"
)

// afNet is a small network of namespaces the test makes, so it can cut
// any pair of processes apart: each instance runs in a namespace of its
// own, joined to the test's namespace (where the etcd members run) by two
// veth pairs, one its clients and the test use (never cut) and one it
// reaches etcd by, and to the other instance by a third pair. Cutting a
// path sets its veth down. Addresses are in a 10.N.0.0/16 picked at random,
// on veths only: nothing leaves the machine.
type afNet struct {
	t      *testing.T
	prefix string // namespace and interface name prefix
	net    int    // the N of 10.N.0.0/16
	veths  int    // veth ends made, for unique temporary names
}

// afNode is one instance's namespace and its addresses.
type afNode struct {
	ns       string
	clientIP string // the instance's address on its client path
	etcdVia  string // the test namespace's address on its etcd path
	peerIP   string // its address on the path to the other instance
	etcdIf   string // its etcd path's interface (in its namespace)
	peerIf   string // its peer path's interface
}

// newAFNet makes the lab, or skips the test when it cannot (not root,
// no ip command, no network namespaces).
func newAFNet(t *testing.T) *afNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("partition tests need root to make network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("partition tests need the ip command (iproute2)")
	}
	l := &afNet{t: t, prefix: fmt.Sprintf("sqlk%04x", rand.IntN(0x10000)), net: 100 + rand.IntN(150)}
	if out, err := exec.Command("ip", "netns", "add", l.prefix+"-probe").CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace: %v: %s", err, out)
	}
	exec.Command("ip", "netns", "del", l.prefix+"-probe").Run()
	return l
}

// ip runs an ip command (in namespace ns unless ns is "") and fails the
// test on error.
func (l *afNet) ip(ns string, args ...string) {
	l.t.Helper()
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// pair makes a veth pair from namespace nsA (ifA, addrA) to nsB (ifB,
// addrB), "" being the test's namespace, both up with /24 addresses.
func (l *afNet) pair(nsA, ifA, addrA, nsB, ifB, addrB string) {
	l.t.Helper()
	// Made under unique names in the test's namespace, then moved and
	// renamed: both ends may have the same name in their namespaces.
	tmp := func() string { l.veths++; return fmt.Sprintf("%sv%d", l.prefix, l.veths) }
	tmpA, tmpB := tmp(), tmp()
	l.ip("", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB)
	for _, e := range []struct{ ns, tmp, ifn, addr string }{{nsA, tmpA, ifA, addrA}, {nsB, tmpB, ifB, addrB}} {
		if e.ns != "" {
			l.ip("", "link", "set", e.tmp, "netns", e.ns)
		}
		l.ip(e.ns, "link", "set", e.tmp, "name", e.ifn)
		l.ip(e.ns, "addr", "add", e.addr+"/24", "dev", e.ifn)
		l.ip(e.ns, "link", "set", e.ifn, "up")
	}
}

// nodes makes the namespaces of two instances and their paths.
func (l *afNet) nodes() (a, b *afNode) {
	l.t.Helper()
	mk := func(i int, name string) *afNode {
		n := &afNode{ns: l.prefix + "-" + name, etcdIf: "etcd0", peerIf: "peer0",
			clientIP: fmt.Sprintf("10.%d.%d.2", l.net, i), etcdVia: fmt.Sprintf("10.%d.%d.1", l.net, 10+i),
			peerIP: fmt.Sprintf("10.%d.20.%d", l.net, i)}
		l.ip("", "netns", "add", n.ns)
		l.t.Cleanup(func() { exec.Command("ip", "netns", "del", n.ns).Run() })
		l.ip(n.ns, "link", "set", "lo", "up")
		l.pair(n.ns, "client0", n.clientIP, "", fmt.Sprintf("%sc%d", l.prefix, i), fmt.Sprintf("10.%d.%d.1", l.net, i))
		l.pair(n.ns, n.etcdIf, fmt.Sprintf("10.%d.%d.2", l.net, 10+i), "", fmt.Sprintf("%se%d", l.prefix, i), n.etcdVia)
		return n
	}
	a, b = mk(1, "alpha"), mk(2, "beta")
	l.pair(a.ns, a.peerIf, a.peerIP, b.ns, b.peerIf, b.peerIP)
	return a, b
}

// set brings a node's interface up or down: its path is cut or restored.
func (l *afNet) set(n *afNode, ifname string, up bool) {
	l.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	l.ip(n.ns, "link", "set", ifname, state)
}

// startAFNetInstance initialises and starts an instance inside n's
// namespace, listening on its client address, with etcd's endpoints as
// seen from there.
func startAFNetInstance(t *testing.T, n *afNode, name string, c *etcdtest.Cluster) *Instance {
	t.Helper()
	dir := t.TempDir()
	in := &Instance{
		t: t, Name: name, Dir: filepath.Join(dir, "data"),
		Token: "sqlk_test_token_" + name, Password: failoverPassword,
		ClientAddr: n.clientIP + ":15432", AdminAddr: n.clientIP + ":17080", EndpointAddr: "0.0.0.0:15022",
		ExtraArgs: []string{"--etcd-endpoints", strings.Join(c.EndpointsAt(n.etcdVia), ",")},
		Wrap:      []string{"ip", "netns", "exec", n.ns},
	}
	tokenFile, pwFile := filepath.Join(dir, "token"), filepath.Join(dir, "pw")
	os.WriteFile(tokenFile, []byte(in.Token+"\n"), 0o600)
	os.WriteFile(pwFile, []byte(in.Password+"\n"), 0o600)
	if out, err := exec.Command(sqlinkBin, "init", "--data-dir", in.Dir, "--name", name,
		"--admin-token-file", tokenFile, "--sql-password-file", pwFile).CombinedOutput(); err != nil {
		t.Fatalf("sqlink init: %v\n%s", err, out)
	}
	in.Start()
	t.Cleanup(in.Stop)
	return in
}

// setupAFNetLink starts etcd and two instances in the lab and links app
// from alpha to beta in sync mode with --auto-failover.
func setupAFNetLink(t *testing.T) (l *afNet, c *etcdtest.Cluster, na, nb *afNode, alpha, beta *Instance) {
	t.Helper()
	l = newAFNet(t)
	na, nb = l.nodes()
	c = etcdtest.StartListening(t, 3, "0.0.0.0")
	alpha = startAFNetInstance(t, na, "alpha", c)
	beta = startAFNetInstance(t, nb, "beta", c)
	logOnFailure(t, alpha, beta)
	alpha.MustCLI("db", "create", "app")
	alpha.MustPsql("app", `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);`)
	mustFullBackup(t, alpha, "app")
	MustCreateLink(t, alpha, beta, "af", "app", "--mode", "sync", "--auto-failover", "--lease-ttl", autoLinkTTL,
		"--primary-endpoint", na.peerIP+":15022", "--secondary-endpoint", nb.peerIP+":15022")
	waitCaughtUp(t, alpha, beta, "af", 0)
	waitLeaseHolder(t, alpha, "af", "alpha")
	return l, c, na, nb, alpha, beta
}

// afWriteCode inserts a note on in alone (no multi-host) and returns the
// SQLSTATE of the failure ("" on success, "?" for an error without one).
func afWriteCode(in *Instance) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=admin password=%s dbname=app sslmode=disable", in.Host(), in.Port(), failoverPassword))
	if err != nil {
		return "?"
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, `INSERT INTO notes (body) VALUES ('probe')`); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return pe.Code
		}
		return "?"
	}
	return ""
}

// afAuditTime returns when in's audit log first recorded action.
func afAuditTime(t testing.TB, in *Instance, action string) (time.Time, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	es, err := in.API().Audit(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var at time.Time
	for _, e := range es {
		if e.Action == action && (at.IsZero() || e.Time.Before(at)) {
			at = e.Time
		}
	}
	return at, !at.IsZero()
}

// TestAutoFailover_PrimaryCutOff cuts the primary off from etcd and from
// the secondary (its clients still reach it). It fences itself: a write
// to it gets 25006; the secondary promotes after that, holding every
// write the primary acknowledged. Healed, the old primary follows.
func TestAutoFailover_PrimaryCutOff(t *testing.T) {
	l, _, na, _, alpha, beta := setupAFNetLink(t)
	loop := startAckLoop(t, multiHost("app", alpha, beta))
	testutil.RetryUntil(t, time.Minute, func() error {
		if n := loop.On(alpha); n < 100 {
			return fmt.Errorf("%d writes acknowledged by alpha", n)
		}
		return nil
	})
	l.set(na, na.etcdIf, false)
	l.set(na, na.peerIf, false)
	cut := time.Now()

	// alpha fences itself: writes to it get 25006.
	testutil.RetryUntil(t, time.Minute, func() error {
		if code := afWriteCode(alpha); code != "25006" {
			return fmt.Errorf("a write to the cut-off primary got %q", code)
		}
		return nil
	})
	fenced := time.Since(cut)
	bst := waitLeaseHolder(t, beta, "af", "beta")
	promoted := time.Since(cut)
	t.Logf("primary cut off: it refused writes (25006) after %s, the secondary took over after %s", fenced.Round(time.Millisecond), promoted.Round(time.Millisecond))
	fenceAt, ok := afAuditTime(t, alpha, "link.lease.fence")
	promoteAt, ok2 := afAuditTime(t, beta, "link.failover.automatic")
	if !ok || !ok2 || !fenceAt.Before(promoteAt) {
		t.Fatalf("alpha fenced at %s (audited %v), beta promoted at %s (audited %v): the fence must come first", fenceAt, ok, promoteAt, ok2)
	}
	t.Logf("fence %s before the promotion", promoteAt.Sub(fenceAt))
	testutil.RetryUntil(t, time.Minute, func() error {
		if loop.On(beta) == 0 {
			codes, last := loop.Codes()
			return fmt.Errorf("no write acknowledged by beta (failures %v, last %s)", codes, last)
		}
		return nil
	})
	loop.Stop()
	acked := loop.Acked()
	if miss := missingNotes(t, beta, acked); len(miss) > 0 {
		t.Fatalf("%d of %d acknowledged writes missing on the new primary, e.g. %v", len(miss), len(acked), miss[:min(10, len(miss))])
	}
	if st := mustLinkStatus(t, alpha, "af"); st.Local.Role == sqlink.RolePrimary && !st.Local.ReadOnly {
		t.Fatalf("the cut-off primary takes writes: %+v", st.AutoFailover)
	}

	// Healed: alpha sees the newer epoch and follows.
	l.set(na, na.etcdIf, true)
	l.set(na, na.peerIf, true)
	waitLink(t, alpha, "af", 2*time.Minute, func(st adminapi.LinkStatus) error {
		if st.Local.Role != sqlink.RoleSecondary || st.AutoFailover == nil || st.AutoFailover.Holder != "beta" {
			return fmt.Errorf("alpha is %s, lease %+v", st.Local.Role, st.AutoFailover)
		}
		return nil
	})
	waitCaughtUp(t, beta, alpha, "af", 2*time.Minute)
	if st := mustLinkStatus(t, beta, "af"); st.Epoch < bst.Epoch {
		t.Fatalf("beta's epoch went back from %d to %d", bst.Epoch, st.Epoch)
	}
	t.Log(mustVerify(t, beta, alpha, "af"))
}

// TestAutoFailover_InstancesCutApart cuts the two instances from each
// other while both reach etcd: the primary keeps its lease, the secondary
// does not promote, and the primary goes on taking writes (alone, once
// the session timeout passed). Healed, the secondary catches up.
func TestAutoFailover_InstancesCutApart(t *testing.T) {
	l, _, na, _, alpha, beta := setupAFNetLink(t)
	loop := startAckLoop(t, multiHost("app", alpha, beta))
	testutil.RetryUntil(t, time.Minute, func() error {
		if n := loop.On(alpha); n < 100 {
			return fmt.Errorf("%d writes acknowledged by alpha", n)
		}
		return nil
	})
	l.set(na, na.peerIf, false)
	cut, n0 := time.Now(), loop.On(alpha)
	ttl, _ := time.ParseDuration(autoLinkTTL)
	// Over three TTLs and past the session timeout: no failover, and alpha
	// acknowledges writes again.
	testutil.RetryUntil(t, 2*time.Minute, func() error {
		sb, err := linkStatus(beta, "af")
		if err != nil {
			return err
		}
		sa, err := linkStatus(alpha, "af")
		if err != nil {
			return err
		}
		if sb.Local.Role != sqlink.RoleSecondary || sa.Local.Role != sqlink.RolePrimary {
			t.Fatalf("failover while both reach etcd: alpha %s, beta %s (beta's lease view %+v)", sa.Local.Role, sb.Local.Role, sb.AutoFailover)
		}
		if d := time.Since(cut); d < 3*ttl || loop.On(alpha) < n0+50 {
			codes, last := loop.Codes()
			return fmt.Errorf("%s since the cut, %d writes on alpha since (failures %v, last %s)", d.Round(time.Second), loop.On(alpha)-n0, codes, last)
		}
		return nil
	})
	if a := mustLinkStatus(t, beta, "af").AutoFailover; a == nil || a.Holder != "alpha" || a.Waiting != "" {
		t.Logf("beta's view while cut off: %+v", a)
	}
	l.set(na, na.peerIf, true)
	loop.Stop()
	waitCaughtUp(t, alpha, beta, "af", 2*time.Minute)
	if miss := missingNotes(t, beta, loop.Acked()); len(miss) > 0 {
		t.Fatalf("%d acknowledged writes missing on the secondary after the heal, e.g. %v", len(miss), miss[:min(10, len(miss))])
	}
	t.Log(mustVerify(t, alpha, beta, "af"))
}
