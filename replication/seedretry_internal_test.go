package replication

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/transport"
)

func TestSeedBackoff_Doubles(t *testing.T) {
	var b seedBackoff
	var got []time.Duration
	for i := 0; i < 7; i++ {
		got = append(got, b.refused())
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("back-off %v, want %v", got, want)
	}
	b.reset()
	if d := b.refused(); d != time.Second {
		t.Fatalf("after reset: %s", d)
	}
}

// A secondary whose seed request the primary refuses asks again on the
// same connection, after a back-off, without waiting for a reconnection.
func TestSeedRefused_AsksAgain(t *testing.T) {
	e, cat, _ := newTestEngine(t)
	ctx := context.Background()
	cat.trusted = []catalog.TrustedCert{{Name: "alpha", Fingerprint: "abcd", NotAfter: time.Now().Add(time.Hour)}}
	req := adminapi.CreateLinkRequest{Name: "L", LinkID: "link-1", Database: "shop", Role: sqlink.RoleSecondary,
		PartnerName: "alpha", PartnerID: "id-alpha", PartnerEndpoint: "127.0.0.1:1", PartnerCertFingerprint: "AB:CD"}
	if _, err := e.CreateLink(ctx, req); err != nil {
		t.Fatal(err)
	}
	rt := e.ForDatabase("shop")
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pc := &peerConn{ctx: pctx, cancel: cancel, wake: make(chan struct{}, 1), waiters: map[uint64]chan *transport.ControlResponse{}}
	rt.mu.Lock()
	rt.conn = pc
	rt.seedRetry.first = time.Millisecond
	rt.mu.Unlock()
	t.Cleanup(func() { // before the engine stops: pc has no transport to close
		rt.mu.Lock()
		if rt.conn == pc {
			rt.conn = nil
		}
		rt.mu.Unlock()
	})

	requests := func() int {
		pc.mu.Lock()
		defer pc.mu.Unlock()
		n := 0
		for _, m := range pc.queue {
			if c, ok := m.(*transport.ControlRequest); ok && c.Command == cmdSeedRequest {
				n++
			}
		}
		return n
	}
	refuse := transport.MustControl(0, cmdSeedPlan, seedPlan{Kind: planError, Code: sqlink.EUNAVAILABLE, Message: "this replica cannot seed its partner now"})
	for want := 1; want <= 3; want++ {
		if err := rt.onControl(pc, refuse); err != nil {
			t.Fatal(err)
		}
		testutil.RetryUntil(t, 30*time.Second, func() error {
			if n := requests(); n < want {
				return fmt.Errorf("%d seed requests sent after %d refusals", n, want)
			}
			return nil
		})
	}
	// A connection that ended asks nothing more.
	cancel()
	n := requests()
	if err := rt.onControl(pc, refuse); err != nil {
		t.Fatal(err)
	}
	rt.mu.Lock()
	next := rt.seedRetry.next
	rt.mu.Unlock()
	if next <= 0 {
		t.Fatal("no back-off recorded")
	}
	if requests() != n {
		t.Fatal("a seed request on an ended connection")
	}
}
