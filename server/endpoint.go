package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sqlink/sqlink"
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

// startEndpoint opens the endpoint listener.
func (s *Server) startEndpoint(ctx context.Context) error {
	lc := transport.ListenConfig{
		OnHandshakeError: s.onHandshakeError,
		Logger:           s.log.With("component", "endpoint"),
	}
	ln, err := lc.Listen(ctx, s.cfg.EndpointAddr, s.serverTLS, s.acceptLink)
	if err != nil {
		return err
	}
	s.endpointLn = ln
	return nil
}

// EndpointAddr returns the endpoint listener's address, with the real port
// when the configured one was 0.
func (s *Server) EndpointAddr() string {
	if s.endpointLn == nil {
		return s.cfg.EndpointAddr
	}
	return s.endpointLn.Addr().String()
}

// onHandshakeError shows a refused connection as the last error of the
// links it may belong to: those whose partner lives at the remote host and
// that are not connected (a handshake failure names no link).
func (s *Server) onHandshakeError(remote net.Addr, err error) {
	host := ""
	if ta, ok := remote.(*net.TCPAddr); ok {
		host = ta.IP.String()
	}
	for _, rt := range s.runtimes() {
		if rt.isConnected() {
			continue
		}
		if h, _, e := net.SplitHostPort(rt.partnerEndpoint()); e == nil && host != "" && !sameHost(h, host) {
			continue
		}
		rt.setError(fmt.Errorf("endpoint refused a connection from %s: %w", remote, err))
	}
}

func sameHost(a, b string) bool {
	if a == b {
		return true
	}
	ips, err := net.LookupIP(a)
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if ip.String() == b {
			return true
		}
	}
	return false
}

// acceptLink serves one authenticated endpoint connection: it reads the
// partner's Hello, finds the link, answers HelloAck (or Refuse) and hands the
// connection to the link's runtime until it ends.
func (s *Server) acceptLink(ctx context.Context, c *transport.Conn) {
	hctx, cancel := context.WithTimeout(ctx, transport.DefaultHandshakeTimeout)
	h, err := c.ReadHello(hctx)
	cancel()
	if err != nil {
		if _, ok := transport.IsCertificateError(err); ok {
			s.onHandshakeError(c.RemoteAddr(), err)
		}
		return
	}
	if h.LinkID == probeLinkID {
		s.answerProbeHello(ctx, c)
		return
	}
	rt := s.runtimeByID(h.LinkID)
	if rt == nil {
		refuse := sqlink.Errorf(sqlink.ENOTFOUND, "create the link on this instance, or drop it on the partner",
			"link %q (%s) does not exist on instance %s", h.LinkName, h.LinkID, s.info.Name)
		_ = c.Send(ctx, transport.RefuseFrom(refuse))
		return
	}
	if err := rt.checkHello(h); err != nil {
		rt.setError(err)
		_ = c.Send(ctx, transport.RefuseFrom(err))
		return
	}
	ack := transport.HelloAck(rt.hello())
	if err := c.Send(ctx, &ack); err != nil {
		rt.setError(fmt.Errorf("answer hello: %w", err))
		return
	}
	rt.serveConn(ctx, c, h)
}

// dialLink connects to the partner of rt and runs the Hello exchange.
func (s *Server) dialLink(ctx context.Context, rt *linkRuntime) (*transport.Conn, *transport.Hello, error) {
	dctx, cancel := context.WithTimeout(ctx, transport.DefaultDialTimeout)
	defer cancel()
	c, err := transport.Dial(dctx, rt.partnerEndpoint(), s.clientTLS)
	if err != nil {
		return nil, nil, err
	}
	h := rt.hello()
	if err := c.Send(dctx, &h); err != nil {
		c.Close()
		return nil, nil, err
	}
	ack, err := c.ReadHelloAck(dctx)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	ph := transport.Hello(*ack)
	if err := rt.checkHello(&ph); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, &ph, nil
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

// sleep waits d, or until ctx is done; it reports whether it slept all of d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// backoff returns the next reconnect delay: quick at first, since most
// drops are brief, and at most max.
func backoff(prev, max time.Duration) time.Duration {
	if prev == 0 {
		return 20 * time.Millisecond
	}
	return min(2*prev, max)
}
