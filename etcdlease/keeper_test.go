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
	k := cli.NewKeeper(etcdlease.KeeperConfig{LinkID: "L1", Self: self, SelfID: "id-" + self, TTL: ttl}, rec.add)
	t.Cleanup(k.Close)
	return k, rec
}

// claimed matches the answer to Claim(…, target, 100+target): the tests
// give each claim that sequence number, which the answer echoes.
func claimed(target sqlink.Epoch, granted bool) func(etcdlease.Event) bool {
	return func(ev etcdlease.Event) bool {
		return ev.Type == etcdlease.ClaimResult && ev.Target == target && ev.Granted == granted && ev.Seq == 100+uint64(target)
	}
}

func renewed(e sqlink.Epoch, seq uint64) func(etcdlease.Event) bool {
	return func(ev etcdlease.Event) bool { return ev.Type == etcdlease.Held && ev.Epoch == e && ev.Seq == seq }
}

// A primary takes its epoch and renews it; when it stops, the lease
// expires and the secondary sees it and claims the next epoch; the old
// primary coming back at its epoch is refused and told of the newer one.
func TestKeeperFailover(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cliA, cliB := client(t, c), client(t, c)
	a, recA := keeper(t, cliA, "a", 2*time.Second)
	b, recB := keeper(t, cliB, "b", 2*time.Second)

	// Before any primary: no epoch in etcd, which counts as 1, so a
	// claim from 2 is refused.
	recB.wait(t, 0, "expired at 1", expired(1))
	b.Claim(2, 3, 103)
	i := recB.wait(t, 0, "claim refused", claimed(3, false))
	if ev := recB.at(i); ev.Epoch != 1 || ev.Holder != "" {
		t.Fatalf("refusal of a stale claim: %+v", ev)
	}

	a.Claim(1, 1, 101)
	recA.wait(t, 0, "claim of epoch 1", claimed(1, true))
	a.Renew(1, 7)
	recA.wait(t, 0, "renewal 7", renewed(1, 7))
	recB.wait(t, 0, "a observed at 1", func(ev etcdlease.Event) bool {
		return ev.Type == etcdlease.Observed && ev.Holder == "id-a" && ev.Epoch == 1
	})
	testutil.RetryUntil(t, 10*time.Second, func() error {
		if o := b.Observation(); !o.Healthy || o.Holder != "a" || o.Epoch != 1 || o.Held || o.Expires.IsZero() {
			return fmt.Errorf("b observes %+v", o)
		}
		return nil
	})
	// While a holds it, b's claim waits, then is refused naming a.
	n := recB.len()
	b.Claim(1, 2, 102)
	i = recB.wait(t, n, "claim refused", claimed(2, false))
	if ev := recB.at(i); ev.Epoch != 1 || ev.Holder != "id-a" {
		t.Fatalf("refusal while a holds the lease: %+v", ev)
	}
	// a's Close lets the lease expire (no revoke): b sees it and claims.
	a.Close()
	n = recB.len()
	recB.wait(t, n, "expired at 1, held by a", func(ev etcdlease.Event) bool {
		return ev.Type == etcdlease.Expired && ev.Epoch == 1 && ev.Holder == "id-a"
	})
	b.Claim(1, 2, 102)
	recB.wait(t, n, "claim granted", claimed(2, true))
	if o := b.Observation(); !o.Held {
		t.Fatalf("b after the claim: %+v", o)
	}
	b.Renew(2, 1)
	recB.wait(t, n, "renewal at 2", renewed(2, 1))

	// The old primary restarts at epoch 1: etcd says 2.
	a2, recA2 := keeper(t, cliA, "a", 2*time.Second)
	a2.Claim(1, 1, 101)
	i = recA2.wait(t, 0, "re-take refused", claimed(1, false))
	if ev := recA2.at(i); ev.Epoch != 2 || ev.Holder != "id-b" {
		t.Fatalf("refusal does not name the holder: %+v", ev)
	}
	a2.Renew(1, 3)
	recA2.wait(t, 0, "lost", func(ev etcdlease.Event) bool { return ev.Type == etcdlease.Lost && ev.Epoch == 1 })
	recA2.none(t, 0, "held", func(ev etcdlease.Event) bool { return ev.Type == etcdlease.Held })
}

// A primary re-takes its own epoch after a restart, while its old lease
// still lives.
func TestKeeperRetakeAfterRestart(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := client(t, c)
	a, recA := keeper(t, cli, "a", time.Minute)
	a.Claim(1, 1, 101)
	recA.wait(t, 0, "claim of 1", claimed(1, true))
	a.Close()
	a2, recA2 := keeper(t, cli, "a", time.Minute)
	a2.Claim(1, 1, 101)
	recA2.wait(t, 0, "re-take of 1", claimed(1, true))
	a2.Renew(1, 1)
	recA2.wait(t, 0, "renewal", renewed(1, 1))
	// Another instance cannot take epoch 1 while it lives, nor claim from
	// an epoch etcd never had.
	b, recB := keeper(t, cli, "b", time.Minute)
	b.Claim(1, 1, 101)
	recB.wait(t, 0, "b's re-take of a's epoch refused", claimed(1, false))
	b.Claim(2, 4, 104)
	recB.wait(t, 0, "b's stale claim refused", claimed(4, false))
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
	a.Claim(1, 1, 101)
	recA.wait(t, 0, "claim of 1", claimed(1, true))
	b.Claim(2, 3, 103)
	recB.wait(t, 0, "stale claim refused", claimed(3, false))
	n := recB.len()
	b.Claim(1, 2, 102)
	a.Release(1)
	recB.wait(t, n, "claim granted", claimed(2, true))
	// The primary that released is told its lease is gone when it asks.
	m := recA.len()
	a.Renew(1, 9)
	recA.wait(t, m, "lost after release", func(ev etcdlease.Event) bool { return ev.Type == etcdlease.Lost && ev.Epoch == 1 && ev.Seq == 9 })
	recA.none(t, m, "held", func(ev etcdlease.Event) bool { return ev.Type == etcdlease.Held })
}

// A primary whose lease expired because it did not renew learns it from
// its next read, with the newer epoch once a secondary claimed.
func TestKeeperLeaseExpiresUnderThePrimary(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := client(t, c)
	a, recA := keeper(t, cli, "a", 2*time.Second)
	b, recB := keeper(t, cli, "b", 2*time.Second)
	a.Claim(1, 1, 101)
	recA.wait(t, 0, "claim of 1", claimed(1, true))
	recB.wait(t, 0, "expired at 1, held by a", func(ev etcdlease.Event) bool {
		return ev.Type == etcdlease.Expired && ev.Epoch == 1 && ev.Holder == "id-a"
	})
	b.Claim(1, 2, 102)
	recB.wait(t, 0, "claim of 2", claimed(2, true))
	recA.wait(t, 0, "lost", func(ev etcdlease.Event) bool {
		return ev.Type == etcdlease.Lost && ev.Epoch == 1
	})
	recA.wait(t, 0, "b observed at 2", func(ev etcdlease.Event) bool {
		return ev.Type == etcdlease.Observed && ev.Epoch == 2 && ev.Holder == "id-b"
	})
	a.Renew(1, 4)
	recA.none(t, 0, "held", func(ev etcdlease.Event) bool { return ev.Type == etcdlease.Held })
}

// Health follows the quorum: two of three members down makes every read
// fail and a renewal goes unanswered; back up, the keeper is healthy again
// and renews.
func TestKeeperHealth(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := client(t, c)
	a, recA := keeper(t, cli, "a", 10*time.Second)
	a.Claim(1, 1, 101)
	recA.wait(t, 0, "claim", claimed(1, true))
	recA.wait(t, 0, "healthy", health(true))
	// One member down: a quorum remains.
	c.Stop(2)
	a.Renew(1, 1)
	recA.wait(t, 0, "renewal with one member down", renewed(1, 1))
	c.Stop(1)
	n := recA.len()
	a.Renew(1, 2) // answered once etcd is back, or never
	recA.wait(t, n, "unhealthy", health(false))
	if o := a.Observation(); o.Healthy || o.Err == "" {
		t.Fatalf("observation without quorum: %+v", o)
	}
	c.RestartAll()
	n = recA.len()
	recA.wait(t, n, "healthy again", health(true))
	a.Renew(1, 3)
	recA.wait(t, n, "renewal", renewed(1, 3))
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

// Over client TLS: with the CA and a client certificate the keeper takes
// the lease; without the client certificate the cluster refuses it, and
// the keeper reports etcd unhealthy and answers its claim "not granted"
// without an epoch (it cannot tell).
func TestKeeperOverTLS(t *testing.T) {
	c, files := etcdtest.StartTLS(t, 3)
	tc, err := etcdlease.TLSFromFiles(files.CA, files.ClientCert, files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := etcdlease.New(etcdlease.Config{Endpoints: c.Endpoints(), TLS: tc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	a, recA := keeper(t, cli, "a", 10*time.Second)
	a.Claim(1, 1, 101)
	recA.wait(t, 0, "claim over TLS", claimed(1, true))

	noCert, err := etcdlease.TLSFromFiles(files.CA, "", "")
	if err != nil {
		t.Fatal(err)
	}
	cli2, err := etcdlease.New(etcdlease.Config{Endpoints: c.Endpoints(), TLS: noCert})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli2.Close() })
	b, recB := keeper(t, cli2, "b", 10*time.Second)
	recB.wait(t, 0, "unhealthy without a client certificate", health(false))
	b.Claim(1, 2, 102)
	i := recB.wait(t, 0, "claim refused", claimed(2, false))
	if ev := recB.at(i); ev.Epoch != 0 {
		t.Fatalf("claim answered with an epoch etcd did not give: %+v", ev)
	}
}

// An unreachable cluster: New does not wait for it, the keeper reports
// etcd unhealthy, and a claim is answered "not granted" with no epoch.
func TestKeeperEtcdUnreachable(t *testing.T) {
	cli, err := etcdlease.New(etcdlease.Config{Endpoints: []string{"http://" + testutil.FreeAddr(t)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	k, rec := keeper(t, cli, "a", 10*time.Second)
	rec.wait(t, 0, "unhealthy", health(false))
	k.Claim(1, 1, 101)
	i := rec.wait(t, 0, "claim refused", claimed(1, false))
	if ev := rec.at(i); ev.Epoch != 0 || ev.Holder != "" {
		t.Fatalf("claim without etcd: %+v", ev)
	}
	if o := k.Observation(); o.Healthy || o.Err == "" || o.Held {
		t.Fatalf("observation without etcd: %+v", o)
	}
}
