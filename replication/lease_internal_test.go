package replication

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/link"
)

// An auto-failover link steps as many ticks as the wall clock says passed
// (a loop held up does not slow its lease timer down), and a ticker's
// jitter either way never steps two ticks at once or none.
func TestTicksDue_FollowTheWallClock(t *testing.T) {
	e := &Engine{cfg: Config{LinkTick: time.Second}}
	r, err := link.New(link.Config{LinkID: "L", Self: "a", Partner: "b", InitialPrimary: "a", Mode: sqlink.ModeSync, AutoFailover: true})
	if err != nil {
		t.Fatal(err)
	}
	rt := &Link{s: e, r: r}
	base := time.Unix(1000, 0)
	ms := time.Millisecond
	for i, c := range []struct {
		at   time.Duration
		want int
	}{
		{0, 1},
		{time.Second - 3*ms, 1}, // early
		{2*time.Second + 4*ms, 1},
		{3*time.Second - 1*ms, 1},
		{6 * time.Second, 3}, // the loop was held up for two ticks
		{6*time.Second + 10*ms, 0},
		{7 * time.Second, 1},
	} {
		if got := rt.ticksDue(base.Add(c.at)); got != c.want {
			t.Fatalf("step %d at +%s: %d ticks, want %d", i, c.at, got, c.want)
		}
	}
	// A link without automatic failover steps one tick per tick.
	r2, _ := link.New(link.Config{LinkID: "L", Self: "a", Partner: "b", InitialPrimary: "a", Mode: sqlink.ModeSync})
	rt2 := &Link{s: e, r: r2}
	rt2.ticksDue(base)
	if got := rt2.ticksDue(base.Add(5 * time.Second)); got != 1 {
		t.Fatalf("link without auto failover: %d ticks", got)
	}
}

// Lease settings: whole seconds, long enough for the margin, the drift
// bound and a renewal period; an instance without etcd refuses the link.
func TestCheckAutoFailover(t *testing.T) {
	e, _, _ := newTestEngine(t)
	e.cfg.LinkTick = time.Second
	for _, ttl := range []time.Duration{5 * time.Second, 10 * time.Second, time.Minute} {
		if err := e.CheckLeaseSettings(ttl); err != nil {
			t.Errorf("TTL %s: %v", ttl, err)
		}
	}
	for _, ttl := range []time.Duration{time.Second, 3 * time.Second, 4 * time.Second, 5500 * time.Millisecond} {
		if err := e.CheckLeaseSettings(ttl); sqlink.ErrorCode(err) != sqlink.EINVALID || sqlink.ErrorHint(err) == "" {
			t.Errorf("TTL %s: %v", ttl, err)
		}
	}
	req := adminapi.CreateLinkRequest{Name: "L", LinkID: "link-1", Database: "shop", Role: sqlink.RoleSecondary, AutoFailover: true,
		PartnerName: "alpha", PartnerID: "id-alpha", PartnerEndpoint: "127.0.0.1:1", PartnerCertFingerprint: "AB:CD"}
	_, err := e.CreateLink(context.Background(), req)
	if sqlink.ErrorCode(err) != sqlink.ECONFLICT || !strings.Contains(err.Error(), "no etcd configured") || !strings.Contains(sqlink.ErrorHint(err), "--etcd-endpoints") {
		t.Fatalf("auto-failover link without etcd: %v", err)
	}
	req.AutoFailover, req.LeaseTTLSeconds = false, 10
	if _, err := e.CreateLink(context.Background(), req); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("lease TTL without auto failover: %v", err)
	}
}

// A tick stepped early (a heartbeat at connect) takes the place of the
// next one due: the replica's clock does not run ahead of the wall clock.
func TestTickEarly_TakesTheNextTicksPlace(t *testing.T) {
	e := &Engine{cfg: Config{LinkTick: time.Second}}
	r, err := link.New(link.Config{LinkID: "L", Self: "a", Partner: "b", InitialPrimary: "a", Mode: sqlink.ModeSync, AutoFailover: true})
	if err != nil {
		t.Fatal(err)
	}
	rt := &Link{s: e, r: r}
	base := time.Unix(1000, 0)
	rt.tickEarly() // before the first tick
	if got := rt.ticksDue(base); got != 0 {
		t.Fatalf("first tick after an early one: %d ticks", got)
	}
	if got := rt.ticksDue(base.Add(time.Second)); got != 1 {
		t.Fatalf("second tick: %d", got)
	}
	rt.tickEarly()
	rt.tickEarly()
	if got := rt.ticksDue(base.Add(4 * time.Second)); got != 1 {
		t.Fatalf("three ticks due after two early ones: %d", got)
	}
	if got := rt.ticksDue(base.Add(5 * time.Second)); got != 1 {
		t.Fatalf("next tick: %d", got)
	}
}
