package link

import (
	"fmt"
	"slices"

	"github.com/sqlink/sqlink"
)

// partnerView is what this replica last heard from its partner. It is
// volatile: after a restart the replica waits for the partner to speak.
type partnerView struct {
	known     bool
	role      sqlink.Role
	epoch     sqlink.Epoch
	version   uint64
	history   []sqlink.HistoryEntry
	lsn       sqlink.LSN
	writable  bool
	mode      sqlink.Mode
	dropped   bool
	reverting bool
	op        Op
	clock     uint64     // AutoFailover: the partner's Clock
	commit    sqlink.LSN // AutoFailover: a primary partner's acknowledged LSN
	solo      bool       // AutoFailover: a primary partner's epoch is solo
}

// Replica is one side of one link: a pure state machine driven by Step,
// Ready and Advance (see doc.go). It is not safe for concurrent use; the
// server's loop for the link owns it.
type Replica struct {
	cfg    Config
	hs     HardState
	prevHS HardState
	msgs   []Message

	tick      uint64
	partner   partnerView
	lastHeard uint64
	connected bool

	// Primary side.
	partnerHardened sqlink.LSN // partner's hardened LSN while it follows us
	inSync          bool       // sync commits wait for the partner
	commit          sqlink.LSN
	lastCommitTick  uint64

	// Secondary side.
	applied         sqlink.LSN
	partnerCommitAt uint64 // tick when the partner's last LSN grew

	lagSince uint64 // tick when the secondary fell behind, 0 when caught up

	appliedWritable bool // the writability the server last applied
	paused          bool
	pausedReason    string
	opTicks         int
	lastErr         string

	prevSoft   SoftState
	prevStatus Status
	first      bool

	ls leaseState // AutoFailover links only
}

// New starts a replica: a fresh side of a new link, or, when cfg.State is
// set, a restart from the last persisted HardState. A planned failover that
// was in progress at the crash comes back paused: the status says where it
// stopped and the operator resumes or aborts it.
func New(cfg Config) (*Replica, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	r := &Replica{cfg: cfg, appliedWritable: true, first: true}
	if cfg.State != nil {
		r.hs = cfg.State.Clone()
		r.prevHS = r.hs.Clone()
		r.applied = 0
		if r.hs.Op.Active() {
			r.paused = true
			r.pausedReason = fmt.Sprintf("interrupted by a restart at step %s", r.hs.Op.Step)
		}
		if r.hs.AutoFailover {
			// A new version, so that the partner's failsafe echoes of
			// messages from before the restart are not taken as recent.
			r.bump()
		}
	} else {
		r.hs = HardState{
			LinkID: cfg.LinkID, Self: cfg.Self, Partner: cfg.Partner,
			InitialPrimary: cfg.InitialPrimary,
			Role:           sqlink.RoleSecondary,
			Epoch:          1,
			History:        []sqlink.HistoryEntry{{Epoch: 1, FirstLSN: 1}},
			Mode:           cfg.Mode, TwoWay: cfg.TwoWay,
			Hardened:     cfg.SeedLSN,
			Version:      1,
			AutoFailover: cfg.AutoFailover, MaxDataLoss: cfg.MaxDataLoss,
		}
		if cfg.InitialPrimary == cfg.Self {
			r.hs.Role = sqlink.RolePrimary
			r.hs.Writable = true
		}
	}
	r.commit = r.hs.Hardened
	r.applied = r.hs.Hardened
	r.leaseUpdate()
	return r, nil
}

// Tick advances the replica's clock by one tick.
func (r *Replica) Tick() { _ = r.Step(Message{Type: MsgTick}) }

// HardState returns a copy of the current (maybe not yet persisted) state.
func (r *Replica) HardState() HardState { return r.hs.Clone() }

// Step feeds one event or peer message into the replica. It returns an
// error only when the input itself is wrong: a refused operator command
// (a *sqlink.Error for the operator), a message for another link, an LSN
// that goes backwards.
func (r *Replica) Step(m Message) error {
	v0, h0 := r.hs.Version, r.hs.Hardened
	var err error
	if m.Type.IsLocal() {
		err = r.stepLocal(m)
	} else {
		err = r.stepPeer(m)
	}
	r.update()
	if r.hs.Version != v0 || r.hs.Hardened != h0 {
		r.heartbeat()
	}
	return err
}

func (r *Replica) stepLocal(m Message) error {
	switch m.Type {
	case MsgTick:
		r.onTick()
		return nil
	case MsgCommitted:
		if r.hs.Role != sqlink.RolePrimary {
			return fmt.Errorf("link: commit at LSN %d on a %s", m.LSN, r.hs.Role)
		}
		if !r.appliedWritable && !r.hs.Dropped {
			return fmt.Errorf("link: commit at LSN %d while the database is read-only", m.LSN)
		}
		if m.LSN <= r.hs.Hardened {
			return fmt.Errorf("link: commit LSN %d not after %d", m.LSN, r.hs.Hardened)
		}
		r.hs.Hardened = m.LSN
		r.lastCommitTick = r.tick
		return nil
	case MsgHardened:
		// Usually from a secondary; any replica reports its log's end this
		// way after a restart.
		if m.LSN < r.hs.Hardened {
			return fmt.Errorf("link: hardened LSN %d before %d", m.LSN, r.hs.Hardened)
		}
		r.hs.Hardened = m.LSN
		return nil
	case MsgApplied:
		if m.LSN > r.hs.Hardened {
			return fmt.Errorf("link: applied LSN %d beyond hardened %d", m.LSN, r.hs.Hardened)
		}
		r.applied = max(r.applied, m.LSN)
		return nil
	case MsgRewound:
		if r.hs.Rewind == nil {
			return fmt.Errorf("link: rewind to %d reported, none asked", m.LSN)
		}
		if m.LSN > r.hs.Rewind.To {
			return fmt.Errorf("link: rewound to %d, beyond the fork LSN %d", m.LSN, r.hs.Rewind.To)
		}
		saved := uint64(r.hs.Hardened - m.LSN)
		r.hs.Hardened = m.LSN
		r.applied = min(r.applied, m.LSN)
		r.hs.History = truncateHistory(r.hs.History, m.LSN)
		r.hs.Rewind = nil
		r.hs.LastFailover = Failover{Kind: FailoverRewound, Epoch: r.hs.Epoch, LostTransactions: saved}
		r.bump()
		return nil
	case MsgPlannedFailover:
		return r.plannedFailover(m.KeepLink)
	case MsgForcedFailover:
		return r.forcedFailover(m.AllowDataLoss)
	case MsgSetRole:
		return r.setRole(m.Primary)
	case MsgResume:
		return r.resume()
	case MsgAbort:
		return r.abort()
	case MsgSetMode:
		return r.setMode(m.NewMode)
	case MsgLeaseHeld, MsgLeaseLost, MsgLeaseExpired, MsgClaimResult, MsgEtcdHealth, MsgLeaseObserved, MsgPartnerGone:
		return r.stepLease(m)
	}
	return fmt.Errorf("link: unknown local event %s", m.Type)
}

func (r *Replica) stepPeer(m Message) error {
	if m.LinkID != r.hs.LinkID || m.From != r.hs.Partner || m.To != r.hs.Self {
		return fmt.Errorf("link: message %s for link %q from %q to %q", m.Type, m.LinkID, m.From, m.To)
	}
	if m.Version < r.hs.PartnerVersion {
		return nil // stale: the partner has moved on since it sent this
	}
	r.lastHeard = r.tick
	r.connected = true
	p := &r.partner
	old := p.lsn
	news := !p.known || m.Version > p.version
	if news {
		p.lsn, p.commit = m.LSN, m.Commit
	} else {
		p.lsn, p.commit = max(p.lsn, m.LSN), max(p.commit, m.Commit)
	}
	newClock := m.Clock != 0 && m.Clock != p.clock
	p.clock, p.solo = m.Clock, m.Solo
	if m.Role == sqlink.RolePrimary && (!p.known || p.lsn > old) {
		r.partnerCommitAt = r.tick
	}
	p.known = true
	p.role, p.epoch, p.version = m.Role, m.Epoch, m.Version
	p.history = slices.Clone(m.History)
	p.writable, p.mode, p.dropped, p.reverting, p.op = m.Writable, m.Mode, m.Dropped, m.Reverting, m.Op
	if m.Version > r.hs.PartnerVersion {
		r.hs.PartnerVersion = m.Version
	}

	if r.auto() {
		if r.ls.partnerStale != 0 && m.Epoch >= r.ls.partnerStale {
			r.ls.partnerStale = 0
		}
		r.ls.partnerGone = false // it speaks: not gone
		r.onEcho(m)
	}
	if r.hs.Dropped {
		// The link is gone; only help a demoted partner finish.
		if m.Type == MsgPromote && r.hs.Role == sqlink.RolePrimary && r.hs.Epoch == m.Target {
			r.send(MsgPromoted, Message{})
		}
		return nil
	}
	r.observe()
	if news && m.Type == MsgHeartbeat {
		// The partner's role state changed (or it just announced itself):
		// answer with ours at once, so it can act on it now rather than at
		// our next tick (a seeded secondary starts receiving only once it
		// knows its primary). An answer does not change our version, so
		// it gets none in return.
		r.heartbeat()
	} else if newClock && m.Role == sqlink.RolePrimary && r.hs.Role == sqlink.RoleSecondary && r.auto() && r.mayEcho() {
		// Failsafe: echo each new Clock of the primary at once rather
		// than at our next tick, so its failsafe window (FenceTicks from
		// the message echoed) is renewed a round trip after each of its
		// ticks, whatever the phase between the two tick clocks.
		r.heartbeat()
	}

	switch m.Type {
	case MsgHeartbeat, MsgPromoted, MsgAborted:
		if m.Type == MsgAborted {
			r.onAborted(m)
		}
	case MsgFailoverRequest:
		if err := r.plannedFailover(m.KeepLink); err != nil {
			r.lastErr = "failover requested by partner refused: " + sqlink.ErrorMessage(err)
		}
	case MsgPromote:
		r.onPromote(m)
	case MsgAbortPromotion:
		r.onAbortPromotion(m)
	case MsgResumeRequest:
		if err := r.resume(); err != nil {
			r.lastErr = "resume requested by partner refused: " + sqlink.ErrorMessage(err)
		}
	case MsgAbortRequest:
		if err := r.abort(); err != nil {
			r.lastErr = "abort requested by partner refused: " + sqlink.ErrorMessage(err)
		}
	case MsgSetModeRequest:
		if err := r.setMode(m.NewMode); err != nil {
			r.lastErr = "mode change requested by partner refused: " + sqlink.ErrorMessage(err)
		}
	case MsgSetRoleRequest:
		r.onSetRoleRequest(m)
	}
	return nil
}

// bump marks a change of role state, so the partner can tell newer messages
// from stale ones.
func (r *Replica) bump() { r.hs.Version++ }

// following reports whether the partner is the primary this secondary
// replicates from.
func (r *Replica) following() bool {
	p := r.partner
	return r.hs.Role == sqlink.RoleSecondary && !r.hs.Dropped && !r.hs.SplitBrain.Active &&
		r.hs.Rewind == nil && p.known && p.role == sqlink.RolePrimary && !p.dropped &&
		p.epoch == r.hs.Epoch
}

// followed reports whether the partner is a secondary replicating from this
// primary.
func (r *Replica) followed() bool {
	p := r.partner
	return r.hs.Role == sqlink.RolePrimary && !r.hs.Dropped && !r.hs.SplitBrain.Active &&
		p.known && p.role == sqlink.RoleSecondary && !p.dropped && !p.reverting &&
		p.epoch == r.hs.Epoch
}

// observe decides what the partner's latest status means for this replica's
// role: following a primary, detecting a split brain, learning that a
// failover finished. Divergence and the winner are decided here.
func (r *Replica) observe() {
	p := r.partner
	if !p.known || r.hs.Dropped {
		return
	}
	if p.dropped {
		// The partner dropped the link (the end of a planned failover with
		// drop): the link is gone here too and the database independent.
		if r.hs.Op.Active() && p.role == sqlink.RolePrimary && p.epoch >= r.hs.Op.Target {
			r.finishPlanned(p)
			return
		}
		r.hs.Op = Op{}
		r.hs.SplitBrain = SplitBrain{}
		r.hs.Dropped = true
		r.hs.Writable = true
		r.paused, r.pausedReason = false, ""
		r.bump()
		return
	}
	sb := &r.hs.SplitBrain
	if sb.Active && p.role == sqlink.RolePrimary && p.epoch > max(r.hs.Epoch, sb.PartnerEpoch) {
		// The partner took an epoch above both sides of the split brain: the
		// operator designated it. Give up the role and follow.
		r.hs.Role = sqlink.RoleSecondary
		r.hs.Writable = false
		r.hs.SplitBrain = SplitBrain{}
		r.bump()
	}

	if sb.Active && r.hs.Role == sqlink.RolePrimary && r.hs.Epoch > sb.PartnerEpoch && p.role == sqlink.RoleSecondary {
		// The partner gave up its role (set-role): the split brain is over.
		r.hs.SplitBrain = SplitBrain{}
		r.bump()
	}

	switch r.hs.Role {
	case sqlink.RolePrimary:
		if r.hs.AutoFailover && p.role == sqlink.RolePrimary && !p.dropped && p.epoch != r.hs.Epoch {
			// etcd is the arbiter: a primary at a newer epoch got it by
			// compare-and-swap, so the older one steps down and follows
			// (the newer one ignores the older). No split brain.
			if p.epoch > r.hs.Epoch {
				r.leaseStepDown(p.epoch, r.hs.Partner)
				r.observe()
			}
			return
		}
		if p.role == sqlink.RolePrimary && !p.dropped {
			if p.epoch == r.hs.Epoch {
				panic(fmt.Sprintf("link %s: %s and %s are both primary at epoch %d", r.hs.LinkID, r.hs.Self, r.hs.Partner, p.epoch))
			}
			fork := sqlink.ForkLSN(r.hs.History, r.hs.Hardened, p.history, p.lsn)
			n := SplitBrain{
				Active: true, PartnerEpoch: p.epoch, ForkLSN: fork,
				LocalDiverged:   uint64(r.hs.Hardened - fork),
				PartnerDiverged: uint64(p.lsn - min(p.lsn, fork)),
				Designated:      sb.Designated,
			}
			if *sb != n {
				if !sb.Active || sb.PartnerEpoch != p.epoch {
					r.bump()
				}
				*sb = n
			}
			if p.epoch > r.hs.Epoch && r.hs.Writable {
				r.hs.Writable = false // the lower epoch stops at once
				r.bump()
			}
			if r.hs.Op.Active() {
				r.hs.Op = Op{}
				r.lastErr = "planned failover cancelled: split brain"
				r.bump()
			}
		}
		if r.followed() {
			r.partnerHardened = max(r.partnerHardened, p.lsn)
		}
	case sqlink.RoleSecondary:
		if sb.Active {
			return // waits for the designated partner to take over
		}
		if r.hs.Op.Active() && p.role == sqlink.RolePrimary && p.epoch >= r.hs.Op.Target {
			r.finishPlanned(p)
		}
		if r.hs.Dropped || p.role != sqlink.RolePrimary || p.dropped || p.epoch < r.hs.Epoch || r.hs.Rewind != nil {
			return
		}
		fork, diverged := Diverged(p.history, r.hs.History, r.hs.Hardened)
		if diverged {
			r.hs.Rewind = &Rewind{To: fork, Through: r.hs.Hardened}
			r.bump()
			return
		}
		if p.epoch > r.hs.Epoch || !slices.Equal(p.history, r.hs.History) {
			if p.epoch > r.hs.Epoch {
				r.bump()
			}
			r.hs.Epoch = p.epoch
			r.hs.History = slices.Clone(p.history)
		}
		if p.mode != "" && r.hs.Mode != p.mode && !r.hs.Op.Active() {
			r.hs.Mode = p.mode
		}
	}
}

// finishPlanned ends a planned failover on the old primary once the new
// primary is seen at the target epoch.
func (r *Replica) finishPlanned(p partnerView) {
	op := r.hs.Op
	if op.Step == StepAborting {
		r.lastErr = fmt.Sprintf("abort too late: %s became primary at epoch %d", r.hs.Partner, p.epoch)
	}
	r.hs.Op = Op{}
	r.hs.Mode = op.PrevMode
	r.hs.LastFailover = Failover{Kind: FailoverPlanned, Epoch: p.epoch}
	if !op.KeepLink || p.dropped {
		r.hs.Dropped = true
		r.hs.Writable = true
	}
	r.paused, r.pausedReason = false, ""
	r.bump()
}

func (r *Replica) onTick() {
	r.tick++
	if r.connected && r.tick-r.lastHeard > uint64(r.cfg.SessionTimeoutTicks) {
		r.connected = false
		r.inSync = false
	}
	if r.tick%uint64(r.cfg.HeartbeatTicks) == 0 {
		r.heartbeat()
	}
	if r.hs.Op.Active() && !r.paused {
		r.opTicks++
		if r.opTicks > r.cfg.FailoverTimeoutTicks {
			r.paused = true
			r.pausedReason = fmt.Sprintf("no progress for %d ticks at step %s", r.opTicks-1, r.hs.Op.Step)
		} else {
			r.driveOp()
		}
	}
	r.leaseTick()
	if r.hs.SplitBrain.Active && r.hs.SplitBrain.Designated == r.hs.Partner && r.tick%uint64(r.cfg.HeartbeatTicks) == 0 {
		r.send(MsgSetRoleRequest, Message{Target: r.hs.SplitBrain.PartnerEpoch, Primary: r.hs.Partner})
	}
}

// update recomputes what follows from the state after every event: sync
// commit, the failover's next step.
func (r *Replica) update() {
	if r.followed() && r.connected && r.partnerHardened >= r.hs.Hardened {
		r.inSync = true
	}
	if !r.followed() || !r.connected {
		r.inSync = false
	}
	if r.hs.Role == sqlink.RolePrimary {
		c := r.hs.Hardened
		switch {
		case r.auto():
			// etcd lets the secondary take over at a non-solo epoch, so
			// the primary acknowledges only what it holds (see lease.go).
			if !r.hs.Solo {
				c = min(c, r.partnerHardened)
			}
		case r.hs.Mode == sqlink.ModeSync && r.inSync && !r.hs.Dropped:
			c = min(c, r.partnerHardened)
		}
		r.commit = max(r.commit, c)
	}
	r.leaseUpdate()
	// Lag, for the data-loss estimate.
	lag := r.lossTransactions() > 0
	switch {
	case !lag:
		r.lagSince = 0
	case r.lagSince == 0:
		r.lagSince = max(r.tick, 1)
	}
	if r.hs.Op.Active() && r.hs.Op.Step == StepDraining && !r.paused {
		r.driveOp()
	}
}

func (r *Replica) lossTransactions() uint64 {
	p := r.partner
	switch {
	case r.hs.Role == sqlink.RoleSecondary && p.known && p.role == sqlink.RolePrimary && p.lsn > r.hs.Hardened:
		return uint64(p.lsn - r.hs.Hardened)
	case r.hs.Role == sqlink.RolePrimary && r.followed() && r.hs.Hardened > r.partnerHardened:
		return uint64(r.hs.Hardened - r.partnerHardened)
	}
	return 0
}

func (r *Replica) estimatedLoss() Loss {
	n := r.lossTransactions()
	if n == 0 {
		return Loss{}
	}
	last := r.lastCommitTick
	if r.hs.Role == sqlink.RoleSecondary {
		last = r.partnerCommitAt
	}
	var t uint64
	if r.lagSince != 0 && last >= r.lagSince {
		t = last - r.lagSince
	}
	return Loss{Transactions: n, Ticks: max(t, 1)}
}

// send queues a peer message carrying this replica's status.
func (r *Replica) send(t MsgType, m Message) {
	m.Type = t
	m.LinkID, m.From, m.To = r.hs.LinkID, r.hs.Self, r.hs.Partner
	m.Role, m.Epoch, m.Version = r.hs.Role, r.hs.Epoch, r.hs.Version
	m.History = slices.Clone(r.hs.History)
	m.Writable, m.Mode, m.Dropped = r.writable(), r.hs.Mode, r.hs.Dropped
	m.Reverting = r.hs.Rewind != nil
	m.Op = r.hs.Op
	m.LSN = r.hs.Hardened
	if r.auto() {
		m.Clock = r.clock()
		if r.hs.Role == sqlink.RolePrimary {
			m.Commit, m.Solo = r.commit, r.hs.Solo
		} else if r.mayEcho() {
			// Failsafe: etcd is unreachable from here; tell the primary we
			// hold its commits, and do not claim for a while.
			m.Echo = r.partner.clock
			r.ls.failsafeSentAt = r.tick + 1
		}
	}
	r.msgs = append(r.msgs, m)
}

// heartbeat queues a status message unless one is already queued.
func (r *Replica) heartbeat() {
	for i, m := range r.msgs {
		if m.Type == MsgHeartbeat {
			r.msgs = append(r.msgs[:i], r.msgs[i+1:]...)
			break
		}
	}
	r.send(MsgHeartbeat, Message{})
}

func (r *Replica) softState() SoftState {
	s := SoftState{Writable: r.writable(), Dropped: r.hs.Dropped}
	if r.hs.Role == sqlink.RolePrimary {
		s.Commit = r.commit
		if r.followed() {
			s.Replication = Replication{Send: true, SendFrom: r.partnerHardened + 1, SendEpoch: r.hs.Epoch}
		}
	} else if r.following() {
		s.Replication = Replication{Receive: true, ReceiveEpoch: r.hs.Epoch}
	}
	return s
}

// Status returns the replica's status now.
func (r *Replica) Status() Status {
	p := r.partner
	s := Status{
		LinkID: r.hs.LinkID, Self: r.hs.Self, Partner: r.hs.Partner,
		Role: r.hs.Role, Epoch: r.hs.Epoch, Writable: r.writable(),
		Mode: r.hs.Mode, TwoWay: r.hs.TwoWay, Dropped: r.hs.Dropped,
		Connected: r.connected, Hardened: r.hs.Hardened, Applied: r.applied,
		Op: r.hs.Op, Paused: r.paused, PausedReason: r.pausedReason,
		SplitBrain: r.hs.SplitBrain, Reverting: r.hs.Rewind != nil,
		EstimatedLoss: r.estimatedLoss(), LastFailover: r.hs.LastFailover,
		LastError: r.lastErr,
	}
	if r.hs.AutoFailover {
		s.AutoFailover = r.leaseStatus()
	}
	if r.hs.Role == sqlink.RolePrimary {
		s.Commit = r.commit
	}
	if p.known {
		s.PartnerRole, s.PartnerEpoch, s.PartnerLSN = p.role, p.epoch, p.lsn
		if !s.Op.Active() && p.op.Active() {
			s.Op = p.op
		}
	}
	if r.hs.Role == sqlink.RoleSecondary && r.hs.Op.Active() && !r.hs.SplitBrain.Active {
		s.Role = sqlink.RoleResolving
	}
	switch {
	case r.hs.Dropped:
		s.SyncState = sqlink.NotSynchronizing
	case r.hs.Rewind != nil:
		s.SyncState = sqlink.Reverting
	case r.connected && r.followed():
		s.SyncState = sqlink.Synchronizing
		if r.partnerHardened >= r.hs.Hardened {
			s.SyncState = sqlink.Synchronized
		}
	case r.connected && r.following():
		s.SyncState = sqlink.Synchronizing
		if r.hs.Hardened >= p.lsn {
			s.SyncState = sqlink.Synchronized
		}
	default:
		s.SyncState = sqlink.NotSynchronizing
	}
	return s
}

// HasReady reports whether Ready would return anything new.
func (r *Replica) HasReady() bool {
	return r.first || len(r.msgs) > 0 || !r.hs.equal(r.prevHS) || r.softState() != r.prevSoft ||
		r.Status() != r.prevStatus || r.ls.outClaim != nil || r.ls.outRenew != nil || r.ls.outRelease != nil
}

// Ready returns what the server must do now: persist, send, apply, in that
// order, then call Advance with it.
func (r *Replica) Ready() Ready {
	rd := Ready{Messages: slices.Clone(r.msgs), SoftState: r.softState()}
	if r.first || !r.hs.equal(r.prevHS) {
		hs := r.hs.Clone()
		rd.HardState = &hs
	}
	if r.hs.Rewind != nil {
		rw := *r.hs.Rewind
		rd.Rewind = &rw
	}
	if st := r.Status(); r.first || st != r.prevStatus {
		rd.Status = &st
	}
	rd.Claim, rd.Renew, rd.Release = r.ls.outClaim, r.ls.outRenew, r.ls.outRelease
	return rd
}

// Advance tells the replica that the server persisted, sent and applied rd.
func (r *Replica) Advance(rd Ready) {
	r.first = false
	if rd.HardState != nil {
		r.prevHS = rd.HardState.Clone()
	}
	r.msgs = r.msgs[len(rd.Messages):]
	if rd.Claim == r.ls.outClaim {
		r.ls.outClaim = nil
	}
	if rd.Renew == r.ls.outRenew {
		r.ls.outRenew = nil
	}
	if rd.Release == r.ls.outRelease {
		r.ls.outRelease = nil
	}
	r.prevSoft = rd.SoftState
	r.appliedWritable = rd.SoftState.Writable
	if rd.Status != nil {
		r.prevStatus = *rd.Status
	}
	// Writes may just have stopped: the failover can move on.
	v0 := r.hs.Version
	r.update()
	if r.hs.Version != v0 {
		r.heartbeat()
	}
}
