// Package etcdtest runs a real etcd cluster inside a test process: three
// (or any number of) embedded members on loopback ports, each of which a
// test can stop and start again. Only tests import it, so the sqlink
// binary does not carry the etcd server.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/sqlink/sqlink/internal/testutil"
)

// Member is one etcd member.
type Member struct {
	Name      string
	ClientURL string
	PeerURL   string
	Dir       string
	cfg       *embed.Config
	e         *embed.Etcd
}

// Cluster is a running etcd cluster.
type Cluster struct {
	tb      testing.TB
	Members []*Member
}

// MemberConfig returns the embed configuration of member name, listening on
// clientURL and peerURL, in a cluster described by initial
// ("name=peerURL,..."). Elections are fast (50 ms ticks, 500 ms election
// timeout) and writes skip fsync: a test cluster, not a durable one.
func MemberConfig(name, dir, clientURL, peerURL, initial string) (*embed.Config, error) {
	cu, err := url.Parse(clientURL)
	if err != nil {
		return nil, err
	}
	pu, err := url.Parse(peerURL)
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = dir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = initial
	cfg.InitialClusterToken = "sqlink-test"
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.TickMs, cfg.ElectionMs = 50, 500
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	return cfg, nil
}

// StartMember starts an embedded member and waits until it serves
// clients (it has joined a quorum).
func StartMember(cfg *embed.Config, timeout time.Duration) (*embed.Etcd, error) {
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, err
	case <-time.After(timeout):
		e.Close()
		return nil, fmt.Errorf("etcd member %s not ready after %s", cfg.Name, timeout)
	}
}

// Start runs an n-member cluster on loopback; the test's cleanup stops it.
func Start(tb testing.TB, n int) *Cluster { return StartListening(tb, n, "") }

// StartListening is Start with the members' client listeners on host
// (e.g. "0.0.0.0", so that processes in other network namespaces reach
// them at EndpointsAt) instead of loopback; "" is loopback.
func StartListening(tb testing.TB, n int, host string) *Cluster {
	tb.Helper()
	return start(tb, n, host, nil, nil)
}

// start runs the cluster; named, if set, adjusts each member once named,
// and configured once its embed configuration is made.
func start(tb testing.TB, n int, host string, named, configured func(*Member)) *Cluster {
	tb.Helper()
	c := &Cluster{tb: tb}
	base := tb.TempDir()
	var initial []string
	for i := range n {
		m := &Member{
			Name:      fmt.Sprintf("etcd%d", i),
			ClientURL: "http://" + testutil.FreeAddr(tb),
			PeerURL:   "http://" + testutil.FreeAddr(tb),
			Dir:       filepath.Join(base, fmt.Sprintf("etcd%d", i)),
		}
		if named != nil {
			named(m)
		}
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	for _, m := range c.Members {
		cfg, err := MemberConfig(m.Name, m.Dir, m.ClientURL, m.PeerURL, strings.Join(initial, ","))
		if err != nil {
			tb.Fatal(err)
		}
		if host != "" {
			u := cfg.ListenClientUrls[0]
			u.Host = net.JoinHostPort(host, u.Port())
			cfg.ListenClientUrls = []url.URL{u}
		}
		m.cfg = cfg
		if configured != nil {
			configured(m)
		}
	}
	// The members wait for each other: start them together.
	tb.Cleanup(c.Close)
	if err := c.startStopped(embed.ClusterStateFlagNew); err != nil {
		tb.Fatalf("start etcd: %v", err)
	}
	return c
}

// Endpoints returns every member's client URL.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.ClientURL
	}
	return out
}

// EndpointsAt returns every member's client URL with host in place of
// loopback (for a cluster from StartListening).
func (c *Cluster) EndpointsAt(host string) []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		u, _ := url.Parse(m.ClientURL)
		u.Host = net.JoinHostPort(host, u.Port())
		out[i] = u.String()
	}
	return out
}

// Stop stops member i (its data stays, for Restart).
func (c *Cluster) Stop(i int) {
	m := c.Members[i]
	if m.e != nil {
		m.e.Close()
		m.e = nil
	}
}

// Restart starts member i again after a Stop, as an existing member. It
// returns once the member serves, which needs a quorum.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	m := c.Members[i]
	if m.e != nil {
		return
	}
	m.cfg.ClusterState = embed.ClusterStateFlagExisting
	e, err := StartMember(m.cfg, time.Minute)
	if err != nil {
		c.tb.Fatalf("restart etcd member %s: %v", m.Name, err)
	}
	m.e = e
}

// RestartAll starts every stopped member again, together (each waits
// for a quorum of the others), and returns once they serve.
func (c *Cluster) RestartAll() {
	c.tb.Helper()
	if err := c.startStopped(embed.ClusterStateFlagExisting); err != nil {
		c.tb.Fatalf("restart etcd: %v", err)
	}
}

// startStopped starts the members that do not run, together, as the
// cluster state says (new or existing).
func (c *Cluster) startStopped(state string) error {
	type started struct {
		m   *Member
		e   *embed.Etcd
		err error
	}
	ch := make(chan started, len(c.Members))
	n := 0
	for _, m := range c.Members {
		if m.e != nil {
			continue
		}
		n++
		m.cfg.ClusterState = state
		go func() {
			e, err := StartMember(m.cfg, time.Minute)
			ch <- started{m, e, err}
		}()
	}
	var first error
	for range n {
		s := <-ch
		s.m.e = s.e
		if s.err != nil && first == nil {
			first = s.err
		}
	}
	return first
}

// Close stops every member and removes nothing (the test's TempDir goes
// with the test).
func (c *Cluster) Close() {
	for i := range c.Members {
		c.Stop(i)
	}
}

// Running reports whether member i runs.
func (c *Cluster) Running(i int) bool { return c.Members[i].e != nil }
