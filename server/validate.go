package server

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
	"github.com/sqlink/sqlink/transport"
)

// Test knobs, read from the environment of `sqlink serve`. They exist for
// end-to-end tests only and must not be set in production.
const (
	// EnvTestFreeDisk (bytes) replaces the free disk space the link
	// validation reads from the data directory's file system.
	EnvTestFreeDisk = "SQLINK_TEST_FREE_DISK_BYTES"
	// EnvTestWriteRate (bytes per second) replaces the write rate the
	// link validation measures on the primary.
	EnvTestWriteRate = "SQLINK_TEST_WRITE_RATE"
	// EnvTestClockSkew (a Go duration such as "90s") is added to this
	// instance's clock in endpoint probes: in the time its endpoint
	// answers a probe with and the time it compares a partner's answer to.
	EnvTestClockSkew = "SQLINK_TEST_CLOCK_SKEW"
)

// assumedSeedRate is the seeding bandwidth the log-cap check assumes when
// the instance does not limit it (--link-seed-rate).
const assumedSeedRate = 100 << 20

var (
	_ adminapi.LinkValidator  = instance{}
	_ adminapi.EndpointProber = instance{}
)

// ValidateLink implements adminapi.LinkValidator: this instance's half of
// the link validation (guide.ValidateLocal).
func (i instance) ValidateLink(ctx context.Context, req adminapi.ValidateLinkRequest) (adminapi.ValidateLinkResponse, error) {
	return guide.ValidateLocal(ctx, i.local(), req)
}

// ProbeEndpoint implements adminapi.EndpointProber: it probes the partner
// endpoint at req.Address from this instance (guide.ProbeLocal).
func (i instance) ProbeEndpoint(ctx context.Context, req adminapi.ProbeRequest) (adminapi.ProbeResponse, error) {
	return guide.ProbeLocal(ctx, i.local(), req), nil
}

// local is what the guide reads of this instance.
func (i instance) local() guide.Local {
	s := i.s
	seedRate := s.cfg.LinkSeedBytesPerSecond
	if seedRate <= 0 {
		seedRate = assumedSeedRate
	}
	return guide.Local{
		Name: s.info.Name, ID: s.info.ID, ClientTLS: s.clientTLS, ClockSkew: clockSkew(),
		ListLinks: s.eng.ListLinks, GetDatabase: i.GetDatabase, WriteRate: s.writeRate, FreeDisk: s.freeDisk,
		SeedRate: seedRate, LogCapBytes: s.cfg.LinkLogCapBytes,
	}
}

// clockSkew returns the test-only skew added to this instance's clock in
// probes (EnvTestClockSkew), zero when unset or invalid.
func clockSkew() time.Duration {
	d, _ := time.ParseDuration(os.Getenv(EnvTestClockSkew))
	return d
}

// answerProbeHello answers a probe's Hello with this instance's identity,
// protocol version and clock.
func (s *Server) answerProbeHello(ctx context.Context, c *transport.Conn) {
	transport.AnswerProbeHello(ctx, c, transport.HelloAck{InstanceID: s.info.ID, InstanceName: s.info.Name, Time: time.Now().Add(clockSkew())})
}

// freeDisk returns the bytes free for this instance on its data volume.
func (s *Server) freeDisk() (int64, error) {
	if v := os.Getenv(EnvTestFreeDisk); v != "" {
		return strconv.ParseInt(v, 10, 64)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.cfg.DataDir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// writeRate measures how fast the database's replication log grows, over
// a short window.
func (s *Server) writeRate(ctx context.Context, name string) int64 {
	if v := os.Getenv(EnvTestWriteRate); v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	s.mu.Lock()
	db := s.dbs[name]
	s.mu.Unlock()
	if db == nil {
		return 0
	}
	const window = 200 * time.Millisecond
	before := db.Stats().LogBytes
	t := time.NewTimer(window)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return 0
	case <-t.C:
	}
	grew := db.Stats().LogBytes - before
	if grew < 0 {
		return 0
	}
	return int64(float64(grew) / window.Seconds())
}
