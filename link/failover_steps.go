package link

import (
	"fmt"

	"github.com/sqlink/sqlink"
)

// The failover protocol's steps and the operator's commands on a Replica
// (planned and forced failover, set-role, resume, abort, mode), split from
// replica.go unchanged.

// driveOp moves a planned failover on (old primary side) or resends the
// current step's message.
func (r *Replica) driveOp() {
	op := &r.hs.Op
	switch op.Step {
	case StepDraining:
		if r.appliedWritable || !r.followed() || !r.connected || r.partnerHardened < r.hs.Hardened {
			return
		}
		// The secondary holds every committed transaction: demote, durably,
		// before the partner may promote.
		op.Step = StepDemoted
		op.LastLSN = r.hs.Hardened
		if r.auto() {
			// Give the lease up so the partner can claim it at once.
			r.ls.outRelease = &Release{Epoch: r.hs.Epoch}
			r.ls.held, r.ls.fenceAt, r.ls.failsafeUntil = false, 0, 0
		}
		r.hs.Role = sqlink.RoleSecondary
		r.hs.Epoch = op.Target
		r.hs.Writable = false
		r.opTicks = 0
		r.bump()
		r.send(MsgPromote, Message{Target: op.Target, KeepLink: op.KeepLink, NewMode: op.PrevMode})
	case StepDemoted:
		r.send(MsgPromote, Message{Target: op.Target, KeepLink: op.KeepLink, NewMode: op.PrevMode})
	case StepAborting:
		r.send(MsgAbortPromotion, Message{Target: op.Target})
	}
}

func (r *Replica) onPromote(m Message) {
	switch {
	case r.hs.Role == sqlink.RolePrimary && r.hs.Epoch == m.Target:
		r.send(MsgPromoted, Message{})
	case r.promoteOK(m) && r.auto():
		// The new epoch goes through etcd first.
		if r.ls.claim == nil {
			// This replica holds all the demoted primary ever wrote, so
			// it may take over from whatever epoch etcd holds.
			from := max(r.hs.Epoch, r.ls.keyEpoch)
			r.makeClaim(Claim{From: from, Target: r.claimTarget(m.Target), Kind: FailoverPlanned, Reason: "planned failover"}, claimPlanned, m)
		}
	case r.promoteOK(m):
		r.doPromote(m, m.Target)
	}
}

// promoteOK reports whether this secondary may become primary at m.Target
// on the old primary's Promote.
func (r *Replica) promoteOK(m Message) bool {
	return r.hs.Role == sqlink.RoleSecondary && !r.hs.SplitBrain.Active && r.hs.Rewind == nil &&
		r.hs.Epoch < m.Target && r.hs.Hardened == m.LSN &&
		len(m.History) > 0 && m.History[len(m.History)-1].Epoch == r.hs.Epoch &&
		EpochOwner(m.Target, r.hs.InitialPrimary, r.other(r.hs.InitialPrimary)) == r.hs.Self
}

func (r *Replica) doPromote(m Message, e sqlink.Epoch) {
	// Everything the old primary committed is hardened here and the old
	// primary has persisted its demotion: take writes at the new epoch.
	r.hs.Role = sqlink.RolePrimary
	r.hs.Epoch = e
	r.hs.History = appendEpoch(r.hs.History, e, r.hs.Hardened+1)
	r.hs.Writable = true
	if m.NewMode != "" {
		r.hs.Mode = m.NewMode
	}
	if !m.KeepLink {
		r.hs.Dropped = true
	}
	r.hs.LastFailover = Failover{Kind: FailoverPlanned, Epoch: e}
	r.commit = r.hs.Hardened
	// The old primary holds exactly our log: stream from its end.
	r.partnerHardened = m.LSN
	r.bump()
	r.send(MsgPromoted, Message{})
}

func (r *Replica) onAbortPromotion(m Message) {
	switch {
	case r.hs.Role == sqlink.RolePrimary && r.hs.Epoch == m.Target:
		r.send(MsgPromoted, Message{})
	case r.ls.claim != nil && r.ls.claimKind == claimPlanned && r.ls.claim.Target == m.Target:
		// etcd may be granting Target: answer once it has said.
	case r.hs.Role == sqlink.RoleSecondary:
		if r.hs.Epoch < m.Target {
			r.hs.Epoch = m.Target // fence: a late Promote for Target is refused
			r.bump()
		}
		r.send(MsgAborted, Message{Target: m.Target})
	}
}

func (r *Replica) onAborted(m Message) {
	if !r.abortedOK(m) {
		return
	}
	// The partner will never take the target epoch: take writes back at a
	// fresh epoch of our own, above the fence.
	e := NextEpoch(max(r.hs.Epoch, m.Epoch), r.hs.Self == r.hs.InitialPrimary)
	if r.auto() {
		if r.ls.claim == nil {
			r.makeClaim(Claim{From: r.etcdEpoch(), Target: r.claimTarget(e), Kind: FailoverAborted, Reason: "planned failover aborted"}, claimAborted, m)
		}
		return
	}
	r.doAborted(m, e)
}

func (r *Replica) abortedOK(m Message) bool {
	op := r.hs.Op
	return op.Active() && m.Target == op.Target && r.hs.Role == sqlink.RoleSecondary
}

func (r *Replica) doAborted(m Message, e sqlink.Epoch) {
	op := r.hs.Op
	r.hs.Role = sqlink.RolePrimary
	r.hs.Epoch = e
	r.hs.History = appendEpoch(r.hs.History, e, r.hs.Hardened+1)
	r.hs.Writable = true
	r.hs.Mode = op.PrevMode
	r.hs.Op = Op{}
	r.hs.LastFailover = Failover{Kind: FailoverAborted, Epoch: e}
	r.paused, r.pausedReason = false, ""
	// The fenced partner followed us: its log is a prefix of ours.
	r.partnerHardened = min(m.LSN, r.hs.Hardened)
	r.commit = r.hs.Hardened
	r.bump()
}

func (r *Replica) onSetRoleRequest(m Message) {
	if m.Primary != r.hs.Self || r.hs.Role != sqlink.RolePrimary || m.Target != r.hs.Epoch || r.hs.Dropped {
		return
	}
	r.takeOver(max(r.hs.Epoch, m.Epoch, r.hs.SplitBrain.PartnerEpoch))
}

// takeOver makes this replica the primary at its next epoch above floor
// (through etcd on an AutoFailover link).
func (r *Replica) takeOver(floor sqlink.Epoch) {
	e := NextEpoch(floor, r.hs.Self == r.hs.InitialPrimary)
	if r.auto() {
		if r.ls.claim == nil && r.failsafeHold() == "" {
			r.makeClaim(Claim{From: r.etcdEpoch(), Target: r.claimTarget(e), Kind: FailoverSetRole, Reason: "set-role"}, claimSetRole, Message{})
		}
		return
	}
	r.doTakeOver(e)
}

func (r *Replica) doTakeOver(e sqlink.Epoch) {
	r.hs.Role = sqlink.RolePrimary
	r.hs.Epoch = e
	r.hs.History = appendEpoch(r.hs.History, e, r.hs.Hardened+1)
	r.hs.Writable = true
	r.hs.SplitBrain = SplitBrain{}
	if r.hs.Op.Active() {
		r.hs.Mode = r.hs.Op.PrevMode
		r.hs.Op = Op{}
	}
	r.paused, r.pausedReason = false, ""
	r.hs.LastFailover = Failover{Kind: FailoverSetRole, Epoch: e}
	r.partnerHardened = 0
	r.commit = r.hs.Hardened
	r.bump()
}

func (r *Replica) other(id string) string {
	if id == r.hs.Self {
		return r.hs.Partner
	}
	return r.hs.Self
}

func errDropped(id string) error {
	return sqlink.Errorf(sqlink.ECONFLICT, "create a new link", "link %s is dropped", id)
}

func (r *Replica) plannedFailover(keep bool) error {
	if r.hs.Dropped {
		return errDropped(r.hs.LinkID)
	}
	if keep && !r.hs.TwoWay {
		return sqlink.Errorf(sqlink.ECONFLICT, "fail over and drop the link (keep link: false), or recreate the link as two-way",
			"link %s is one-way: it cannot replicate the other way after a failover", r.hs.LinkID)
	}
	if r.hs.Op.Active() || r.partner.op.Active() {
		return sqlink.Errorf(sqlink.ECONFLICT, "resume or abort it", "a planned failover is already in progress on link %s", r.hs.LinkID)
	}
	if r.hs.SplitBrain.Active {
		return sqlink.Errorf(sqlink.ECONFLICT, "resolve it with set-role", "link %s is in split brain", r.hs.LinkID)
	}
	if r.auto() && r.ls.claim != nil {
		return sqlink.Errorf(sqlink.ECONFLICT, "wait for etcd's answer", "a claim of the lease is in flight")
	}
	if !r.connected {
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "reconnect the replicas, or force the failover on the secondary", "partner %s is not connected", r.hs.Partner)
	}
	switch r.hs.Role {
	case sqlink.RoleSecondary:
		if !r.following() {
			return sqlink.Errorf(sqlink.ECONFLICT, "wait until the link is synchronizing", "this secondary is not replicating from %s", r.hs.Partner)
		}
		r.send(MsgFailoverRequest, Message{KeepLink: keep})
		return nil
	case sqlink.RolePrimary:
		if !r.hs.Writable || !r.followed() {
			return sqlink.Errorf(sqlink.ECONFLICT, "wait until the link is synchronizing", "secondary %s is not replicating from this primary", r.hs.Partner)
		}
	default:
		return sqlink.Errorf(sqlink.ECONFLICT, "", "role %s cannot fail over", r.hs.Role)
	}
	r.hs.Op = Op{
		Kind: OpPlanned, Step: StepDraining,
		Target:   NextEpoch(max(r.hs.Epoch, r.leaseFloor()), r.hs.Partner == r.hs.InitialPrimary),
		KeepLink: keep, PrevMode: r.hs.Mode,
	}
	r.hs.Mode = sqlink.ModeSync
	r.hs.Writable = false
	r.paused, r.pausedReason, r.opTicks, r.lastErr = false, "", 0, ""
	r.bump()
	return nil
}

func (r *Replica) forcedFailover(ack bool) error {
	if !ack {
		return sqlink.Errorf(sqlink.EINVALID, "acknowledge possible data loss (allow data loss)",
			"forced failover may lose up to %d transactions", r.estimatedLoss().Transactions)
	}
	if r.hs.Dropped {
		return errDropped(r.hs.LinkID)
	}
	if r.hs.Role != sqlink.RoleSecondary {
		return sqlink.Errorf(sqlink.ECONFLICT, "run a forced failover on the secondary", "this replica is %s", r.hs.Role)
	}
	if r.hs.SplitBrain.Active {
		return sqlink.Errorf(sqlink.ECONFLICT, "resolve it with set-role", "link %s is in split brain", r.hs.LinkID)
	}
	if r.hs.Rewind != nil {
		return sqlink.Errorf(sqlink.ECONFLICT, "wait for the rewind to finish", "this replica is REVERTING")
	}
	loss := r.estimatedLoss()
	floor := r.hs.Epoch
	if r.partner.known {
		floor = max(floor, r.partner.epoch)
	}
	e := NextEpoch(floor, r.hs.Self == r.hs.InitialPrimary)
	if r.auto() {
		// The new epoch goes through etcd: only once the primary's lease
		// is gone, so no operator can make a second primary.
		ls := &r.ls
		if ls.keyKnown && ls.keyLive && ls.keyHolder != r.hs.Self {
			return sqlink.Errorf(sqlink.ECONFLICT, "run a planned failover, or wait until the lease expires (the secondary then takes over by itself when it may)",
				"%s holds the etcd lease at epoch %d", ls.keyHolder, ls.keyEpoch)
		}
		if ls.claim != nil {
			return sqlink.Errorf(sqlink.ECONFLICT, "wait for etcd's answer", "a claim of the lease is in flight")
		}
		if why := r.failsafeHold(); why != "" {
			return sqlink.Errorf(sqlink.ECONFLICT, "wait, then retry", "%s", why)
		}
		r.makeClaim(Claim{From: r.etcdEpoch(), Target: r.claimTarget(e), Kind: FailoverForced,
			Reason: fmt.Sprintf("forced failover, estimated loss %d transactions", loss.Transactions)}, claimForced, Message{})
		return nil
	}
	r.hs.Role = sqlink.RolePrimary
	r.hs.Epoch = e
	r.hs.History = appendEpoch(r.hs.History, e, r.hs.Hardened+1)
	r.hs.Writable = true
	if r.hs.Op.Active() {
		r.hs.Mode = r.hs.Op.PrevMode
		r.hs.Op = Op{}
	}
	r.hs.LastFailover = Failover{Kind: FailoverForced, Epoch: e, LostTransactions: loss.Transactions, LostTicks: loss.Ticks}
	r.paused, r.pausedReason = false, ""
	r.partnerHardened = 0
	r.commit = r.hs.Hardened
	r.bump()
	return nil
}

func (r *Replica) setRole(primary string) error {
	if primary != r.hs.Self && primary != r.hs.Partner {
		return sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("name %s or %s", r.hs.Self, r.hs.Partner), "instance %q is not in link %s", primary, r.hs.LinkID)
	}
	if r.hs.Dropped {
		return errDropped(r.hs.LinkID)
	}
	sb := r.hs.SplitBrain
	if !sb.Active {
		return sqlink.Errorf(sqlink.ECONFLICT, "use a planned or forced failover", "link %s is not in split brain here", r.hs.LinkID)
	}
	if primary == r.hs.Self {
		r.takeOver(max(r.hs.Epoch, sb.PartnerEpoch))
		return nil
	}
	r.hs.Role = sqlink.RoleSecondary
	r.hs.Writable = false
	r.hs.SplitBrain.Designated = primary
	r.bump()
	r.send(MsgSetRoleRequest, Message{Target: sb.PartnerEpoch, Primary: primary})
	return nil
}

func (r *Replica) resume() error {
	if r.hs.Op.Active() {
		if !r.paused {
			return nil
		}
		r.paused, r.pausedReason, r.opTicks, r.lastErr = false, "", 0, ""
		r.driveOp()
		return nil
	}
	if r.partner.op.Active() && r.partner.known {
		r.send(MsgResumeRequest, Message{})
		return nil
	}
	return sqlink.Errorf(sqlink.ECONFLICT, "", "no planned failover to resume on link %s", r.hs.LinkID)
}

func (r *Replica) abort() error {
	op := &r.hs.Op
	if !op.Active() {
		if r.partner.op.Active() && r.partner.known {
			r.send(MsgAbortRequest, Message{})
			return nil
		}
		return sqlink.Errorf(sqlink.ECONFLICT, "", "no planned failover to abort on link %s", r.hs.LinkID)
	}
	r.paused, r.pausedReason, r.opTicks, r.lastErr = false, "", 0, ""
	switch op.Step {
	case StepDraining:
		// No promotion was ever asked for: take writes back at once.
		r.hs.Mode = op.PrevMode
		r.hs.Op = Op{}
		r.hs.Writable = true
		r.hs.LastFailover = Failover{Kind: FailoverAborted, Epoch: r.hs.Epoch}
		r.bump()
	case StepDemoted:
		op.Step = StepAborting
		r.bump()
		r.driveOp()
	case StepAborting:
		r.driveOp()
	}
	return nil
}

func (r *Replica) setMode(mode sqlink.Mode) error {
	if mode != sqlink.ModeAsync && mode != sqlink.ModeSync {
		return sqlink.Errorf(sqlink.EINVALID, "use async or sync", "unknown mode %q", mode)
	}
	if r.hs.Dropped {
		return errDropped(r.hs.LinkID)
	}
	if r.hs.Op.Active() || r.partner.op.Active() {
		return sqlink.Errorf(sqlink.ECONFLICT, "wait for the planned failover to end", "a planned failover is in progress")
	}
	if r.hs.Role != sqlink.RolePrimary {
		if !r.partner.known {
			return sqlink.Errorf(sqlink.EUNAVAILABLE, "change the mode on the primary", "partner %s is not connected", r.hs.Partner)
		}
		r.send(MsgSetModeRequest, Message{NewMode: mode})
		return nil
	}
	if r.hs.Mode != mode {
		r.hs.Mode = mode
		r.bump()
	}
	return nil
}
