package e2e_test

// A network lab for partition tests: each process group (an sqlink
// instance, an etcd member) runs in a network namespace of its own,
// joined to a bridge in the test's namespace by a veth pair, with an
// address in a private 10.x.y.0/24 that routes nowhere outside the
// machine. The test process, on the bridge too, reaches every node; a
// partition between two nodes is a pair of blackhole routes (each node
// drops what it sends to the other: established connections go silent, as
// on a real network cut), and healing deletes them.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/sqlink/sqlink/internal/testutil"
)

// etcdBin is Debian's etcd-server, which the partition tests run in their
// namespaces (.ci/run installs it).
const etcdBin = "/usr/bin/etcd"

// requireNetLab skips the test unless it can build a network lab: root,
// the ip tool and the etcd server binary. In CI (as root) a missing tool
// fails it instead.
func requireNetLab(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("partition tests create network namespaces: run as root")
	}
	for _, tool := range []string{"ip", etcdBin} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed; .ci/run must install it (iproute2, etcd-server)", tool)
			}
			t.Skipf("%s is not installed (apt-get install iproute2 etcd-server)", tool)
		}
	}
	if err := netLabAllowed(); err != nil {
		// A container without CAP_SYS_ADMIN/CAP_NET_ADMIN: the machine
		// cannot run these tests, whatever is installed.
		t.Skipf("this machine does not allow network namespaces and bridges (%v): run the partition tests as root on a host or VM", err)
	}
}

var (
	netLabOnce  sync.Once
	netLabError error
)

// netLabAllowed reports whether this process may create a network
// namespace and a bridge, by creating and deleting one of each once.
func netLabAllowed() error {
	netLabOnce.Do(func() {
		name := fmt.Sprintf("sqlkp%d", os.Getpid()%1000000)
		if err := ipCmd("", "netns", "add", name); err != nil {
			netLabError = err
			return
		}
		defer ipCmd("", "netns", "delete", name)
		if err := ipCmd("", "link", "add", name, "type", "bridge"); err != nil {
			netLabError = err
			return
		}
		netLabError = ipCmd("", "link", "delete", name)
	})
	return netLabError
}

// netNode is one namespace on the lab's bridge.
type netNode struct {
	Name string // the test's name for it
	NS   string // the namespace's name
	IP   string
}

// netLab is the bridge and the namespaces of one test.
type netLab struct {
	t      *testing.T
	id     string
	bridge string
	subnet string // "10.a.b"
	nodes  map[string]*netNode
	order  []string
	mu     sync.Mutex
	cuts   map[[2]string]bool
}

// ipCmd runs the ip tool with args, in namespace ns when ns is not "".
func ipCmd(ns string, args ...string) error {
	if ns != "" {
		args = append([]string{"netns", "exec", ns, "ip"}, args...)
	}
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// newNetLab creates a bridge and one namespace per name; the test's
// cleanup removes them (after the processes in them, which the test
// started later, have stopped).
func newNetLab(t *testing.T, names ...string) *netLab {
	t.Helper()
	requireNetLab(t)
	id := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	lab := &netLab{t: t, id: id, bridge: "sqlkb" + id, nodes: map[string]*netNode{}, cuts: map[[2]string]bool{}}
	lab.subnet = pickSubnet(t)
	t.Cleanup(lab.destroy)
	must := func(ns string, args ...string) {
		t.Helper()
		if err := ipCmd(ns, args...); err != nil {
			t.Fatal(err)
		}
	}
	must("", "link", "add", lab.bridge, "type", "bridge")
	must("", "addr", "add", lab.subnet+".1/24", "dev", lab.bridge)
	must("", "link", "set", lab.bridge, "up")
	for i, name := range names {
		n := &netNode{Name: name, NS: fmt.Sprintf("sqlk-%s-%s", id, name), IP: fmt.Sprintf("%s.%d", lab.subnet, 10+i)}
		lab.nodes[name] = n
		lab.order = append(lab.order, name)
		host, peer := fmt.Sprintf("sqlk%s%dh", id, i), fmt.Sprintf("sqlk%s%dn", id, i)
		must("", "netns", "add", n.NS)
		must(n.NS, "link", "set", "lo", "up")
		must("", "link", "add", host, "type", "veth", "peer", "name", peer)
		must("", "link", "set", peer, "netns", n.NS)
		must("", "link", "set", host, "master", lab.bridge)
		must("", "link", "set", host, "up")
		must(n.NS, "addr", "add", n.IP+"/24", "dev", peer)
		must(n.NS, "link", "set", peer, "up")
	}
	return lab
}

// pickSubnet returns a 10.a.b prefix no interface of this machine uses.
func pickSubnet(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "-o", "addr").CombinedOutput()
	if err != nil {
		t.Fatalf("ip -o addr: %v: %s", err, out)
	}
	for {
		s := fmt.Sprintf("10.%d.%d", 100+rand.IntN(150), rand.IntN(256))
		if !strings.Contains(string(out), " "+s+".") {
			return s
		}
	}
}

func (lab *netLab) destroy() {
	for _, name := range lab.order {
		if err := ipCmd("", "netns", "del", lab.nodes[name].NS); err != nil {
			lab.t.Log(err)
		}
	}
	if err := ipCmd("", "link", "del", lab.bridge); err != nil {
		lab.t.Log(err)
	}
}

// Node returns the node called name.
func (lab *netLab) Node(name string) *netNode {
	n, ok := lab.nodes[name]
	if !ok {
		lab.t.Fatalf("no node %q in the lab", name)
	}
	return n
}

// Cut partitions node a from each of others: each drops what it sends to
// the other.
func (lab *netLab) Cut(a string, others ...string) {
	lab.t.Helper()
	for _, b := range others {
		na, nb := lab.Node(a), lab.Node(b)
		for _, p := range [][2]*netNode{{na, nb}, {nb, na}} {
			if err := ipCmd(p[0].NS, "route", "replace", "blackhole", p[1].IP+"/32"); err != nil {
				lab.t.Fatal(err)
			}
		}
		lab.mu.Lock()
		lab.cuts[[2]string{a, b}] = true
		lab.mu.Unlock()
	}
}

// Heal removes every partition Cut made.
func (lab *netLab) Heal() {
	lab.t.Helper()
	if err := lab.heal(); err != nil {
		lab.t.Fatal(err)
	}
}

func (lab *netLab) heal() error {
	lab.mu.Lock()
	cuts := lab.cuts
	lab.cuts = map[[2]string]bool{}
	lab.mu.Unlock()
	for c := range cuts {
		na, nb := lab.Node(c[0]), lab.Node(c[1])
		for _, p := range [][2]*netNode{{na, nb}, {nb, na}} {
			if err := ipCmd(p[0].NS, "route", "del", "blackhole", p[1].IP+"/32"); err != nil && !strings.Contains(err.Error(), "No such process") {
				return err
			}
		}
	}
	return nil
}

// healAtEnd heals the lab's partitions when the test ends, before the
// processes started so far are stopped: their connections then close
// rather than retransmit into a blackhole, which would keep a deleted
// namespace (and its veth pair) alive until the kernel gives up on them.
func (lab *netLab) healAtEnd() {
	lab.t.Cleanup(func() {
		if err := lab.heal(); err != nil {
			lab.t.Log(err)
		}
	})
}

// dialFrom opens a TCP connection to addr from inside namespace ns ("" for
// the test's own) and closes it: whether ns reaches addr now. The dial
// runs on an OS thread moved into ns, which is thrown away afterwards.
func dialFrom(ns, addr string, timeout time.Duration) error {
	if ns == "" {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err == nil {
			c.Close()
		}
		return err
	}
	res := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine rather than
		// go back to the scheduler in another namespace.
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			res <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			res <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		// The socket belongs to the namespace of the thread that creates
		// it; the dial's syscalls run on this locked thread.
		d := net.Dialer{Timeout: timeout}
		c, err := d.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		res <- err
	}()
	return <-res
}

// netProc is a process running in a lab namespace.
type netProc struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

// startIn runs name args in namespace ns (ip netns exec replaces itself
// with the program: the process's ID is the program's).
func startIn(ns string, env []string, name string, args ...string) (*netProc, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	p := &netProc{cmd: cmd, out: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *netProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output returns what the process printed so far.
func (p *netProc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Exited reports whether the process has ended.
func (p *netProc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (p *netProc) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// etcdMember is one etcd member in a lab namespace.
type etcdMember struct {
	node    *netNode
	dir     string
	initial string // the --initial-cluster flag
	token   string
	proc    *netProc
}

func (m *etcdMember) ClientURL() string { return "http://" + m.node.IP + ":2379" }
func (m *etcdMember) PeerURL() string   { return "http://" + m.node.IP + ":2380" }

// startEtcdCluster starts one etcd member in each of the nodes named and
// returns once a quorum serves; the test's cleanup kills them.
func startEtcdCluster(t *testing.T, lab *netLab, names ...string) []*etcdMember {
	t.Helper()
	var ms []*etcdMember
	var initial []string
	for _, name := range names {
		m := &etcdMember{node: lab.Node(name), dir: filepath.Join(t.TempDir(), "etcd-"+name), token: "sqlink-" + lab.id}
		ms = append(ms, m)
		initial = append(initial, name+"="+m.PeerURL())
	}
	for _, m := range ms {
		m.initial = strings.Join(initial, ",")
		if err := m.start("new"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Kill)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, m := range ms {
				if m.proc != nil {
					t.Logf("etcd member %s's output:\n%s", m.node.Name, tail(m.proc.Output(), 30))
				}
			}
		}
	})
	waitEtcdQuorum(t, ms)
	return ms
}

// start runs the member; state is "new" or "existing".
func (m *etcdMember) start(state string) error {
	// Fast elections (50 ms heartbeats, 500 ms election timeout) and no
	// fsync: a test cluster, not a durable one.
	p, err := startIn(m.node.NS, nil, etcdBin,
		"--name", m.node.Name, "--data-dir", m.dir,
		"--listen-client-urls", m.ClientURL(), "--advertise-client-urls", m.ClientURL(),
		"--listen-peer-urls", m.PeerURL(), "--initial-advertise-peer-urls", m.PeerURL(),
		"--initial-cluster", m.initial, "--initial-cluster-token", m.token, "--initial-cluster-state", state,
		"--heartbeat-interval", "50", "--election-timeout", "500", "--unsafe-no-fsync",
		"--logger", "zap", "--log-level", "error")
	if err != nil {
		return fmt.Errorf("start etcd member %s: %v", m.node.Name, err)
	}
	m.proc = p
	return nil
}

// Kill stops the member with SIGKILL (its data stays, for Restart).
func (m *etcdMember) Kill() {
	if m.proc != nil {
		m.proc.Kill()
	}
}

// Restart starts a killed member again, as an existing member.
func (m *etcdMember) Restart(t *testing.T) {
	t.Helper()
	if m.proc != nil && !m.proc.Exited() {
		return
	}
	if err := m.start("existing"); err != nil {
		t.Fatal(err)
	}
}

// etcdEndpoints is the --etcd-endpoints value naming every member.
func etcdEndpoints(ms []*etcdMember) string {
	var eps []string
	for _, m := range ms {
		eps = append(eps, m.ClientURL())
	}
	return strings.Join(eps, ",")
}

// etcdClient is a client of the members, from the test's namespace.
func etcdClient(t *testing.T, ms []*etcdMember) *clientv3.Client {
	t.Helper()
	var eps []string
	for _, m := range ms {
		eps = append(eps, m.ClientURL())
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitEtcdQuorum waits until each running member answers a linearizable
// read (it has a leader).
func waitEtcdQuorum(t *testing.T, ms []*etcdMember) {
	t.Helper()
	for _, m := range ms {
		if m.proc == nil || m.proc.Exited() {
			continue
		}
		c := etcdClient(t, []*etcdMember{m})
		testutil.RetryUntil(t, time.Minute, func() error {
			if m.proc.Exited() {
				t.Fatalf("etcd member %s exited:\n%s", m.node.Name, m.proc.Output())
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := c.Get(clientv3.WithRequireLeader(ctx), "/sqlink/health")
			return err
		})
	}
}

// etcdLeader returns the index of the member that leads the cluster now.
func etcdLeader(t *testing.T, ms []*etcdMember) int {
	t.Helper()
	c := etcdClient(t, ms)
	leader := -1
	testutil.RetryUntil(t, time.Minute, func() error {
		for i, m := range ms {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := c.Status(ctx, m.ClientURL())
			cancel()
			if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
				leader = i
				return nil
			}
		}
		return fmt.Errorf("no etcd member says it leads")
	})
	return leader
}

// startNetInstance initialises an instance like MustStartFailoverInstance
// and serves it in the lab's node name, listening on the node's address;
// the test's cleanup stops it.
func startNetInstance(t *testing.T, lab *netLab, name string, extra ...string) *Instance {
	t.Helper()
	n := lab.Node(name)
	dir := t.TempDir()
	in := &Instance{
		t: t, Name: name, Dir: filepath.Join(dir, "data"),
		Token: "sqlk_test_token_" + name, Password: failoverPassword,
		ClientAddr: n.IP + ":5432", AdminAddr: n.IP + ":8443", EndpointAddr: n.IP + ":7443",
		ExtraArgs: extra,
	}
	tokenFile, pwFile := filepath.Join(dir, "token"), filepath.Join(dir, "pw")
	os.WriteFile(tokenFile, []byte(in.Token+"\n"), 0o600)
	os.WriteFile(pwFile, []byte(in.Password+"\n"), 0o600)
	out, err := exec.Command(sqlinkBin, "init", "--data-dir", in.Dir, "--name", name,
		"--admin-token-file", tokenFile, "--sql-password-file", pwFile).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlink init: %v\n%s", err, out)
	}
	startNetServe(t, in, n)
	t.Cleanup(in.Stop)
	return in
}

// startNetServe runs `sqlink serve` for in inside node n's namespace and
// waits until its admin API answers, as Instance.Start does on loopback.
func startNetServe(t *testing.T, in *Instance, n *netNode) {
	t.Helper()
	in.mu.Lock()
	args := append([]string{"netns", "exec", n.NS, sqlinkBin, "serve", "--data-dir", in.Dir, "--client-addr", in.ClientAddr,
		"--admin-addr", in.AdminAddr, "--endpoint-addr", in.EndpointAddr, "--log-level", "debug"}, in.ExtraArgs...)
	cmd := exec.Command("ip", args...)
	out := &bytes.Buffer{}
	in.out = out
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		in.mu.Unlock()
		t.Fatalf("start sqlink serve in %s: %v", n.NS, err)
	}
	in.cmd = cmd
	done := make(chan struct{})
	in.done = done
	go func() { cmd.Wait(); close(done) }()
	in.mu.Unlock()
	testutil.RetryUntil(t, testutil.DefaultTimeout, func() error {
		if in.Exited() {
			t.Fatalf("sqlink serve %s exited: %s", in.Name, in.Output())
		}
		resp, err := in.healthz()
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("healthz: %s", resp.Status)
		}
		return nil
	})
}
