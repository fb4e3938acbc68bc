package link

import (
	"reflect"
	"slices"

	"github.com/sqlink/sqlink"
)

// OpKind is the kind of a multi-step operation in progress.
type OpKind string

// Operation kinds. Only a planned failover spans several steps; a forced
// failover and a set-role take effect at once.
const OpPlanned OpKind = "planned"

// OpStep is where a planned failover stands. The old primary keeps the
// operation in its HardState until it ends.
type OpStep string

// Planned failover steps, in order.
const (
	// StepDraining: the primary stopped writes and switched to sync; it
	// waits until the secondary has hardened its last LSN.
	StepDraining OpStep = "DRAINING"
	// StepDemoted: the old primary persisted its demotion (secondary at the
	// target epoch) and asks the secondary to become primary.
	StepDemoted OpStep = "DEMOTED"
	// StepAborting: the old primary, demoted, asks the secondary to give up
	// the target epoch so it can take writes again.
	StepAborting OpStep = "ABORTING"
)

// Op is a planned failover in progress.
type Op struct {
	Kind     OpKind       `json:"kind,omitempty"`
	Step     OpStep       `json:"step,omitempty"`
	Target   sqlink.Epoch `json:"target,omitempty"`    // the epoch the new primary takes
	KeepLink bool         `json:"keep_link,omitempty"` // else the link is dropped at the end
	PrevMode sqlink.Mode  `json:"prev_mode,omitempty"` // restored at the end
	LastLSN  sqlink.LSN   `json:"last_lsn,omitempty"`  // old primary's last LSN, set at demotion
}

// Active reports whether an operation is in progress.
func (o Op) Active() bool { return o.Kind != "" }

// SplitBrain describes two primaries seen at once.
type SplitBrain struct {
	Active          bool         `json:"active"`
	PartnerEpoch    sqlink.Epoch `json:"partner_epoch"`
	ForkLSN         sqlink.LSN   `json:"fork_lsn"`
	LocalDiverged   uint64       `json:"local_diverged"`   // local transactions after the fork
	PartnerDiverged uint64       `json:"partner_diverged"` // partner's transactions after the fork
	// Designated is the instance the operator chose as primary, set on the
	// side that gave up its role while it waits for the partner to take over.
	Designated string `json:"designated,omitempty"`
}

// Rewind asks storage to save the transactions (To, Through] to a file
// the operator can inspect, then rewind or reseed the database to To, and
// report MsgRewound.
type Rewind struct {
	To      sqlink.LSN `json:"to"`
	Through sqlink.LSN `json:"through"`
}

// FailoverKind is the kind of a replica's last role change.
type FailoverKind string

// Kinds of role change (Failover.Kind).
const (
	FailoverPlanned FailoverKind = "planned"
	FailoverForced  FailoverKind = "forced"
	FailoverSetRole FailoverKind = "set-role"
	FailoverAborted FailoverKind = "aborted"
	FailoverRewound FailoverKind = "rewound"
	// FailoverAutomatic: the secondary took the etcd lease after the
	// primary's expired, and promoted itself (AutoFailover links).
	FailoverAutomatic FailoverKind = "automatic"
)

// Failover records the last role change of this replica.
type Failover struct {
	Kind  FailoverKind `json:"kind,omitempty"`
	Epoch sqlink.Epoch `json:"epoch,omitempty"`
	// LostTransactions and LostTicks are the data-loss estimate at the time
	// of a forced failover; for a rewind, LostTransactions is how many
	// diverged transactions were saved and removed.
	LostTransactions uint64 `json:"lost_transactions,omitempty"`
	LostTicks        uint64 `json:"lost_ticks,omitempty"`
	// Reason says why an automatic failover happened.
	Reason string `json:"reason,omitempty"`
}

// HardState is what a replica must persist (fsync) before it sends the
// messages or applies the rest of the Ready that carried it.
type HardState struct {
	LinkID         string                `json:"link_id"`
	Self           string                `json:"self"`
	Partner        string                `json:"partner"`
	InitialPrimary string                `json:"initial_primary"`
	Role           sqlink.Role           `json:"role"`
	Epoch          sqlink.Epoch          `json:"epoch"`
	History        []sqlink.HistoryEntry `json:"history"`
	Mode           sqlink.Mode           `json:"mode"`
	TwoWay         bool                  `json:"two_way"`
	Hardened       sqlink.LSN            `json:"hardened"`
	Writable       bool                  `json:"writable"`
	Dropped        bool                  `json:"dropped,omitempty"`
	Op             Op                    `json:"op"`
	SplitBrain     SplitBrain            `json:"split_brain"`
	Rewind         *Rewind               `json:"rewind,omitempty"`
	LastFailover   Failover              `json:"last_failover"`
	// AutoFailover: the link's primary holds an etcd lease and the
	// secondary takes over by itself when it expires (see lease.go).
	// MaxDataLoss: in async mode, the most transactions an automatic
	// promotion may lose (0: none). Both zero: the link behaves as
	// without etcd.
	AutoFailover bool   `json:"auto_failover,omitempty"`
	MaxDataLoss  uint64 `json:"max_data_loss,omitempty"`
	// LastAutomatic is the last automatic failover this replica made.
	LastAutomatic Failover `json:"last_automatic,omitzero"`
	// Solo (AutoFailover primary): this epoch was taken through etcd to
	// acknowledge commits without the secondary (async mode, or a sync
	// secondary gone for the session timeout); the secondary may not take
	// over automatically at a solo epoch.
	Solo bool `json:"solo,omitempty"`
	// SyncedEpoch (AutoFailover secondary): the epoch at which this replica
	// holds every transaction its primary acknowledged and the primary
	// waits for it (SYNCHRONIZED at a non-solo epoch): in sync mode it may
	// take over automatically at that epoch without loss.
	SyncedEpoch sqlink.Epoch `json:"synced_epoch,omitempty"`
	// Version increases at every change of role, epoch, writability,
	// operation or split brain; PartnerVersion is the highest version seen
	// from the partner. Messages from an older partner version are stale.
	Version        uint64 `json:"version"`
	PartnerVersion uint64 `json:"partner_version"`
}

// Clone returns a deep copy of h.
func (h HardState) Clone() HardState {
	h.History = slices.Clone(h.History)
	if h.Rewind != nil {
		r := *h.Rewind
		h.Rewind = &r
	}
	return h
}

func (h HardState) equal(o HardState) bool {
	if len(h.History) == 0 && len(o.History) == 0 {
		h.History, o.History = nil, nil
	}
	return reflect.DeepEqual(h, o)
}

// Replication says which log records storage and transport move.
type Replication struct {
	// Send (primary): stream committed records from SendFrom on to the
	// partner, stamped with SendEpoch.
	Send      bool         `json:"send"`
	SendFrom  sqlink.LSN   `json:"send_from"`
	SendEpoch sqlink.Epoch `json:"send_epoch"`
	// Receive (secondary): accept records that follow the local log only
	// from a primary at ReceiveEpoch. When ReceiveEpoch changes or Receive
	// turns off, discard records received but not yet hardened.
	Receive      bool         `json:"receive"`
	ReceiveEpoch sqlink.Epoch `json:"receive_epoch"`
}

// SoftState is the part of a Ready the server applies every time; it is
// always complete, not a delta.
type SoftState struct {
	// Writable: the local database accepts writes. The server makes it
	// read-only or read-write to match.
	Writable bool `json:"writable"`
	// Commit: client transactions with an LSN up to Commit may be
	// acknowledged (primary only; zero otherwise). In sync mode it waits for
	// the partner's hardened LSN while the partner is connected.
	Commit      sqlink.LSN  `json:"commit"`
	Replication Replication `json:"replication"`
	// Dropped: the link is dropped; the database is independent.
	Dropped bool `json:"dropped"`
}

// Loss estimates the data a forced failover would lose now.
type Loss struct {
	Transactions uint64 `json:"transactions"`
	Ticks        uint64 `json:"ticks"`
}

// Status is what monitoring shows for this replica of the link.
type Status struct {
	LinkID    string           `json:"link_id"`
	Self      string           `json:"self"`
	Partner   string           `json:"partner"`
	Role      sqlink.Role      `json:"role"`
	Epoch     sqlink.Epoch     `json:"epoch"`
	Writable  bool             `json:"writable"`
	Mode      sqlink.Mode      `json:"mode"`
	TwoWay    bool             `json:"two_way"`
	Dropped   bool             `json:"dropped"`
	SyncState sqlink.SyncState `json:"sync_state"`
	Connected bool             `json:"connected"`
	Hardened  sqlink.LSN       `json:"hardened"`
	Applied   sqlink.LSN       `json:"applied"`
	Commit    sqlink.LSN       `json:"commit"`

	PartnerRole  sqlink.Role  `json:"partner_role,omitempty"`
	PartnerEpoch sqlink.Epoch `json:"partner_epoch,omitempty"`
	PartnerLSN   sqlink.LSN   `json:"partner_lsn"`

	// Op is the planned failover in progress here or, on the side that does
	// not run it, on the partner.
	Op           Op     `json:"op"`
	Paused       bool   `json:"paused"`
	PausedReason string `json:"paused_reason,omitempty"`

	SplitBrain    SplitBrain `json:"split_brain"`
	Reverting     bool       `json:"reverting"`
	EstimatedLoss Loss       `json:"estimated_loss"`
	LastFailover  Failover   `json:"last_failover"`
	LastError     string     `json:"last_error,omitempty"`

	// AutoFailover is the etcd lease as this replica sees it (zero when
	// the link has no AutoFailover).
	AutoFailover LeaseStatus `json:"auto_failover,omitzero"`
}

// Ready is what the server must do next, in order: persist HardState (if
// not nil), send Messages, apply SoftState and Rewind, announce Status (if
// not nil), then call Advance.
type Ready struct {
	HardState *HardState
	Messages  []Message
	SoftState SoftState
	Rewind    *Rewind
	Status    *Status

	// Lease requests to the etcd runtime (AutoFailover links only), made
	// after HardState is persisted. Claim: take the link's key from epoch
	// From to Target by compare-and-swap, then answer MsgClaimResult.
	// Renew: renew the lease once and answer MsgLeaseHeld (or
	// MsgLeaseLost). Release: revoke this instance's lease (a planned
	// failover demoted it), so the partner can claim at once.
	Claim   *Claim
	Renew   *Renew
	Release *Release
}
