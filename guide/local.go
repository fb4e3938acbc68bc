package guide

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/transport"
)

// Local is what an instance's own half of a validation or a probe reads
// of the instance (POST /v1/links/validate, POST /v1/endpoint/probe): the
// server fills it in, tests use fakes.
type Local struct {
	Name, ID string
	// ClientTLS is the instance's endpoint client configuration.
	ClientTLS *tls.Config
	// ClockSkew is the test-only skew added to this instance's clock in
	// probes (zero in production).
	ClockSkew time.Duration

	ListLinks   func(context.Context) ([]adminapi.LinkStatus, error)
	GetDatabase func(context.Context, string) (adminapi.DatabaseInfo, error)
	// WriteRate measures how fast a database's replication log grows,
	// bytes per second.
	WriteRate func(ctx context.Context, database string) int64
	// FreeDisk returns the bytes free on the data volume.
	FreeDisk    func() (int64, error)
	SeedRate    int64 // the seeding bandwidth assumed, bytes per second
	LogCapBytes int64 // the instance's link log cap (0: none)
}

// ValidateLocal runs this instance's half of a link validation.
func ValidateLocal(ctx context.Context, l Local, req adminapi.ValidateLinkRequest) (adminapi.ValidateLinkResponse, error) {
	me := l.Name
	res := adminapi.ValidateLinkResponse{Instance: me}
	links, err := l.ListLinks(ctx)
	if err != nil {
		return res, err
	}
	add := func(c adminapi.ValidationCheck) { res.Checks = append(res.Checks, c) }
	var total int64
	for _, it := range req.Links {
		add(LinkName(me, string(req.Role), it.Name, links))
		d, err := l.GetDatabase(ctx, it.Database)
		found := err == nil
		if err != nil && sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
			return res, err
		}
		if req.Role == sqlink.RolePrimary {
			add(UserDatabase(me, it.Database))
			add(PrimaryDatabase(me, it.Database, d, found))
			if !found {
				continue
			}
			add(FullBackup(me, it.Database, d))
			add(NotLinked(me, req.Role, it.Database, links))
			add(LogCap(me, d.SizeBytes, l.WriteRate(ctx, it.Database), l.SeedRate, l.LogCapBytes))
			continue
		}
		add(SecondaryDatabase(me, it.Database, d, found, req.SeedFromBackup))
		add(NotLinked(me, req.Role, it.Database, links))
		if !(found && req.SeedFromBackup) {
			total += it.SizeBytes
		}
	}
	if req.Role == sqlink.RoleSecondary {
		free, err := l.FreeDisk()
		if err != nil {
			add(adminapi.ValidationCheck{Name: CheckDisk, Instance: me, Status: adminapi.CheckWarning,
				Message: "cannot read the free disk space of " + me + ": " + err.Error(), Hint: "check the data directory's volume by hand"})
		} else {
			add(Disk(me, free, total))
		}
	}
	return res, nil
}

// ProbeLocal probes the partner endpoint at req.Address from this
// instance: name resolution, TCP connect, TLS handshake (pinned to
// req.Fingerprint when given), the link protocol's hello, round-trip time
// and clock skew.
func ProbeLocal(ctx context.Context, l Local, req adminapi.ProbeRequest) adminapi.ProbeResponse {
	res := adminapi.ProbeResponse{Instance: l.Name}
	res.ProbeResult = transport.Probe(ctx, req.Address, l.ClientTLS, req.Fingerprint)
	skew := l.ClockSkew
	if skew != 0 {
		res.SkewInjected = skew.String()
	}
	if res.ClockSkewKnown {
		res.ClockSkew -= skew
	}
	res.Hello = transport.ProbeStep{Name: "link hello"}
	if !res.OK() {
		res.Hello.Skipped, res.Hello.Detail = true, "skipped: an earlier step failed"
		return res
	}
	start := time.Now()
	self := transport.Hello{InstanceID: l.ID, InstanceName: l.Name}
	ack, err := transport.ProbeHello(ctx, req.Address, l.ClientTLS, req.Fingerprint, self, skew)
	received := time.Now()
	res.Hello.Duration = received.Sub(start)
	switch {
	case err == nil:
		res.Hello.OK = true
		res.PeerProtocol = fmt.Sprintf("%d.%d", ack.Major, ack.Minor)
		res.Hello.Detail = fmt.Sprintf("instance %s speaks link protocol %s (this instance %d.%d)", ack.InstanceName, res.PeerProtocol, transport.ProtocolMajor, transport.ProtocolMinor)
		if !ack.Time.IsZero() {
			// The partner stamped its clock while answering: half the
			// exchange's time before received. Preferred to the heartbeat's
			// estimate, as the answer comes from the server, not the
			// transport.
			res.ClockSkew = ack.Time.Sub(received.Add(-res.Hello.Duration/2)) - skew
			res.ClockSkewKnown = true
		}
	case sqlink.ErrorCode(err) == sqlink.ENOTFOUND && strings.Contains(sqlink.ErrorMessage(err), transport.ProbeLinkID):
		// A partner that does not know probes refuses the unknown link:
		// it still speaks the protocol.
		res.Hello.OK = true
		res.Hello.Detail = "the partner speaks link protocol " + fmt.Sprint(transport.ProtocolMajor) + " (it does not report its version to probes)"
	default:
		res.Hello.OK, res.Hello.Err, res.Hello.Error, res.Hello.Hint = false, err, sqlink.ErrorMessage(err), sqlink.ErrorHint(err)
		if res.Hello.Hint == "" {
			res.Hello.Hint = "check that " + req.Address + " is a sqlink endpoint of a compatible version"
		}
	}
	return res
}
