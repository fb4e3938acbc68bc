package replication

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/link"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// Link states (adminapi.LinkStatus.State).
const (
	linkSeeding        = "SEEDING"
	linkSynchronizing  = "SYNCHRONIZING"
	linkSynchronized   = "SYNCHRONIZED"
	linkDisconnected   = "DISCONNECTED"
	linkReseedRequired = "RESEED_REQUIRED"
	linkSplitBrain     = "SPLIT_BRAIN"
	linkFailover       = "FAILOVER_IN_PROGRESS"
	linkDropped        = "DROPPED"
)

// stateLocked summarises the link (mu held).
func (rt *Link) stateLocked() string {
	return linkState(linkFacts{
		status: rt.status, dropping: rt.dropping, reseedRequired: rt.data.ReseedRequired, phase: rt.data.Phase,
		diverged: divergedSecondary(rt.db) != nil, seedSending: rt.seed.active, connected: rt.conn != nil,
		partnerRestoring: rt.partnerStatus != nil && rt.partnerStatus.DatabaseState == sqlink.DatabaseRestoring,
	})
}

// linkFacts is what the link's state is decided from: a value gathered
// under Link.mu (stateLocked) for the pure linkState.
type linkFacts struct {
	status           link.Status // the state machine's
	dropping         bool        // a drop began here
	reseedRequired   bool
	phase            phase
	diverged         bool // a secondary whose copy changed outside sqlink
	seedSending      bool // primary: a seed sender is running
	connected        bool
	partnerRestoring bool // the partner says its database is RESTORING
}

// linkState summarises a link (adminapi.LinkStatus.State).
func linkState(f linkFacts) string {
	st := f.status
	switch {
	case f.dropping || st.Dropped:
		return linkDropped
	case st.SplitBrain.Active:
		// Before RESEED_REQUIRED: two primaries is what the operator
		// must act on first (a primary whose log passed the cap while
		// its partner was away may come back to find one).
		return linkSplitBrain
	case f.reseedRequired:
		return linkReseedRequired
	case f.phase == phaseOnline && f.diverged:
		// Changed outside sqlink: it needs a new copy (which the link
		// starts at once when it reaches the primary).
		return linkReseedRequired
	case f.phase != phaseOnline, f.seedSending:
		return linkSeeding
	case st.Op.Active():
		return linkFailover
	case !f.connected || !st.Connected:
		// Also with the connection open but the partner silent past the
		// session timeout (a frozen or cut-off host): commits no longer
		// wait for it.
		return linkDisconnected
	case f.partnerRestoring:
		return linkSeeding
	case st.SyncState == sqlink.Synchronized:
		return linkSynchronized
	}
	return linkSynchronizing
}

// Synchronization health (adminapi.ReplicaStatus.Health), SQL Server's.
const (
	healthHealthy = "HEALTHY"
	healthPartial = "PARTIALLY_HEALTHY"
	healthNot     = "NOT_HEALTHY"
)

// health is SQL Server's synchronization_health for a sync state and mode.
func health(s sqlink.SyncState, mode sqlink.Mode) string {
	switch {
	case s == sqlink.Synchronized:
		return healthHealthy
	case s == sqlink.Synchronizing && mode == sqlink.ModeAsync:
		return healthHealthy
	case s == sqlink.Synchronizing:
		return healthPartial
	}
	return healthNot
}

// localStatus describes this instance's replica of the link.
//
// Lag is defined as now minus the primary commit time of the oldest
// transaction the secondary has not redone yet (0 when it has redone
// everything the primary committed as far as it knows). When the secondary
// has not received that transaction yet, the primary's last commit time
// stands in for it, which understates the lag.
func (rt *Link) localStatus() adminapi.ReplicaStatus {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	now := rt.s.cfg.Now()
	st := rt.status
	role := rt.rec.Role
	if st.Role != "" {
		role = st.Role
	}
	mode := rt.rec.Mode
	if st.Mode != "" {
		mode = st.Mode
	}
	rs := adminapi.ReplicaStatus{
		Instance: rt.s.info.Name, InstanceID: rt.s.info.ID, Endpoint: rt.s.host.EndpointAddr(),
		Role: role, Connected: rt.conn != nil && (rt.r == nil || st.Connected), Epoch: rt.rec.Epoch,
		PartnerCertExpiry: rt.partnerCertExpiry, LastError: rt.lastErr,
	}
	if rt.data.ReseedRequired {
		rs.LastError = rt.reseedErr
		if rs.LastError == nil {
			rs.LastError = &adminapi.LinkError{Code: sqlink.ECONFLICT, Message: fmt.Sprintf("link %s is RESEED_REQUIRED: the log kept for the secondary passed its cap and was released", rt.id.name),
				Hint: "the secondary reseeds by itself when it reconnects", Time: rt.rec.UpdatedAt}
		}
	}
	if st.Epoch != 0 {
		rs.Epoch = st.Epoch
	}
	rs.SyncState = syncStateOf(st, rt.data.Phase == phaseSeeding, rt.conn != nil, rt.rewindReq != nil)
	rs.Health = health(rs.SyncState, mode)
	rs.DatabaseState = sqlink.DatabaseOnline
	if rt.data.Phase != phaseOnline {
		rs.DatabaseState = sqlink.DatabaseRestoring
	}
	db := rt.db
	if db != nil {
		ds := db.Stats()
		rs.ReadOnly = ds.ReadOnly
		rs.LogBytes = ds.LogBytes
		if err := db.CaptureStopped(); err != nil && role == sqlink.RolePrimary {
			// No new commit reaches the log, so none reaches the secondary.
			rs.Health = healthNot
			rs.LastError = &adminapi.LinkError{Code: sqlink.ErrorCode(err), Message: sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err), Time: ds.LastCommit}
		}
		if role == sqlink.RolePrimary {
			var partner sqlink.LSN
			if st.PartnerRole == sqlink.RoleSecondary {
				partner = st.PartnerLSN
			}
			rs.LogCapBytes = rt.s.cfg.LinkLogCapBytes
			rt.lag.primaryFigures(&rs, ds, partner, rt.data.EverConnected, now)
		} else {
			rt.lag.secondaryFigures(&rs, ds, now)
			if ds.ReadOnly && rt.data.Phase == phaseOnline {
				divergedStatus(&rs, ds.Diverged)
			}
		}
	}
	saved := rt.lastRewind
	if saved == nil || saved.file == "" {
		saved = rt.saved
	}
	if saved != nil && saved.file != "" {
		rs.DivergedSaved = &adminapi.DivergedSave{ForkLSN: saved.fork, Transactions: saved.count, File: saved.file, List: saved.list, Method: saved.method}
	}
	rs.Seeding = rt.seed.status(rt.data.SeedAttempts, rt.data.SeedFromBackup, now)
	return rs
}

// syncStateOf is a replica's synchronization state: the state machine's,
// but INITIALIZING while it seeds or between roles, NOT_SYNCHRONIZING
// while disconnected, REVERTING while it undoes what followed a split
// brain's fork (rewinding: it asked for a rewind).
func syncStateOf(st link.Status, seeding, connected, rewinding bool) sqlink.SyncState {
	s := st.SyncState
	if s == "" || seeding {
		s = sqlink.Initializing
	}
	if !connected && s != sqlink.Initializing {
		s = sqlink.NotSynchronizing
	}
	switch {
	case rewinding || st.Reverting:
		// Undoing the transactions after a split brain's fork.
		s = sqlink.Reverting
	case st.Role == sqlink.RoleResolving:
		// Between roles in a planned failover.
		s = sqlink.Initializing
	}
	return s
}

// divergedStatus says in rs that a secondary's copy changed outside
// sqlink (d, if not nil): at once, not at the next record it cannot
// apply, since the copy follows the primary no more.
func divergedStatus(rs *adminapi.ReplicaStatus, d *storage.LogGap) {
	if d == nil {
		return
	}
	rs.SyncState, rs.Health = sqlink.NotSynchronizing, healthNot
	if rs.LastError == nil || !strings.Contains(rs.LastError.Message, "no longer matches its log") {
		rs.LastError = &adminapi.LinkError{Code: sqlink.ECONFLICT, Time: d.Time,
			Message: fmt.Sprintf("the secondary's copy no longer matches its log (%s): it applies nothing more and is reseeded", d.Why),
			Hint:    "the link saves the copy under diverged/ in the data directory and reseeds it; stop any other program that writes to the secondary's files"}
	}
}

// status is what the link's status shows of a seed (nil if none).
func (sp *seedProgress) status(attempts int, fromBackup bool, now time.Time) *adminapi.SeedingStatus {
	if sp.state == "" {
		return nil
	}
	sd := &adminapi.SeedingStatus{State: string(sp.state), BytesDone: sp.done, BytesTotal: sp.total,
		RateBytes: sp.rate.value, SeedLSN: sp.seedLSN, Attempts: attempts, FromBackup: fromBackup, BytesSent: sp.sent}
	if sp.state == seedSeeding {
		if el := now.Sub(sp.started).Seconds(); el > 0 && sd.RateBytes == 0 {
			sd.RateBytes = float64(sp.done-sp.startBytes) / el
		}
		sd.EstimatedEnd = seedETA(sd.BytesDone, sd.BytesTotal, sd.RateBytes, now)
	}
	return sd
}

// onAck notes a secondary's hardened and redone positions, and how long
// after their commit the newest records got there.
func (rt *Link) onAck(m *transport.Ack) {
	now := rt.s.cfg.Now()
	rt.mu.Lock()
	hl, rl := rt.lag.acked(m, now)
	name, db := rt.id.name, rt.id.database
	rt.mu.Unlock()
	if obs := rt.s.cfg.ObserveLag; obs != nil {
		if hl >= 0 {
			obs(name, db, "hardened", hl.Seconds())
		}
		if rl >= 0 {
			obs(name, db, "redone", rl.Seconds())
		}
	}
	rt.wake()
}

// linkStatus describes the link as seen from this instance.
func (rt *Link) linkStatus() adminapi.LinkStatus {
	local := rt.localStatus()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	st := rt.status
	ls := adminapi.LinkStatus{
		Name: rt.id.name, LinkID: rt.id.linkID, Database: rt.id.database,
		Mode: rt.rec.Mode, TwoWay: rt.rec.TwoWay, Epoch: local.Epoch,
		State: rt.stateLocked(), Local: local, History: slices.Clone(rt.history),
	}
	if st.Mode != "" {
		ls.Mode = st.Mode
	}
	if rt.partnerStatus != nil {
		ls.Partner = replicaStatusOf(*rt.partnerStatus)
	} else if st.PartnerRole != "" {
		ls.Partner.Role = st.PartnerRole
	}
	ls.Partner.Instance, ls.Partner.InstanceID = rt.id.partnerName, rt.id.partnerID
	ls.Partner.Endpoint = rt.id.partnerURL
	ls.Partner.Connected = local.Connected
	if st.Op.Active() {
		ls.Failover = &adminapi.FailoverStatus{Type: string(st.Op.Kind), Step: string(st.Op.Step), Paused: st.PausedReason}
	}
	if sb := st.SplitBrain; sb.Active {
		ls.SplitBrain = &adminapi.SplitBrainStatus{ForkLSN: sb.ForkLSN, DivergedLocal: int64(sb.LocalDiverged), DivergedPartner: int64(sb.PartnerDiverged)}
	}
	ls.AutoFailover = rt.autoFailoverStatusLocked()
	return ls
}

// tickAck acknowledges a secondary's position when it changed since the
// last tick's acknowledgment on this connection (loop). Records applied
// acknowledge themselves; this tells a new primary (after seeding, a
// failover or a reconnect) that the copy is caught up when no record
// flows, so its lag shows zero rather than growing until the next write.
func (rt *Link) tickAck(pc *peerConn, db *storage.DB, now time.Time) {
	rt.mu.Lock()
	on := rt.recvOn && rt.data.Phase == phaseOnline
	rt.mu.Unlock()
	if !on {
		return
	}
	hard, hardAt := db.Hardened()
	red := db.Redone().LSN
	pos := [2]sqlink.LSN{hard.LSN, red}
	if pos == pc.tickAcked {
		return
	}
	pc.tickAcked = pos
	var ago time.Duration
	if !hardAt.IsZero() {
		ago = max(0, now.Sub(hardAt))
	}
	pc.send(&transport.Ack{Epoch: db.Epoch(), Hardened: hard.LSN, Redone: red, Time: now, HardenedAgo: ago})
}
