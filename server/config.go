package server

import (
	"log/slog"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/etcdlease"
	"github.com/sqlink/sqlink/storage"
)

// Default listener addresses. They bind to loopback so that a fresh instance
// is not reachable from the network until the operator says so. The client
// port is PostgreSQL's own (5432) so psql finds it without -p; the endpoint
// port is the reference system's database mirroring port (5022).
const (
	DefaultClientAddr   = "127.0.0.1:5432"
	DefaultAdminAddr    = "127.0.0.1:7080"
	DefaultEndpointAddr = "127.0.0.1:5022"
)

// DefaultAdminIdleTimeout closes idle admin API keep-alive connections.
const DefaultAdminIdleTimeout = 2 * time.Minute

// DefaultShutdownTimeout bounds how long SIGTERM waits for sessions to end;
// open transactions are rolled back when it passes.
const DefaultShutdownTimeout = 10 * time.Second

// DefaultCertValidity is the endpoint certificate's lifetime: long enough not
// to surprise an operator, short enough that rotation is a practised path.
const DefaultCertValidity = 365 * 24 * time.Hour

// Config configures a Server. Zero values take the defaults above.
type Config struct {
	DataDir      string
	ClientAddr   string
	AdminAddr    string
	EndpointAddr string

	// Synchronous is the SQLite synchronous level of every database: FULL
	// (default; a commit is on disk when acknowledged) or NORMAL.
	Synchronous string

	// MaxConns caps client connections, sessions and connections still
	// authenticating together (default 100).
	MaxConns int
	// AuthenticationTimeout bounds a client connection's time from accept
	// to the end of authentication (default pgwire.DefaultStartupTimeout).
	AuthenticationTimeout time.Duration

	// AdminReadTimeout bounds reading an admin API request: its headers
	// and its JSON body (a restore upload: each read). Default
	// adminapi.DefaultReadTimeout.
	AdminReadTimeout time.Duration
	// AdminIdleTimeout closes an admin API keep-alive connection idle for
	// longer (default DefaultAdminIdleTimeout).
	AdminIdleTimeout time.Duration
	// MetricsAuth makes /metrics require a token with instance/read.
	MetricsAuth bool

	// StatementTimeout, LockTimeout and IdleInTxTimeout are every SQL
	// session's initial statement_timeout, lock_timeout and
	// idle_in_transaction_session_timeout (a session may SET its own).
	// Zero takes the default, negative turns the timeout off.
	StatementTimeout time.Duration
	LockTimeout      time.Duration
	IdleInTxTimeout  time.Duration

	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	Now             func() time.Time

	// Etcd, if set, is the etcd cluster that links with automatic failover
	// keep their leases in (serve --etcd-endpoints); the caller closes it
	// after the server.
	Etcd *etcdlease.Client

	// LinkTick is the clock period of every link's state machine: one
	// heartbeat per tick (default DefaultLinkTick).
	LinkTick time.Duration
	// LinkSessionTimeout is how long a link waits without a word from its
	// partner before it is marked disconnected and sync commits stop
	// waiting (default DefaultLinkSessionTimeout, SQL Server's
	// SESSION_TIMEOUT).
	LinkSessionTimeout time.Duration
	// LinkHardenDelay is how long an async secondary waits to gather more
	// records into one log fsync (default DefaultLinkHardenDelay; negative:
	// no wait). A sync secondary never waits: a commit waits for its ack.
	LinkHardenDelay time.Duration
	// LinkLogCapBytes caps the replication log a primary keeps for a
	// secondary that has not hardened it; past it the link becomes
	// RESEED_REQUIRED and the log is released (default
	// DefaultLinkLogCapBytes).
	LinkLogCapBytes int64
	// LinkDigestTimeout bounds how long a digest request waits for the
	// local copy to reach the asked LSN (default DefaultLinkDigestTimeout).
	LinkDigestTimeout time.Duration
	// LinkSeedBytesPerSecond limits the bandwidth of seeding a secondary
	// (0: unlimited), for links that share a WAN with client traffic.
	LinkSeedBytesPerSecond int64
	// LogRetentionBytes and CheckpointBytes override the storage defaults
	// of every database (0: storage's defaults).
	LogRetentionBytes int64
	CheckpointBytes   int64
	// MaxTransactionBytes bounds the pages one transaction may change on
	// this instance's primaries (0: storage.MaxRecordBytes, the most a
	// replication record holds); a larger one is refused at COMMIT.
	MaxTransactionBytes int64
	// SQLiteHeapLimit bounds the memory SQLite takes in the process
	// (storage.SetHeapLimit); 0: no limit.
	SQLiteHeapLimit int64
	// FailoverTimeout bounds how long a failover call waits for the
	// secondary to harden the last LSN and for the roles to swap, when the
	// request gives no timeout (default DefaultFailoverTimeout).
	FailoverTimeout time.Duration
	// FailoverDrainTimeout is how long stopping writes waits for the
	// transaction in flight before its session is ended, which rolls it
	// back (default DefaultFailoverDrainTimeout).
	FailoverDrainTimeout time.Duration
	// Failpoint, for crash tests, names a point of a failover or a rewind
	// at which the process kills itself with SIGKILL (see the failpoints in replication/failover.go).
	// Open reads SQLINK_FAILPOINT when it is empty.
	Failpoint string

	// TLSCertFile and TLSKeyFile are the PEM certificate (chain) and key
	// the client and admin listeners serve; empty: the self-signed pair in
	// the data directory (see tlsconf). Both or neither.
	TLSCertFile string
	TLSKeyFile  string
	// TLSReloadInterval is how often the certificate files are checked for
	// a change (default DefaultTLSReloadInterval; negative: only on
	// ReloadTLS).
	TLSReloadInterval time.Duration
	// RequireClientTLS refuses PostgreSQL sessions that did not start TLS
	// (FATAL 28000). Without it plain-text sessions stay possible.
	RequireClientTLS bool
	// InsecureAdminHTTP serves the admin API over plain HTTP instead of
	// HTTPS: tokens then cross the network in clear, so it must be asked
	// for explicitly (and is logged as a warning off loopback).
	InsecureAdminHTTP bool
}

// Session timeout defaults. PostgreSQL turns all three off by default, but
// here one database has one write lock: a session left idle in a write
// transaction, or queued behind one for ever, stops every writer of its
// database. Five minutes idle in a transaction is far beyond any
// interactive pause of a human at psql and ends what a crashed or leaked
// pool connection holds; thirty seconds of waiting for the write lock is
// longer than any healthy transaction holds it, and turns a pile-up behind
// a stuck writer into errors naming that writer. Statements are not
// limited: a long report or a bulk load is legitimate.
const (
	DefaultStatementTimeout = 0
	DefaultLockTimeout      = 30 * time.Second
	DefaultIdleInTxTimeout  = 5 * time.Minute
)

// Link defaults.
const (
	// DefaultLinkTick sends a heartbeat every second, SQL Server's unit for
	// availability group timeouts.
	DefaultLinkTick = time.Second
	// DefaultLinkSessionTimeout is SQL Server's default SESSION_TIMEOUT.
	DefaultLinkSessionTimeout = 10 * time.Second
	// DefaultLinkHardenDelay: on a 2-core machine with one disk, an async
	// secondary that fsynced every record it received took a quarter of
	// the primary's single-client throughput; gathering 2 ms of records per
	// fsync brought it back to parity (BENCHMARKS.md, section 2).
	DefaultLinkHardenDelay = 2 * time.Millisecond
	// DefaultLinkLogCapBytes keeps up to 1 GiB of log for an absent
	// secondary: hours of a busy OLTP workload, yet it never fills a disk
	// silently.
	DefaultLinkLogCapBytes = 1 << 30
	// DefaultLinkDigestTimeout is how long a digest waits for the copy to
	// reach the LSN asked for: long enough for a secondary to catch up from
	// a burst of writes.
	DefaultLinkDigestTimeout = 30 * time.Second
	// DefaultFailoverTimeout bounds a planned failover call: a secondary
	// that has not hardened the primary's last LSN by then is lagging too
	// far for a failover without a long write stop.
	DefaultFailoverTimeout = time.Minute
	// DefaultFailoverDrainTimeout gives a transaction in flight time to
	// commit (an OLTP transaction takes milliseconds) without letting one
	// left open stall a failover.
	DefaultFailoverDrainTimeout = 5 * time.Second
)

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.ClientAddr == "" {
		c.ClientAddr = DefaultClientAddr
	}
	if c.AdminAddr == "" {
		c.AdminAddr = DefaultAdminAddr
	}
	if c.EndpointAddr == "" {
		c.EndpointAddr = DefaultEndpointAddr
	}
	if c.Synchronous == "" {
		c.Synchronous = "FULL"
	}
	if c.MaxConns == 0 {
		c.MaxConns = 100
	}
	if c.LockTimeout == 0 {
		c.LockTimeout = DefaultLockTimeout
	}
	if c.IdleInTxTimeout == 0 {
		c.IdleInTxTimeout = DefaultIdleInTxTimeout
	}
	if c.AdminIdleTimeout == 0 {
		c.AdminIdleTimeout = DefaultAdminIdleTimeout
	}
	if c.AdminReadTimeout == 0 {
		c.AdminReadTimeout = adminapi.DefaultReadTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.LinkTick == 0 {
		c.LinkTick = DefaultLinkTick
	}
	if c.LinkSessionTimeout == 0 {
		c.LinkSessionTimeout = DefaultLinkSessionTimeout
	}
	if c.LinkHardenDelay == 0 {
		c.LinkHardenDelay = DefaultLinkHardenDelay
	}
	if c.LinkLogCapBytes == 0 {
		c.LinkLogCapBytes = DefaultLinkLogCapBytes
	}
	if c.LinkDigestTimeout == 0 {
		c.LinkDigestTimeout = DefaultLinkDigestTimeout
	}
	if c.FailoverTimeout == 0 {
		c.FailoverTimeout = DefaultFailoverTimeout
	}
	if c.FailoverDrainTimeout == 0 {
		c.FailoverDrainTimeout = DefaultFailoverDrainTimeout
	}
	if c.TLSReloadInterval == 0 {
		c.TLSReloadInterval = DefaultTLSReloadInterval
	}
	return c
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return sqlink.Errorf(sqlink.EINVALID, "pass --data-dir or set SQLINK_DATA_DIR", "no data directory given")
	}
	switch c.Synchronous {
	case "", "FULL", "NORMAL":
	default:
		return sqlink.Errorf(sqlink.EINVALID, "use FULL or NORMAL", "invalid synchronous level %q", c.Synchronous)
	}
	if c.LinkTick < 0 || c.LinkSessionTimeout < 0 || c.LinkLogCapBytes < 0 || c.LinkDigestTimeout < 0 || c.LinkSeedBytesPerSecond < 0 ||
		c.LogRetentionBytes < 0 || c.CheckpointBytes < 0 || c.MaxTransactionBytes < 0 || c.FailoverTimeout < 0 || c.FailoverDrainTimeout < 0 {
		return sqlink.Errorf(sqlink.EINVALID, "use zero for the default or a positive value", "link and storage settings must not be negative")
	}
	if err := (storage.DBConfig{MaxTransactionBytes: c.MaxTransactionBytes}).Validate(); err != nil {
		return err
	}
	if c.AuthenticationTimeout < 0 || c.AdminReadTimeout < 0 || c.AdminIdleTimeout < 0 {
		return sqlink.Errorf(sqlink.EINVALID, "use zero for the default or a positive duration", "timeouts must not be negative")
	}
	if c.MaxConns < 0 {
		return sqlink.Errorf(sqlink.EINVALID, "use a positive number", "invalid max connections %d", c.MaxConns)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return sqlink.Errorf(sqlink.EINVALID, "pass both --tls-cert and --tls-key, or neither for the self-signed certificate init made",
			"a TLS certificate needs both its certificate file and its key file")
	}
	return nil
}
