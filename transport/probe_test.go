package transport_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/transport"
)

// readLoop is a handler that reads until the connection ends, so probes
// are answered.
func readLoop(ctx context.Context, c *transport.Conn) {
	for {
		if _, err := c.ReadFrame(ctx); err != nil {
			return
		}
	}
}

func TestProbe_OK(t *testing.T) {
	a, b := MustNewTrustingPair(t)
	skew := time.Hour
	ln, err := transport.ListenConfig{Now: func() time.Time { return time.Now().Add(skew) }}.Listen(
		context.Background(), "127.0.0.1:0", transport.ServerTLSConfig(a.Pair, a.Trust, nil), readLoop)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(context.Background()) })

	res := transport.Probe(context.Background(), ln.Addr().String(), transport.ClientTLSConfig(b.Pair, b.Trust, nil), transport.Fingerprint(a.Cert))
	if !res.OK() || res.Err() != nil {
		t.Fatalf("probe failed: %v (%+v)", res.Err(), res)
	}
	if got, want := res.RTTSource, "heartbeat"; got != want {
		t.Fatalf("RTTSource = %q, want %q (%+v)", got, want, res.TLS)
	}
	if !res.ClockSkewKnown || res.ClockSkew < skew-5*time.Second || res.ClockSkew > skew+5*time.Second {
		t.Fatalf("ClockSkew = %s (known %v), want about %s", res.ClockSkew, res.ClockSkewKnown, skew)
	}
	if res.Peer == nil || res.Peer.Subject != "alpha" {
		t.Fatalf("Peer = %+v", res.Peer)
	}
	if res.Resolve.Detail != "127.0.0.1" {
		t.Fatalf("Resolve.Detail = %q", res.Resolve.Detail)
	}
}

func TestProbe_FingerprintMismatch(t *testing.T) {
	a, b := MustNewTrustingPair(t)
	ln := MustListen(t, a, nil, readLoop)
	res := transport.Probe(context.Background(), ln.Addr().String(), transport.ClientTLSConfig(b.Pair, b.Trust, nil), strings.Repeat("ab", 32))
	if res.TLS.OK || !res.Connect.OK {
		t.Fatalf("result = %+v", res)
	}
	cerr, ok := transport.IsCertificateError(res.TLS.Err)
	if !ok || cerr.Reason != transport.ReasonFingerprintMismatch {
		t.Fatalf("TLS err = %v, want fingerprint mismatch", res.TLS.Err)
	}
}

func TestProbe_PartnerRefusesUs(t *testing.T) {
	a := MustNewIdentity(t, "alpha", time.Now(), time.Hour)
	b := MustNewIdentity(t, "beta", time.Now(), time.Hour)
	ln := MustListen(t, a, nil, readLoop) // alpha trusts nobody
	// Probing before trust is set up: beta pins alpha's fingerprint.
	res := transport.Probe(context.Background(), ln.Addr().String(), transport.ClientTLSConfig(b.Pair, b.Trust, nil), transport.Fingerprint(a.Cert))
	if res.TLS.OK {
		t.Fatalf("TLS passed: %+v", res)
	}
	if cerr, ok := transport.IsCertificateError(res.TLS.Err); !ok || cerr.Reason != transport.ReasonRefusedByPartner {
		t.Fatalf("TLS err = %v, want refused_by_partner", res.TLS.Err)
	}
	if !strings.Contains(res.Err().Error(), "TLS handshake: the partner refused this instance's certificate") {
		t.Fatalf("Err = %v", res.Err())
	}
}

func TestProbe_ConnectRefused(t *testing.T) {
	a, b := MustNewTrustingPair(t)
	ln := MustListen(t, a, nil, readLoop)
	addr := ln.Addr().String()
	if err := ln.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := transport.Probe(context.Background(), addr, transport.ClientTLSConfig(b.Pair, b.Trust, nil), "")
	if !res.Resolve.OK || res.Connect.OK || !res.TLS.Skipped {
		t.Fatalf("result = %+v", res)
	}
	if !strings.Contains(res.Connect.Hint, "firewall") {
		t.Fatalf("hint = %q", res.Connect.Hint)
	}
}

func TestProbe_BadAddress(t *testing.T) {
	res := transport.Probe(context.Background(), "no-port", nil, "")
	if res.Resolve.OK || !res.Connect.Skipped || res.Err() == nil {
		t.Fatalf("result = %+v", res)
	}
}
