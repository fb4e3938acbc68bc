package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/transport"
)

// handshakeErrors collects a listener's handshake errors.
type handshakeErrors struct {
	mu   sync.Mutex
	errs []error
}

func (h *handshakeErrors) add(_ net.Addr, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs = append(h.errs, err)
}

// wait waits until the listener has reported a handshake error.
func (h *handshakeErrors) wait(tb testing.TB) {
	tb.Helper()
	testutil.RetryUntil(tb, 10*time.Second, func() error {
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.errs) == 0 {
			return errors.New("no handshake error yet")
		}
		return nil
	})
}

func (h *handshakeErrors) last() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errs) == 0 {
		return errors.New("no handshake error yet")
	}
	return h.errs[len(h.errs)-1]
}

// MustListen starts a listener for id on 127.0.0.1:0 that is closed when
// the test ends.
func MustListen(tb testing.TB, id *identity, hs *handshakeErrors, handler func(context.Context, *transport.Conn)) *transport.Listener {
	tb.Helper()
	cfg := transport.ListenConfig{}
	if hs != nil {
		cfg.OnHandshakeError = hs.add
	}
	ln, err := cfg.Listen(context.Background(), "127.0.0.1:0", transport.ServerTLSConfig(id.Pair, id.Trust, nil), handler)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ln.Close(ctx); err != nil {
			tb.Error(err)
		}
	})
	return ln
}

// linkServer answers a Hello for link "L1" at epoch 3 and then accepts
// Records in order, acking each and reporting a refused batch.
func linkServer(tb testing.TB) func(context.Context, *transport.Conn) {
	return func(ctx context.Context, c *transport.Conn) {
		h, err := c.ReadHello(ctx)
		if err != nil {
			return
		}
		if err := transport.CheckHello("L1", 3, h); err != nil {
			c.Send(ctx, transport.RefuseFrom(err))
			return
		}
		if err := c.Send(ctx, &transport.HelloAck{InstanceName: "alpha", LinkID: "L1", Epoch: 3}); err != nil {
			return
		}
		stream := transport.NewRecordStream(h.Epoch, h.Pos.LSN)
		for {
			m, err := c.ReadMessage(ctx)
			if err != nil {
				return
			}
			r, ok := m.(*transport.Records)
			if !ok {
				continue
			}
			if err := stream.Accept(r); err != nil {
				c.Send(ctx, transport.ErrorMessageFrom(err))
				return
			}
			if err := c.Send(ctx, &transport.Ack{Epoch: r.Epoch, Hardened: r.LastLSN, Redone: r.LastLSN, Time: time.Now()}); err != nil {
				return
			}
		}
	}
}

func MustDial(tb testing.TB, ln *transport.Listener, id *identity) *transport.Conn {
	tb.Helper()
	c, err := transport.Dial(context.Background(), ln.Addr().String(), transport.ClientTLSConfig(id.Pair, id.Trust, nil))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func TestListener_LinkSession(t *testing.T) {
	a, b := MustNewTrustingPair(t)
	ln := MustListen(t, a, nil, linkServer(t))
	c := MustDial(t, ln, b)
	ctx := context.Background()
	if got, want := transport.Fingerprint(c.PeerCertificate()), transport.Fingerprint(a.Cert); got != want {
		t.Fatalf("peer fingerprint = %s, want %s", got, want)
	}
	if err := c.Send(ctx, &transport.Hello{InstanceName: "beta", LinkID: "L1", Epoch: 3, Pos: sqlink.Pos{LSN: 10}}); err != nil {
		t.Fatal(err)
	}
	ack, err := c.ReadHelloAck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ack.InstanceName != "alpha" {
		t.Fatalf("got %+v, want HelloAck from alpha", ack)
	}
	for _, r := range []*transport.Records{
		{Epoch: 3, FirstLSN: 11, LastLSN: 12, Data: []byte("ab")},
		{Epoch: 3, FirstLSN: 13, LastLSN: 13, Data: []byte("c")},
	} {
		if err := c.Send(ctx, r); err != nil {
			t.Fatal(err)
		}
		m, err := c.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ack, ok := m.(*transport.Ack); !ok || ack.Hardened != r.LastLSN {
			t.Fatalf("got %+v, want Ack of %d", m, r.LastLSN)
		}
	}
	// A replayed batch is refused, naming the expected LSN.
	if err := c.Send(ctx, &transport.Records{Epoch: 3, FirstLSN: 11, LastLSN: 12}); err != nil {
		t.Fatal(err)
	}
	m, err := c.ReadMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	em, ok := m.(*transport.ErrorMessage)
	if !ok || !strings.Contains(em.Err().Error(), "expected LSN 14") || em.Code != sqlink.ECONFLICT {
		t.Fatalf("got %+v, want an ErrorMessage naming LSN 14", m)
	}
}

func TestListener_HelloRefused(t *testing.T) {
	a, b := MustNewTrustingPair(t)
	ln := MustListen(t, a, nil, linkServer(t))
	for _, tc := range []struct {
		name  string
		hello *transport.Hello
		words string
	}{
		{"wrong link", &transport.Hello{InstanceName: "beta", LinkID: "L9", Epoch: 3}, `expected link "L1"`},
		{"stale epoch", &transport.Hello{InstanceName: "beta", LinkID: "L1", Epoch: 2}, "at epoch 2"},
		{"old major", &transport.Hello{Major: 1, Minor: 2, LinkID: "L1", Epoch: 3}, "upgrade the instance on link protocol 1.2"},
		{"new major", &transport.Hello{Major: transport.ProtocolMajor + 1, LinkID: "L1", Epoch: 3}, fmt.Sprintf("speaks link protocol %d.0", transport.ProtocolMajor+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := MustDial(t, ln, b)
			ctx := context.Background()
			if err := c.Send(ctx, tc.hello); err != nil {
				t.Fatal(err)
			}
			_, err := c.ReadHelloAck(ctx)
			if err == nil {
				t.Fatal("hello accepted")
			}
			if !strings.Contains(err.Error(), tc.words) || sqlink.ErrorHint(err) == "" {
				t.Fatalf("refusal = %v, want it to mention %q with a hint", err, tc.words)
			}
		})
	}
}

func TestListener_UntrustedClient(t *testing.T) {
	a := MustNewIdentity(t, "alpha", time.Now(), time.Hour)
	b := MustNewIdentity(t, "beta", time.Now(), time.Hour)
	b.Trust.Add(a.Cert) // beta trusts alpha, alpha does not trust beta
	var hs handshakeErrors
	var served atomic.Int32
	ln := MustListen(t, a, &hs, func(context.Context, *transport.Conn) { served.Add(1) })

	c := MustDial(t, ln, b) // TLS 1.3: the dialer learns on its first read
	ctx := context.Background()
	_ = c.Send(ctx, &transport.Hello{LinkID: "L1"})
	_, err := c.ReadMessage(ctx)
	cerr, ok := transport.IsCertificateError(err)
	if !ok || cerr.Reason != transport.ReasonRefusedByPartner {
		t.Fatalf("dialer err = %v, want refused_by_partner", err)
	}
	if !strings.Contains(err.Error(), "the partner refused this instance's certificate") || !strings.Contains(sqlink.ErrorHint(err), "sqlink cert trust") {
		t.Fatalf("dialer err = %v", err)
	}

	hs.wait(t)
	cerr, ok = transport.IsCertificateError(hs.last())
	if !ok || cerr.Reason != transport.ReasonUntrusted || cerr.Subject != "beta" {
		t.Fatalf("listener err = %v, want untrusted beta", hs.last())
	}
	if served.Load() != 0 {
		t.Fatal("handler ran for an untrusted connection")
	}

	// Trusting beta at runtime lets the next connection in.
	a.Trust.Add(b.Cert)
	c = MustDial(t, ln, b)
	if err := c.Send(ctx, &transport.Heartbeat{Probe: true, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	testutil.RetryUntil(t, 0, func() error {
		if served.Load() == 0 {
			return errors.New("handler has not run")
		}
		return nil
	})
}

func TestListener_UntrustedServer(t *testing.T) {
	a := MustNewIdentity(t, "alpha", time.Now(), time.Hour)
	b := MustNewIdentity(t, "beta", time.Now(), time.Hour)
	a.Trust.Add(b.Cert) // alpha trusts beta, beta does not trust alpha
	var hs handshakeErrors
	ln := MustListen(t, a, &hs, func(context.Context, *transport.Conn) {})
	_, err := transport.Dial(context.Background(), ln.Addr().String(), transport.ClientTLSConfig(b.Pair, b.Trust, nil))
	cerr, ok := transport.IsCertificateError(err)
	if !ok || cerr.Reason != transport.ReasonUntrusted || cerr.Subject != "alpha" {
		t.Fatalf("dialer err = %v, want untrusted alpha", err)
	}
	hs.wait(t)
	if cerr, ok := transport.IsCertificateError(hs.last()); !ok || cerr.Reason != transport.ReasonRefusedByPartner {
		t.Fatalf("listener err = %v, want refused_by_partner", hs.last())
	}
}

func TestListener_ExpiredClient(t *testing.T) {
	now := time.Now()
	a := MustNewIdentity(t, "alpha", now, time.Hour)
	old := MustNewIdentity(t, "old", now.Add(-30*24*time.Hour), 24*time.Hour)
	a.Trust.Add(old.Cert)
	old.Trust.Add(a.Cert)
	var hs handshakeErrors
	ln := MustListen(t, a, &hs, func(context.Context, *transport.Conn) {})
	c := MustDial(t, ln, old)
	_ = c.Send(context.Background(), &transport.Hello{})
	if _, err := c.ReadMessage(context.Background()); err == nil {
		t.Fatal("expired client accepted")
	}
	hs.wait(t)
	if cerr, ok := transport.IsCertificateError(hs.last()); !ok || cerr.Reason != transport.ReasonExpired {
		t.Fatalf("listener err = %v, want expired", hs.last())
	}
}

func TestListener_CloseWaitsForHandlers(t *testing.T) {
	a, b := MustNewTrustingPair(t)
	var running, finished atomic.Int32
	ln, err := transport.Listen(context.Background(), "127.0.0.1:0", transport.ServerTLSConfig(a.Pair, a.Trust, nil),
		func(ctx context.Context, c *transport.Conn) {
			running.Add(1)
			_, _ = c.ReadFrame(ctx) // blocks until Close cancels ctx
			finished.Add(1)
		})
	if err != nil {
		t.Fatal(err)
	}
	c := MustDial(t, ln, b)
	_ = c.Flush(context.Background())
	testutil.RetryUntil(t, 0, func() error {
		if running.Load() != 1 {
			return errors.New("handler not running")
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ln.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := finished.Load(), int32(1); got != want {
		t.Fatalf("finished = %d after Close, want %d", got, want)
	}
	if _, err := transport.Dial(context.Background(), ln.Addr().String(), transport.ClientTLSConfig(b.Pair, b.Trust, nil)); sqlink.ErrorCode(err) != sqlink.EUNAVAILABLE {
		t.Fatalf("dial after close: err = %v, want EUNAVAILABLE", err)
	}
}

// A TCP connection closed before its first byte (a probe of whether the
// endpoint listens) is not a refused handshake; one that sends garbage is.
func TestListener_ProbeIsNotAHandshakeError(t *testing.T) {
	a, _ := MustNewTrustingPair(t)
	hs := &handshakeErrors{}
	ln := MustListen(t, a, hs, linkServer(t))
	for i := 0; i < 3; i++ {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc.Close()
	}
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	nc.Close()
	hs.wait(t)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if len(hs.errs) != 1 {
		t.Fatalf("handshake errors %v, want only the garbage one", hs.errs)
	}
}
