package replication

// Failover
//
// The failover routes step an operator command into the link's state
// machine (link/replica.go decides everything: steps, epochs, split brain)
// and then wait on the link's published status until the operation has
// finished, paused or failed. The link's loop makes the server honour each
// step (link.go: process and applySoft): it persists the HardState
// before anything else, stops writes with storage's SetReadOnly (which
// waits for the transaction in flight, whose session is ended after
// Config.FailoverDrainTimeout), redoes every hardened record and sets the epoch before a
// new primary takes writes, and ends the sessions of a replica whose
// role changed so pools reconnect and find the primary again
// (target_session_attrs=read-write). A split-brain loser saves its
// diverged state (rewind.go) before it follows the designated primary.
//
// Failpoints: Config.Failpoint (env SQLINK_FAILPOINT) names one of the
// points below; when the link reaches it the process kills itself with
// SIGKILL, so crash tests can stop a failover, or the rewind of a split
// brain's loser, at each step.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/link"
)

// Failpoints of a planned failover, in the order a failover reaches them.
const (
	// fpAfterSync: the old primary persisted {DRAINING, sync, writes off}
	// but has not stopped writes yet.
	fpAfterSync = "failover/after-sync"
	// fpAfterDrain: the old primary stopped writes (DRAINING).
	fpAfterDrain = "failover/after-drain"
	// fpAfterDemote: the old primary persisted its demotion, before it
	// sent Promote.
	fpAfterDemote = "failover/after-demote"
	// fpAfterPromote: the new primary persisted its promotion, before it
	// answered or took writes.
	fpAfterPromote = "failover/after-promote"
	// fpAfterSwap: the old primary persisted the end of the failover, or
	// the new primary took writes.
	fpAfterSwap = "failover/after-swap"
)

// Failpoints of a forced failover, on the secondary that takes over, in
// order.
const (
	// fpForcedPromoted: the promotion (primary at a new epoch) is
	// persisted; the database is still read-only and its log still at the
	// old epoch.
	fpForcedPromoted = "forced/after-promote"
	// fpForcedWritable: the database took the new epoch and is writable;
	// the failover has not answered yet.
	fpForcedWritable = "forced/after-writable"
)

// Failpoints of a rewind (or reseed) of a split brain's loser, in order.
const (
	// fpRewindSaved: the diverged state is saved; the database is as it was.
	fpRewindSaved = "rewind/after-save"
	// fpRewindCopied: the database is copied into the seed and removed;
	// the replica is seeding and has asked for the pages.
	fpRewindCopied = "rewind/after-copy"
	// fpRewindSending (on the primary): the plan and the first pages of a
	// rewind are sent, not the rest.
	fpRewindSending = "rewind/primary-sending"
	// fpRewindPages: the pages that differ are written into the copy, not
	// yet marked complete.
	fpRewindPages = "rewind/after-pages"
)

// Failpoints of dropping a link's half, in order.
const (
	// fpDropSaved: the drop is saved in the link's record; nothing done.
	fpDropSaved = "drop/after-save"
	// fpDropIndependent: the database is independent (writable, or gone
	// if it was still seeding); the link's record is still there.
	fpDropIndependent = "drop/after-database"
)

// Failpoints of a secondary giving up its copy for a new seed (a rewind,
// a reseed after RESEED_REQUIRED or a divergence), in order.
const (
	// fpReseedSaved: the link's seeding phase is saved; the database is
	// still there (and ONLINE in the catalog).
	fpReseedSaved = "reseed/after-save"
	// fpReseedRemoved: the database is closed, RESTORING and removed.
	fpReseedRemoved = "reseed/after-remove"
)

// Failpoints of a seed, in order.
const (
	// fpSeedSending (on the primary): half of the seed is sent.
	fpSeedSending = "seed/primary-sending"
	// fpSeedPlanned: the seed's plan is saved, no page written yet.
	fpSeedPlanned = "seed/after-plan"
	// fpSeedFlushed: received pages are written and their progress saved.
	fpSeedFlushed = "seed/after-flush"
	// fpSeedFinished: the seed is in place as the database; the catch-up
	// that follows is not saved yet.
	fpSeedFinished = "seed/after-finish"
	// fpSeedOnline: caught up and marked ONLINE in the catalog; the link's
	// own record still says catching up.
	fpSeedOnline = "seed/after-online"
)

// Events of a role change, recorded by the link's loop for the step list of
// a failover result.
const (
	evDraining  = "DRAINING"   // old primary: writes off and sync persisted
	evWritesOff = "WRITES_OFF" // old primary: the database stopped taking writes
	evDemoted   = "DEMOTED"    // old primary: demotion persisted
	evAborting  = "ABORTING"
	evPromoted  = "PROMOTED"  // this replica became primary (any kind)
	evWritable  = "WRITABLE"  // this replica took writes
	evDone      = "DONE"      // old primary: the planned failover ended
	evAborted   = "ABORTED"   // the planned failover was rolled back
	evCancelled = "CANCELLED" // the planned failover was cancelled (split brain)
)

// roleEvent is one event of a role change. A value, appended to
// Link.roleEvents under Link.mu.
type roleEvent struct {
	what string
	at   time.Time
}

// maxRoleEvents bounds the events a link remembers.
const maxRoleEvents = 64

// noteEvent records a role-change event and wakes status waiters.
func (rt *Link) noteEvent(what string) {
	rt.mu.Lock()
	rt.roleEvents = append(rt.roleEvents, roleEvent{what, rt.s.cfg.Now()})
	if len(rt.roleEvents) > maxRoleEvents {
		rt.roleEvents = append(rt.roleEvents[:0], rt.roleEvents[len(rt.roleEvents)-maxRoleEvents/2:]...)
	}
	rt.mu.Unlock()
	rt.changed()
}

// changed wakes everyone waiting for the link's status to change.
func (rt *Link) changed() {
	rt.mu.Lock()
	if rt.statusCh != nil {
		close(rt.statusCh)
	}
	rt.statusCh = make(chan struct{})
	rt.mu.Unlock()
}

// waitFor calls cond after every change of the link's status until it
// returns true or ctx ends.
func (rt *Link) waitFor(ctx context.Context, cond func() bool) error {
	for {
		rt.mu.Lock()
		if rt.statusCh == nil {
			rt.statusCh = make(chan struct{})
		}
		ch := rt.statusCh
		rt.mu.Unlock()
		if cond() {
			return nil
		}
		// A periodic look as well: a dropped link's runtime stops
		// publishing.
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
}

// replicaStatus returns the replica's last published status.
func (rt *Link) replicaStatus() link.Status {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.status
}

// eventsSince returns the events recorded at or after t.
func (rt *Link) eventsSince(t time.Time) map[string]time.Time {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := map[string]time.Time{}
	for _, e := range rt.roleEvents {
		if !e.at.Before(t) {
			if _, ok := out[e.what]; !ok {
				out[e.what] = e.at
			}
		}
	}
	return out
}

// afterPersist records the events and runs the failpoints of a new
// HardState, just after it became durable (on the loop).
func (rt *Link) afterPersist(prev, cur *link.HardState) {
	if prev == nil || cur == nil {
		return
	}
	po, co := prev.Op, cur.Op
	switch {
	case !po.Active() && co.Step == link.StepDraining:
		rt.noteEvent(evDraining)
		rt.s.failpoint(fpAfterSync)
	case po.Step == link.StepDraining && co.Step == link.StepDemoted:
		rt.noteEvent(evDemoted)
		rt.s.failpoint(fpAfterDemote)
	case po.Step != link.StepAborting && co.Step == link.StepAborting:
		rt.noteEvent(evAborting)
	case po.Active() && !co.Active() && cur.LastFailover == prev.LastFailover:
		rt.noteEvent(evCancelled) // e.g. by a split brain
	case po.Active() && !co.Active():
		if cur.LastFailover.Kind == link.FailoverAborted {
			rt.noteEvent(evAborted)
		} else {
			rt.noteEvent(evDone)
			if cur.Role == sqlink.RoleSecondary || cur.Dropped {
				rt.s.failpoint(fpAfterSwap)
			}
		}
	}
	if prev.Role != sqlink.RolePrimary && cur.Role == sqlink.RolePrimary {
		rt.noteEvent(evPromoted)
		rt.failoverFailpoint(cur, fpAfterPromote, fpForcedPromoted)
	}
}

// failoverFailpoint runs planned or forced, by the kind of the failover
// that brought hs to its epoch (none for other role changes).
func (rt *Link) failoverFailpoint(hs *link.HardState, planned, forced string) {
	if hs.LastFailover.Epoch != hs.Epoch {
		return
	}
	switch hs.LastFailover.Kind {
	case link.FailoverPlanned:
		rt.s.failpoint(planned)
	case link.FailoverForced:
		rt.s.failpoint(forced)
	}
}

// Failover runs a planned or forced failover of a link, or resumes or
// aborts a paused planned failover, and reports what it did.
func (s *Engine) Failover(ctx context.Context, name string, req adminapi.FailoverRequest) (adminapi.FailoverResult, error) {
	rt, err := s.runtime(name)
	if err != nil {
		return adminapi.FailoverResult{}, err
	}
	if req.Type == "" {
		req.Type = "planned"
	}
	switch {
	case req.Type != "planned" && req.Type != "forced":
		return adminapi.FailoverResult{}, sqlink.Errorf(sqlink.EINVALID, "use planned or forced", "unknown failover type %q", req.Type)
	case req.Resume && req.Abort:
		return adminapi.FailoverResult{}, sqlink.Errorf(sqlink.EINVALID, "pass either resume or abort", "resume and abort exclude each other")
	case req.Type == "forced" && (req.Resume || req.Abort):
		return adminapi.FailoverResult{}, sqlink.Errorf(sqlink.EINVALID, "a forced failover takes effect at once: nothing to resume or abort", "forced failover with resume or abort")
	case req.TimeoutSeconds < 0:
		return adminapi.FailoverResult{}, sqlink.Errorf(sqlink.EINVALID, "give a positive timeout", "negative timeout %v", req.TimeoutSeconds)
	}
	timeout := s.cfg.FailoverTimeout
	if req.TimeoutSeconds > 0 {
		timeout = time.Duration(req.TimeoutSeconds * float64(time.Second))
	}
	if req.Type == "forced" {
		return s.forcedFailover(ctx, rt, req, timeout)
	}
	return s.plannedFailover(ctx, rt, req, timeout)
}

func (s *Engine) plannedFailover(ctx context.Context, rt *Link, req adminapi.FailoverRequest, timeout time.Duration) (adminapi.FailoverResult, error) {
	start := s.cfg.Now()
	m := link.Message{Type: link.MsgPlannedFailover, KeepLink: !req.DropLink}
	what := "planned failover"
	switch {
	case req.Resume:
		m, what = link.Message{Type: link.MsgResume}, "resume"
	case req.Abort:
		m, what = link.Message{Type: link.MsgAbort}, "abort"
	}
	before := rt.replicaStatus()
	checkPartner := !req.Resume && !req.Abort && !before.Op.Active()
	if checkPartner {
		// A planned failover needs both instances: with the partner
		// down, say so in seconds rather than wait out the timeout.
		if err := rt.waitPartnerReachable(ctx, min(timeout, failoverPartnerWait)); err != nil {
			return adminapi.FailoverResult{}, err
		}
	}
	if _, err := s.stepLink(ctx, rt.id.name, m); err != nil {
		if sqlink.ErrorCode(err) == sqlink.ECONFLICT && strings.Contains(sqlink.ErrorMessage(err), "one-way") {
			return adminapi.FailoverResult{}, &sqlink.Error{Code: sqlink.ECONFLICT, Message: sqlink.ErrorMessage(err),
				Hint: fmt.Sprintf("fail over and drop the link (sqlink link failover %s --drop-link): both databases become independent and writable; or recreate the link as two-way", rt.id.name)}
		}
		return adminapi.FailoverResult{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var st link.Status
	var lostSince time.Time // when the partner was last seen gone, before the operation began
	gaveUp := false         // ... and for failoverPartnerWait
	werr := rt.waitFor(wctx, func() bool {
		st = rt.replicaStatus()
		if checkPartner && !st.Op.Active() && st.LastFailover == before.LastFailover && !rt.partnerReachable() {
			// The partner went away before the operation began.
			now := s.cfg.Now()
			if lostSince.IsZero() {
				lostSince = now
			}
			if now.Sub(lostSince) >= failoverPartnerWait {
				gaveUp = true
				return true
			}
		} else {
			lostSince = time.Time{}
		}
		switch {
		case st.Dropped || st.Paused || rt.dropped():
			return true
		case st.Op.Active():
			return false
		case before.Op.Active():
			return true // the operation in progress ended
		case st.LastFailover == before.LastFailover && rt.partnerRefused(start) != "":
			return true // the primary refused the forwarded request
		}
		return st.LastFailover != before.LastFailover
	})
	st = rt.replicaStatus()
	end := s.cfg.Now()
	res := adminapi.FailoverResult{Link: rt.linkStatus(), Duration: end.Sub(start).Seconds(), Epoch: st.Epoch}
	res.NewPrimary = rt.id.partnerName
	if st.Role == sqlink.RolePrimary {
		res.NewPrimary = s.info.Name
	}
	ev := rt.eventsSince(start)
	if t, ok := ev[evWritable]; ok {
		res.FirstWriteAt = t
	} else if t, ok := ev[evDone]; ok && res.NewPrimary != s.info.Name {
		res.FirstWriteAt = t // the new primary took writes before it answered
	}
	if werr == nil && gaveUp && !st.Op.Active() && st.LastFailover == before.LastFailover {
		return res, rt.partnerUnreachable(failoverPartnerWait)
	}
	finished := werr == nil && !st.Paused
	if finished && !st.Dropped && !rt.dropped() && !before.Op.Active() && !st.Op.Active() && st.LastFailover == before.LastFailover {
		// Nothing happened: the primary refused the request forwarded to it.
		return res, sqlink.Errorf(sqlink.ECONFLICT, "check the link's status on both instances (`sqlink link status`)",
			"%s: %s", rt.id.partnerName, rt.partnerRefused(start))
	}
	switch {
	case req.Resume || req.Abort:
		status := "done"
		if !finished {
			status = "paused"
		}
		res.Steps = []adminapi.StepResult{{Name: what, Status: status, Started: start, Duration: res.Duration}}
	default:
		res.Steps = plannedSteps(start, end, ev, st, !req.DropLink, finished)
	}
	if !finished {
		step := string(st.Op.Step)
		if step == "" {
			step = "the request to the partner"
		}
		switch {
		case st.Paused:
			res.Paused = fmt.Sprintf("%s (step %s)", st.PausedReason, st.Op.Step)
		case !st.Op.Active() && st.LastFailover == before.LastFailover && !before.Op.Active():
			if checkPartner && !rt.partnerReachable() {
				return res, rt.partnerUnreachable(failoverPartnerWait)
			}
			msg := fmt.Sprintf("the %s did not start within %s", what, timeout)
			if ps := rt.partnerLastError(); ps != "" {
				msg += ": the partner says: " + ps
			}
			return res, sqlink.Errorf(sqlink.ETIMEOUT, "check the link's status on both instances (`sqlink link status`)", "%s", msg)
		default:
			res.Paused = fmt.Sprintf("not finished after %s at step %s; it goes on in the background", timeout, step)
		}
		return res, nil
	}
	if req.Abort && st.LastFailover.Kind == link.FailoverPlanned {
		return res, sqlink.Errorf(sqlink.ECONFLICT, "nothing to roll back: the failover completed",
			"abort refused: %s became primary at epoch %d before the abort reached it", res.NewPrimary, st.LastFailover.Epoch)
	}
	s.log.Info("failover finished", "link", rt.id.name, "what", what, "new_primary", res.NewPrimary, "epoch", res.Epoch, "seconds", res.Duration)
	return res, nil
}

// failoverPartnerWait is how long a planned failover waits for an
// unreachable partner before it says so.
const failoverPartnerWait = 5 * time.Second

// partnerReachable says whether the link is connected to its partner and
// hears from it.
func (rt *Link) partnerReachable() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.conn != nil && rt.status.Connected
}

// waitPartnerReachable waits up to wait for the partner to be reachable,
// and otherwise returns why a planned failover cannot run.
func (rt *Link) waitPartnerReachable(ctx context.Context, wait time.Duration) error {
	if rt.partnerReachable() {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := rt.waitFor(wctx, rt.partnerReachable); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return rt.partnerUnreachable(wait)
	}
	return nil
}

// partnerUnreachable explains that a planned failover cannot run without
// the partner: on the secondary, a forced failover can, with its estimated
// loss.
func (rt *Link) partnerUnreachable(waited time.Duration) error {
	local := rt.localStatus()
	rt.mu.Lock()
	partner := rt.id.partnerName
	rt.mu.Unlock()
	if local.Role == sqlink.RoleSecondary {
		loss := local.EstimatedDataLoss
		return sqlink.Errorf(sqlink.EUNAVAILABLE,
			fmt.Sprintf("bring %s back and run the planned failover again; or, to take over without it, fail over forced on this secondary: sqlink link failover %s --force --allow-data-loss (estimated loss now: %d transactions, %.1f s of commits)",
				partner, rt.id.name, loss.Transactions, loss.Seconds),
			"planned failover of link %s: the primary %s cannot be reached (not connected for %s); a planned failover needs both instances", rt.id.name, partner, waited)
	}
	return sqlink.Errorf(sqlink.EUNAVAILABLE, fmt.Sprintf("bring %s back and run the planned failover again (this instance stays the primary meanwhile)", partner),
		"planned failover of link %s: the secondary %s cannot be reached (not connected for %s); a planned failover needs both instances", rt.id.name, partner, waited)
}

// plannedSteps lays the events of a planned failover out as steps. The
// replica that coordinates (the old primary) records all of them. The
// other side (the secondary, where the README runs a failover) sees none
// before its promotion: there the time until it is put under step 2,
// stopping writes on the primary, which is where it goes (the drain of the
// transaction in flight, up to FailoverDrainTimeout, 5 s by default), and
// steps 1 and 3 take no time.
func plannedSteps(start, end time.Time, ev map[string]time.Time, st link.Status, keep, finished bool) []adminapi.StepResult {
	at := func(prev time.Time, names ...string) time.Time {
		for _, n := range names {
			if t, ok := ev[n]; ok && !t.Before(prev) {
				return t
			}
		}
		return prev
	}
	b1 := at(start, evDraining)
	b2 := at(b1, evWritesOff)
	b3 := at(b2, evDemoted, evPromoted)
	_, drained := ev[evDraining]
	_, writesOff := ev[evWritesOff]
	if !drained && !writesOff {
		b2 = b3
	}
	b4 := at(b3, evDone, evWritable)
	if finished && b4 == b3 {
		b4 = end
	}
	mode := st.Op.PrevMode
	if mode == "" {
		mode = st.Mode
	}
	last := "keep the link (replicate the other way)"
	if !keep {
		last = "drop the link"
	}
	steps := []adminapi.StepResult{
		{Name: "switch to sync", Started: start, Duration: b1.Sub(start).Seconds()},
		{Name: "stop writes on the primary", Started: b1, Duration: b2.Sub(b1).Seconds()},
		{Name: "wait for the secondary to harden the last LSN", Started: b2, Duration: b3.Sub(b2).Seconds()},
		{Name: "swap roles (epoch+1, old primary first)", Started: b3, Duration: b4.Sub(b3).Seconds()},
		{Name: "restore mode " + string(mode), Started: b4},
		{Name: last, Started: b4, Duration: max(0, end.Sub(b4).Seconds())},
	}
	cur := -1
	if !finished {
		switch st.Op.Step {
		case link.StepDraining:
			cur = 2
			if _, ok := ev[evWritesOff]; !ok {
				cur = 1
			}
		case link.StepDemoted, link.StepAborting:
			cur = 3
		default:
			cur = 0
		}
	}
	for i := range steps {
		switch {
		case cur < 0 || i < cur:
			steps[i].Status = "done"
		case i == cur:
			steps[i].Status = "paused"
		default:
			steps[i].Status = "skipped"
		}
	}
	return steps
}

// partnerRefused returns the partner's refusal of a request this replica
// forwarded at or after t, if it reported one.
func (rt *Link) partnerRefused(t time.Time) string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if ps := rt.partnerStatus; ps != nil && ps.LastError != nil && !ps.LastError.Time.Before(t) &&
		strings.Contains(ps.LastError.Message, "requested by partner refused") {
		return ps.LastError.Message
	}
	return ""
}

// dropped reports whether this half of the link was dropped.
func (rt *Link) dropped() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.dropStarted
}

// partnerLastError returns the partner's last error as it reported it.
func (rt *Link) partnerLastError() string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.partnerStatus != nil && rt.partnerStatus.LastError != nil {
		return rt.partnerStatus.LastError.Message
	}
	return ""
}

func (s *Engine) forcedFailover(ctx context.Context, rt *Link, req adminapi.FailoverRequest, timeout time.Duration) (adminapi.FailoverResult, error) {
	start := s.cfg.Now()
	var est adminapi.DataLoss
	var serr error
	ok := rt.call(func() {
		if rt.r == nil {
			serr = sqlink.Errorf(sqlink.ECONFLICT, "wait until seeding finishes", "link %q has no consistent copy here yet (seeding)", rt.id.name)
			return
		}
		if rt.r.HardState().Role == sqlink.RoleSecondary {
			// Nothing more from the old primary may be hardened once
			// this replica decides where its own epoch begins.
			rt.mu.Lock()
			pc := rt.conn
			rt.mu.Unlock()
			if pc != nil {
				pc.stopHardening()
			}
			rt.syncLocal()
			est = rt.localStatus().EstimatedDataLoss
		}
		if serr = rt.r.Step(link.Message{Type: link.MsgForcedFailover, AllowDataLoss: req.AllowDataLoss}); serr == nil {
			rt.process()
		}
	})
	if !ok {
		return adminapi.FailoverResult{}, sqlink.Errorf(sqlink.EUNAVAILABLE, "", "link %q is stopping", rt.id.name)
	}
	if serr != nil {
		return adminapi.FailoverResult{}, rt.named(serr)
	}
	rt.log.Warn("forced failover: this replica is primary", "estimated_lost_transactions", est.Transactions, "estimated_lost_seconds", est.Seconds)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	werr := rt.waitFor(wctx, func() bool {
		_, ok := rt.eventsSince(start)[evWritable]
		return ok || rt.replicaStatus().Dropped
	})
	st := rt.replicaStatus()
	ev := rt.eventsSince(start)
	res := adminapi.FailoverResult{NewPrimary: s.info.Name, Epoch: st.Epoch, EstimatedLoss: est, Lost: est, FirstWriteAt: ev[evWritable]}
	b1 := ev[evPromoted]
	if b1.IsZero() {
		b1 = start
	}
	b2 := ev[evWritable]
	if b2.IsZero() {
		b2 = s.cfg.Now()
	}
	res.Steps = []adminapi.StepResult{
		{Name: fmt.Sprintf("take epoch %d (persisted)", st.Epoch), Status: "done", Started: start, Duration: b1.Sub(start).Seconds()},
		{Name: "take writes", Status: "done", Started: b1, Duration: b2.Sub(b1).Seconds()},
	}
	if werr != nil {
		res.Steps[1].Status = "running"
		res.Paused = fmt.Sprintf("the database did not take writes within %s", timeout)
	}
	if req.DropLink && werr == nil {
		t := s.cfg.Now()
		err := s.DropLink(ctx, rt.id.name)
		sr := adminapi.StepResult{Name: "drop the link", Status: "done", Started: t, Duration: s.cfg.Now().Sub(t).Seconds()}
		if err != nil {
			sr.Status = "failed"
			sr.Error = &adminapi.LinkError{Code: sqlink.ErrorCode(err), Message: sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err), Time: s.cfg.Now()}
		}
		res.Steps = append(res.Steps, sr)
	}
	res.Link = rt.linkStatus()
	res.Duration = s.cfg.Now().Sub(start).Seconds()
	return res, nil
}

// SetRole ends a split brain: primary (an instance name or ID) keeps its
// writes. On the other side the diverged state is saved before it follows;
// when that side is this instance the result says where.
func (s *Engine) SetRole(ctx context.Context, name string, req adminapi.SetRoleRequest) (adminapi.SetRoleResult, error) {
	rt, err := s.runtime(name)
	if err != nil {
		return adminapi.SetRoleResult{}, err
	}
	var id string
	switch req.Primary {
	case s.info.Name, s.info.ID:
		id = s.info.ID
	case rt.id.partnerName, rt.id.partnerID:
		id = rt.id.partnerID
	default:
		return adminapi.SetRoleResult{}, sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("name %s or %s", s.info.Name, rt.id.partnerName),
			"instance %q is not in link %s", req.Primary, name)
	}
	start := s.cfg.Now()
	sb := rt.replicaStatus().SplitBrain
	m := link.Message{Type: link.MsgSetRole, Primary: id}
	if id == s.info.ID {
		if _, err := s.stepLink(ctx, name, m); err != nil {
			return adminapi.SetRoleResult{}, err
		}
	} else if err := rt.giveUpRole(m); err != nil {
		return adminapi.SetRoleResult{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.FailoverTimeout)
	defer cancel()
	res := adminapi.SetRoleResult{ForkLSN: sb.ForkLSN}
	if id == s.info.ID {
		res.Diverged = int64(sb.PartnerDiverged)
		err := rt.waitFor(wctx, func() bool {
			_, ok := rt.eventsSince(start)[evWritable]
			st := rt.replicaStatus()
			return ok || st.Role == sqlink.RolePrimary && st.Writable && !st.SplitBrain.Active
		})
		if err == nil && sb.PartnerDiverged > 0 {
			// The partner saves what it gave up: report where, as it
			// says (briefly; without it the result says where to look).
			dctx, dcancel := context.WithTimeout(wctx, rewindDecisionWait)
			rt.waitFor(dctx, func() bool {
				rt.mu.Lock()
				defer rt.mu.Unlock()
				if ps := rt.partnerStatus; ps != nil && ps.DivergedSaved != nil && ps.DivergedSaved.ForkLSN == sb.ForkLSN {
					d := ps.DivergedSaved
					res.DivergedFile, res.DivergedList, res.Method = d.File, d.List, d.Method
					return true
				}
				return false
			})
			dcancel()
		}
		res.Link = rt.linkStatus()
		if err != nil {
			return res, sqlink.Errorf(sqlink.ETIMEOUT, "check the link's status", "instance %s did not take writes within %s", s.info.Name, s.cfg.FailoverTimeout)
		}
		return res, nil
	}
	var rw rewindResult
	err = rt.waitFor(wctx, func() bool {
		st := rt.replicaStatus()
		rt.mu.Lock()
		defer rt.mu.Unlock()
		// Once saved, wait (briefly) for the primary to say whether it
		// rewinds the copy or reseeds it.
		if r := rt.lastRewind; r != nil && !r.at.Before(start) && (r.decided || r.err != nil || s.cfg.Now().Sub(r.at) > rewindDecisionWait) {
			rw = *r
			return true
		}
		// It follows the new primary without a rewind: nothing diverged
		// here, or the primary's log no longer reached back to the fork
		// and it told this replica to reseed before the rewind began.
		if r := rt.saved; r != nil && !r.at.Before(start) && st.Role == sqlink.RoleSecondary && !st.SplitBrain.Active && !st.Reverting &&
			st.PartnerRole == sqlink.RolePrimary && st.Epoch == st.PartnerEpoch && st.Epoch > sb.PartnerEpoch {
			rw = *r
			rw.method = "rewind" // nothing to undo
			if !rt.reseedAt.Before(start) {
				rw.method = "reseed"
			}
			return true
		}
		return false
	})
	res.Link = rt.linkStatus()
	if err != nil {
		return res, sqlink.Errorf(sqlink.ETIMEOUT, fmt.Sprintf("check that %s is reachable and the link connected (`sqlink link status %s`); the operation goes on when it is", rt.id.partnerName, name),
			"%s did not take over within %s", rt.id.partnerName, s.cfg.FailoverTimeout)
	}
	if rw.err != nil {
		return res, rw.err
	}
	res.ForkLSN, res.DivergedFile, res.DivergedList, res.Diverged, res.Method = rw.fork, rw.file, rw.list, rw.count, rw.method
	return res, nil
}
