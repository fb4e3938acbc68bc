package transport_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/transport"
)

// identity is one test instance's endpoint certificate and trust store.
type identity struct {
	Name    string
	CertPEM []byte
	Cert    *x509.Certificate
	Pair    tls.Certificate
	Trust   *mutableTrust
}

// mutableTrust is a TrustStore tests can change while connections run.
type mutableTrust struct {
	mu    sync.Mutex
	certs []*x509.Certificate
}

func (m *mutableTrust) TrustedCertificates(context.Context) ([]*x509.Certificate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*x509.Certificate(nil), m.certs...), nil
}

func (m *mutableTrust) Add(c *x509.Certificate) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.certs = append(m.certs, c)
}

// MustNewIdentity returns an identity whose certificate is valid from
// notBefore (plus the one-minute allowance) for validity, trusting nothing.
func MustNewIdentity(tb testing.TB, name string, now time.Time, validity time.Duration) *identity {
	tb.Helper()
	certPEM, keyPEM, err := transport.NewCertificate(name, []string{"127.0.0.1"}, validity, now)
	if err != nil {
		tb.Fatal(err)
	}
	pair, err := transport.KeyPair(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := transport.ParseCertificatePEM(certPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return &identity{Name: name, CertPEM: certPEM, Cert: cert, Pair: pair, Trust: &mutableTrust{}}
}

// MustNewTrustingPair returns two identities that trust each other.
func MustNewTrustingPair(tb testing.TB) (a, b *identity) {
	tb.Helper()
	a = MustNewIdentity(tb, "alpha", time.Now(), time.Hour)
	b = MustNewIdentity(tb, "beta", time.Now(), time.Hour)
	a.Trust.Add(b.Cert)
	b.Trust.Add(a.Cert)
	return a, b
}

// rawHandshake runs a TLS handshake between server and client over
// loopback, then has the client write and read one byte so that a TLS 1.3
// client learns about a refusal of its certificate. It returns both errors.
func rawHandshake(t *testing.T, server, client *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		if err := c.(*tls.Conn).HandshakeContext(context.Background()); err != nil {
			done <- err
			return
		}
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			done <- err
			return
		}
		_, err = c.Write(b[:])
		done <- err
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err == nil {
		defer c.Close()
		if _, err = c.Write([]byte{1}); err == nil {
			var b [1]byte
			_, err = io.ReadFull(c, b[:])
		}
	}
	return <-done, err
}

func TestTLS_MutualTrust(t *testing.T) {
	a, b := MustNewTrustingPair(t)
	serr, cerr := rawHandshake(t,
		transport.ServerTLSConfig(a.Pair, a.Trust, nil),
		transport.ClientTLSConfig(b.Pair, b.Trust, nil))
	if serr != nil || cerr != nil {
		t.Fatalf("server err %v, client err %v", serr, cerr)
	}
}

// mapRefusal mirrors what Conn does with raw TLS errors, for rawHandshake.
func wantCertError(t *testing.T, err error, reason string) *transport.CertificateError {
	t.Helper()
	cerr, ok := transport.IsCertificateError(transport.MapTLSError(err))
	if !ok {
		t.Fatalf("err = %v, want a CertificateError %q", err, reason)
	}
	if got, want := cerr.Reason, reason; got != want {
		t.Fatalf("Reason = %q, want %q (err %v)", got, want, err)
	}
	if got, want := sqlink.ErrorCode(cerr), sqlink.EUNAUTHORIZED; got != want {
		t.Fatalf("code = %q, want %q", got, want)
	}
	return cerr
}

func TestTLS_ServerRefusesUntrustedClient(t *testing.T) {
	a, b := MustNewTrustingPair(t)
	stranger := MustNewIdentity(t, "stranger", time.Now(), time.Hour)
	stranger.Trust.Add(a.Cert)
	serr, cerr := rawHandshake(t,
		transport.ServerTLSConfig(a.Pair, a.Trust, nil),
		transport.ClientTLSConfig(stranger.Pair, stranger.Trust, nil))
	e := wantCertError(t, serr, transport.ReasonUntrusted)
	if got, want := e.Fingerprint, transport.Fingerprint(stranger.Cert); got != want {
		t.Fatalf("Fingerprint = %q, want %q", got, want)
	}
	if !strings.Contains(e.Error(), "not in this instance's trust store") || !strings.Contains(e.Error(), "stranger") {
		t.Fatalf("err = %v", e)
	}
	e = wantCertError(t, cerr, transport.ReasonRefusedByPartner)
	if !strings.Contains(e.Error(), "partner refused this instance's certificate") || !strings.Contains(sqlink.ErrorHint(e), "sqlink cert trust") {
		t.Fatalf("err = %v", e)
	}
	_ = b
}

func TestTLS_ClientRefusesUntrustedServer(t *testing.T) {
	a, b := MustNewTrustingPair(t)
	stranger := MustNewIdentity(t, "stranger", time.Now(), time.Hour)
	stranger.Trust.Add(b.Cert)
	serr, cerr := rawHandshake(t,
		transport.ServerTLSConfig(stranger.Pair, stranger.Trust, nil),
		transport.ClientTLSConfig(b.Pair, b.Trust, nil))
	wantCertError(t, cerr, transport.ReasonUntrusted)
	wantCertError(t, serr, transport.ReasonRefusedByPartner)
	_ = a
}

func TestTLS_ExpiredCertificate(t *testing.T) {
	now := time.Now()
	t.Run("client expired", func(t *testing.T) {
		a := MustNewIdentity(t, "alpha", now, time.Hour)
		old := MustNewIdentity(t, "old", now.Add(-48*time.Hour), time.Hour)
		a.Trust.Add(old.Cert)
		old.Trust.Add(a.Cert)
		serr, cerr := rawHandshake(t,
			transport.ServerTLSConfig(a.Pair, a.Trust, nil),
			transport.ClientTLSConfig(old.Pair, old.Trust, nil))
		e := wantCertError(t, serr, transport.ReasonExpired)
		if !strings.Contains(e.Error(), "expired at") {
			t.Fatalf("err = %v", e)
		}
		wantCertError(t, cerr, transport.ReasonRefusedByPartner)
	})
	t.Run("server expired", func(t *testing.T) {
		a := MustNewIdentity(t, "alpha", now, time.Hour)
		old := MustNewIdentity(t, "old", now.Add(-48*time.Hour), time.Hour)
		a.Trust.Add(old.Cert)
		old.Trust.Add(a.Cert)
		serr, cerr := rawHandshake(t,
			transport.ServerTLSConfig(old.Pair, old.Trust, nil),
			transport.ClientTLSConfig(a.Pair, a.Trust, nil))
		wantCertError(t, cerr, transport.ReasonExpired)
		wantCertError(t, serr, transport.ReasonRefusedByPartner)
	})
	t.Run("not yet valid by clock", func(t *testing.T) {
		a, b := MustNewTrustingPair(t)
		past := func() time.Time { return now.Add(-time.Hour) }
		serr, _ := rawHandshake(t,
			transport.ServerTLSConfig(a.Pair, a.Trust, past),
			transport.ClientTLSConfig(b.Pair, b.Trust, nil))
		wantCertError(t, serr, transport.ReasonNotYetValid)
	})
}

func TestTLS_TrustAddedAtRuntime(t *testing.T) {
	a := MustNewIdentity(t, "alpha", time.Now(), time.Hour)
	b := MustNewIdentity(t, "beta", time.Now(), time.Hour)
	b.Trust.Add(a.Cert)
	server := transport.ServerTLSConfig(a.Pair, a.Trust, nil)
	client := transport.ClientTLSConfig(b.Pair, b.Trust, nil)
	serr, _ := rawHandshake(t, server, client)
	wantCertError(t, serr, transport.ReasonUntrusted)

	a.Trust.Add(b.Cert) // same configs, no restart
	if serr, cerr := rawHandshake(t, server, client); serr != nil || cerr != nil {
		t.Fatalf("after trust: server err %v, client err %v", serr, cerr)
	}
}

func TestTLS_NoTLS12(t *testing.T) {
	a, b := MustNewTrustingPair(t)
	client := transport.ClientTLSConfig(b.Pair, b.Trust, nil)
	client.MinVersion, client.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	_, cerr := rawHandshake(t, transport.ServerTLSConfig(a.Pair, a.Trust, nil), client)
	if cerr == nil {
		t.Fatal("TLS 1.2 client accepted")
	}
}

func TestVerifyPeer_TrustStoreError(t *testing.T) {
	a := MustNewIdentity(t, "alpha", time.Now(), time.Hour)
	err := transport.VerifyPeer(a.Cert, nil, time.Now(), errors.New("disk gone"))
	cerr, ok := transport.IsCertificateError(err)
	if !ok || cerr.Reason != transport.ReasonTrustStore || sqlink.ErrorCode(err) != sqlink.EUNAVAILABLE {
		t.Fatalf("err = %v", err)
	}
}

func TestTLS_CertificateRotation(t *testing.T) {
	a, b := MustNewTrustingPair(t)
	a2 := MustNewIdentity(t, "alpha-2", time.Now(), time.Hour)
	b.Trust.Add(a2.Cert) // the partner trusts the new certificate before the switch
	a2.Trust = a.Trust
	var mu sync.Mutex
	current := a.Pair
	src := func() (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		c := current
		return &c, nil
	}
	server := transport.ServerTLSConfigFrom(src, a.Trust, nil)
	client := transport.ClientTLSConfig(b.Pair, b.Trust, nil)
	if serr, cerr := rawHandshake(t, server, client); serr != nil || cerr != nil {
		t.Fatalf("before rotation: %v, %v", serr, cerr)
	}
	mu.Lock()
	current = a2.Pair
	mu.Unlock()
	onlyNew := transport.ClientTLSConfig(b.Pair, transport.TrustedCertificates{a2.Cert}, nil)
	if serr, cerr := rawHandshake(t, server, onlyNew); serr != nil || cerr != nil {
		t.Fatalf("after rotation: %v, %v", serr, cerr)
	}
	// A rotated client certificate works the same way.
	aClient := transport.ClientTLSConfigFrom(src, a.Trust, nil)
	if serr, cerr := rawHandshake(t, transport.ServerTLSConfig(b.Pair, b.Trust, nil), aClient); serr != nil || cerr != nil {
		t.Fatalf("rotated client: %v, %v", serr, cerr)
	}
}
