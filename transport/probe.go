package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
)

// ProbeTimeout bounds each step of Probe when ctx has no earlier deadline.
// Five seconds tells a person at a wizard quickly that something is wrong.
const ProbeTimeout = 5 * time.Second

// ReasonFingerprintMismatch: the partner presented a certificate other than
// the one expected (Probe only).
const ReasonFingerprintMismatch = "fingerprint_mismatch"

// ProbeStep is the outcome of one connectivity check.
type ProbeStep struct {
	Name     string        `json:"name"`
	OK       bool          `json:"ok"`
	Skipped  bool          `json:"skipped,omitempty"` // an earlier step failed
	Duration time.Duration `json:"duration"`
	Detail   string        `json:"detail,omitempty"`
	Error    string        `json:"error,omitempty"`
	Hint     string        `json:"hint,omitempty"`
	Err      error         `json:"-"`
}

func (s *ProbeStep) fail(err error) {
	s.OK, s.Err, s.Error, s.Hint = false, err, sqlink.ErrorMessage(err), sqlink.ErrorHint(err)
}

// ProbeResult reports the connectivity checks of SPEC section 6: name
// resolution, TCP connect, TLS handshake with the expected certificate,
// round-trip time and clock skew.
type ProbeResult struct {
	Addr    string    `json:"addr"`
	Resolve ProbeStep `json:"resolve"`
	Connect ProbeStep `json:"connect"`
	TLS     ProbeStep `json:"tls"`
	// Peer describes the certificate the partner presented, if any.
	Peer *CertInfo `json:"peer,omitempty"`
	// RTT is the Heartbeat echo time, or the TCP connect time when the
	// partner did not echo (RTTSource says which).
	RTT       time.Duration `json:"rtt"`
	RTTSource string        `json:"rtt_source,omitempty"`
	// ClockSkew is the partner's clock minus this instance's, estimated
	// from the echo; valid only when ClockSkewKnown.
	ClockSkew      time.Duration `json:"clock_skew"`
	ClockSkewKnown bool          `json:"clock_skew_known"`
}

// OK reports whether every step passed.
func (r ProbeResult) OK() bool { return r.Resolve.OK && r.Connect.OK && r.TLS.OK }

// Err returns the first failed step's error, or nil.
func (r ProbeResult) Err() error {
	for _, s := range []*ProbeStep{&r.Resolve, &r.Connect, &r.TLS} {
		if !s.OK && !s.Skipped {
			return fmt.Errorf("%s: %w", s.Name, s.Err)
		}
	}
	return nil
}

// Probe checks that the endpoint at addr can be reached and authenticated,
// step by step, for the link wizard's troubleshooting. tlsCfg is this
// instance's client configuration (ClientTLSConfig). When
// expectFingerprint is set, the partner must present exactly that
// certificate (SHA-256 hex, colons and case ignored) and it must be valid;
// the trust store is not consulted for it, so a partner can be probed
// before it is trusted. The partner still checks this instance's
// certificate; its refusal fails the TLS step. Probe never returns an
// error: each step records its own.
func Probe(ctx context.Context, addr string, tlsCfg *tls.Config, expectFingerprint string) ProbeResult {
	res := ProbeResult{
		Addr:    addr,
		Resolve: ProbeStep{Name: "name resolution"},
		Connect: ProbeStep{Name: "TCP connect"},
		TLS:     ProbeStep{Name: "TLS handshake"},
	}
	skipFrom := func(steps ...*ProbeStep) {
		for _, s := range steps {
			s.Skipped, s.Detail = true, "skipped: an earlier step failed"
		}
	}

	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		res.Resolve.fail(sqlink.Errorf(sqlink.EINVALID, "give the endpoint as host:port, such as db2.example.com:5022", "invalid endpoint address %q: %v", addr, err))
		skipFrom(&res.Connect, &res.TLS)
		return res
	}

	// Name resolution.
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	ips, err := net.DefaultResolver.LookupHost(rctx, host)
	cancel()
	res.Resolve.Duration = time.Since(start)
	if err != nil || len(ips) == 0 {
		res.Resolve.fail(&causeError{e: sqlink.Errorf(sqlink.EUNAVAILABLE,
			"check the host name, or use the partner's IP address", "cannot resolve %q: %v", host, err), cause: err})
		skipFrom(&res.Connect, &res.TLS)
		return res
	}
	res.Resolve.OK, res.Resolve.Detail = true, strings.Join(ips, ", ")

	// TCP connect.
	d := net.Dialer{Timeout: ProbeTimeout, KeepAlive: DefaultKeepAlive}
	start = time.Now()
	nc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ips[0], port))
	res.Connect.Duration = time.Since(start)
	if err != nil {
		res.Connect.fail(dialError(addr, err))
		skipFrom(&res.TLS)
		return res
	}
	defer nc.Close()
	setTCPOptions(nc)
	res.Connect.OK, res.Connect.Detail = true, fmt.Sprintf("connected to %s", nc.RemoteAddr())
	res.RTT, res.RTTSource = res.Connect.Duration, "tcp connect"

	// TLS handshake, pinned to the expected certificate when given.
	cfg := tlsCfg.Clone()
	want := normalizeFingerprint(expectFingerprint)
	verify := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return &CertificateError{Reason: ReasonMissing}
		}
		peer := cs.PeerCertificates[0]
		info := infoOf(peer)
		res.Peer = &info
		if want == "" {
			if verify == nil {
				return nil
			}
			return verify(cs)
		}
		if info.Fingerprint != want {
			return &CertificateError{Reason: ReasonFingerprintMismatch, Fingerprint: info.Fingerprint, Subject: info.Subject}
		}
		return VerifyPeer(peer, []*x509.Certificate{peer}, time.Now(), nil)
	}
	conn := NewConn(tls.Client(nc, cfg))
	start = time.Now()
	hctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	err = conn.Handshake(hctx)
	res.TLS.Duration = time.Since(start)
	if err != nil {
		res.TLS.fail(err)
		return res
	}

	// Heartbeat echo. In TLS 1.3 this is also where the partner's refusal
	// of this instance's certificate arrives.
	sent := time.Now()
	err = conn.Send(hctx, &Heartbeat{Seq: 1, Time: sent, Probe: true})
	var reply *Heartbeat
	for err == nil && reply == nil {
		var m Message
		m, err = conn.ReadMessage(hctx)
		if h, ok := m.(*Heartbeat); ok && h.Reply && h.Seq == 1 {
			reply = h
		}
	}
	received := time.Now()
	if _, ok := IsCertificateError(err); ok {
		res.TLS.fail(err)
		return res
	}
	res.TLS.OK = true
	res.TLS.Detail = fmt.Sprintf("partner certificate %q (SHA-256 %s), valid until %s", res.Peer.Subject, res.Peer.Fingerprint, res.Peer.NotAfter.UTC().Format(time.RFC3339))
	if reply == nil {
		res.TLS.Detail += "; the partner did not answer a heartbeat, so the round-trip time is the TCP connect time"
		return res
	}
	rtt := received.Sub(sent)
	res.RTT, res.RTTSource = rtt, "heartbeat"
	if !reply.Time.IsZero() {
		res.ClockSkew = reply.Time.Sub(sent.Add(rtt / 2))
		res.ClockSkewKnown = true
	}
	return res
}

func normalizeFingerprint(s string) string {
	return strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(s))
}
