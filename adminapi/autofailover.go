package adminapi

import "github.com/sqlink/sqlink"

// AutoFailoverStatus is a link's automatic failover through etcd as this
// instance sees it (LinkStatus.AutoFailover; absent on links created
// without --auto-failover).
type AutoFailoverStatus struct {
	// Holder is the instance whose lease holds the link in etcd, at Epoch
	// ("" when no live lease holds it); Held says it is this instance.
	Holder string       `json:"holder,omitempty"`
	Epoch  sqlink.Epoch `json:"epoch,omitempty"`
	Held   bool         `json:"held"`
	// ExpiresInSeconds: time until the holder's lease expires in etcd
	// unless renewed (0 when none holds it).
	ExpiresInSeconds float64 `json:"expires_in_seconds"`
	// FenceInSeconds (primary): time until it stops writes unless a
	// renewal is confirmed first.
	FenceInSeconds float64 `json:"fence_in_seconds,omitempty"`
	EtcdHealthy    bool    `json:"etcd_healthy"`
	EtcdError      string  `json:"etcd_error,omitempty"`
	// Failsafe (primary): etcd is unreachable from both instances and the
	// primary keeps writes because its secondary holds every commit.
	Failsafe bool `json:"failsafe,omitempty"`
	// Solo (primary): it acknowledges commits without its secondary, at
	// an epoch it took through etcd for that; the secondary cannot take
	// over without a loss until the primary rejoins a shared epoch.
	Solo bool `json:"solo,omitempty"`
	// Claiming: this instance asked etcd for the link and waits for the
	// answer.
	Claiming bool `json:"claiming,omitempty"`
	// Waiting says why the secondary does not take over, or why the
	// primary takes no writes.
	Waiting string `json:"waiting,omitempty"`

	LeaseTTLSeconds float64 `json:"lease_ttl_seconds"`
	MaxDataLoss     uint64  `json:"max_data_loss,omitempty"`
	// LastAutomatic is the last automatic failover of this replica.
	LastAutomatic *AutomaticFailover `json:"last_automatic,omitempty"`
	// AutomaticFailovers counts this replica's automatic promotions since
	// its instance started.
	AutomaticFailovers int64 `json:"automatic_failovers"`
}

// AutomaticFailover is one automatic promotion.
type AutomaticFailover struct {
	Epoch            sqlink.Epoch `json:"epoch"`
	Reason           string       `json:"reason,omitempty"`
	LostTransactions uint64       `json:"lost_transactions,omitempty"`
}
