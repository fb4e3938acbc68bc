package linktest

import (
	"fmt"
	"maps"
	"slices"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
)

// UnitsPerTick is the resolution of etcd's clock: a tick of an instance
// whose clock does not drift lasts this many units.
const UnitsPerTick = 100

// Etcd models the etcd cluster an AutoFailover link uses, and each
// instance's runtime (the etcdlease package): the link's key {holder,
// epoch} attached to the holder's lease, the epoch key, leases with a TTL
// measured on etcd's clock, compare-and-swap claims, watches, and which
// instance can reach etcd. The runtime turns a Ready's Claim, Renew and
// Release into requests and etcd's answers and watch events into the
// replica's lease messages.
//
// With Async false (datadriven scripts) requests are answered at once;
// with Async true (the simulation) requests, answers and watch events wait
// in Queue to be delivered, delayed, reordered or lost.
type Etcd struct {
	c     *Cluster
	Up    bool
	Now   int64 // etcd's clock, in units
	TTL   int64 // the link's lease TTL, in units
	Key   *EtcdKey
	Epoch sqlink.Epoch // the epoch key
	Rev   int64
	Cut   map[string]bool // instances that cannot reach etcd
	Async bool
	Queue []EtcdPacket

	leases    map[int64]int64 // lease ID -> expiry
	nextLease int64
	rt        map[string]*runtime
}

// EtcdKey is the link's leader key.
type EtcdKey struct {
	Holder string
	Epoch  sqlink.Epoch
	Lease  int64
}

// EtcdPacket is a request to etcd (To == "etcd") or an answer or watch
// event for an instance's runtime.
type EtcdPacket struct {
	ID       int
	From, To string
	Claim    *link.Claim
	Renew    *link.Renew
	Release  *link.Release
	Lease    int64         // the runtime's lease when it sent a Renew or Release
	Msg      *link.Message // to an instance
	Watch    bool          // Msg is a watch event (delivered in order)
	Rev      int64
	NewLease int64 // a granted claim's lease
	Inc      int   // the runtime incarnation a packet to an instance is for
}

func (p EtcdPacket) String() string {
	switch {
	case p.Claim != nil:
		return fmt.Sprintf("%s->etcd claim e%d->e%d", p.From, p.Claim.From, p.Claim.Target)
	case p.Renew != nil:
		return fmt.Sprintf("%s->etcd renew e%d", p.From, p.Renew.Epoch)
	case p.Release != nil:
		return fmt.Sprintf("%s->etcd release e%d", p.From, p.Release.Epoch)
	}
	return fmt.Sprintf("etcd->%s %s", p.To, p.Msg)
}

// runtime is one instance's etcd client state; it is lost in a crash.
type runtime struct {
	lease   int64
	healthy bool // as last reported to the replica
	seenRev int64
	resync  bool // missed a watch event: report the key's state again
	inc     int
	// gone: the partner's process was found gone (PartnerGone) while the
	// key was at revision goneRev.
	gone    bool
	goneRev int64
}

func newEtcd(c *Cluster, ttlTicks int) *Etcd {
	if ttlTicks == 0 {
		ttlTicks = link.DefaultLeaseTTLTicks
	}
	return &Etcd{c: c, Up: true, TTL: int64(ttlTicks) * UnitsPerTick, Epoch: 1, Cut: map[string]bool{},
		leases: map[int64]int64{}, rt: map[string]*runtime{"a": {}, "b": {}}}
}

// Reachable reports whether instance id reaches an etcd quorum.
func (e *Etcd) Reachable(id string) bool { return e.Up && !e.Cut[id] && !e.c.Nodes[id].Down }

// String shows the key, for scripts.
func (e *Etcd) String() string {
	k := "absent"
	if e.Key != nil {
		k = fmt.Sprintf("{holder: %s, epoch: %d}, expires in %d ticks", e.Key.Holder, e.Key.Epoch, (e.leases[e.Key.Lease]-e.Now+UnitsPerTick-1)/UnitsPerTick)
	}
	up := "up"
	if !e.Up {
		up = "down"
	}
	return fmt.Sprintf("etcd %s: epoch %d, leader %s", up, e.Epoch, k)
}

// Advance moves etcd's clock to now and expires leases (not while etcd
// is down: its clock stops with it).
func (e *Etcd) Advance(now int64) {
	if now > e.Now {
		e.Now = now
	}
	e.expire()
}

func (e *Etcd) expire() {
	if !e.Up {
		return
	}
	for _, id := range slices.Sorted(maps.Keys(e.leases)) {
		if e.leases[id] <= e.Now {
			e.revoke(id)
		}
	}
}

func (e *Etcd) revoke(lease int64) {
	delete(e.leases, lease)
	if e.Key != nil && e.Key.Lease == lease {
		holder := e.Key.Holder
		e.Key = nil
		e.Rev++
		e.c.printf("etcd: lease of %s at epoch %d gone\n", holder, e.Epoch)
		e.notify(holder)
	}
}

// SetUp stops or restarts the whole etcd cluster. A new leader extends
// every lease by a full TTL, as etcd's lessor does on promotion.
func (e *Etcd) SetUp(up bool) {
	if e.Up == up {
		return
	}
	e.Up = up
	if up {
		for id, exp := range e.leases {
			e.leases[id] = max(exp, e.Now+e.TTL)
		}
	}
	e.Sync()
}

// SetCut cuts instance id from etcd, or reconnects it.
func (e *Etcd) SetCut(id string, cut bool) {
	e.Cut[id] = cut
	e.Sync()
}

// Sync reports health changes and missed watch events to the runtimes.
func (e *Etcd) Sync() {
	for _, id := range e.c.IDs {
		rt := e.rt[id]
		if e.c.Nodes[id].Down {
			continue
		}
		if h := e.Reachable(id); h != rt.healthy {
			rt.healthy = h
			e.toNode(EtcdPacket{To: id, Msg: &link.Message{Type: link.MsgEtcdHealth, Healthy: h}})
			if h {
				rt.resync = true
			}
		}
		if rt.resync && e.Reachable(id) {
			rt.resync = false
			e.toNode(e.keyEvent(id, ""))
		}
	}
}

// keyEvent is the watch event (or read) that reports the key's state now.
func (e *Etcd) keyEvent(to, lastHolder string) EtcdPacket {
	m := link.Message{Type: link.MsgLeaseExpired, Epoch: e.Epoch, Primary: lastHolder}
	if e.Key != nil {
		m = link.Message{Type: link.MsgLeaseObserved, Epoch: e.Key.Epoch, Primary: e.Key.Holder}
	}
	return EtcdPacket{To: to, Msg: &m, Watch: true, Rev: e.Rev}
}

func (e *Etcd) notify(lastHolder string) {
	for _, id := range e.c.IDs {
		if e.Reachable(id) {
			e.toNode(e.keyEvent(id, lastHolder))
		} else {
			e.rt[id].resync = true
		}
	}
}

// Restarted resets instance id's runtime after a crash and reads the key.
func (e *Etcd) Restarted(id string) {
	e.rt[id] = &runtime{inc: e.rt[id].inc}
	e.Sync()
	if !e.Reachable(id) {
		e.rt[id].resync = true
	} else if e.rt[id].healthy {
		e.toNode(e.keyEvent(id, ""))
	}
}

// PartnerGone is what instance id's runtime does when the link's
// connection ends and the partner's endpoint refuses connections: it
// reads the key's revision, then tells the replica. Only a crashed
// partner's endpoint refuses (the server listens from before its links
// start until after its databases close). It reports whether it told the
// replica (the partner is down and id reaches etcd).
func (e *Etcd) PartnerGone(id string) bool {
	partner := e.c.other(id)
	if e.c.Nodes[id].Down || !e.c.Nodes[partner].Down || !e.Reachable(id) {
		return false
	}
	e.rt[id].gone, e.rt[id].goneRev = true, e.Rev
	e.c.Stats["partner-gone"]++
	e.c.printf("%s: %s's process is gone\n", id, partner)
	if err := e.c.Nodes[id].R.Step(link.Message{Type: link.MsgPartnerGone}); err != nil {
		panic(fmt.Sprintf("linktest: %s refused PartnerGone: %v", id, err))
	}
	e.c.Process(id)
	return true
}

// requests turns a Ready's lease requests into requests to etcd.
func (e *Etcd) requests(id string, rd link.Ready) {
	rt := e.rt[id]
	if rd.Release != nil {
		e.toEtcd(EtcdPacket{From: id, To: "etcd", Release: rd.Release, Lease: rt.lease})
		rt.lease = 0
	}
	if rd.Renew != nil {
		if rt.lease == 0 {
			e.toNode(EtcdPacket{To: id, Msg: &link.Message{Type: link.MsgLeaseLost, Epoch: rd.Renew.Epoch, Renewal: rd.Renew.Seq}, Inc: rt.inc})
		} else {
			e.toEtcd(EtcdPacket{From: id, To: "etcd", Renew: rd.Renew, Lease: rt.lease})
		}
	}
	if rd.Claim != nil {
		e.c.printf("%s claims e%d->e%d\n", id, rd.Claim.From, rd.Claim.Target)
		e.toEtcd(EtcdPacket{From: id, To: "etcd", Claim: rd.Claim})
	}
}

func (e *Etcd) toEtcd(p EtcdPacket) {
	p.Inc = e.rt[p.From].inc
	if e.Async {
		e.c.nextPacket++
		p.ID = e.c.nextPacket
		e.Queue = append(e.Queue, p)
		return
	}
	e.atEtcd(p)
}

func (e *Etcd) toNode(p EtcdPacket) {
	if p.Msg != nil && p.Msg.Type != link.MsgClaimResult && p.Msg.Type != link.MsgLeaseHeld && p.Msg.Type != link.MsgLeaseLost {
		p.Inc = e.rt[p.To].inc // events for whichever runtime runs
	}
	if e.Async {
		e.c.nextPacket++
		p.ID = e.c.nextPacket
		e.Queue = append(e.Queue, p)
		return
	}
	e.atNode(p)
}

// Deliver delivers queued packet i (Async), or loses it when lose is set
// (the runtime then answers a claim "not granted": it cannot tell).
// Watch events for one instance are delivered in order.
func (e *Etcd) Deliver(i int, lose bool) {
	p := e.Queue[i]
	if p.Watch {
		for j, q := range e.Queue[:i] {
			if q.Watch && q.To == p.To {
				i, p = j, q
				break
			}
		}
	}
	e.Queue = slices.Delete(e.Queue, i, i+1)
	if lose {
		e.lost(p)
		return
	}
	if p.To == "etcd" {
		e.atEtcd(p)
	} else {
		e.atNode(p)
	}
}

// lost handles a packet that never arrives.
func (e *Etcd) lost(p EtcdPacket) {
	switch {
	case p.Claim != nil:
		e.toNode(EtcdPacket{To: p.From, Msg: &link.Message{Type: link.MsgClaimResult, Target: p.Claim.Target, Renewal: p.Claim.Seq}, Inc: p.Inc})
	case p.Msg != nil && p.Msg.Type == link.MsgClaimResult && p.Msg.Granted:
		// The runtime times out: "not granted", though etcd granted it.
		e.toNode(EtcdPacket{To: p.To, Msg: &link.Message{Type: link.MsgClaimResult, Target: p.Msg.Target, Renewal: p.Msg.Renewal}, Inc: p.Inc})
	case p.Watch:
		e.rt[p.To].resync = true
	}
}

func (e *Etcd) atEtcd(p EtcdPacket) {
	if !e.Up || e.Cut[p.From] || e.c.Nodes[p.From].Down {
		e.lost(p)
		return
	}
	e.expire()
	switch {
	case p.Release != nil:
		if e.Key != nil && e.Key.Holder == p.From && e.Key.Lease == p.Lease {
			e.c.printf("etcd: %s releases epoch %d\n", p.From, e.Key.Epoch)
		}
		if _, ok := e.leases[p.Lease]; ok {
			e.revoke(p.Lease)
		}
	case p.Renew != nil:
		r := p.Renew
		if _, ok := e.leases[p.Lease]; ok && e.Key != nil && e.Key.Lease == p.Lease && e.Key.Holder == p.From && e.Key.Epoch == r.Epoch {
			e.leases[p.Lease] = e.Now + e.TTL
			e.toNode(EtcdPacket{To: p.From, Msg: &link.Message{Type: link.MsgLeaseHeld, Epoch: r.Epoch, Renewal: r.Seq}, Inc: p.Inc})
			return
		}
		m := link.Message{Type: link.MsgLeaseLost, Epoch: r.Epoch, Renewal: r.Seq, Target: e.Epoch}
		if e.Key != nil {
			m.Primary = e.Key.Holder
		}
		e.toNode(EtcdPacket{To: p.From, Msg: &m, Inc: p.Inc})
	case p.Claim != nil:
		c := p.Claim
		// A takeover replaces a live key of the holder found gone, if
		// the key has not changed since (etcdlease.Keeper.ClaimOver).
		rt := e.rt[p.From]
		over := c.Takeover != "" && e.Key != nil && e.Key.Holder == c.Takeover && e.Key.Epoch == c.From &&
			c.Target > c.From && rt.inc == p.Inc && rt.gone && rt.goneRev == e.Rev
		if over {
			e.c.Stats["takeover-granted"]++
			rt.gone = false
		}
		if e.Epoch == c.From && (e.Key == nil || e.Key.Holder == p.From || over) {
			e.nextLease++
			l := e.nextLease
			e.leases[l] = e.Now + e.TTL
			if e.Key != nil {
				delete(e.leases, e.Key.Lease)
			}
			if c.Target < e.Epoch {
				panic(fmt.Sprintf("linktest: etcd epoch would go back from %d to %d", e.Epoch, c.Target))
			}
			e.Key = &EtcdKey{Holder: p.From, Epoch: c.Target, Lease: l}
			e.Epoch = c.Target
			e.Rev++
			e.c.printf("etcd: %s takes epoch %d\n", p.From, c.Target)
			e.c.Stats["claim-granted"]++
			e.notify("")
			e.toNode(EtcdPacket{To: p.From, Msg: &link.Message{Type: link.MsgClaimResult, Target: c.Target, Granted: true, Renewal: c.Seq}, NewLease: l, Inc: p.Inc})
			return
		}
		m := link.Message{Type: link.MsgClaimResult, Target: c.Target, Epoch: e.Epoch, Renewal: c.Seq}
		if e.Key != nil {
			m.Primary = e.Key.Holder
		}
		e.toNode(EtcdPacket{To: p.From, Msg: &m, Inc: p.Inc})
	}
}

func (e *Etcd) atNode(p EtcdPacket) {
	n := e.c.Nodes[p.To]
	rt := e.rt[p.To]
	if n.Down || p.Inc != rt.inc {
		return // for a runtime that crashed since
	}
	m := *p.Msg
	if m.Type != link.MsgEtcdHealth && m.Type != link.MsgClaimResult && m.Type != link.MsgLeaseLost || p.Watch {
		// Answers and events travel from etcd: a cut drops them.
		if !e.Reachable(p.To) {
			e.lost(p)
			return
		}
	}
	if m.Type == link.MsgClaimResult && m.Granted {
		if !e.Reachable(p.To) {
			e.lost(p)
			return
		}
		rt.lease = p.NewLease
	}
	if p.Watch {
		if p.Rev < rt.seenRev {
			return
		}
		rt.seenRev = p.Rev
	}
	if m.Type != link.MsgLeaseHeld && m.Type != link.MsgEtcdHealth {
		e.c.printf("%s: etcd says %s\n", p.To, m)
	}
	if err := n.R.Step(m); err != nil {
		panic(fmt.Sprintf("linktest: %s refused %s: %v", p.To, m, err))
	}
	e.c.Process(p.To)
}
