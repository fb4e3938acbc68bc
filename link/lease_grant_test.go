package link_test

import (
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
)

// A claim granted a renewal period or more after it was made (a tick came
// before its answer) renews at once: otherwise the first renewal waits for
// the next tick, which with a short TTL is already the fence point, and
// the new primary stops writes for a moment (issue 25: a new link at a
// 5 s TTL fenced its primary two seconds after it started).
func TestLeaseLateGrantRenewsAtOnce(t *testing.T) {
	r, err := link.New(link.Config{
		LinkID: "l1", Self: "a", Partner: "b", InitialPrimary: "a",
		Mode: sqlink.ModeSync, AutoFailover: true, LeaseTTLTicks: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	step := func(m link.Message) link.Ready {
		t.Helper()
		if err := r.Step(m); err != nil {
			t.Fatal(err)
		}
		rd := r.Ready()
		r.Advance(rd)
		return rd
	}
	rd := step(link.Message{Type: link.MsgEtcdHealth, Healthy: true})
	c := rd.Claim
	if c == nil {
		t.Fatalf("no claim at start: %+v", rd)
	}
	// Tick 1 comes before the claim's answer: nothing to renew yet.
	r.Tick()
	rd = r.Ready()
	r.Advance(rd)
	if rd.Renew != nil {
		t.Fatalf("renewal %+v before the claim was granted", rd.Renew)
	}
	rd = step(link.Message{Type: link.MsgClaimResult, Target: c.Target, Renewal: c.Seq, Granted: true})
	if rd.Renew == nil {
		t.Fatalf("granted a renewal period after the claim, no renewal at once")
	}
	step(link.Message{Type: link.MsgLeaseHeld, Epoch: rd.Renew.Epoch, Renewal: rd.Renew.Seq})
	// Tick 2 (claim tick + FenceTicks): the renewal requested at tick 1
	// keeps writes on while tick 2's renewal is in flight.
	r.Tick()
	rd = r.Ready()
	r.Advance(rd)
	if rd.Renew == nil {
		t.Fatalf("no renewal at tick 2")
	}
	if st := r.Status(); !st.Writable {
		t.Fatalf("fenced at tick 2 with a renewal requested at tick 1 confirmed: %+v", st.AutoFailover)
	}
}

// A secondary that finds etcd unreachable tells its primary at once that
// it holds every commit (failsafe), not at its next tick: at a short TTL
// the primary's fence point may come first.
func TestLeaseFailsafeEchoAtOnce(t *testing.T) {
	b, err := link.New(link.Config{
		LinkID: "l1", Self: "b", Partner: "a", InitialPrimary: "a",
		Mode: sqlink.ModeSync, AutoFailover: true, LeaseTTLTicks: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	step := func(m link.Message) link.Ready {
		t.Helper()
		if err := b.Step(m); err != nil {
			t.Fatal(err)
		}
		rd := b.Ready()
		b.Advance(rd)
		return rd
	}
	step(link.Message{Type: link.MsgEtcdHealth, Healthy: true})
	step(link.Message{Type: link.MsgLeaseObserved, Epoch: 1, Primary: "a"})
	st := b.Status()
	step(link.Message{
		Type: link.MsgHeartbeat, LinkID: "l1", From: "a", To: "b",
		Role: sqlink.RolePrimary, Epoch: 1, Version: 1, Mode: sqlink.ModeSync, Writable: true,
		LSN: st.Hardened, Commit: st.Hardened, Clock: 1<<32 | 3,
	})
	rd := step(link.Message{Type: link.MsgEtcdHealth, Healthy: false})
	if !b.Status().AutoFailover.Failsafe {
		t.Fatalf("secondary gives no failsafe confirmation: %+v", b.Status())
	}
	if !echoes(rd, 1<<32|3) {
		t.Fatalf("no failsafe confirmation sent when etcd became unreachable: %+v", rd.Messages)
	}
	// Each new Clock of the primary is echoed at once too, not at the
	// secondary's next tick: the primary's failsafe window runs from the
	// message echoed, and the two tick clocks may be in any phase.
	rd = step(link.Message{
		Type: link.MsgHeartbeat, LinkID: "l1", From: "a", To: "b",
		Role: sqlink.RolePrimary, Epoch: 1, Version: 1, Mode: sqlink.ModeSync, Writable: true,
		LSN: st.Hardened, Commit: st.Hardened, Clock: 1<<32 | 4,
	})
	if !echoes(rd, 1<<32|4) {
		t.Fatalf("primary's new clock not echoed at once: %+v", rd.Messages)
	}
}

func echoes(rd link.Ready, clock uint64) bool {
	for _, m := range rd.Messages {
		if m.Echo == clock {
			return true
		}
	}
	return false
}
