package replication

import (
	"context"
	"fmt"
	"net"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/transport"
)

// HandshakeRefused shows a refused connection as the last error of the
// links it may belong to: those whose partner lives at the remote host and
// that are not connected (a handshake failure names no link).
func (s *Engine) HandshakeRefused(remote net.Addr, err error) {
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

// Serve serves an authenticated endpoint connection whose Hello, h, names
// a link: it finds the link, answers HelloAck (or Refuse) and hands the
// connection to the link until it ends.
func (s *Engine) Serve(ctx context.Context, c *transport.Conn, h *transport.Hello) {
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
func (s *Engine) dialLink(ctx context.Context, rt *Link) (*transport.Conn, *transport.Hello, error) {
	dctx, cancel := context.WithTimeout(ctx, transport.DefaultDialTimeout)
	defer cancel()
	c, err := transport.Dial(dctx, rt.partnerEndpoint(), s.cfg.ClientTLS)
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
