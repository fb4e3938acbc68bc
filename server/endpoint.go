package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"

	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/transport"
)

// catalogTrust is the endpoint's TrustStore: the catalog's trusted
// certificates, read afresh on every handshake so `sqlink cert trust` and
// distrust take effect at once.
type catalogTrust struct{ cat *catalog.Catalog }

var _ transport.TrustStore = catalogTrust{}

func (t catalogTrust) TrustedCertificates(ctx context.Context) ([]*x509.Certificate, error) {
	tcs, err := t.cat.ListTrustedCertificates(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*x509.Certificate, 0, len(tcs))
	for _, tc := range tcs {
		c, err := catalog.ParseCertificatePEM(tc.PEM)
		if err != nil {
			continue // a damaged entry trusts nothing
		}
		out = append(out, c)
	}
	return out, nil
}

// endpointTLS sets up the endpoint's TLS 1.3 configurations, with mutual
// pinning against the catalog's trust store.
func (s *Server) endpointTLS() {
	trust := catalogTrust{s.cat}
	src := func() (*tls.Certificate, error) { c, _ := s.endpointCert(); return &c, nil }
	s.serverTLS = transport.ServerTLSConfigFrom(src, trust, s.cfg.Now)
	s.clientTLS = transport.ClientTLSConfigFrom(src, trust, s.cfg.Now)
}

// bindEndpoint binds the endpoint's port, before the links start: from
// then until Close has closed the databases, a partner's connection is
// never refused (it waits in the kernel's queue until serveEndpoint), so
// a refused connection tells the partner that no process of this
// instance can be taking writes (replication/gone.go).
func (s *Server) bindEndpoint(ctx context.Context) error {
	ln, err := transport.ListenTCP(ctx, s.cfg.EndpointAddr)
	if err != nil {
		return err
	}
	s.endpointRaw = ln
	s.endpointHold = holdListener(ln)
	return nil
}

// serveEndpoint serves the bound endpoint, once the links are loaded.
func (s *Server) serveEndpoint(ctx context.Context) error {
	lc := transport.ListenConfig{
		OnHandshakeError: func(remote net.Addr, err error) { s.eng.HandshakeRefused(remote, err) },
		Logger:           s.log.With("component", "endpoint"),
	}
	ln, err := lc.Serve(ctx, s.endpointRaw, s.serverTLS, s.acceptLink)
	if err != nil {
		return err
	}
	s.endpointLn = ln
	return nil
}

// releaseEndpoint closes what is left of the endpoint's port (Start's
// error paths, the end of Close).
func (s *Server) releaseEndpoint() {
	if s.endpointLn == nil && s.endpointRaw != nil {
		s.endpointRaw.Close()
	}
	if s.endpointHold != nil {
		s.endpointHold()
		s.endpointHold = nil
	}
}

// EndpointAddr returns the endpoint listener's address, with the real port
// when the configured one was 0.
func (s *Server) EndpointAddr() string {
	if s.endpointRaw == nil {
		return s.cfg.EndpointAddr
	}
	return s.endpointRaw.Addr().String()
}

// acceptLink serves one authenticated endpoint connection: it reads the
// partner's Hello, answers a probe's itself and hands a link's to the
// replication engine.
func (s *Server) acceptLink(ctx context.Context, c *transport.Conn) {
	hctx, cancel := context.WithTimeout(ctx, transport.DefaultHandshakeTimeout)
	h, err := c.ReadHello(hctx)
	cancel()
	if err != nil {
		if _, ok := transport.IsCertificateError(err); ok {
			s.eng.HandshakeRefused(c.RemoteAddr(), err)
		}
		return
	}
	if h.LinkID == transport.ProbeLinkID {
		s.answerProbeHello(ctx, c)
		return
	}
	s.eng.Serve(ctx, c, h)
}

// closeEndpoint stops the endpoint listener.
func (s *Server) closeEndpoint(ctx context.Context) error {
	if s.endpointLn == nil {
		return nil
	}
	err := s.endpointLn.Close(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}
