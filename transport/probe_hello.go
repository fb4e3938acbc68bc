package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"time"
)

// ProbeLinkID is the link id of the Hello an endpoint probe sends: the
// endpoint answers it with its own HelloAck (instance, protocol version,
// clock) instead of looking for a link.
const ProbeLinkID = "sqlink-endpoint-probe"

// ProbeHello connects to addr with tlsCfg (this instance's client
// configuration) and exchanges a probe Hello from self, the prober's
// identity, stamped with its clock plus skew (a test knob) when sent.
// When fingerprint is set the partner must present
// exactly that certificate, valid now, whatever the trust store holds.
func ProbeHello(ctx context.Context, addr string, tlsCfg *tls.Config, fingerprint string, self Hello, skew time.Duration) (*HelloAck, error) {
	cfg := tlsCfg.Clone()
	if want := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(fingerprint)); want != "" {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return &CertificateError{Reason: ReasonMissing}
			}
			peer := cs.PeerCertificates[0]
			if fp := Fingerprint(peer); fp != want {
				return &CertificateError{Reason: ReasonFingerprintMismatch, Fingerprint: fp}
			}
			return VerifyPeer(peer, []*x509.Certificate{peer}, time.Now(), nil)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	c, err := Dial(dctx, addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	h := self
	h.LinkID, h.LinkName, h.Time = ProbeLinkID, "probe", time.Now().Add(skew)
	if err := c.Send(dctx, &h); err != nil {
		return nil, err
	}
	return c.ReadHelloAck(dctx)
}

// AnswerProbeHello answers a probe's Hello on c with ack, this instance's
// identity, protocol version and clock.
func AnswerProbeHello(ctx context.Context, c *Conn, ack HelloAck) {
	_ = c.Send(ctx, &ack)
}
