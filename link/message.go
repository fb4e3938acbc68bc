package link

import (
	"fmt"
	"strings"

	"github.com/sqlink/sqlink"
)

// MsgType says what a Message is. Local types come from the server on the
// same instance (storage acknowledgements, operator commands, ticks); peer
// types travel between the two replicas of a link, as their numbers: never
// renumber them (transport's golden files pin them).
type MsgType int

// Local events.
const (
	// MsgTick advances the replica's clock by one tick.
	MsgTick MsgType = iota + 1
	// MsgCommitted: the primary committed (and hardened) the transaction at LSN.
	MsgCommitted
	// MsgHardened: the secondary hardened received log records up to LSN;
	// after a restart, any replica reports its log's end with it.
	MsgHardened
	// MsgApplied: the secondary redid records up to LSN (readers see them).
	MsgApplied
	// MsgRewound: storage saved the diverged transactions a Ready.Rewind asked
	// for and rewound (or reseeded) the database to LSN.
	MsgRewound
	// MsgPlannedFailover starts a planned failover (KeepLink).
	MsgPlannedFailover
	// MsgForcedFailover forces this secondary to become primary
	// (AllowDataLoss must be set).
	MsgForcedFailover
	// MsgSetRole designates Primary as the primary to end a split brain.
	MsgSetRole
	// MsgResume resumes a paused planned failover.
	MsgResume
	// MsgAbort rolls back a planned failover.
	MsgAbort
	// MsgSetMode changes the link's availability mode (Mode).
	MsgSetMode

	// Lease events from the etcd runtime, for links with AutoFailover
	// (see lease.go and doc.go). Appended: never renumber the ones above.

	// MsgLeaseHeld: the runtime holds this link's etcd lease and etcd's key
	// names this instance at Epoch. Renewal echoes the Seq of the
	// Ready.Renew it answers (the lease timer counts from when that request
	// was made); zero when it answers no request (information only).
	MsgLeaseHeld
	// MsgLeaseLost: etcd answered that the lease is gone (expired, revoked)
	// or that the key names another holder (Primary, "" if the key is
	// absent) or another epoch (Target: etcd's epoch now). Epoch and
	// Renewal echo the Ready.Renew it answers. The primary stops writes at once; at a newer epoch it
	// becomes secondary and follows, without a split brain. A runtime that
	// merely cannot reach etcd sends MsgEtcdHealth instead.
	MsgLeaseLost
	// MsgLeaseExpired: etcd's key for the link has no live lease (expired
	// or deleted); Epoch is the link's epoch in etcd and Primary the holder
	// of the lease that expired, if known.
	MsgLeaseExpired
	// MsgClaimResult answers a Ready.Claim: Target is the claim's target,
	// Renewal its Seq, and Granted whether the compare-and-swap succeeded. When it did not,
	// Epoch and Primary say what etcd's key holds now (0 and "" if absent).
	MsgClaimResult
	// MsgEtcdHealth: whether this instance reaches an etcd quorum (Healthy).
	MsgEtcdHealth
	// MsgLeaseObserved: etcd's key names Primary at Epoch with a live lease
	// (a watch event). A replica learns who holds the link, and an old
	// primary learns that a newer epoch exists.
	MsgLeaseObserved
	// MsgPartnerGone: the runtime has the kernel's word that the partner's
	// process is not running: the link's connection ended, and then a new
	// TCP connection to the partner's endpoint was refused (nothing
	// listens there). A SYNCHRONIZED secondary of a sync link may then
	// claim the next epoch over the partner's live lease (Claim.Takeover)
	// instead of waiting for it to expire. Any message from the partner
	// cancels it.
	MsgPartnerGone
)

// Peer messages. Every peer message also carries its sender's status
// (role, epoch, version, history, LSN...), so any of them serves as a
// heartbeat.
const (
	// MsgHeartbeat carries the sender's status only. A secondary sends one
	// whenever it hardens more log: it is the acknowledgement.
	MsgHeartbeat MsgType = iota + 100
	// MsgFailoverRequest asks the primary to run a planned failover
	// (KeepLink); the operator started it on the secondary.
	MsgFailoverRequest
	// MsgPromote tells the secondary that the primary has persisted its
	// demotion to Target with its last LSN in LSN: become primary at Target.
	MsgPromote
	// MsgPromoted answers MsgPromote: the sender is primary at Epoch.
	MsgPromoted
	// MsgAbortPromotion asks the secondary never to become primary at Target.
	MsgAbortPromotion
	// MsgAborted answers MsgAbortPromotion: the sender is fenced at Epoch
	// and will not take Target.
	MsgAborted
	// MsgResumeRequest, MsgAbortRequest and MsgSetModeRequest forward an
	// operator's command from the secondary to the primary.
	MsgResumeRequest
	MsgAbortRequest
	MsgSetModeRequest
	// MsgSetRoleRequest asks the receiver, which the operator designated as
	// primary to end a split brain, to take over. Target is the receiver's
	// epoch as the sender knows it, so a stale request is ignored.
	MsgSetRoleRequest
)

var msgNames = map[MsgType]string{
	MsgTick: "Tick", MsgCommitted: "Committed", MsgHardened: "Hardened",
	MsgApplied: "Applied", MsgRewound: "Rewound",
	MsgPlannedFailover: "PlannedFailover", MsgForcedFailover: "ForcedFailover",
	MsgSetRole: "SetRole", MsgResume: "Resume", MsgAbort: "Abort", MsgSetMode: "SetMode",
	MsgLeaseHeld: "LeaseHeld", MsgLeaseLost: "LeaseLost", MsgLeaseExpired: "LeaseExpired",
	MsgClaimResult: "ClaimResult", MsgEtcdHealth: "EtcdHealth", MsgLeaseObserved: "LeaseObserved",
	MsgPartnerGone: "PartnerGone", MsgHeartbeat: "Heartbeat", MsgFailoverRequest: "FailoverRequest",
	MsgPromote: "Promote", MsgPromoted: "Promoted",
	MsgAbortPromotion: "AbortPromotion", MsgAborted: "Aborted",
	MsgResumeRequest: "ResumeRequest", MsgAbortRequest: "AbortRequest",
	MsgSetModeRequest: "SetModeRequest", MsgSetRoleRequest: "SetRoleRequest",
}

func (t MsgType) String() string {
	if s, ok := msgNames[t]; ok {
		return s
	}
	return fmt.Sprintf("MsgType(%d)", int(t))
}

// IsLocal reports whether t is an event from the local server rather than
// a message from the partner.
func (t MsgType) IsLocal() bool { return t < MsgHeartbeat }

// Message is an event stepped into a Replica or a message between the two
// replicas of a link, as raftpb.Message is for raft. Fields unused by a
// type are zero.
//
// Peer messages travel as JSON (transport.CmdLink). The JSON names below
// and the numbers of MsgType are the link protocol: never change them
// (golden files in transport/testdata pin them); add fields instead.
type Message struct {
	Type   MsgType `json:"type"`
	LinkID string  `json:"link_id,omitempty"`
	From   string  `json:"from,omitempty"`
	To     string  `json:"to,omitempty"`

	// The sender's status, in every peer message.
	Role      sqlink.Role           `json:"role,omitempty"`
	Epoch     sqlink.Epoch          `json:"epoch,omitempty"`
	Version   uint64                `json:"version,omitempty"` // increases at every change of the sender's role state
	History   []sqlink.HistoryEntry `json:"history,omitempty"`
	Writable  bool                  `json:"writable,omitempty"`
	Mode      sqlink.Mode           `json:"mode,omitempty"`
	Dropped   bool                  `json:"dropped,omitempty"`
	Reverting bool                  `json:"reverting,omitempty"`
	Op        Op                    `json:"op,omitzero"` // the sender's failover in progress, if any

	// LSN is the event's LSN for local events and the sender's last
	// hardened (for a primary: committed) LSN in peer messages.
	LSN sqlink.LSN `json:"lsn,omitempty"`

	// Arguments.
	Target        sqlink.Epoch `json:"target,omitempty"`
	KeepLink      bool         `json:"keep_link,omitempty"`
	AllowDataLoss bool         `json:"allow_data_loss,omitempty"`
	Primary       string       `json:"primary,omitempty"`
	NewMode       sqlink.Mode  `json:"new_mode,omitempty"`

	// Lease events (local).
	// Renewal: in MsgLeaseHeld and MsgLeaseLost the Renew.Seq, in
	// MsgClaimResult the Claim.Seq, of the request answered.
	Renewal uint64 `json:"renewal,omitempty"`
	Granted bool   `json:"granted,omitempty"` // MsgClaimResult
	Healthy bool   `json:"healthy,omitempty"` // MsgEtcdHealth

	// Failsafe, in peer messages of AutoFailover links only (zero, so
	// absent, otherwise). Clock is the sender's tick count plus one. Echo,
	// set by a secondary that cannot reach etcd, is the Clock of the
	// latest message it heard from its primary: "etcd is unreachable from
	// here, I hold your commits up to LSN, and I will not claim the lease
	// for FailsafeHoldTicks".
	Clock uint64 `json:"clock,omitempty"`
	Echo  uint64 `json:"echo,omitempty"`
	// Commit and Solo (AutoFailover primaries): the sender's acknowledged
	// LSN and whether its epoch is solo (HardState.Solo).
	Commit sqlink.LSN `json:"commit,omitempty"`
	Solo   bool       `json:"solo,omitempty"`
}

// String returns a compact one-line form, stable for tests.
func (m Message) String() string {
	var b strings.Builder
	if m.Type.IsLocal() {
		fmt.Fprintf(&b, "%s", m.Type)
	} else {
		fmt.Fprintf(&b, "%s->%s %s %s e%d v%d lsn=%d", m.From, m.To, m.Type, m.Role, m.Epoch, m.Version, m.LSN)
		if !m.Writable && m.Role == sqlink.RolePrimary {
			b.WriteString(" ro")
		}
		if m.Dropped {
			b.WriteString(" dropped")
		}
		if m.Reverting {
			b.WriteString(" reverting")
		}
		if m.Op.Kind != "" {
			fmt.Fprintf(&b, " op=%s", m.Op.Step)
		}
	}
	if m.Target != 0 {
		fmt.Fprintf(&b, " target=%d", m.Target)
	}
	if m.Type == MsgFailoverRequest || m.Type == MsgPlannedFailover || m.Type == MsgPromote {
		fmt.Fprintf(&b, " keep=%t", m.KeepLink)
	}
	if m.Primary != "" {
		fmt.Fprintf(&b, " primary=%s", m.Primary)
	}
	if m.NewMode != "" {
		fmt.Fprintf(&b, " mode=%s", m.NewMode)
	}
	if m.Type == MsgClaimResult {
		fmt.Fprintf(&b, " granted=%t", m.Granted)
	}
	if m.Type == MsgEtcdHealth {
		fmt.Fprintf(&b, " healthy=%t", m.Healthy)
	}
	if m.Type.IsLocal() && m.Epoch != 0 {
		fmt.Fprintf(&b, " epoch=%d", m.Epoch)
	}
	if m.Echo != 0 {
		b.WriteString(" failsafe")
	}
	if m.Type.IsLocal() && m.LSN != 0 {
		fmt.Fprintf(&b, " lsn=%d", m.LSN)
	}
	return b.String()
}
