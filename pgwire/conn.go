package pgwire

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sqlink/sqlink"
	"github.com/xdg-go/scram"
)

// txStatus is the ReadyForQuery transaction status.
const (
	txIdle   = 'I'
	txActive = 'T'
	txFailed = 'E'
)

// flushThreshold is how many buffered bytes of DataRows trigger a write
// while a result streams; smaller results go out once per ReadyForQuery.
const flushThreshold = 64 << 10

// clientConn is one client connection. Its goroutine owns the socket and the
// session; other goroutines only call terminate and cancelRunning.
type clientConn struct {
	srv *Server
	nc  net.Conn // a *tls.Conn once TLS started (guarded by mu for terminate)
	be  *pgproto3.Backend
	log *slog.Logger

	tlsState *tls.ConnectionState // set by startTLS before the session registers

	pid    uint32
	secret [4]byte

	user     string
	database string
	sess     Session
	params   map[string]string // session settings, lower-case names

	ctx    context.Context // ends when the connection is terminated
	cancel context.CancelFunc

	mu          sync.Mutex
	fatal       *pgError // set by terminate
	queryCtx    context.Context
	queryCancel context.CancelFunc
	interrupt   func() // interrupts the running statement; nil: cancel queryCtx instead
	running     bool
	deadline    bool // a read deadline is set

	// Statement timeouts, cancellation and the socket watch (timeouts.go,
	// watch.go); guarded by mu.
	gen          uint64    // counts statements
	cancelMsg    string    // why the running statement was cancelled
	cancelLater  string    // a cancel kept for the Query's next statement
	stmtDeadline time.Time // when the running statement times out
	watchDone    chan struct{}
	holdsWrite   bool     // the session holds its database's write lock
	act          activity // what pg_stat_activity shows

	fatalSent  bool            // the FATAL error of terminate went out
	sock       *sockReader     // the backend reads the socket through it
	tmo        sessionTimeouts // owned by the connection's goroutine
	stmtTimer  *time.Timer     // statement_timeout; reused
	watchTimer *time.Timer     // starts the socket watch; reused

	tx          byte
	txWrite     bool // BeginWrite succeeded for the open transaction
	txQueryOnly bool // PRAGMA query_only=1 is set for the open transaction
	txROErr     error

	stmts   map[string]*prepared
	portals map[string]*portal
	skip    bool // after an error in the extended protocol, until Sync

	cursors map[string]*cursor // DECLAREd cursors (cursor.go)

	pending int // bytes buffered since the last flush
	row     [][]byte
	rowBuf  []byte
	vals    []driver.Value
	sqliteV string

	ctl map[string]driver.Stmt // prepared BEGIN, COMMIT... (execDirect)
}

func newClientConn(s *Server, nc net.Conn) *clientConn {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &clientConn{
		srv:     s,
		nc:      nc,
		log:     s.cfg.Logger,
		params:  make(map[string]string),
		ctx:     ctx,
		cancel:  cancel,
		tx:      txIdle,
		stmts:   make(map[string]*prepared),
		portals: make(map[string]*portal),
	}
	c.sock = &sockReader{nc: nc}
	c.be = pgproto3.NewBackend(c.sock, nc)
	// Until the client has authenticated, a message may be a few KiB at
	// most (startup() raises the limit afterwards): the limit is checked on
	// the header, before a buffer for the body is allocated.
	c.be.SetMaxBodyLen(MaxStartupMessageSize)
	c.queryCtx, c.queryCancel = context.WithCancel(ctx)
	return c
}

// terminate ends the connection from another goroutine: the running query
// is interrupted and the client gets err as a FATAL error.
func (c *clientConn) terminate(err *pgError) {
	c.mu.Lock()
	if c.fatal == nil {
		c.fatal = fatal(err)
	}
	c.queryCancel()
	running, gen := c.running, c.gen
	if running && c.interrupt != nil {
		c.interrupt()
	}
	c.cancel()
	_ = c.nc.SetReadDeadline(time.Now())
	c.deadline = true
	c.mu.Unlock()
	if running {
		go c.keepInterrupting(gen)
	}
}

// cancelRunning interrupts the running statement, if any (CancelRequest).
func (c *clientConn) cancelRunning() {
	c.cancelStatement(msgCancelUser)
}

// startQuery returns the context for the next statement.
func (c *clientConn) startQuery() context.Context {
	c.mu.Lock()
	if c.queryCtx.Err() != nil && c.ctx.Err() == nil {
		c.queryCtx, c.queryCancel = context.WithCancel(c.ctx)
	}
	c.running = true
	c.gen++
	c.cancelMsg = ""
	c.stmtDeadline = time.Time{}
	if c.tmo.statement > 0 {
		c.stmtDeadline = time.Now().Add(c.tmo.statement)
	}
	ctx := c.queryCtx
	interruptible := c.interrupt != nil
	c.mu.Unlock()
	c.armTimers()
	if interruptible {
		// Cancellation arrives through c.interrupt; see interrupter.
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (c *clientConn) endQuery() {
	c.mu.Lock()
	c.running = false
	c.mu.Unlock()
	c.stopTimers()
	c.stopWatch()
}

func (c *clientConn) send(msg pgproto3.BackendMessage) { c.be.Send(msg) }

func (c *clientConn) flush() error {
	c.pending = 0
	if g, ok := c.sess.(OutputGate); ok {
		// What goes out may show a commit that is not durable yet.
		if err := g.WaitOutput(c.ctx); err != nil {
			return err
		}
	}
	return c.be.Flush()
}

func (c *clientConn) sendError(err error) {
	pe := c.cancelError(toPgError(err))
	if pe.Code == codeQueryCanceled && c.sendTerminated() {
		return
	}
	if pe.Code == codeInternal {
		c.log.Warn("pgwire: internal error", "err", err, "user", c.user, "database", c.database)
	}
	c.send(pe.response())
}

// sendFatal sends a FATAL error and flushes it, bounded in time.
func (c *clientConn) sendFatal(pe *pgError) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.send(fatal(pe).response())
	_ = c.flush()
}

func (c *clientConn) serve() {
	defer func() { c.nc.Close() }() // the TLS conn, once started
	defer c.cancel()
	_ = c.nc.SetDeadline(time.Now().Add(c.srv.cfg.StartupTimeout))
	ok, err := false, error(nil)
	if c.srv.acquireAuth(c) {
		ok, err = c.startup()
		c.srv.releaseAuth()
	}
	c.srv.endStartup(c)
	if err != nil {
		if pe := (*pgError)(nil); errors.As(err, &pe) {
			c.sendFatal(pe)
		}
		c.log.Debug("pgwire: startup failed", "remote", c.nc.RemoteAddr().String(), "err", err)
	}
	if !ok || err != nil {
		return
	}
	defer c.cleanup()
	_ = c.nc.SetDeadline(time.Time{})
	c.loop()
}

// cleanup rolls back, releases the write lock and closes the session.
func (c *clientConn) cleanup() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
	defer cancel()
	c.stopTimers()
	for _, pt := range c.portals {
		pt.close()
	}
	if c.tx != txIdle {
		c.finishTx(ctx, false)
	}
	c.closeCursors(true)
	_ = c.sess.Conn().Raw(func(dc any) error {
		for _, ps := range c.stmts {
			ps.close()
		}
		c.closeCtlStmts()
		return nil
	})
	if err := c.sess.Close(); err != nil {
		c.log.Warn("pgwire: close session", "err", err, "database", c.database)
	}
	c.srv.unregister(c)
}

// startup runs the startup and authentication exchange. ok is false when
// the connection should simply be closed (a cancel request, a client that
// hung up).
func (c *clientConn) startup() (ok bool, err error) {
	var sm *pgproto3.StartupMessage
	for sm == nil {
		msg, err := c.be.ReceiveStartupMessage()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isNetErr(err) {
				return false, nil
			}
			return false, newPgError(codeProtocolViolation, "invalid startup packet: "+err.Error())
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if err := c.startTLS(); err != nil {
				if pe := (*pgError)(nil); errors.As(err, &pe) {
					return false, pe
				}
				c.log.Debug("pgwire: TLS not started", "remote", c.nc.RemoteAddr().String(), "err", err)
				return false, nil
			}
		case *pgproto3.GSSEncRequest:
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return false, nil
			}
		case *pgproto3.CancelRequest:
			c.srv.cancelQuery(m.ProcessID, m.SecretKey)
			return false, nil
		case *pgproto3.StartupMessage:
			sm = m
		default:
			return false, newPgError(codeProtocolViolation, "unexpected startup message")
		}
	}
	if err := c.checkTLS(); err != nil {
		return false, err
	}
	var unknown []string
	for k, v := range sm.Parameters {
		switch {
		case strings.HasPrefix(k, "_pq_."):
			unknown = append(unknown, k)
		case k == "options":
			c.applyOptions(v)
		case k != "user" && k != "database" && k != "replication":
			c.params[strings.ToLower(k)] = v
		}
	}
	if sm.ProtocolVersion != pgproto3.ProtocolVersion30 || len(unknown) > 0 {
		c.send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unknown})
	}
	if _, ok := sm.Parameters["replication"]; ok && sm.Parameters["replication"] != "false" && sm.Parameters["replication"] != "off" {
		return false, newPgError(codeNotSupported, "replication connections are not supported")
	}
	c.user = sm.Parameters["user"]
	c.database = sm.Parameters["database"]
	if c.user == "" {
		return false, newPgError(codeInvalidAuthSpec, "no PostgreSQL user name specified in startup packet")
	}
	if c.database == "" {
		c.database = c.user
	}
	src := sourceIP(c.nc.RemoteAddr())
	if pe := c.srv.throttle.blocked(src); pe != nil {
		return false, pe
	}
	if err := c.authenticate(); err != nil {
		var pe *pgError
		if errors.As(err, &pe) && pe.Code == codeInvalidPassword {
			c.srv.throttle.failed(src, c.user)
			c.log.Info("pgwire: password authentication failed", "user", c.user, "remote", c.nc.RemoteAddr().String())
			if o, ok := c.srv.backend.(LoginObserver); ok {
				o.LoginFailed(c.ctx, c.user, src, pe.Message)
			}
		}
		return false, err
	}
	c.srv.throttle.succeeded(src)
	c.be.SetMaxBodyLen(c.srv.cfg.MaxMessageSize)
	if err := c.srv.register(c); err != nil {
		return false, err
	}
	sess, err := c.srv.backend.OpenSession(c.ctx, c.user, c.database)
	if err != nil {
		c.srv.unregister(c)
		switch sqlink.ErrorCode(err) {
		case sqlink.ENOTFOUND:
			return false, newPgError(codeUnknownDatabase, fmt.Sprintf("database %q does not exist", c.database))
		case sqlink.EUNAVAILABLE:
			return false, &pgError{Code: codeCannotConnectNow, Message: sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)}
		}
		return false, toPgError(err)
	}
	c.sess = sess
	_ = sess.Conn().Raw(func(dc any) error {
		c.mu.Lock()
		c.interrupt = interrupter(dc)
		c.mu.Unlock()
		return nil
	})
	c.send(&pgproto3.AuthenticationOk{})
	ro, _ := sess.ReadOnly()
	for _, kv := range [][2]string{
		{"server_version", c.srv.cfg.ServerVersion},
		{"server_encoding", "UTF8"},
		{"client_encoding", "UTF8"},
		{"standard_conforming_strings", "on"},
		{"integer_datetimes", "on"},
		{"DateStyle", "ISO, MDY"},
		{"TimeZone", "UTC"},
		{"IntervalStyle", "postgres"},
		{"is_superuser", "off"},
		{"session_authorization", c.user},
		{"application_name", c.params["application_name"]},
		{"default_transaction_read_only", onOff(ro)},
		{"in_hot_standby", onOff(ro)},
	} {
		c.send(&pgproto3.ParameterStatus{Name: kv[0], Value: kv[1]})
	}
	c.send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.secret[:]})
	c.send(&pgproto3.ReadyForQuery{TxStatus: txIdle})
	if err := c.flush(); err != nil {
		c.cleanup()
		return false, nil
	}
	c.log.Debug("pgwire: session started", "user", c.user, "database", c.database, "pid", c.pid)
	return true, nil
}

// applyOptions reads "-c name=value" pairs of the startup options.
func (c *clientConn) applyOptions(v string) {
	f := strings.Fields(v)
	for i := 0; i < len(f); i++ {
		kv := f[i]
		if kv == "-c" && i+1 < len(f) {
			i++
			kv = f[i]
		} else if strings.HasPrefix(kv, "--") {
			kv = kv[2:]
		} else if strings.HasPrefix(kv, "-c") {
			kv = kv[2:]
		} else {
			continue
		}
		if k, val, ok := strings.Cut(kv, "="); ok {
			c.params[strings.ToLower(strings.ReplaceAll(k, "-", "_"))] = val
		}
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed)
}

// authenticate runs SCRAM-SHA-256. Unknown users go through the same
// exchange with made-up credentials, so the failure looks the same.
func (c *clientConn) authenticate() error {
	failed := newPgError(codeInvalidPassword, fmt.Sprintf("password authentication failed for user %q", c.user))
	var lookupErr error
	srv, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) {
		creds, err := c.srv.backend.LookupLogin(c.ctx, c.user)
		if err == nil {
			return creds, nil
		}
		if sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
			lookupErr = err
		}
		return c.srv.fakeCredentialsFor(c.user), nil
	})
	if err != nil {
		return err
	}
	conv := srv.NewConversation()
	c.send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if err := c.flush(); err != nil {
		return err
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return err
	}
	msg, err := c.be.Receive()
	if err != nil {
		return c.authReceiveErr(err)
	}
	init, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		return newPgError(codeProtocolViolation, fmt.Sprintf("expected SASL response, got %T", msg))
	}
	if init.AuthMechanism != "SCRAM-SHA-256" {
		return newPgError(codeProtocolViolation, "client selected an invalid SASL authentication mechanism")
	}
	first, err := conv.Step(string(init.Data))
	if lookupErr != nil {
		return toPgError(lookupErr)
	}
	if err != nil {
		return failed
	}
	c.send(&pgproto3.AuthenticationSASLContinue{Data: []byte(first)})
	if err := c.flush(); err != nil {
		return err
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return err
	}
	msg, err = c.be.Receive()
	if err != nil {
		return c.authReceiveErr(err)
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return newPgError(codeProtocolViolation, fmt.Sprintf("expected SASL response, got %T", msg))
	}
	final, err := conv.Step(string(resp.Data))
	if err != nil || !conv.Valid() {
		return failed
	}
	c.send(&pgproto3.AuthenticationSASLFinal{Data: []byte(final)})
	_ = c.be.SetAuthType(pgproto3.AuthTypeOk)
	return nil
}

func (c *clientConn) authReceiveErr(err error) error { return tooBigBeforeAuth(err) }

// loop reads and answers messages until the client leaves or the
// connection is terminated.
func (c *clientConn) loop() {
	c.initTimeouts()
	c.startActivity()
	c.sock.reset()
	for {
		if !c.armDeadline() {
			return
		}
		msg, err := c.be.Receive()
		if err != nil {
			c.mu.Lock()
			fe := c.fatal
			c.mu.Unlock()
			switch {
			case fe != nil:
				c.sendFatal(fe)
			case isTimeout(err) && c.tx != txIdle:
				c.sendFatal(newPgError("25P03", "terminating connection due to idle-in-transaction timeout"))
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isNetErr(err):
			default:
				var tooBig *pgproto3.ExceededMaxBodyLenErr
				if errors.As(err, &tooBig) {
					c.sendFatal(newPgError(codeProtocolViolation, fmt.Sprintf("message of %d bytes exceeds the limit of %d bytes", tooBig.ActualBodyLen, tooBig.MaxExpectedBodyLen)))
				} else {
					c.sendFatal(newPgError(codeProtocolViolation, "invalid message: "+err.Error()))
				}
			}
			return
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			c.skip = false
			c.activeFor(m.String)
			c.simpleQuery(m.String)
			if c.fatalSent {
				return
			}
			c.idleNow()
			c.send(&pgproto3.ReadyForQuery{TxStatus: c.tx})
			if c.flush() != nil {
				return
			}
		case *pgproto3.Sync:
			c.skip = false
			if c.tx == txIdle {
				c.closePortals()
			}
			c.idleNow()
			c.send(&pgproto3.ReadyForQuery{TxStatus: c.tx})
			if c.flush() != nil {
				return
			}
		case *pgproto3.Flush:
			if c.flush() != nil {
				return
			}
		case *pgproto3.Terminate:
			return
		case *pgproto3.Parse, *pgproto3.Bind, *pgproto3.Describe, *pgproto3.Execute, *pgproto3.Close:
			if c.skip {
				continue
			}
			if e, ok := msg.(*pgproto3.Execute); ok {
				if pt := c.portals[e.Portal]; pt != nil {
					c.activeFor(pt.stmt.query)
				}
			}
			if err := c.extended(msg); err != nil {
				c.sendError(err)
				if c.fatalSent {
					return
				}
				c.skip = true
				if c.tx == txActive {
					c.tx = txFailed
				}
			}
		case *pgproto3.FunctionCall:
			c.sendError(newPgError(codeNotSupported, "the function call protocol is not supported"))
			c.send(&pgproto3.ReadyForQuery{TxStatus: c.tx})
			if c.flush() != nil {
				return
			}
		case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
			// Not in COPY mode: PostgreSQL ignores these.
		default:
			c.sendFatal(newPgError(codeProtocolViolation, fmt.Sprintf("unexpected message %T", msg)))
			return
		}
	}
}

// armDeadline sets or clears the idle-in-transaction read deadline. It
// returns false when the connection has been terminated.
func (c *clientConn) armDeadline() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fatal != nil {
		if !c.fatalSent {
			c.sendFatal(c.fatal)
		}
		return false
	}
	t := c.tmo.idle
	switch {
	case t > 0 && c.tx != txIdle:
		_ = c.nc.SetReadDeadline(time.Now().Add(t))
		c.deadline = true
	case c.deadline:
		_ = c.nc.SetReadDeadline(time.Time{})
		c.deadline = false
	}
	return true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
