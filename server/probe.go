package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/transport"
)

// probeLinkID is the link id of the Hello an endpoint probe sends: the
// endpoint answers it with its own HelloAck (instance, protocol version,
// clock) instead of looking for a link.
const probeLinkID = "sqlink-endpoint-probe"

var _ adminapi.EndpointProber = instance{}

// clockSkew returns the test-only skew added to this instance's clock in
// probes (EnvTestClockSkew), zero when unset or invalid.
func clockSkew() time.Duration {
	d, _ := time.ParseDuration(os.Getenv(EnvTestClockSkew))
	return d
}

// ProbeEndpoint implements adminapi.EndpointProber: it probes the partner
// endpoint at req.Address from this instance: name resolution, TCP
// connect, TLS handshake (pinned to req.Fingerprint when given), the link
// protocol's hello, round-trip time and clock skew.
func (i instance) ProbeEndpoint(ctx context.Context, req adminapi.ProbeRequest) (adminapi.ProbeResponse, error) {
	s := i.s
	res := adminapi.ProbeResponse{Instance: s.info.Name}
	res.ProbeResult = transport.Probe(ctx, req.Address, s.clientTLS, req.Fingerprint)
	skew := clockSkew()
	if skew != 0 {
		res.SkewInjected = skew.String()
	}
	if res.ClockSkewKnown {
		res.ClockSkew -= skew
	}
	res.Hello = transport.ProbeStep{Name: "link hello"}
	if !res.OK() {
		res.Hello.Skipped, res.Hello.Detail = true, "skipped: an earlier step failed"
		return res, nil
	}
	start := time.Now()
	ack, err := s.probeHello(ctx, req.Address, req.Fingerprint)
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
	case sqlink.ErrorCode(err) == sqlink.ENOTFOUND && strings.Contains(sqlink.ErrorMessage(err), probeLinkID):
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
	return res, nil
}

// probeHello connects to addr and exchanges a probe Hello.
func (s *Server) probeHello(ctx context.Context, addr, fingerprint string) (*transport.HelloAck, error) {
	cfg := s.clientTLS.Clone()
	if want := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(fingerprint)); want != "" {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return &transport.CertificateError{Reason: transport.ReasonMissing}
			}
			peer := cs.PeerCertificates[0]
			if fp := transport.Fingerprint(peer); fp != want {
				return &transport.CertificateError{Reason: transport.ReasonFingerprintMismatch, Fingerprint: fp}
			}
			return transport.VerifyPeer(peer, []*x509.Certificate{peer}, time.Now(), nil)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, transport.ProbeTimeout)
	defer cancel()
	c, err := transport.Dial(dctx, addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	h := transport.Hello{InstanceID: s.info.ID, InstanceName: s.info.Name, LinkID: probeLinkID, LinkName: "probe", Time: time.Now().Add(clockSkew())}
	if err := c.Send(dctx, &h); err != nil {
		return nil, err
	}
	return c.ReadHelloAck(dctx)
}

// answerProbeHello answers a probe's Hello with this instance's identity,
// protocol version and clock.
func (s *Server) answerProbeHello(ctx context.Context, c *transport.Conn) {
	ack := transport.HelloAck{InstanceID: s.info.ID, InstanceName: s.info.Name, Time: time.Now().Add(clockSkew())}
	_ = c.Send(ctx, &ack)
}
