package etcdlease_test

import (
	"context"
	"testing"
	"time"

	"github.com/sqlink/sqlink/etcdlease"
	"github.com/sqlink/sqlink/etcdlease/etcdtest"
)

// A claim over a live lease (ClaimOver) is granted only for the key
// PartnerGone recorded: the dead holder's lease is revoked at once, far
// within its TTL; a holder that re-took its key since (a restart) keeps
// it, and a claim without a mark waits for the lease as before.
func TestKeeperClaimOver(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := client(t, c)
	ctx := context.Background()
	a, recA := keeper(t, cli, "a", time.Minute)
	// b gives up a claim over a live lease after 2 s.
	recB := &recorder{}
	b := cli.NewKeeper(etcdlease.KeeperConfig{LinkID: "L1", Self: "b", SelfID: "id-b", TTL: time.Minute, ClaimTimeout: 2 * time.Second}, recB.add)
	t.Cleanup(b.Close)
	a.Claim(1, 1, 101)
	recA.wait(t, 0, "claim of 1", claimed(1, true))

	// No mark: the claim over a's live lease waits, then is refused.
	b.ClaimOver(1, 2, 102, "id-a")
	recB.wait(t, 0, "unmarked takeover refused", claimed(2, false))

	// a's process "dies" (its Keeper stops; the lease lives a minute).
	// b reads the key, then a restarts and re-takes it: the mark is
	// stale and the claim is refused.
	holder, rev, err := b.LeaderKey(ctx)
	if err != nil || holder != "id-a" || rev == 0 {
		t.Fatalf("LeaderKey: %q %d %v", holder, rev, err)
	}
	a.Close()
	a2, recA2 := keeper(t, cli, "a", time.Minute)
	a2.Claim(1, 1, 101)
	recA2.wait(t, 0, "re-take of 1", claimed(1, true))
	b.PartnerGone(holder, rev)
	n := recB.len()
	b.ClaimOver(1, 2, 102, "id-a")
	recB.wait(t, n, "takeover of a re-taken key refused", claimed(2, false))
	a2.Renew(1, 5)
	recA2.wait(t, 0, "a still holds epoch 1", renewed(1, 5))

	// a dies again; b reads the key, finds a gone, and takes over at
	// once: a's lease is revoked.
	a2.Close()
	holder, rev, err = b.LeaderKey(ctx)
	if err != nil || holder != "id-a" {
		t.Fatalf("LeaderKey: %q %d %v", holder, rev, err)
	}
	b.PartnerGone(holder, rev)
	n = recB.len()
	b.ClaimOver(1, 2, 102, "id-a")
	recB.wait(t, n, "takeover granted", claimed(2, true))
	if holder, _, err := b.LeaderKey(ctx); err != nil || holder != "id-b" {
		t.Fatalf("leader after the takeover: %q %v", holder, err)
	}
	// A third incarnation of a finds epoch 2 held by b.
	a3, recA3 := keeper(t, cli, "a", time.Minute)
	a3.Claim(1, 1, 101)
	i := recA3.wait(t, 0, "re-take refused", claimed(1, false))
	if ev := recA3.at(i); ev.Epoch != 2 || ev.Holder != "id-b" {
		t.Fatalf("a3's refusal: %+v", ev)
	}
}
