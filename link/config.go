package link

import (
	"github.com/sqlink/sqlink"
)

// Defaults for Config. A tick is whatever period the server picks; the
// values below assume one tick per second, the unit SQL Server uses for an
// availability group's SESSION_TIMEOUT.
const (
	// DefaultHeartbeatTicks sends a status message every tick, so the partner
	// learns of a new LSN or role within one tick even when nothing else is sent.
	DefaultHeartbeatTicks = 1
	// DefaultSessionTimeoutTicks is SQL Server's default session timeout
	// (10 s): after that long without a word from the partner the link is
	// disconnected and sync commits stop waiting for it.
	DefaultSessionTimeoutTicks = 10
	// DefaultFailoverTimeoutTicks bounds each step of a planned failover.
	// A step that makes no progress for this long pauses the operation, which
	// then waits for Resume or Abort, so an operator is never left guessing.
	DefaultFailoverTimeoutTicks = 60

	// Lease timings for AutoFailover links (see lease.go), in ticks of one
	// second. DefaultLeaseTTLTicks is the etcd lease's TTL: the longest a
	// dead primary blocks writes before the secondary may take over; a
	// shorter TTL fails over sooner but fences the primary on shorter etcd
	// or network stalls. Patroni's default loop is 10 s too.
	DefaultLeaseTTLTicks = 10
	// DefaultLeaseMarginTicks is how long before the TTL runs out the
	// primary stops writes: time for the server to apply "writes off" and
	// for any lag between the runtime's clock and the replica's ticks.
	DefaultLeaseMarginTicks = 2
	// DefaultClockDriftTicks bounds how far the primary's clock may run
	// slow against etcd's over one TTL (here 10%, far above real quartz
	// drift, to cover VM pauses of the clock source).
	DefaultClockDriftTicks = 1
)

// Config configures one replica of one link. A zero tick count takes its
// default.
type Config struct {
	// LinkID names the link; messages for another link are refused.
	LinkID string
	// Self and Partner are the instance IDs of this replica and the other.
	Self, Partner string
	// InitialPrimary is the instance that was primary when the link was
	// created. It owns the odd epochs and the other instance the even ones
	// (see doc.go), so both sides must be given the same value.
	InitialPrimary string
	// Mode and TwoWay are the link's options at creation.
	Mode   sqlink.Mode
	TwoWay bool
	// SeedLSN is the LSN both copies hold when the link is created (the
	// secondary was seeded up to it).
	SeedLSN sqlink.LSN

	// State, when not nil, restarts the replica from its last persisted
	// HardState; Mode, TwoWay and SeedLSN are then ignored.
	State *HardState

	// AutoFailover and MaxDataLoss are the link's etcd settings at
	// creation (HardState.AutoFailover, HardState.MaxDataLoss).
	AutoFailover bool
	MaxDataLoss  uint64

	HeartbeatTicks       int
	SessionTimeoutTicks  int
	FailoverTimeoutTicks int

	// Lease timer (AutoFailover links): the etcd lease's TTL, the renewal
	// period (default TTL/3, as etcd's own KeepAlive), the fencing margin
	// and the clock-drift bound. The primary stops writes FenceTicks() =
	// TTL - margin - drift after its last confirmed renewal was requested.
	LeaseTTLTicks    int
	LeaseRenewTicks  int
	LeaseMarginTicks int
	ClockDriftTicks  int
}

// FenceTicks is how long after it requested its last confirmed renewal a
// primary keeps taking writes: TTL - margin - drift. etcd keeps the lease
// at least TTL after it received that request, which came after it was
// made, and the primary's clock runs at most ClockDriftTicks per TTL slow,
// so the primary has stopped before etcd can expire the lease and the
// secondary claim it.
func (c Config) FenceTicks() int {
	c.setDefaults()
	return c.LeaseTTLTicks - c.LeaseMarginTicks - c.ClockDriftTicks
}

// FailsafeHoldTicks is how long a secondary that told its primary "etcd is
// unreachable, I hold your commits" refrains from claiming the lease: a
// TTL plus the drift bound, longer than any failsafe extension the primary
// may take from that message (FenceTicks from the primary's own message it
// echoes), whatever the network delay.
func (c Config) FailsafeHoldTicks() int {
	c.setDefaults()
	return c.LeaseTTLTicks + c.ClockDriftTicks
}

// Validate reports whether c can start a replica.
func (c Config) Validate() error {
	if c.LinkID == "" {
		return sqlink.Errorf(sqlink.EINVALID, "give the link a name", "link: empty link ID")
	}
	if c.Self == "" || c.Partner == "" || c.Self == c.Partner {
		return sqlink.Errorf(sqlink.EINVALID, "give two different instance IDs", "link: bad instance IDs %q and %q", c.Self, c.Partner)
	}
	if c.InitialPrimary != c.Self && c.InitialPrimary != c.Partner {
		return sqlink.Errorf(sqlink.EINVALID, "name one of the two instances as the initial primary", "link: initial primary %q is neither %q nor %q", c.InitialPrimary, c.Self, c.Partner)
	}
	if c.State == nil && c.Mode != sqlink.ModeAsync && c.Mode != sqlink.ModeSync {
		return sqlink.Errorf(sqlink.EINVALID, "use async or sync", "link: unknown mode %q", c.Mode)
	}
	if c.State != nil && (c.State.LinkID != c.LinkID || c.State.Self != c.Self || c.State.Partner != c.Partner) {
		return sqlink.Errorf(sqlink.EINVALID, "restart with the state persisted for this link", "link: persisted state is for link %q %s->%s", c.State.LinkID, c.State.Self, c.State.Partner)
	}
	if c.HeartbeatTicks < 0 || c.SessionTimeoutTicks < 0 || c.FailoverTimeoutTicks < 0 ||
		c.LeaseTTLTicks < 0 || c.LeaseRenewTicks < 0 || c.LeaseMarginTicks < 0 || c.ClockDriftTicks < 0 {
		return sqlink.Errorf(sqlink.EINVALID, "use positive tick counts", "link: negative tick count")
	}
	auto := c.AutoFailover || (c.State != nil && c.State.AutoFailover)
	if auto && (c.FenceTicks() < 1 || c.renewTicks() >= c.FenceTicks()) {
		return sqlink.Errorf(sqlink.EINVALID, "use a lease TTL longer than the renewal period plus the fencing margin and the drift bound",
			"link: lease TTL %d ticks leaves no time to renew before fencing", c.LeaseTTLTicks)
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = DefaultHeartbeatTicks
	}
	if c.SessionTimeoutTicks == 0 {
		c.SessionTimeoutTicks = DefaultSessionTimeoutTicks
	}
	if c.FailoverTimeoutTicks == 0 {
		c.FailoverTimeoutTicks = DefaultFailoverTimeoutTicks
	}
	if c.LeaseTTLTicks == 0 {
		c.LeaseTTLTicks = DefaultLeaseTTLTicks
	}
	if c.LeaseMarginTicks == 0 {
		c.LeaseMarginTicks = DefaultLeaseMarginTicks
	}
	if c.ClockDriftTicks == 0 {
		c.ClockDriftTicks = DefaultClockDriftTicks
	}
	if c.LeaseRenewTicks == 0 {
		c.LeaseRenewTicks = max(1, c.LeaseTTLTicks/3)
	}
}

func (c Config) renewTicks() int {
	c.setDefaults()
	return c.LeaseRenewTicks
}
