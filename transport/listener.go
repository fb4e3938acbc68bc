package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/sqlink/sqlink"
)

// Defaults for listeners and dialers.
const (
	// DefaultPort is the endpoint's default TCP port, as SQL Server's
	// database mirroring endpoint.
	DefaultPort = 5022
	// DefaultHandshakeTimeout bounds the TLS handshake. A loopback or LAN
	// handshake takes milliseconds; ten seconds allows slow WAN links while
	// freeing a slot held by a client that stalls.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultDialTimeout bounds the TCP connect of Dial when ctx has no
	// earlier deadline, so an unreachable partner is reported promptly.
	DefaultDialTimeout = 10 * time.Second
	// DefaultKeepAlive is the TCP keepalive period. Link messages carry
	// their own heartbeats; keepalive only reaps connections whose partner
	// vanished without a FIN.
	DefaultKeepAlive = 15 * time.Second
)

// ListenConfig configures a Listener. The zero value is ready to use.
type ListenConfig struct {
	// HandshakeTimeout bounds each TLS handshake; 0 means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// OnHandshakeError, if set, is called with every failed handshake, for
	// example a *CertificateError for an untrusted partner, so the server
	// can show it as a link's last error. It must not block for long.
	OnHandshakeError func(remote net.Addr, err error)
	// Logger receives accept errors; nil discards them.
	Logger *slog.Logger
	// Now is the clock Conns use to answer Heartbeat probes; nil means
	// time.Now. Tests set it to simulate clock skew.
	Now func() time.Time
}

// Validate reports a configuration error.
func (c ListenConfig) Validate() error {
	if c.HandshakeTimeout < 0 {
		return sqlink.Errorf(sqlink.EINVALID, "", "handshake timeout %s is negative", c.HandshakeTimeout)
	}
	return nil
}

// Listener accepts endpoint connections, runs the TLS handshake and hands
// each authenticated connection to a handler in its own goroutine. It is
// safe for concurrent use.
type Listener struct {
	cfg     ListenConfig
	ln      net.Listener
	tlsCfg  *tls.Config
	handler func(context.Context, *Conn)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Listen listens on addr with the zero ListenConfig.
func Listen(ctx context.Context, addr string, tlsCfg *tls.Config, handler func(context.Context, *Conn)) (*Listener, error) {
	return ListenConfig{}.Listen(ctx, addr, tlsCfg, handler)
}

// Listen listens on addr (such as ":5022" or "127.0.0.1:0") and serves
// until Close. handler runs once per connection whose handshake succeeded,
// with a context canceled by Close; the Conn is closed when it returns.
// ctx bounds only the listen call; handlers inherit its values.
func (c ListenConfig) Listen(ctx context.Context, addr string, tlsCfg *tls.Config, handler func(context.Context, *Conn)) (*Listener, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	ln, err := ListenTCP(ctx, addr)
	if err != nil {
		return nil, err
	}
	return c.Serve(ctx, ln, tlsCfg, handler)
}

// ListenTCP listens on addr for Serve. Until Serve, the kernel queues the
// connections it accepts: a partner's dial waits rather than being
// refused.
func ListenTCP(ctx context.Context, addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: DefaultKeepAlive}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, &causeError{
			e: sqlink.Errorf(sqlink.EUNAVAILABLE,
				"choose a free port for the endpoint, or stop the process using it",
				"cannot listen on endpoint address %s: %v", addr, err),
			cause: err,
		}
	}
	return ln, nil
}

// Serve serves ln (from ListenTCP) as Listen does; Close closes ln.
func (c ListenConfig) Serve(ctx context.Context, ln net.Listener, tlsCfg *tls.Config, handler func(context.Context, *Conn)) (*Listener, error) {
	if err := c.Validate(); err != nil {
		ln.Close()
		return nil, err
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	l := &Listener{cfg: c, ln: ln, tlsCfg: tlsCfg, handler: handler, conns: map[net.Conn]struct{}{}}
	l.ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// Addr returns the address the listener listens on, with the real port
// when it was given as 0.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as
			// net/http does rather than spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			if l.cfg.Logger != nil {
				l.cfg.Logger.Warn("endpoint accept failed", "err", err, "retry_in", backoff)
			}
			select {
			case <-time.After(backoff):
			case <-l.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		if !l.track(nc) {
			nc.Close()
			return
		}
		l.wg.Add(1)
		go l.serve(nc)
	}
}

// track records nc so Close can close it; it reports false once closed.
func (l *Listener) track(nc net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns == nil {
		return false
	}
	l.conns[nc] = struct{}{}
	return true
}

func (l *Listener) untrack(nc net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, nc)
}

func (l *Listener) serve(nc net.Conn) {
	defer l.wg.Done()
	defer l.untrack(nc)
	defer nc.Close()
	setTCPOptions(nc)
	conn := NewConn(tls.Server(nc, l.tlsCfg))
	if l.cfg.Now != nil {
		conn.now = l.cfg.Now
	}
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.HandshakeTimeout)
	err := conn.Handshake(ctx)
	cancel()
	if err != nil {
		// A connection closed before its first byte is a probe of
		// whether anything listens here (replication's gone probe, a
		// load balancer's health check), not a refused peer.
		if l.cfg.OnHandshakeError != nil && l.ctx.Err() == nil && !errors.Is(err, io.EOF) {
			l.cfg.OnHandshakeError(nc.RemoteAddr(), err)
		}
		return
	}
	l.handler(l.ctx, conn)
}

// Close stops accepting, cancels the handlers' context and waits for the
// handlers to return. If ctx ends first it closes their connections, which
// unblocks any I/O, waits for them again, and returns ctx's error.
func (l *Listener) Close(ctx context.Context) error {
	l.cancel()
	err := l.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		l.mu.Lock()
		l.conns = nil
		l.mu.Unlock()
		return err
	case <-ctx.Done():
	}
	l.mu.Lock()
	for nc := range l.conns {
		nc.Close()
	}
	l.conns = nil
	l.mu.Unlock()
	<-done
	return fmt.Errorf("close endpoint listener: handlers still running: %w", ctx.Err())
}

// Dial connects to a partner's endpoint at addr and runs the TLS handshake.
// The TCP connect is bounded by DefaultDialTimeout (or ctx's earlier
// deadline). A refusal of the partner's certificate returns a
// *CertificateError; with TLS 1.3 the partner's refusal of this instance's
// certificate shows up on the first read instead (also as a
// *CertificateError). Failure to connect returns an EUNAVAILABLE error.
func Dial(ctx context.Context, addr string, tlsCfg *tls.Config) (*Conn, error) {
	d := net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: DefaultKeepAlive}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, dialError(addr, err)
	}
	setTCPOptions(nc)
	conn := NewConn(tls.Client(nc, tlsCfg))
	hctx, cancel := context.WithTimeout(ctx, DefaultHandshakeTimeout)
	defer cancel()
	if err := conn.Handshake(hctx); err != nil {
		nc.Close()
		return nil, err
	}
	return conn, nil
}

func dialError(addr string, err error) error {
	return &causeError{
		e: sqlink.Errorf(sqlink.EUNAVAILABLE,
			fmt.Sprintf("check that the partner instance is running, that %s is its endpoint address, and that no firewall blocks the port", addr),
			"cannot connect to endpoint %s: %v", addr, err),
		cause: err,
	}
}

func setTCPOptions(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		// Records batches are flushed deliberately; Nagle would only add
		// latency to sync commits.
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
		_ = tc.SetKeepAlivePeriod(DefaultKeepAlive)
	}
}

// causeError is a *sqlink.Error for people that also wraps the underlying
// cause for errors.Is.
type causeError struct {
	e     *sqlink.Error
	cause error
}

func (e *causeError) Error() string   { return e.e.Error() }
func (e *causeError) Unwrap() []error { return []error{e.e, e.cause} }
