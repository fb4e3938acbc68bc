package pgwire

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"
)

// Limits before authentication, as PostgreSQL has them.
const (
	// MaxStartupMessageSize bounds every message a client sends before it
	// has authenticated (the SASL messages; the startup packet itself is
	// bounded at 10000 bytes by pgproto3, PostgreSQL's
	// MAX_STARTUP_PACKET_LENGTH). The length is checked on the message
	// header, before the body is read or a buffer allocated for it; only an
	// authenticated session gets Config.MaxMessageSize.
	MaxStartupMessageSize = 10 << 10
	// DefaultMaxStartupConns is how many connections authenticate at once
	// by default (capped at MaxConns). More wait their turn, reading
	// nothing, within StartupTimeout.
	DefaultMaxStartupConns = 64
	// DefaultStartupTimeout is PostgreSQL's authentication_timeout order of
	// magnitude: long enough for a client on a slow link, short enough
	// that a connection which never authenticates gives its slot back.
	DefaultStartupTimeout = 30 * time.Second
	// DefaultScramIterations is the iteration count announced for unknown
	// users; it must be that of real logins (catalog.DefaultIterations).
	DefaultScramIterations = 4096
	// refuseTimeout bounds reading the startup packet of a connection that
	// is refused for lack of a slot (to answer it with 53300).
	refuseTimeout = 5 * time.Second
)

// errNoSlot refuses a connection beyond MaxConns.
var errNoSlot = &pgError{Code: codeTooManyConns, Message: "sorry, too many clients already",
	Hint: "wait for sessions to end or close idle ones, or raise --max-conns (connections still authenticating count too)"}

// admission is what startConn decided for a new connection.
type admission int

const (
	admitOK     admission = iota // holds a slot; authenticates
	admitRefuse                  // no slot: read the startup packet, answer 53300
	admitDrop                    // too many refusals in flight: close at once
)

// admitLocked decides whether c may authenticate. Connections still
// authenticating count against MaxConns together with sessions, as in
// PostgreSQL, so that a flood of unauthenticated connections is bounded by
// the same number. s.mu must be held.
func (s *Server) admitLocked(c *clientConn) admission {
	if len(s.starting)+len(s.conns) < s.cfg.MaxConns {
		s.starting[c] = struct{}{}
		return admitOK
	}
	if s.refusing < max(s.cfg.MaxConns, 16) {
		s.refusing++
		return admitRefuse
	}
	return admitDrop
}

// endStartup gives back c's startup slot: c is now a session (counted in
// s.conns) or gone.
func (s *Server) endStartup(c *clientConn) {
	s.mu.Lock()
	delete(s.starting, c)
	s.mu.Unlock()
}

// numStarting returns the number of connections still authenticating.
func (s *Server) numStarting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.starting)
}

// acquireAuth waits for one of MaxStartupConns authentication turns until
// the startup deadline; false means the connection should be closed.
func (s *Server) acquireAuth(c *clientConn) bool {
	select {
	case s.authSem <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(s.cfg.StartupTimeout)
	defer t.Stop()
	select {
	case s.authSem <- struct{}{}:
		return true
	case <-c.ctx.Done():
	case <-t.C:
	}
	return false
}

func (s *Server) releaseAuth() { <-s.authSem }

// refuse answers a connection that got no slot: it reads the startup
// packet (a CancelRequest is still honoured, as PostgreSQL does) and
// answers FATAL 53300.
func (c *clientConn) refuse() {
	defer c.nc.Close()
	defer c.cancel()
	defer func() {
		c.srv.mu.Lock()
		c.srv.refusing--
		c.srv.mu.Unlock()
	}()
	_ = c.nc.SetDeadline(time.Now().Add(min(c.srv.cfg.StartupTimeout, refuseTimeout)))
	for {
		msg, err := c.be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		case *pgproto3.CancelRequest:
			c.srv.cancelQuery(m.ProcessID, m.SecretKey)
			return
		}
		if n := c.srv.refused.count(); n > 0 {
			c.log.Warn("pgwire: connections refused: too many connections", "remote", c.nc.RemoteAddr().String(), "max_conns", c.srv.cfg.MaxConns, "refused", n)
		}
		c.sendFatal(errNoSlot)
		return
	}
}

// refusalLog counts refused connections so that a flood of them is logged
// every 10 seconds at most, with the number refused since.
type refusalLog struct {
	mu   sync.Mutex
	last time.Time
	n    int
}

// count counts one refusal and returns how many to log now (0: not now).
func (l *refusalLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if time.Since(l.last) < 10*time.Second {
		return 0
	}
	n := l.n
	l.n, l.last = 0, time.Now()
	return n
}

// tooBigBeforeAuth is the error for an oversized message during
// authentication.
func tooBigBeforeAuth(err error) error {
	var tooBig *pgproto3.ExceededMaxBodyLenErr
	if errors.As(err, &tooBig) {
		pe := newPgError(codeProtocolViolation, fmt.Sprintf("authentication message of %d bytes exceeds the limit of %d bytes", tooBig.ActualBodyLen, tooBig.MaxExpectedBodyLen))
		pe.Hint = "messages before authentication are limited; authenticate first"
		return pe
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isNetErr(err) {
		return err
	}
	return newPgError(codeProtocolViolation, err.Error())
}

// newAuthSecret returns a random key for fake salts, for a server whose
// Config has none: stable for the process, never computable from outside.
func newAuthSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// fakeSalt is the salt announced for an unknown user: HMAC-SHA-256 of the
// user name under the instance's secret, 16 bytes like a real salt. It is
// stable per user, so probing twice shows nothing, and cannot be computed
// without the secret, so it cannot be told from a real one.
func fakeSalt(secret []byte, user string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("sqlink fake SCRAM salt\x00"))
	m.Write([]byte(user))
	return string(m.Sum(nil)[:16])
}

// sourceIP returns the host part of a remote address, the key for login
// throttling.
func sourceIP(a net.Addr) string {
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// fakeCredentialsFor returns credentials no password matches for an
// unknown user, shaped like a real login's.
func (s *Server) fakeCredentialsFor(user string) scram.StoredCredentials {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: fakeSalt(s.cfg.AuthSecret, user), Iters: s.cfg.ScramIterations},
		StoredKey:  key,
		ServerKey:  key,
	}
}
