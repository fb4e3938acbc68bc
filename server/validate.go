package server

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
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

var _ adminapi.LinkValidator = instance{}

// ValidateLink implements adminapi.LinkValidator: this instance's half of
// the link validation.
func (i instance) ValidateLink(ctx context.Context, req adminapi.ValidateLinkRequest) (adminapi.ValidateLinkResponse, error) {
	s := i.s
	me := s.info.Name
	res := adminapi.ValidateLinkResponse{Instance: me}
	links, err := s.eng.ListLinks(ctx)
	if err != nil {
		return res, err
	}
	add := func(c adminapi.ValidationCheck) { res.Checks = append(res.Checks, c) }
	var total int64
	for _, it := range req.Links {
		add(guide.LinkName(me, string(req.Role), it.Name, links))
		d, err := i.GetDatabase(ctx, it.Database)
		found := err == nil
		if err != nil && sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
			return res, err
		}
		if req.Role == sqlink.RolePrimary {
			add(guide.UserDatabase(me, it.Database))
			add(guide.PrimaryDatabase(me, it.Database, d, found))
			if !found {
				continue
			}
			add(guide.FullBackup(me, it.Database, d))
			add(guide.NotLinked(me, req.Role, it.Database, links))
			add(guide.LogCap(me, d.SizeBytes, i.writeRate(ctx, it.Database), i.seedRate(), s.cfg.LinkLogCapBytes))
			continue
		}
		add(guide.SecondaryDatabase(me, it.Database, d, found, req.SeedFromBackup))
		add(guide.NotLinked(me, req.Role, it.Database, links))
		if !(found && req.SeedFromBackup) {
			total += it.SizeBytes
		}
	}
	if req.Role == sqlink.RoleSecondary {
		free, err := i.freeDisk()
		if err != nil {
			add(adminapi.ValidationCheck{Name: guide.CheckDisk, Instance: me, Status: adminapi.CheckWarning,
				Message: "cannot read the free disk space of " + me + ": " + err.Error(), Hint: "check the data directory's volume by hand"})
		} else {
			add(guide.Disk(me, free, total))
		}
	}
	return res, nil
}

// freeDisk returns the bytes free for this instance on its data volume.
func (i instance) freeDisk() (int64, error) {
	if v := os.Getenv(EnvTestFreeDisk); v != "" {
		return strconv.ParseInt(v, 10, 64)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(i.s.cfg.DataDir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

func (i instance) seedRate() int64 {
	if r := i.s.cfg.LinkSeedBytesPerSecond; r > 0 {
		return r
	}
	return assumedSeedRate
}

// writeRate measures how fast the database's replication log grows, over
// a short window.
func (i instance) writeRate(ctx context.Context, name string) int64 {
	if v := os.Getenv(EnvTestWriteRate); v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	i.s.mu.Lock()
	db := i.s.dbs[name]
	i.s.mu.Unlock()
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
