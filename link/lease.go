package link

import (
	"fmt"

	"github.com/sqlink/sqlink"
)

// The lease model (AutoFailover links; see doc.go). etcd's key for the link
// names the primary and its epoch, attached to the primary's lease; epochs
// change only by compare-and-swap (Ready.Claim). The replica is told what
// etcd says (MsgLeaseHeld, MsgLeaseLost, MsgLeaseExpired, MsgLeaseObserved,
// MsgClaimResult, MsgEtcdHealth, MsgPartnerGone) and keeps a pure
// tick-based lease timer.

// claimKind tells what a granted claim is for.
type claimKind int

const (
	claimRetake    claimKind = iota // a primary re-takes its own epoch
	claimSolo                       // a primary takes a solo epoch
	claimRejoin                     // a solo primary takes a non-solo epoch
	claimAutomatic                  // an eligible secondary after expiry
	claimForced
	claimPlanned // the secondary of a planned failover, on Promote
	claimAborted // the old primary of an aborted planned failover
	claimSetRole
)

var claimKinds = map[claimKind]FailoverKind{
	claimAutomatic: FailoverAutomatic, claimForced: FailoverForced,
	claimPlanned: FailoverPlanned, claimAborted: FailoverAborted, claimSetRole: FailoverSetRole,
}

// leaseState is the replica's volatile view of the lease.
type leaseState struct {
	etcdHealthy bool
	// etcd's key as last reported.
	keyKnown  bool
	keyLive   bool
	keyHolder string
	keyEpoch  sqlink.Epoch

	// Primary: the lease timer.
	held          bool   // this process holds the lease: renew it rather than claim
	fenceAt       uint64 // writes allowed while tick < fenceAt
	grantAt       uint64 // tick the last granted claim was made
	lastRenew     uint64 // tick the last Renew was made
	failsafeUntil uint64 // failsafe writes allowed while tick < failsafeUntil
	unsyncedSince uint64 // tick+1 since the secondary is not following, 0 while it is

	// The claim in flight and what to finish when it is granted.
	claim       *Claim
	claimKind   claimKind
	claimAt     uint64
	claimSeq    uint64 // the last Claim.Seq made
	claimMsg    Message
	nextClaimAt uint64 // back-off after a refused claim
	// doubt is the target of a claim answered "not granted" without word
	// from etcd (a timeout): it may have succeeded. Until etcd's key is
	// seen at that epoch or later, no failsafe.
	doubt sqlink.Epoch

	// Secondary: tick+1 of the last message that told the primary "etcd
	// is unreachable, I hold your commits".
	failsafeSentAt uint64
	// Secondary: the runtime said the partner's process is gone
	// (MsgPartnerGone) and the partner has not spoken since.
	partnerGone bool

	// Primary after an automatic failover: the epoch it took. Until the
	// partner is heard from at that epoch or later, the commit gate
	// counts it as disconnected: its lease expired, so it fenced itself
	// (or died), and waiting the session timeout for it would stall the
	// first commits. 0 when not in force.
	partnerStale sqlink.Epoch

	// One-shot requests for the next Ready.
	outClaim   *Claim
	outRenew   *Renew
	outRelease *Release
}

// Claim asks the etcd runtime to take the link's key by compare-and-swap:
// if etcd's epoch key is From (absent counts as 1, a new link) and the
// leader key is absent (no live lease) or names this instance, put the
// leader key {holder: self, epoch: Target} on a new lease of the link's
// TTL (granted after the Claim was made; revoke this instance's previous
// lease) and the epoch key Target, in one transaction. Then answer
// MsgClaimResult{Target, Renewal: Seq, Granted}; when not granted, with
// Epoch and Primary set to what etcd holds now. From == Target re-takes
// the replica's own epoch (a primary after a restart or after its lease
// lapsed). The runtime must answer every Claim: Granted false with Epoch 0
// when it cannot tell (a timeout); a claim that succeeded in etcd though
// answered so is recovered from (the replica sees its own key later).
type Claim struct {
	From   sqlink.Epoch `json:"from"`
	Target sqlink.Epoch `json:"target"`
	// Seq identifies the claim: MsgClaimResult echoes it in Renewal.
	Seq uint64 `json:"seq"`
	// Kind and Reason say why, for the audit log: FailoverAutomatic,
	// FailoverPlanned, FailoverForced, FailoverSetRole, FailoverAborted,
	// or "" for a primary re-taking its own epoch or taking a solo or
	// non-solo one (Reason says which).
	Kind   FailoverKind `json:"kind,omitempty"`
	Reason string       `json:"reason,omitempty"`
	// Takeover, when set, is the partner's instance ID: the claim may
	// also be granted while etcd's leader key names Takeover at From with
	// a live lease, provided the key has not changed since the runtime
	// found Takeover's process gone (MsgPartnerGone); the runtime then
	// revokes that lease. A restarted partner re-taking its key first
	// changes the key, and the claim is refused.
	Takeover string `json:"takeover,omitempty"`
}

// Renew asks the etcd runtime to renew the lease once (KeepAliveOnce) and
// check that the key still names this instance at Epoch; answer
// MsgLeaseHeld{Epoch, Renewal: Seq}, or MsgLeaseLost{Epoch, Renewal: Seq,
// Target: etcd's epoch, Primary: the key's holder or ""} when etcd says
// the lease or the key is gone or changed. On a timeout, answer nothing
// (report MsgEtcdHealth). Seq is opaque.
type Renew struct {
	Epoch sqlink.Epoch `json:"epoch"`
	Seq   uint64       `json:"seq"`
}

// Release asks the etcd runtime to revoke this instance's lease for the
// link (its key goes with it), leaving the epoch key at Epoch. A planned
// failover's old primary releases after persisting its demotion.
type Release struct {
	Epoch sqlink.Epoch `json:"epoch"`
}

// LeaseStatus is the etcd lease as one replica sees it (Status.AutoFailover).
type LeaseStatus struct {
	Enabled bool `json:"enabled"`
	// Holder and Epoch: what etcd's key last said (Holder "" when it had
	// no live lease).
	Holder string       `json:"holder,omitempty"`
	Epoch  sqlink.Epoch `json:"epoch,omitempty"`
	// ExpiresInTicks (primary): ticks until it stops writes unless a
	// renewal is confirmed; 0 when it holds no valid lease.
	ExpiresInTicks int  `json:"expires_in_ticks"`
	EtcdHealthy    bool `json:"etcd_healthy"`
	// Failsafe: etcd is unreachable from both instances and the primary
	// keeps writes because its secondary holds every commit (primary), or
	// this secondary confirms that to its primary (secondary).
	Failsafe bool `json:"failsafe,omitempty"`
	// Solo (primary): its epoch is solo: it acknowledges commits its
	// secondary may lack.
	Solo bool `json:"solo,omitempty"`
	// Claiming: a claim is in flight.
	Claiming bool `json:"claiming,omitempty"`
	// Waiting says why this secondary does not take over, or why the
	// primary does not take writes.
	Waiting       string   `json:"waiting,omitempty"`
	LastAutomatic Failover `json:"last_automatic,omitzero"`
}

// auto reports whether the lease rules apply now.
func (r *Replica) auto() bool { return r.hs.AutoFailover && !r.hs.Dropped }

func (r *Replica) fenceTicks() uint64 { return uint64(r.cfg.FenceTicks()) }

// leaseValid reports whether this primary's lease timer allows writes.
func (r *Replica) leaseValid() bool { return r.tick < r.ls.fenceAt }

// failsafe reports whether this primary may keep writes without a valid
// lease: etcd is unreachable from here, the link is sync, and a following
// secondary that holds every commit said recently that it cannot reach
// etcd either (and so will not claim for FailsafeHoldTicks).
func (r *Replica) failsafe() bool {
	return !r.ls.etcdHealthy && r.tick < r.ls.failsafeUntil && r.hs.Mode == sqlink.ModeSync && !r.hs.Solo &&
		r.ls.claim == nil && r.ls.doubt == 0 &&
		r.connected && r.followed() && r.partner.lsn >= r.commit
}

// partnerHere reports whether the commit gate counts the partner as
// connected: connected, and heard from at this primary's epoch or later
// since an automatic failover.
func (r *Replica) partnerHere() bool { return r.connected && r.ls.partnerStale == 0 }

// leaseWritable reports whether the lease lets the database take writes.
func (r *Replica) leaseWritable() bool {
	if !r.auto() || r.hs.Role != sqlink.RolePrimary {
		return true
	}
	return r.leaseValid() || r.failsafe()
}

// writable is the database's writability: the role's, gated by the lease.
func (r *Replica) writable() bool { return r.hs.Writable && r.leaseWritable() }

// clock is this replica's Clock in peer messages: its version and tick,
// so that an echo from before a restart (which bumps the version) or
// from before a role change is never taken for a recent one.
func (r *Replica) clock() uint64 { return r.hs.Version<<32 | (r.tick+1)&0xffffffff }

func lastEpoch(h []sqlink.HistoryEntry) sqlink.Epoch {
	if len(h) == 0 {
		return 0
	}
	return h[len(h)-1].Epoch
}

// etcdEpoch is this replica's best knowledge of the link's epoch in etcd.
func (r *Replica) etcdEpoch() sqlink.Epoch {
	return max(r.ls.keyEpoch, lastEpoch(r.hs.History))
}

// leaseFloor is the highest epoch this replica knows etcd has given (0
// without AutoFailover).
func (r *Replica) leaseFloor() sqlink.Epoch {
	if !r.auto() {
		return 0
	}
	return r.ls.keyEpoch
}

// claimTarget is the smallest epoch this replica owns that is at least
// min and above every epoch it knows etcd has given.
func (r *Replica) claimTarget(min sqlink.Epoch) sqlink.Epoch {
	return NextEpoch(max(min-1, r.etcdEpoch()), r.hs.Self == r.hs.InitialPrimary)
}

// cancelOp ends a planned failover this primary runs, because its epoch
// changed under it.
func (r *Replica) cancelOp(why string) {
	if !r.hs.Op.Active() || r.hs.Role != sqlink.RolePrimary {
		return
	}
	r.hs.Mode = r.hs.Op.PrevMode
	r.hs.Op = Op{}
	r.hs.Writable = true
	r.paused, r.pausedReason = false, ""
	r.lastErr = "planned failover cancelled: " + why
	r.bump()
}

func (r *Replica) makeClaim(c Claim, k claimKind, m Message) {
	r.ls.claimSeq++
	c.Seq = r.ls.claimSeq
	r.ls.claim, r.ls.claimKind, r.ls.claimAt, r.ls.claimMsg = &c, k, r.tick, m
	cc := c
	r.ls.outClaim = &cc
}

func (r *Replica) stepLease(m Message) error {
	if !r.hs.AutoFailover {
		return nil // a link without AutoFailover has nothing to do with etcd
	}
	ls := &r.ls
	switch m.Type {
	case MsgEtcdHealth:
		was := ls.etcdHealthy
		ls.etcdHealthy = m.Healthy
		if was && !m.Healthy && r.hs.Role == sqlink.RoleSecondary && !r.hs.Dropped && r.mayEcho() {
			// Tell the primary at once that etcd is unreachable from here
			// too (failsafe), not at the next tick: with a short TTL its
			// fence point may come first. Sending the confirmation
			// earlier holds this secondary's claims from now on, as at a
			// tick.
			r.heartbeat()
		}
	case MsgLeaseHeld:
		if r.hs.Role != sqlink.RolePrimary || m.Epoch != r.hs.Epoch {
			return nil // stale
		}
		r.setKey(m.Epoch, r.hs.Self, true)
		if m.Renewal == 0 || m.Renewal-1 > r.tick {
			return nil
		}
		// etcd renewed the lease after the request was made: it lives at
		// least TTL from then.
		ls.held = true
		ls.fenceAt = max(ls.fenceAt, m.Renewal-1+r.fenceTicks())
	case MsgLeaseLost:
		if r.hs.Role == sqlink.RolePrimary && m.Epoch == r.hs.Epoch && (m.Renewal == 0 || m.Renewal-1 >= ls.grantAt) {
			// etcd says the lease is gone: stop writes now.
			ls.held, ls.fenceAt, ls.failsafeUntil = false, 0, 0
			ls.keyLive = false
		}
		if m.Target != 0 {
			r.onKey(m.Target, m.Primary, m.Primary != "")
		}
	case MsgLeaseExpired:
		r.onKey(m.Epoch, m.Primary, false)
	case MsgLeaseObserved:
		r.onKey(m.Epoch, m.Primary, true)
	case MsgClaimResult:
		r.onClaimResult(m)
	case MsgPartnerGone:
		if r.hs.Role == sqlink.RoleSecondary && !r.hs.Dropped {
			ls.partnerGone = true
		}
	}
	return nil
}

func (r *Replica) setKey(e sqlink.Epoch, holder string, live bool) {
	ls := &r.ls
	if ls.keyKnown && e < ls.keyEpoch {
		return // older than what we know
	}
	ls.keyKnown, ls.keyEpoch, ls.keyHolder, ls.keyLive = true, e, holder, live
	if ls.doubt != 0 && e >= ls.doubt {
		ls.doubt = 0
	}
}

// mayEcho reports whether this secondary may tell its primary "etcd is
// unreachable, I hold your commits" (failsafe): it follows the primary at
// the epoch it last saw in etcd, and no claim of its own may have moved it.
func (r *Replica) mayEcho() bool {
	ls := &r.ls
	return !ls.etcdHealthy && r.hs.Mode == sqlink.ModeSync && r.following() && r.partner.clock != 0 &&
		ls.claim == nil && ls.doubt == 0 && ls.keyKnown && ls.keyEpoch == r.hs.Epoch
}

// failsafeHold says why this secondary may not claim now because it told
// its primary recently that it held every commit ("" if it may).
func (r *Replica) failsafeHold() string {
	ls := &r.ls
	hold := uint64(r.cfg.FailsafeHoldTicks())
	switch {
	case r.tick < hold:
		return fmt.Sprintf("started %d ticks ago: waits %d ticks before claiming, in case it told the primary it held every commit", r.tick, hold)
	case ls.failsafeSentAt != 0 && r.tick < ls.failsafeSentAt-1+hold:
		return fmt.Sprintf("failsafe: told the primary %d ticks ago that etcd was unreachable and it held every commit", r.tick+1-ls.failsafeSentAt)
	}
	return ""
}

// onKey handles what etcd's key says: epoch e, held by holder (the holder
// of the expired lease when not live).
func (r *Replica) onKey(e sqlink.Epoch, holder string, live bool) {
	if r.ls.keyKnown && e < r.ls.keyEpoch {
		return
	}
	if holder == "" {
		// Only an epoch's owner ever claims it (every claim targets an
		// epoch NextEpoch gives its claimer), so the owner held it.
		holder = EpochOwner(e, r.hs.InitialPrimary, r.other(r.hs.InitialPrimary))
	}
	r.setKey(e, holder, live)
	if r.hs.Dropped || r.hs.Role != sqlink.RolePrimary {
		return
	}
	switch {
	case e > r.hs.Epoch && holder == r.hs.Self && r.ls.claim != nil && r.ls.claim.Target == e:
		// Our claim in flight: its answer follows.
	case e > r.hs.Epoch && holder == r.hs.Self:
		// A claim of ours succeeded though its answer was lost: nobody
		// else can be primary at e. Take it as a solo epoch (the
		// secondary never heard of it, so it cannot take over at it) and
		// re-take the lease.
		r.cancelOp(fmt.Sprintf("etcd gave this primary epoch %d", e))
		r.hs.Epoch = e
		r.hs.History = appendEpoch(r.hs.History, e, r.hs.Hardened+1)
		r.hs.Solo = true
		r.ls.held = false
		r.bump()
	case e > r.hs.Epoch:
		r.leaseStepDown(e, holder)
	case e == r.hs.Epoch && !live:
		// Our lease expired in etcd: stop writes now, then re-take it.
		r.ls.held, r.ls.fenceAt, r.ls.failsafeUntil = false, 0, 0
	}
}

// leaseStepDown makes this primary a secondary because etcd gave epoch e
// to the partner: it stops writes and follows (rewinding its diverged
// transactions), with no split brain.
func (r *Replica) leaseStepDown(e sqlink.Epoch, holder string) {
	// The epoch itself is taken when it follows the new primary, after
	// any rewind, so it never reports a diverged log at the new epoch.
	r.hs.Role = sqlink.RoleSecondary
	r.hs.Writable = false
	r.hs.Solo = false
	if r.hs.Op.Active() {
		r.hs.Mode = r.hs.Op.PrevMode
		r.hs.Op = Op{}
		r.paused, r.pausedReason = false, ""
	}
	r.ls.held, r.ls.fenceAt, r.ls.failsafeUntil = false, 0, 0
	r.ls.partnerStale = 0
	if holder == "" {
		holder = r.hs.Partner
	}
	r.lastErr = fmt.Sprintf("stepped down: etcd gave epoch %d to %s", e, holder)
	r.bump()
}

func (r *Replica) onClaimResult(m Message) {
	ls := &r.ls
	if ls.claim == nil || m.Target != ls.claim.Target || m.Renewal != ls.claim.Seq {
		return // stale: the answer to a claim given up on
	}
	c, k, at, cm := *ls.claim, ls.claimKind, ls.claimAt, ls.claimMsg
	ls.claim = nil
	ls.doubt = 0
	if !m.Granted && m.Epoch == 0 {
		ls.doubt = c.Target
	}
	if !m.Granted {
		if c.Takeover != "" {
			// The key changed since the partner was found gone (it came
			// back), or etcd could not tell: wait for the lease again.
			ls.partnerGone = false
		}
		if k == claimRetake || k == claimAutomatic || k == claimSolo || k == claimRejoin {
			ls.nextClaimAt = r.tick + uint64(r.cfg.LeaseRenewTicks)
		}
		if m.Epoch != 0 {
			r.onKey(m.Epoch, m.Primary, m.Primary != "")
		}
		if k == claimForced || k == claimSetRole {
			r.lastErr = fmt.Sprintf("%s failover refused by etcd: its epoch is %d", claimKinds[k], m.Epoch)
		}
		return
	}
	r.setKey(c.Target, r.hs.Self, true)
	grant := func() {
		ls.held = true
		ls.grantAt, ls.lastRenew = at, at
		ls.fenceAt = max(ls.fenceAt, at+r.fenceTicks())
		if r.tick-at >= uint64(r.cfg.LeaseRenewTicks) {
			// Granted a renewal period or more after the claim was made
			// (ticks came before the answer, which renew nothing while
			// no lease is held): renew now, or the first renewal would
			// wait for the next tick, at a short TTL the fence point.
			// The renewal counts from now, when it is requested.
			ls.lastRenew = r.tick
			ls.outRenew = &Renew{Epoch: c.Target, Seq: r.tick + 1}
		}
	}
	used := false
	switch k {
	case claimRetake:
		if r.hs.Role == sqlink.RolePrimary && r.hs.Epoch == c.Target {
			grant()
			used = true
		}
	case claimSolo, claimRejoin:
		if r.hs.Role == sqlink.RolePrimary && r.hs.Epoch == c.From {
			r.hs.Epoch = c.Target
			r.hs.History = appendEpoch(r.hs.History, c.Target, r.hs.Hardened+1)
			r.hs.Solo = k == claimSolo
			r.bump()
			grant()
			used = true
		}
	case claimAutomatic, claimForced:
		if r.hs.Role == sqlink.RoleSecondary && !r.hs.SplitBrain.Active && r.hs.Rewind == nil && r.hs.Epoch < c.Target {
			grant()
			r.promote(c.Target, claimKinds[k], c.Reason)
			used = true
		}
	case claimPlanned:
		if r.promoteOK(cm) {
			grant()
			r.doPromote(cm, c.Target)
			used = true
		}
	case claimAborted:
		if r.abortedOK(cm) {
			grant()
			r.doAborted(cm, c.Target)
			used = true
		}
	case claimSetRole:
		if r.hs.SplitBrain.Active {
			grant()
			r.doTakeOver(c.Target)
			used = true
		}
	}
	if !used {
		ls.outRelease = &Release{Epoch: c.Target}
	}
}

// promote makes this secondary the primary at e after a granted automatic
// or forced claim.
func (r *Replica) promote(e sqlink.Epoch, kind FailoverKind, reason string) {
	loss := r.estimatedLoss()
	r.hs.Role = sqlink.RolePrimary
	r.hs.Epoch = e
	r.hs.History = appendEpoch(r.hs.History, e, r.hs.Hardened+1)
	r.hs.Writable = true
	r.hs.Solo = false
	if r.hs.Op.Active() {
		r.hs.Mode = r.hs.Op.PrevMode
		r.hs.Op = Op{}
	}
	r.hs.LastFailover = Failover{Kind: kind, Epoch: e, LostTransactions: loss.Transactions, LostTicks: loss.Ticks, Reason: reason}
	if kind == FailoverAutomatic {
		r.hs.LastAutomatic = r.hs.LastFailover
		// The old primary's lease expired: it takes no writes and holds
		// nothing this one must wait for. Count it as gone until it
		// speaks at the new epoch, so the first commit takes a solo
		// epoch at once instead of after the session timeout.
		r.ls.partnerStale = e
	}
	r.paused, r.pausedReason = false, ""
	r.partnerHardened = 0
	r.commit = r.hs.Hardened
	r.bump()
}

// eligible reports whether this secondary may claim the lease now, and if
// not, why it waits ("" when there is nothing to wait for: the primary
// holds a live lease).
func (r *Replica) eligible() (ok bool, why string) {
	ls := &r.ls
	if r.hs.Role != sqlink.RoleSecondary || !r.auto() || !ls.keyKnown || (ls.keyLive && !r.takeover()) {
		return false, ""
	}
	x := ls.keyEpoch
	p := r.partner
	switch {
	case r.hs.SplitBrain.Active:
		return false, "split brain"
	case r.hs.Rewind != nil:
		return false, "rewinding diverged transactions"
	case r.hs.Op.Active() || (p.known && p.op.Active() && r.connected):
		// (A primary that went silent in the middle of a planned
		// failover does not block an automatic one.)
		return false, "a planned failover is in progress"
	case r.failsafeHold() != "" && !r.takeover():
		// (A primary whose process is gone writes nothing, failsafe or
		// not, and a restarted one has no failsafe window.)
		return false, r.failsafeHold()
	}
	if ls.keyHolder == r.hs.Self && x > lastEpoch(r.hs.History) {
		// Our claim won but its answer was lost. Nobody has taken writes
		// since (the old primary cannot renew, and we give no failsafe
		// confirmation while etcd's epoch is not the one we follow), but
		// the claim may have been a forced one, which accepted a loss:
		// in sync mode take over by ourselves only if SYNCHRONIZED.
		if r.hs.Mode == sqlink.ModeSync && r.hs.SyncedEpoch != r.hs.Epoch {
			return false, fmt.Sprintf("this replica's earlier claim of epoch %d succeeded, but it is not SYNCHRONIZED at epoch %d (force a failover to accept the loss)", x, r.hs.Epoch)
		}
		return true, fmt.Sprintf("this replica's earlier claim of epoch %d succeeded", x)
	}
	if x != r.hs.Epoch || lastEpoch(r.hs.History) != x {
		return false, fmt.Sprintf("not SYNCHRONIZED: etcd's epoch %d is not the epoch this replica followed (%d); the primary may have acknowledged transactions this replica does not hold (force a failover to accept the loss)", x, lastEpoch(r.hs.History))
	}
	if r.hs.Mode == sqlink.ModeSync {
		if r.hs.SyncedEpoch != r.hs.Epoch {
			return false, fmt.Sprintf("not SYNCHRONIZED at epoch %d: the primary may have acknowledged transactions this replica does not hold (force a failover to accept the loss)", r.hs.Epoch)
		}
		return true, "sync mode, SYNCHRONIZED: no acknowledged transaction lost"
	}
	if !p.known || p.role != sqlink.RolePrimary || p.epoch != r.hs.Epoch {
		return false, "estimated loss unknown: no word from the primary since this replica started (force a failover to accept any loss)"
	}
	loss := r.lossTransactions()
	if loss > r.hs.MaxDataLoss {
		return false, fmt.Sprintf("estimated loss %d transactions exceeds max data loss %d", loss, r.hs.MaxDataLoss)
	}
	return true, fmt.Sprintf("async mode, estimated loss %d transactions within max data loss %d", loss, r.hs.MaxDataLoss)
}

// takeover reports whether this secondary may claim over the partner's
// live lease: the runtime found the partner's process gone, the link is
// sync, and the lease is the partner's at the epoch this replica follows.
// A sync primary acknowledges nothing without its secondary unless it
// first takes a solo epoch through etcd, which the takeover's
// compare-and-swap forbids once it is granted; and a process that is not
// running takes no writes, while a restarted one takes none before it
// re-takes its key, which the takeover's compare-and-swap detects. So the
// claim need not wait for the lease to expire. Async primaries
// acknowledge alone: their leases are waited out.
func (r *Replica) takeover() bool {
	ls := &r.ls
	return ls.partnerGone && ls.keyLive && r.hs.Mode == sqlink.ModeSync &&
		ls.keyHolder == r.hs.Partner && ls.keyEpoch == r.hs.Epoch
}

// leaseUpdate decides the lease requests after every event.
func (r *Replica) leaseUpdate() {
	if !r.auto() {
		return
	}
	ls := &r.ls
	if ls.claim != nil && r.tick > ls.claimAt+uint64(r.cfg.LeaseTTLTicks) {
		ls.claim = nil // never answered: the runtime's fault; try again
	}
	switch r.hs.Role {
	case sqlink.RolePrimary:
		if r.connected && r.followed() {
			ls.unsyncedSince = 0
		} else if ls.unsyncedSince == 0 {
			ls.unsyncedSince = r.tick + 1
		}
		if ls.claim != nil || r.tick < ls.nextClaimAt || r.hs.SplitBrain.Active {
			return
		}
		e := r.hs.Epoch
		next := NextEpoch(e, r.hs.Self == r.hs.InitialPrimary)
		switch {
		case !ls.held:
			r.makeClaim(Claim{From: e, Target: e}, claimRetake, Message{})
		case !r.leaseValid() || r.hs.Op.Active() || !r.hs.Writable:
		case !r.hs.Solo && r.hs.Hardened > r.commit && (r.hs.Mode == sqlink.ModeAsync || !r.partnerHere() ||
			(ls.unsyncedSince != 0 && r.tick+1-ls.unsyncedSince >= uint64(r.cfg.SessionTimeoutTicks))):
			// A commit waits for a secondary that is gone (disconnected,
			// or not following for the session timeout): take a solo
			// epoch, so that it cannot take over at an epoch whose
			// commits it lacks, then acknowledge alone.
			reason := fmt.Sprintf("secondary %s not following for %d ticks", r.hs.Partner, r.tick+1-ls.unsyncedSince)
			switch {
			case r.hs.Mode == sqlink.ModeAsync:
				reason = "async mode"
			case !r.connected:
				reason = fmt.Sprintf("secondary %s disconnected", r.hs.Partner)
			case ls.partnerStale != 0:
				reason = fmt.Sprintf("old primary %s not heard from at epoch %d since the automatic failover", r.hs.Partner, ls.partnerStale)
			}
			r.makeClaim(Claim{From: e, Target: next, Reason: "solo: " + reason}, claimSolo, Message{})
		case r.hs.Solo && r.hs.Mode == sqlink.ModeSync && r.connected && r.followed() && r.partnerHardened >= r.hs.Hardened:
			r.makeClaim(Claim{From: e, Target: next, Reason: "secondary synchronized again"}, claimRejoin, Message{})
		}
	case sqlink.RoleSecondary:
		p := r.partner
		if r.following() && p.epoch == r.hs.Epoch && !p.solo && r.hs.Hardened >= p.commit && r.hs.SyncedEpoch != r.hs.Epoch {
			r.hs.SyncedEpoch = r.hs.Epoch
		}
		if ls.claim != nil || r.tick < ls.nextClaimAt {
			return
		}
		if ok, why := r.eligible(); ok {
			x := ls.keyEpoch
			floor := max(x, r.hs.Epoch)
			if p.known {
				floor = max(floor, p.epoch)
			}
			holder := ls.keyHolder
			if holder == "" {
				holder = r.hs.Partner
			}
			c := Claim{From: x, Target: NextEpoch(floor, r.hs.Self == r.hs.InitialPrimary), Kind: FailoverAutomatic,
				Reason: fmt.Sprintf("lease of %s at epoch %d expired; %s", holder, x, why)}
			if ls.keyLive {
				c.Takeover = holder
				c.Reason = fmt.Sprintf("process of %s gone (its link connection ended and its endpoint refuses connections), lease at epoch %d taken over; %s", holder, x, why)
			}
			r.makeClaim(c, claimAutomatic, Message{})
		}
	}
}

// leaseTick runs the lease timer: renew every LeaseRenewTicks.
func (r *Replica) leaseTick() {
	ls := &r.ls
	if !r.auto() || r.hs.Role != sqlink.RolePrimary || !ls.held {
		return
	}
	if r.tick-ls.lastRenew >= uint64(r.cfg.LeaseRenewTicks) {
		ls.lastRenew = r.tick
		ls.outRenew = &Renew{Epoch: r.hs.Epoch, Seq: r.tick + 1}
	}
}

// onEcho takes a failsafe confirmation from the secondary: it echoes the
// Clock of a message this primary sent, so it was sent after that one;
// the secondary will not claim for FailsafeHoldTicks after sending it.
func (r *Replica) onEcho(m Message) {
	if m.Echo == 0 || r.hs.Role != sqlink.RolePrimary || m.Role != sqlink.RoleSecondary || m.Epoch != r.hs.Epoch {
		return
	}
	if m.Echo>>32 != r.hs.Version {
		return // from before a restart or a role change
	}
	t := m.Echo & 0xffffffff
	if t == 0 || t-1 > r.tick {
		return
	}
	r.ls.failsafeUntil = max(r.ls.failsafeUntil, t-1+r.fenceTicks())
}

func (r *Replica) leaseStatus() LeaseStatus {
	ls := r.ls
	s := LeaseStatus{Enabled: true, EtcdHealthy: ls.etcdHealthy, LastAutomatic: r.hs.LastAutomatic, Claiming: ls.claim != nil}
	if ls.keyKnown {
		s.Epoch = ls.keyEpoch
		if ls.keyLive {
			s.Holder = ls.keyHolder
		}
	}
	if r.hs.Dropped {
		return s
	}
	switch r.hs.Role {
	case sqlink.RolePrimary:
		s.Solo = r.hs.Solo
		if r.leaseValid() {
			s.ExpiresInTicks = int(ls.fenceAt - r.tick)
		} else if r.failsafe() {
			s.Failsafe = true
		}
		switch {
		case !r.hs.Writable || r.leaseWritable():
		case !ls.held:
			s.Waiting = fmt.Sprintf("no lease: writes stopped until etcd grants epoch %d again", r.hs.Epoch)
		case !ls.etcdHealthy:
			s.Waiting = "lease not renewed, etcd unreachable and no failsafe confirmation from the secondary: writes stopped"
		default:
			s.Waiting = "lease not renewed in time: writes stopped"
		}
	case sqlink.RoleSecondary:
		s.Failsafe = r.mayEcho()
		if ok, why := r.eligible(); !ok {
			s.Waiting = why
		}
	}
	return s
}
