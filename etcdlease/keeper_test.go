package etcdlease_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/etcdlease"
	"github.com/sqlink/sqlink/etcdlease/etcdtest"
	"github.com/sqlink/sqlink/internal/testutil"
)

// recorder keeps a Keeper's events for a test to wait on.
type recorder struct {
	mu  sync.Mutex
	evs []etcdlease.Event
}

func (r *recorder) add(ev etcdlease.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

// wait polls until an event after index from matches, and returns its
// index.
func (r *recorder) wait(t *testing.T, from int, what string, match func(etcdlease.Event) bool) int {
	t.Helper()
	found := -1
	testutil.RetryUntil(t, 30*time.Second, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i := from; i < len(r.evs); i++ {
			if match(r.evs[i]) {
				found = i
				return nil
			}
		}
		return fmt.Errorf("no %s event among %d", what, len(r.evs)-from)
	})
	return found
}

func (r *recorder) at(i int) etcdlease.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.evs[i]
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.evs)
}

func (r *recorder) none(t *testing.T, from int, what string, match func(etcdlease.Event) bool) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := from; i < len(r.evs); i++ {
		if match(r.evs[i]) {
			t.Fatalf("unexpected %s event: %+v", what, r.evs[i])
		}
	}
}

func held(e sqlink.Epoch) func(etcdlease.Event) bool {
	return func(ev etcdlease.Event) bool { return ev.Type == etcdlease.Held && ev.Epoch == e }
}

func expired(e sqlink.Epoch) func(etcdlease.Event) bool {
	return func(ev etcdlease.Event) bool { return ev.Type == etcdlease.Expired && ev.Epoch == e }
}

func health(ok bool) func(etcdlease.Event) bool {
	return func(ev etcdlease.Event) bool { return ev.Type == etcdlease.Health && ev.Healthy == ok }
}

func client(t *testing.T, c *etcdtest.Cluster) *etcdlease.Client {
	t.Helper()
	cli, err := etcdlease.New(etcdlease.Config{Endpoints: c.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func keeper(t *testing.T, cli *etcdlease.Client, self string, ttl time.Duration) (*etcdlease.Keeper, *recorder) {
	t.Helper()
	rec := &recorder{}
	k := cli.NewKeeper(etcdlease.KeeperConfig{LinkID: "L1", Self: self, TTL: ttl}, rec.add)
	t.Cleanup(k.Close)
	return k, rec
}

// A primary takes the lease and renews it; when it stops, the lease
// expires and the secondary sees it and claims the next epoch; the old
// primary coming back at its epoch sees the newer one.
func TestKeeperFailover(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cliA, cliB := client(t, c), client(t, c)
	a, recA := keeper(t, cliA, "a", 2*time.Second)
	b, recB := keeper(t, cliB, "b", 2*time.Second)

	// Before any primary: no epoch in etcd, so a claim from 1 is refused.
	recB.wait(t, 0, "expired at 0", expired(0))
	b.Claim(1, 2)
	i := recB.wait(t, 0, "claim refused", func(ev etcdlease.Event) bool { return ev.Type == etcdlease.ClaimResult })
	if ev := recB.at(i); ev.Granted || ev.Target != 2 {
		t.Fatalf("claim before any holder: %+v", ev)
	}

	a.Hold(1)
	recA.wait(t, 0, "held at 1", held(1))
	// Renewed again (a second Held at 1 after the first).
	first := recA.wait(t, 0, "held at 1", held(1))
	recA.wait(t, first+1, "renewed at 1", held(1))
	if o := b.Observation(); !o.Healthy || o.Holder != "a" || o.Epoch != 1 || o.Held {
		testutil.RetryUntil(t, 10*time.Second, func() error {
			if o := b.Observation(); o.Holder != "a" || o.Epoch != 1 {
				return fmt.Errorf("b observes %+v", o)
			}
			return nil
		})
	}
	// While a holds it, b's claim waits; a's Close lets the lease expire
	// (no revoke), then the claim is granted.
	n := recB.len()
	b.Claim(1, 2)
	a.Close()
	recB.wait(t, n, "claim granted", func(ev etcdlease.Event) bool {
		return ev.Type == etcdlease.ClaimResult && ev.Granted && ev.Target == 2
	})
	recB.wait(t, n, "held at 2", held(2))
	if o := b.Observation(); !o.Held {
		t.Fatalf("b after the claim: %+v", o)
	}

	// The old primary restarts at epoch 1: etcd says 2.
	a2, recA2 := keeper(t, cliA, "a", 2*time.Second)
	a2.Hold(1)
	recA2.wait(t, 0, "lost to 2", func(ev etcdlease.Event) bool {
		return ev.Type == etcdlease.Lost && ev.Epoch == 1 && ev.Target == 2
	})
	recA2.none(t, 0, "held", func(ev etcdlease.Event) bool { return ev.Type == etcdlease.Held })
	// It follows: nothing to hold, and it sees b holding.
	a2.Release(1)
	testutil.RetryUntil(t, 10*time.Second, func() error {
		if o := a2.Observation(); o.Holder != "b" || o.Epoch != 2 || o.Held || o.Expires.IsZero() {
			return fmt.Errorf("a observes %+v", o)
		}
		return nil
	})
}

// A claim from an epoch etcd has moved past is refused at once, and a
// primary that releases its lease lets a waiting claim through without
// waiting for the TTL.
func TestKeeperReleaseAndStaleClaim(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := client(t, c)
	// A long TTL: only a release can let the claim through in time.
	a, recA := keeper(t, cli, "a", time.Minute)
	b, recB := keeper(t, cli, "b", time.Minute)
	a.Hold(5)
	recA.wait(t, 0, "held at 5", held(5))
	b.Claim(4, 5)
	i := recB.wait(t, 0, "claim result", func(ev etcdlease.Event) bool { return ev.Type == etcdlease.ClaimResult })
	if recB.at(i).Granted {
		t.Fatalf("stale claim granted: %+v", recB.at(i))
	}
	n := recB.len()
	b.Claim(5, 6)
	a.Release(5)
	recB.wait(t, n, "claim granted", func(ev etcdlease.Event) bool {
		return ev.Type == etcdlease.ClaimResult && ev.Granted && ev.Target == 6
	})
	// The primary that released reports no Held after its release.
	m := recA.len()
	recA.wait(t, m, "a later read", health(true))
	recA.none(t, m, "held", func(ev etcdlease.Event) bool { return ev.Type == etcdlease.Held })
}

// A primary whose lease expired while it could not renew (here: its
// renewal interval is longer than the TTL) reports Lost, and the newer
// epoch once a secondary claimed.
func TestKeeperLeaseExpiresUnderThePrimary(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := client(t, c)
	recA := &recorder{}
	a := cli.NewKeeper(etcdlease.KeeperConfig{LinkID: "L1", Self: "a", TTL: 2 * time.Second, Renew: time.Hour, PollInterval: time.Hour}, recA.add)
	t.Cleanup(a.Close)
	b, recB := keeper(t, cli, "b", 2*time.Second)
	a.Hold(1)
	recA.wait(t, 0, "held at 1", held(1))
	recB.wait(t, 0, "expired at 1", expired(1))
	b.Claim(1, 2)
	recB.wait(t, 0, "held at 2", held(2))
	// The watch wakes a at the claim.
	recA.wait(t, 0, "lost", func(ev etcdlease.Event) bool {
		return ev.Type == etcdlease.Lost && ev.Epoch == 1 && ev.Target == 2
	})
}

// Health follows the quorum: two of three members down makes every read
// fail; back up, the keeper is healthy again and still holds the lease.
func TestKeeperHealth(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := client(t, c)
	a, recA := keeper(t, cli, "a", 3*time.Second)
	a.Hold(1)
	recA.wait(t, 0, "held", held(1))
	recA.wait(t, 0, "healthy", health(true))
	// One member down: a quorum remains.
	c.Stop(2)
	n := recA.len()
	recA.wait(t, n, "held after one member stopped", held(1))
	c.Stop(1)
	n = recA.len()
	recA.wait(t, n, "unhealthy", health(false))
	if o := a.Observation(); o.Healthy || o.Err == "" {
		t.Fatalf("observation without quorum: %+v", o)
	}
	c.RestartAll()
	n = recA.len()
	recA.wait(t, n, "healthy again", health(true))
	recA.wait(t, n, "held at 1", held(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cli.Check(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestParseEndpointsAndTLS(t *testing.T) {
	if _, err := etcdlease.ParseEndpoints("http://127.0.0.1:2379, https://h:1"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", ",", "127.0.0.1:2379", "ftp://x"} {
		_, err := etcdlease.ParseEndpoints(bad)
		if err == nil || sqlink.ErrorCode(err) != sqlink.EINVALID || sqlink.ErrorHint(err) == "" {
			t.Errorf("ParseEndpoints(%q) = %v", bad, err)
		}
	}
	if _, err := etcdlease.TLSFromFiles("", "cert.pem", ""); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Errorf("cert without key: %v", err)
	}
	if _, err := etcdlease.TLSFromFiles(t.TempDir()+"/none.pem", "", ""); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Errorf("missing CA: %v", err)
	}
}
