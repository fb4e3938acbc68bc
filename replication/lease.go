package replication

// Automatic failover through etcd (links created with --auto-failover).
//
// The link's state machine decides (link/lease.go): it asks, through its
// Ready, for a claim of the link's etcd key, a renewal of the lease or its
// release, and it takes the lease's news as messages. This file is the
// runtime between it and etcd: each such link has an etcdlease.Keeper,
// whose goroutine does the etcd calls and hands what it learns to the
// link's loop as link messages (through the events channel: the loop never
// waits on etcd). The loop forwards the Ready's requests to the Keeper,
// which never blocks. Ticks catch up with the wall clock on these links, so
// a loop held up (a slow fsync) still counts the lease's time as it
// passes and fences the primary in time. Each automatic action is written
// to the audit log.

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/etcdlease"
	"github.com/sqlink/sqlink/link"
)

// Lease timings, besides the link's TTL (linkData.LeaseTTL).
const (
	// DefaultLeaseTTL is a link's lease TTL when --lease-ttl is not given.
	DefaultLeaseTTL = etcdlease.DefaultTTL
	// leaseMargin is how long before the lease can expire in etcd the
	// primary stops writes: time to apply "writes off".
	leaseMargin = 2 * time.Second
	// leaseRenewEvery is how often the primary renews its lease.
	leaseRenewEvery = time.Second
	// auditPrincipal is who the audit log names for automatic actions.
	auditPrincipal = "auto-failover"
)

// leaseRuntime is a link's side of its etcd lease.
type leaseRuntime struct {
	// keeper is set by start, under mu, before the loop runs (nil without
	// AutoFailover or without etcd); the loop and the status read it.
	keeper *etcdlease.Keeper
	// Loop-owned: the wall-clock start of the tick count and the ticks
	// stepped since, the last automatic failover audited, the writability
	// last seen.
	tickBase  time.Time
	ticked    int64
	early     int64 // ticks stepped ahead of time (tickEarly), not yet due
	lastAuto  link.Failover
	writable  bool
	failovers atomic.Int64 // automatic promotions by this process
	probing   atomic.Bool  // a probe of the partner's endpoint runs (gone.go)
}

// leaseTTL is the link's lease TTL.
func (d *linkData) leaseTTL() time.Duration {
	if d.LeaseTTLSeconds > 0 {
		return time.Duration(d.LeaseTTLSeconds) * time.Second
	}
	return DefaultLeaseTTL
}

// leaseTTL is the link's lease TTL.
func (rt *Link) leaseTTL() time.Duration {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.data.leaseTTL()
}

// leaseTicks sets cfg's lease timings from the link's TTL and the tick.
func leaseTicks(cfg *link.Config, ttl, tick time.Duration) {
	ticks := func(d time.Duration) int { return int((d + tick - 1) / tick) }
	cfg.LeaseTTLTicks = int(ttl / tick)
	cfg.LeaseMarginTicks = ticks(leaseMargin)
	// The clock-drift bound: 10 % of the TTL, a tick at least.
	cfg.ClockDriftTicks = max(1, ticks(ttl/10))
	// Renew every second (not TTL/3): each renewal that etcd answers
	// moves the fence point, so a stall of etcd (a leader election, a slow
	// fsync) costs a renewal or two, not the primary's writes. It is one
	// KeepAliveOnce and one read per link per second.
	cfg.LeaseRenewTicks = max(1, int(leaseRenewEvery/tick))
}

// CheckLeaseSettings checks a link's auto-failover settings against the
// engine's tick: the fence point must leave room for renewals.
func (s *Engine) CheckLeaseSettings(ttl time.Duration) error {
	if ttl < etcdlease.MinTTL || ttl%time.Second != 0 {
		return sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("use whole seconds, at least %s (default %s)", etcdlease.MinTTL, DefaultLeaseTTL),
			"invalid lease TTL %s", ttl)
	}
	cfg := link.Config{LinkID: "x", Self: "a", Partner: "b", InitialPrimary: "a", Mode: sqlink.ModeSync, AutoFailover: true}
	leaseTicks(&cfg, ttl, s.cfg.LinkTick)
	if err := cfg.Validate(); err != nil {
		return sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("use a longer lease TTL: it must leave the fencing margin (%s), the drift bound (10%%) and a renewal period (TTL/3)", leaseMargin),
			"lease TTL %s is too short: %s", ttl, sqlink.ErrorMessage(err))
	}
	return nil
}

// checkAutoFailover refuses an auto-failover link on an instance without
// etcd, and checks its settings.
func (s *Engine) checkAutoFailover(req adminapi.CreateLinkRequest) error {
	if !req.AutoFailover {
		if req.LeaseTTLSeconds != 0 || req.MaxDataLoss != 0 {
			return sqlink.Errorf(sqlink.EINVALID, "add --auto-failover, or leave out --lease-ttl and --max-data-loss",
				"link %q: a lease TTL or a maximum data loss without automatic failover", req.Name)
		}
		return nil
	}
	if s.cfg.Etcd == nil {
		return sqlink.Errorf(sqlink.ECONFLICT, fmt.Sprintf("restart instance %s with `sqlink serve --etcd-endpoints URL[,URL...]` (both instances need it), or create the link without --auto-failover", s.info.Name),
			"link %q: automatic failover needs etcd, and instance %s has no etcd configured", req.Name, s.info.Name)
	}
	ttl := DefaultLeaseTTL
	if req.LeaseTTLSeconds != 0 {
		ttl = time.Duration(req.LeaseTTLSeconds) * time.Second
	}
	return s.CheckLeaseSettings(ttl)
}

// startLease starts the link's Keeper (start, before the loop runs).
func (rt *Link) startLease() {
	rt.mu.Lock()
	auto := rt.data.AutoFailover
	rt.mu.Unlock()
	if !auto {
		return
	}
	if rt.s.cfg.Etcd == nil {
		rt.setError(sqlink.Errorf(sqlink.EUNAVAILABLE, "restart this instance with --etcd-endpoints: without etcd the primary takes no writes and the secondary never takes over",
			"link %s fails over through etcd, and this instance has no etcd configured", rt.id.name))
		return
	}
	k := rt.s.cfg.Etcd.NewKeeper(etcdlease.KeeperConfig{
		LinkID: rt.id.linkID, Self: rt.s.info.Name, SelfID: rt.s.info.ID,
		TTL: rt.leaseTTL(), Now: rt.s.cfg.Now, Logger: rt.log,
	}, rt.onLeaseEvent)
	// Under mu: the status may be read while a new link starts.
	rt.mu.Lock()
	rt.lease.keeper = k
	rt.mu.Unlock()
}

// stopLease stops the Keeper (stop, once the loop has ended): the lease is
// left to expire.
func (rt *Link) stopLease() {
	if k := rt.lease.keeper; k != nil {
		k.Close()
	}
}

// leaseMessage is the link message for a Keeper's event.
func leaseMessage(ev etcdlease.Event) link.Message {
	switch ev.Type {
	case etcdlease.Held:
		return link.Message{Type: link.MsgLeaseHeld, Epoch: ev.Epoch, Renewal: ev.Seq}
	case etcdlease.Lost:
		return link.Message{Type: link.MsgLeaseLost, Epoch: ev.Epoch, Target: ev.Target, Primary: ev.Holder, Renewal: ev.Seq}
	case etcdlease.Expired:
		return link.Message{Type: link.MsgLeaseExpired, Epoch: ev.Epoch, Primary: ev.Holder}
	case etcdlease.ClaimResult:
		return link.Message{Type: link.MsgClaimResult, Target: ev.Target, Renewal: ev.Seq, Granted: ev.Granted, Epoch: ev.Epoch, Primary: ev.Holder}
	case etcdlease.Health:
		return link.Message{Type: link.MsgEtcdHealth, Healthy: ev.Healthy}
	case etcdlease.Observed:
		return link.Message{Type: link.MsgLeaseObserved, Epoch: ev.Epoch, Primary: ev.Holder}
	}
	return link.Message{}
}

// onLeaseEvent hands a Keeper's event to the loop (on the Keeper's
// goroutine; it waits for the loop).
func (rt *Link) onLeaseEvent(ev etcdlease.Event) {
	m := leaseMessage(ev)
	if m.Type == 0 {
		return
	}
	select {
	case rt.events <- func() { rt.stepLease(m, ev) }:
	case <-rt.ctx.Done():
	}
}

// stepLease steps a lease message (loop).
func (rt *Link) stepLease(m link.Message, ev etcdlease.Event) {
	r := rt.r
	if r == nil {
		return
	}
	if err := r.Step(m); err != nil {
		rt.log.Debug("step lease event", "event", m.Type, "err", err)
	}
	switch {
	case ev.Type == etcdlease.ClaimResult && ev.Granted:
		rt.audit("link.lease.claim", "ok", fmt.Sprintf("etcd granted epoch %d to this instance", ev.Target))
	case ev.Type == etcdlease.ClaimResult:
		rt.audit("link.lease.claim", "refused", fmt.Sprintf("etcd refused epoch %d: %s", ev.Target, ev.Reason))
	case ev.Type == etcdlease.Lost && r.HardState().Role == sqlink.RolePrimary:
		rt.audit("link.lease.lost", "ok", fmt.Sprintf("epoch %d: %s", ev.Epoch, ev.Reason))
	}
}

// leaseRequests forwards the Ready's lease requests to the Keeper (loop,
// once the HardState is persisted). Without a Keeper a claim is refused.
func (rt *Link) leaseRequests(rd link.Ready) {
	if rd.Claim == nil && rd.Renew == nil && rd.Release == nil {
		return
	}
	k := rt.lease.keeper
	if k == nil {
		if c := rd.Claim; c != nil {
			rt.wg.Add(1)
			go func() {
				defer rt.wg.Done()
				rt.onLeaseEvent(etcdlease.Event{Type: etcdlease.ClaimResult, Target: c.Target, Seq: c.Seq, Reason: "this instance has no etcd configured"})
			}()
		}
		return
	}
	if rd.Release != nil {
		k.Release(rd.Release.Epoch)
		rt.audit("link.lease.release", "ok", fmt.Sprintf("released the lease at epoch %d", rd.Release.Epoch))
	}
	if c := rd.Claim; c != nil {
		k.ClaimOver(c.From, c.Target, c.Seq, c.Takeover) // Claim when Takeover is ""
		if c.Kind != "" {
			rt.audit("link.lease.claim", "requested", fmt.Sprintf("%s: epoch %d -> %d: %s", c.Kind, c.From, c.Target, c.Reason))
		}
	}
	if rd.Renew != nil {
		k.Renew(rd.Renew.Epoch, rd.Renew.Seq)
	}
}

// afterLeasePersist audits what the persisted state says changed on an
// auto-failover link: an automatic promotion, a primary that stepped down.
func (rt *Link) afterLeasePersist(prev, cur *link.HardState) {
	if cur == nil || !cur.AutoFailover {
		return
	}
	if la := cur.LastAutomatic; la.Kind != "" && la != rt.lease.lastAuto && (prev == nil || la != prev.LastAutomatic) {
		rt.lease.failovers.Add(1)
		d := fmt.Sprintf("became primary at epoch %d: %s", la.Epoch, la.Reason)
		if la.LostTransactions > 0 {
			d += fmt.Sprintf(" (%d transactions lost)", la.LostTransactions)
		}
		rt.audit("link.failover.automatic", "ok", d)
		rt.log.Warn("automatic failover: this replica is now the primary", "epoch", la.Epoch, "reason", rt.names(la.Reason))
	}
	rt.lease.lastAuto = cur.LastAutomatic
	if prev != nil && prev.Role == sqlink.RolePrimary && cur.Role != sqlink.RolePrimary && !prev.Op.Active() {
		rt.audit("link.lease.step_down", "ok", fmt.Sprintf("primary at epoch %d is now %s: etcd holds a newer epoch", prev.Epoch, cur.Role))
	}
}

// afterLeaseSoft audits a primary fencing itself, or taking writes again,
// on an auto-failover link (loop, each Ready).
func (rt *Link) afterLeaseSoft(rd link.Ready) {
	if rt.r == nil || !rt.r.HardState().AutoFailover {
		return
	}
	w := rd.SoftState.Writable
	if w == rt.lease.writable {
		return
	}
	rt.lease.writable = w
	hs := rt.r.HardState()
	if hs.Role != sqlink.RolePrimary || hs.Op.Active() {
		return
	}
	why := ""
	if rd.Status != nil {
		why = rd.Status.AutoFailover.Waiting
	}
	if w {
		rt.audit("link.lease.writes_on", "ok", fmt.Sprintf("the primary holds the lease at epoch %d", hs.Epoch))
	} else {
		rt.audit("link.lease.fence", "ok", fmt.Sprintf("the primary stopped writes at epoch %d: %s", hs.Epoch, why))
	}
}

// ticksDue is how many ticks to step at a tick: as many as the wall clock
// says passed, for an auto-failover link (its lease timer must not run
// slow when the loop is held up), else one. The time.Ticker drops the
// ticks a busy loop misses; this steps them late instead.
func (rt *Link) ticksDue(now time.Time) int {
	if rt.r == nil || !rt.r.HardState().AutoFailover {
		return 1
	}
	ls := &rt.lease
	var n int64
	if ls.tickBase.IsZero() || now.Before(ls.tickBase) {
		ls.tickBase, ls.ticked = now, 1
		n = 1
	} else {
		// Rounded: a ticker's jitter either way must not step two ticks
		// at once, nor none.
		tick := rt.s.cfg.LinkTick
		due := int64((now.Sub(ls.tickBase)+tick/2)/tick) + 1
		n = due - ls.ticked
		ls.ticked = max(due, ls.ticked)
	}
	// Ticks stepped early count as these.
	skip := min(max(n, 0), ls.early)
	n -= skip
	ls.early -= skip
	return int(min(max(n, 0), 1000))
}

// tickEarly steps a tick at once, to send a heartbeat without waiting for
// the next one (loop). On an auto-failover link the next tick due is
// skipped for it: a replica's clock must never run ahead of the wall
// clock, or a primary would fence early and a secondary would wait less
// than it promised its primary before claiming the lease.
func (rt *Link) tickEarly() {
	rt.r.Tick()
	if rt.r.HardState().AutoFailover {
		rt.lease.early++
	}
}

// names replaces the two instances' IDs in a reason the state machine
// wrote with their names.
func (rt *Link) names(s string) string {
	if s == "" {
		return s
	}
	return strings.NewReplacer(rt.s.info.ID, rt.s.info.Name, rt.id.partnerID, rt.id.partnerName).Replace(s)
}

// auditor is the catalog's audit log, when the engine's Catalog has one.
type auditor interface {
	Audit(ctx context.Context, e catalog.AuditEntry) error
}

// audit writes an entry for an automatic action on the link (off the
// loop: the catalog's write waits for its fsync).
func (rt *Link) audit(action, result, detail string) {
	a, ok := rt.s.cat.(auditor)
	if !ok {
		return
	}
	e := catalog.AuditEntry{Time: rt.s.cfg.Now().UTC(), Principal: auditPrincipal, Action: action,
		Target: rt.id.name, Result: result, Detail: rt.names(detail)}
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		if err := a.Audit(context.WithoutCancel(rt.ctx), e); err != nil {
			rt.log.Warn("audit", "action", action, "err", err)
		}
	}()
}

// autoFailoverStatus is the link's auto-failover status (nil when the link
// has none). rt.mu is held.
func (rt *Link) autoFailoverStatusLocked() *adminapi.AutoFailoverStatus {
	if !rt.data.AutoFailover {
		return nil
	}
	ttl := rt.data.leaseTTL()
	ls := rt.status.AutoFailover
	as := &adminapi.AutoFailoverStatus{
		LeaseTTLSeconds: ttl.Seconds(), MaxDataLoss: rt.data.MaxDataLoss,
		Epoch: ls.Epoch, EtcdHealthy: ls.EtcdHealthy, Failsafe: ls.Failsafe, Solo: ls.Solo, Claiming: ls.Claiming,
		Waiting: ls.Waiting, AutomaticFailovers: rt.lease.failovers.Load(),
	}
	if ls.ExpiresInTicks > 0 {
		as.FenceInSeconds = (time.Duration(ls.ExpiresInTicks) * rt.s.cfg.LinkTick).Seconds()
	}
	as.Waiting = rt.names(as.Waiting)
	if la := ls.LastAutomatic; la.Kind != "" {
		as.LastAutomatic = &adminapi.AutomaticFailover{Epoch: la.Epoch, Reason: rt.names(la.Reason), LostTransactions: la.LostTransactions}
	}
	switch ls.Holder {
	case rt.s.info.ID:
		as.Holder = rt.s.info.Name
	case rt.id.partnerID:
		as.Holder = rt.id.partnerName
	default:
		as.Holder = ls.Holder
	}
	k := rt.lease.keeper
	if k == nil {
		as.EtcdHealthy = false
		as.EtcdError = "this instance has no etcd configured (serve --etcd-endpoints)"
		return as
	}
	o := k.Observation()
	as.Held = o.Held
	as.EtcdHealthy = o.Healthy
	as.EtcdError = o.Err
	if o.Holder != "" {
		as.Holder, as.Epoch = o.Holder, o.Epoch
	}
	if !o.Expires.IsZero() {
		as.ExpiresInSeconds = max(0, o.Expires.Sub(rt.s.cfg.Now()).Seconds())
	}
	return as
}
