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

	HeartbeatTicks       int
	SessionTimeoutTicks  int
	FailoverTimeoutTicks int
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
	if c.HeartbeatTicks < 0 || c.SessionTimeoutTicks < 0 || c.FailoverTimeoutTicks < 0 {
		return sqlink.Errorf(sqlink.EINVALID, "use positive tick counts", "link: negative tick count")
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
}
