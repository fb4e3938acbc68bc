package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
)

// TrustStore returns the partner certificates an instance trusts. The server
// implements it from its catalog. It is consulted afresh on every handshake,
// so trusting or distrusting a certificate takes effect without a restart.
// Implementations must be safe for concurrent use.
type TrustStore interface {
	TrustedCertificates(ctx context.Context) ([]*x509.Certificate, error)
}

// TrustedCertificates is a fixed TrustStore, handy for tests and tools.
type TrustedCertificates []*x509.Certificate

// TrustedCertificates implements TrustStore.
func (t TrustedCertificates) TrustedCertificates(context.Context) ([]*x509.Certificate, error) {
	return t, nil
}

// Reasons a certificate is refused, as CertificateError.Reason.
const (
	ReasonUntrusted   = "untrusted"     // not in the trust store
	ReasonExpired     = "expired"       // NotAfter has passed
	ReasonNotYetValid = "not_yet_valid" // NotBefore is in the future
	ReasonMissing     = "missing"       // the peer presented no certificate
	ReasonTrustStore  = "trust_store"   // the trust store could not be read
	// ReasonRefusedByPartner: the partner refused this instance's
	// certificate. TLS only says "bad certificate", so the precise reason is
	// known only on the partner's side.
	ReasonRefusedByPartner = "refused_by_partner"
)

// trustLoadTimeout bounds how long a handshake waits for the trust store.
// The store is a local catalog read, so a few seconds means it is stuck.
const trustLoadTimeout = 5 * time.Second

// CertificateError says why a certificate was refused during a TLS
// handshake. The side that refuses gets it from VerifyConnection; the
// refused side gets one with Reason ReasonRefusedByPartner when it sees the
// partner's TLS alert (see Conn.ReadFrame and Dial). Fingerprint and Subject
// describe the refused certificate when it is known.
//
// Unwrap returns an EUNAUTHORIZED *sqlink.Error, so sqlink.ErrorCode and
// sqlink.ErrorHint work on it.
type CertificateError struct {
	Reason      string
	Fingerprint string
	Subject     string
	NotBefore   time.Time
	NotAfter    time.Time
	Now         time.Time // the refusing side's clock, for validity refusals
	Err         error     // underlying cause, if any
}

// Error implements error.
func (e *CertificateError) Error() string { return e.sqlinkError().Error() }

// Unwrap returns the error as a *sqlink.Error.
func (e *CertificateError) Unwrap() error { return e.sqlinkError() }

func (e *CertificateError) who() string {
	if e.Subject == "" && e.Fingerprint == "" {
		return "the partner's certificate"
	}
	return fmt.Sprintf("certificate %q (SHA-256 %s)", e.Subject, e.Fingerprint)
}

func (e *CertificateError) sqlinkError() *sqlink.Error {
	switch e.Reason {
	case ReasonUntrusted:
		return sqlink.Errorf(sqlink.EUNAUTHORIZED,
			"run `sqlink cert trust` on this instance with the partner's endpoint certificate",
			"refused %s: not in this instance's trust store", e.who())
	case ReasonExpired:
		return sqlink.Errorf(sqlink.EUNAUTHORIZED,
			"rotate the partner's endpoint certificate (`sqlink cert rotate`) and trust the new one here, or check both clocks",
			"refused %s: expired at %s (now %s)", e.who(), e.NotAfter.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339))
	case ReasonNotYetValid:
		return sqlink.Errorf(sqlink.EUNAUTHORIZED,
			"check the clocks of both instances",
			"refused %s: not valid before %s (now %s)", e.who(), e.NotBefore.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339))
	case ReasonMissing:
		return sqlink.Errorf(sqlink.EUNAUTHORIZED,
			"connect with a sqlink instance's endpoint, which always presents its certificate",
			"refused connection: the partner presented no certificate")
	case ReasonTrustStore:
		return sqlink.Errorf(sqlink.EUNAVAILABLE,
			"check this instance's catalog",
			"cannot check %s: read trust store: %v", e.who(), e.Err)
	case ReasonRefusedByPartner:
		return sqlink.Errorf(sqlink.EUNAUTHORIZED,
			"run `sqlink cert trust` there with this instance's endpoint certificate, and check it has not expired (`sqlink cert show`)",
			"the partner refused this instance's certificate: not in its trust store or not valid by its clock")
	default:
		return sqlink.Errorf(sqlink.EUNAUTHORIZED, "", "refused %s: %s", e.who(), e.Reason)
	}
}

// CertificateSource returns this instance's current endpoint certificate.
// It is called on every handshake, so a rotated certificate is presented to
// new connections without a restart while existing ones carry on.
type CertificateSource func() (*tls.Certificate, error)

// StaticCertificate returns a CertificateSource that always returns cert.
func StaticCertificate(cert tls.Certificate) CertificateSource {
	return func() (*tls.Certificate, error) { return &cert, nil }
}

// ServerTLSConfig returns the TLS configuration of an endpoint listener:
// TLS 1.3 only, the client must present a certificate, and the client's
// certificate must be one of trust's certificates (compared by fingerprint)
// and valid at now(). now nil means time.Now.
func ServerTLSConfig(cert tls.Certificate, trust TrustStore, now func() time.Time) *tls.Config {
	return ServerTLSConfigFrom(StaticCertificate(cert), trust, now)
}

// ServerTLSConfigFrom is ServerTLSConfig with a certificate that can be
// rotated: src is asked for it on every handshake.
func ServerTLSConfigFrom(src CertificateSource, trust TrustStore, now func() time.Time) *tls.Config {
	getCert := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return src() }
	base := baseConfig()
	base.ClientAuth = tls.RequireAnyClientCert
	base.GetCertificate = getCert
	base.VerifyConnection = verifier(context.Background(), trust, now)
	// Each handshake gets its own config so the trust store is read with
	// the connection's context.
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		cfg := baseConfig()
		cfg.ClientAuth = tls.RequireAnyClientCert
		cfg.GetCertificate = getCert
		cfg.VerifyConnection = verifier(hello.Context(), trust, now)
		return cfg, nil
	}
	return base
}

// ClientTLSConfig returns the TLS configuration used to dial a partner's
// endpoint: TLS 1.3 only, this instance presents cert, and the server's
// certificate must be one of trust's certificates (compared by fingerprint)
// and valid at now(). Host names are not checked: the pinned fingerprint is
// the identity. now nil means time.Now.
func ClientTLSConfig(cert tls.Certificate, trust TrustStore, now func() time.Time) *tls.Config {
	return ClientTLSConfigFrom(StaticCertificate(cert), trust, now)
}

// ClientTLSConfigFrom is ClientTLSConfig with a certificate that can be
// rotated: src is asked for it on every handshake.
func ClientTLSConfigFrom(src CertificateSource, trust TrustStore, now func() time.Time) *tls.Config {
	cfg := baseConfig()
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return src() }
	// Normal chain and host name verification is off because every
	// certificate is self-signed; VerifyConnection pins fingerprints.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = verifier(context.Background(), trust, now)
	return cfg
}

func baseConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		// No resumption: every connection proves its certificate against
		// the current trust store.
		SessionTicketsDisabled: true,
	}
}

func verifier(ctx context.Context, trust TrustStore, now func() time.Time) func(tls.ConnectionState) error {
	if now == nil {
		now = time.Now
	}
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return &CertificateError{Reason: ReasonMissing}
		}
		ctx, cancel := context.WithTimeout(ctx, trustLoadTimeout)
		defer cancel()
		trusted, err := trust.TrustedCertificates(ctx)
		return VerifyPeer(cs.PeerCertificates[0], trusted, now(), err)
	}
}

// VerifyPeer checks peer against the trusted certificates at time now and
// returns nil or a *CertificateError. loadErr is the error from reading the
// trust store, if any. It is what the TLS configurations run on every
// handshake; the connectivity probe and validation reuse it.
func VerifyPeer(peer *x509.Certificate, trusted []*x509.Certificate, now time.Time, loadErr error) error {
	cerr := &CertificateError{
		Fingerprint: Fingerprint(peer),
		Subject:     subjectOf(peer),
		NotBefore:   peer.NotBefore,
		NotAfter:    peer.NotAfter,
		Now:         now,
	}
	if loadErr != nil {
		cerr.Reason, cerr.Err = ReasonTrustStore, loadErr
		return cerr
	}
	found := false
	for _, t := range trusted {
		if t != nil && Fingerprint(t) == cerr.Fingerprint {
			found = true
			break
		}
	}
	switch {
	case !found:
		cerr.Reason = ReasonUntrusted
	case now.After(peer.NotAfter):
		cerr.Reason = ReasonExpired
	case now.Before(peer.NotBefore):
		cerr.Reason = ReasonNotYetValid
	default:
		return nil
	}
	return cerr
}

// mapTLSError turns the TLS alert a partner sends when it refuses this
// instance's certificate into a *CertificateError with Reason
// ReasonRefusedByPartner. Other errors are returned unchanged.
func mapTLSError(err error) error {
	if err == nil {
		return nil
	}
	var cerr *CertificateError
	if errors.As(err, &cerr) {
		return err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		msg := op.Err.Error()
		if strings.Contains(msg, "bad certificate") ||
			strings.Contains(msg, "certificate required") ||
			strings.Contains(msg, "certificate expired") ||
			strings.Contains(msg, "unknown certificate") {
			return &CertificateError{Reason: ReasonRefusedByPartner, Err: err}
		}
	}
	return err
}

// IsCertificateError reports whether err says a certificate was refused,
// by either side, and returns the details.
func IsCertificateError(err error) (*CertificateError, bool) {
	var cerr *CertificateError
	ok := errors.As(err, &cerr)
	return cerr, ok
}
