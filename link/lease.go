package link

import (
	"github.com/sqlink/sqlink"
)

// Claim asks the etcd runtime to take the link's key by compare-and-swap:
// if the key's epoch is From and no live lease holds it (or, when From ==
// Target, the key names this instance at Target), put {holder: self,
// epoch: Target} with a new lease of the link's TTL, granted after the
// Claim was made; then answer MsgClaimResult{Target, Granted}. From ==
// Target re-takes the replica's own epoch (a primary after a restart or
// after its lease lapsed).
type Claim struct {
	From   sqlink.Epoch `json:"from"`
	Target sqlink.Epoch `json:"target"`
	// Kind and Reason say why, for the audit log: FailoverAutomatic,
	// FailoverPlanned, FailoverForced, FailoverSetRole, or "" for a
	// primary re-taking its own epoch.
	Kind   FailoverKind `json:"kind,omitempty"`
	Reason string       `json:"reason,omitempty"`
}

// Renew asks the etcd runtime to renew the lease once (KeepAliveOnce) and
// check that the key still names this instance at Epoch; answer
// MsgLeaseHeld{Epoch, Renewal: Seq}, or MsgLeaseLost when etcd says the
// lease or the key is gone or changed. Seq is opaque.
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
	// Failsafe (primary): etcd is unreachable from both instances and the
	// primary keeps writes because its secondary holds every commit.
	Failsafe bool `json:"failsafe,omitempty"`
	// Claiming: a claim is in flight.
	Claiming bool `json:"claiming,omitempty"`
	// Waiting says why this secondary does not take over, or why the
	// primary does not take writes.
	Waiting       string   `json:"waiting,omitempty"`
	LastAutomatic Failover `json:"last_automatic,omitzero"`
}

func (r *Replica) stepLease(m Message) error {
	if !r.hs.AutoFailover {
		return nil // a link without AutoFailover has nothing to do with etcd
	}
	return nil
}

func (r *Replica) leaseStatus() LeaseStatus {
	return LeaseStatus{Enabled: true, LastAutomatic: r.hs.LastAutomatic}
}
