package storage

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
)

// Defaults for DBConfig.
const (
	// DefaultSynchronous is FULL so that a commit is on disk when it is
	// acknowledged (SQLite's WAL holds every committed page until the log
	// is synced and we checkpoint). FULL is group commit: SQLite commits
	// at NORMAL and one fdatasync covers every commit waiting
	// (groupcommit.go); NORMAL acknowledges without any sync.
	DefaultSynchronous = "FULL"
	// DefaultBusyTimeout is long because the Go write lock serializes
	// writers; SQLite's sleeping busy handler is only a backstop.
	DefaultBusyTimeout = 30 * time.Second
	// DefaultCheckpointBytes keeps the WAL small enough that readers stay
	// fast, yet checkpoints (and their log fsync) stay rare. Checkpoints
	// copy the WAL into the database file without stalling writers; the
	// one that completes it under the write lock, so the WAL can restart,
	// waits until the WAL holds restartFactor times this (64 MiB).
	DefaultCheckpointBytes = 16 << 20
	// DefaultLogRetentionBytes keeps enough log to seed a secondary from a
	// recent restored backup without reseeding.
	DefaultLogRetentionBytes = 256 << 20
	// DefaultSegmentBytes is the size at which a log segment is closed and
	// a new one started; retention removes whole segments.
	DefaultSegmentBytes = 16 << 20
	// DefaultPollInterval is how often the background loop captures commits
	// that bypassed BeginWrite/EndWrite and checks the WAL size: short, so
	// such a commit reaches the log (and the secondary) quickly.
	DefaultPollInterval = 25 * time.Millisecond
	// DefaultDeltaCacheBytes bounds the page images the capture path keeps
	// to encode the next change of a page as a delta.
	DefaultDeltaCacheBytes = 32 << 20
	// MinTransactionBytes is the lowest MaxTransactionBytes: the size
	// guard counts the whole page cache (2 MiB by default) as changed, so
	// a lower bound would refuse small transactions.
	MinTransactionBytes = 16 << 20
)

// DBConfig configures a database opened with OpenDB. The zero value means
// the defaults.
type DBConfig struct {
	Synchronous       string        // "FULL" (default) or "NORMAL"
	BusyTimeout       time.Duration // default DefaultBusyTimeout
	CheckpointBytes   int64         // WAL size that triggers a background checkpoint
	LogRetentionBytes int64         // log kept after a checkpoint
	SegmentBytes      int64         // log segment size
	PollInterval      time.Duration // background capture interval
	DeltaCacheBytes   int64         // page images kept for delta encoding; -1: none (whole images only)
	// MaxTransactionBytes bounds the pages one transaction may change
	// (its record in the log; default and at most MaxRecordBytes): a
	// larger one is refused at COMMIT. Records are held whole in memory
	// on both replicas, so a lower bound also bounds that.
	MaxTransactionBytes int64
	Logger              *slog.Logger
	Now                 func() time.Time
	// Failpoint, for crash tests, is called with the name of each
	// failpoint reached (FailpointWALSync); nil: none.
	Failpoint func(name string)
}

// Validate reports whether the configuration is usable.
func (c DBConfig) Validate() error {
	switch strings.ToUpper(c.Synchronous) {
	case "", "FULL", "NORMAL":
	default:
		return sqlink.Errorf(sqlink.EINVALID, "use FULL or NORMAL", "invalid synchronous setting %q", c.Synchronous)
	}
	if c.DeltaCacheBytes < -1 {
		return sqlink.Errorf(sqlink.EINVALID, "use -1 for whole page images only, zero for the default or a positive size", "invalid delta cache size %d", c.DeltaCacheBytes)
	}
	if c.MaxTransactionBytes != 0 && (c.MaxTransactionBytes < MinTransactionBytes || c.MaxTransactionBytes > MaxRecordBytes) {
		return sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("use a size from %d MiB to %d MiB, or zero for the largest", MinTransactionBytes>>20, MaxRecordBytes>>20),
			"invalid maximum transaction size %d bytes", c.MaxTransactionBytes)
	}
	if c.BusyTimeout < 0 || c.CheckpointBytes < 0 || c.LogRetentionBytes < 0 || c.SegmentBytes < 0 || c.PollInterval < 0 {
		return sqlink.Errorf(sqlink.EINVALID, "use zero for the default or a positive value", "storage settings must not be negative")
	}
	return nil
}

func (c DBConfig) withDefaults() DBConfig {
	c.Synchronous = strings.ToUpper(c.Synchronous)
	if c.Synchronous == "" {
		c.Synchronous = DefaultSynchronous
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = DefaultBusyTimeout
	}
	if c.CheckpointBytes == 0 {
		c.CheckpointBytes = DefaultCheckpointBytes
	}
	if c.LogRetentionBytes == 0 {
		c.LogRetentionBytes = DefaultLogRetentionBytes
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.DeltaCacheBytes == 0 {
		c.DeltaCacheBytes = DefaultDeltaCacheBytes
	}
	if c.MaxTransactionBytes == 0 {
		c.MaxTransactionBytes = MaxRecordBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Log attribute keys.
const (
	logKeyPath = "path"
	logKeyLSN  = "lsn"
	logKeyErr  = "err"
)
