package pgwire

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The three session timeouts, named as PostgreSQL names them. Each starts
// at the instance's value (Config) and can be changed per session with SET
// (or the startup options), reset with RESET, and read with SHOW.
const (
	settingStatementTimeout = "statement_timeout"
	settingLockTimeout      = "lock_timeout"
	settingIdleInTxTimeout  = "idle_in_transaction_session_timeout"
)

// maxTimeout is PostgreSQL's bound for a time setting in milliseconds
// (INT_MAX ms, about 24.8 days).
const maxTimeout = math.MaxInt32 * time.Millisecond

// sessionTimeouts are a session's timeouts; zero is off. Owned by the
// connection's goroutine.
type sessionTimeouts struct {
	statement time.Duration
	lock      time.Duration
	idle      time.Duration
}

// timeoutUnits are PostgreSQL's units for time settings.
var timeoutUnits = map[string]time.Duration{
	"us":  time.Microsecond,
	"ms":  time.Millisecond,
	"s":   time.Second,
	"min": time.Minute,
	"h":   time.Hour,
	"d":   24 * time.Hour,
}

// ParseTimeout parses a timeout as PostgreSQL's statement_timeout takes
// it: a number with an optional unit (us, ms, s, min, h or d; none means
// milliseconds), such as "1s", "500ms", "2min", "1.5s" or "3000". It also
// takes Go durations ("1m30s"). Zero means off. Values are rounded to the
// millisecond; one below a millisecond but above zero becomes one
// millisecond rather than off.
func ParseTimeout(s string) (time.Duration, error) {
	v := strings.TrimSpace(s)
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.' || i == 0 && (v[i] == '-' || v[i] == '+')) {
		i++
	}
	num, unit := v[:i], strings.ToLower(strings.TrimSpace(v[i:]))
	f, err := strconv.ParseFloat(num, 64)
	mult, ok := timeoutUnits[unit]
	if unit == "" {
		mult, ok = time.Millisecond, true
	}
	var d time.Duration
	switch {
	case err == nil && ok:
		if math.IsNaN(f) || f < 0 || f*float64(mult) > float64(maxTimeout) {
			return 0, errTimeoutRange(s)
		}
		d = time.Duration(math.Round(f * float64(mult)))
	default:
		gd, gerr := time.ParseDuration(v)
		if gerr != nil {
			return 0, fmt.Errorf("invalid value %q: use a number with a unit: us, ms, s, min, h or d (no unit: milliseconds), such as 1s, 500ms or 2min; 0 turns it off", s)
		}
		if gd < 0 || gd > maxTimeout {
			return 0, errTimeoutRange(s)
		}
		d = gd
	}
	if d > 0 && d < time.Millisecond {
		d = time.Millisecond
	}
	return d.Round(time.Millisecond), nil
}

func errTimeoutRange(s string) error {
	return fmt.Errorf("value %q is outside the valid range 0 .. %dms", s, math.MaxInt32)
}

// FormatTimeout writes d as PostgreSQL's SHOW does: in the largest unit
// that divides it exactly ("1s", "500ms", "2min"), "0" when off.
func FormatTimeout(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	ms := d.Milliseconds()
	for _, u := range []struct {
		ms   int64
		name string
	}{{86400000, "d"}, {3600000, "h"}, {60000, "min"}, {1000, "s"}} {
		if ms%u.ms == 0 {
			return strconv.FormatInt(ms/u.ms, 10) + u.name
		}
	}
	return strconv.FormatInt(ms, 10) + "ms"
}

// isTimeoutSetting reports whether name is one of the three timeouts.
func isTimeoutSetting(name string) bool {
	return name == settingStatementTimeout || name == settingLockTimeout || name == settingIdleInTxTimeout
}

// defaultTimeout returns the instance's value of a timeout setting.
func (c *clientConn) defaultTimeout(name string) time.Duration {
	switch name {
	case settingStatementTimeout:
		return c.srv.cfg.StatementTimeout
	case settingLockTimeout:
		return c.srv.cfg.LockTimeout
	}
	return c.srv.cfg.IdleInTxTimeout
}

func (c *clientConn) timeoutField(name string) *time.Duration {
	switch name {
	case settingStatementTimeout:
		return &c.tmo.statement
	case settingLockTimeout:
		return &c.tmo.lock
	}
	return &c.tmo.idle
}

// initTimeouts sets the session's timeouts from the instance's, then from
// the startup options; an invalid startup value is dropped with a log
// line, the instance's value stays.
func (c *clientConn) initTimeouts() {
	for _, name := range []string{settingStatementTimeout, settingLockTimeout, settingIdleInTxTimeout} {
		*c.timeoutField(name) = c.defaultTimeout(name)
		v, ok := c.params[name]
		if !ok {
			continue
		}
		d, err := ParseTimeout(v)
		if err != nil {
			delete(c.params, name)
			c.log.Info("pgwire: ignored a startup setting", "setting", name, "err", err, "user", c.user)
			continue
		}
		*c.timeoutField(name) = d
		c.params[name] = FormatTimeout(d)
	}
}

// checkSetting validates SET name = value for the settings this package
// acts on and returns the value to remember ("\x00reset" for RESET).
// Other settings are remembered as given.
func (c *clientConn) checkSetting(name, value string) (string, error) {
	if !isTimeoutSetting(name) {
		return value, nil
	}
	if value == "\x00reset" {
		*c.timeoutField(name) = c.defaultTimeout(name)
		return value, nil
	}
	d, err := ParseTimeout(value)
	if err != nil {
		return "", &pgError{Severity: "ERROR", Code: codeInvalidParameter,
			Message: fmt.Sprintf("invalid value for parameter %q: %q", name, value),
			Detail:  err.Error(),
			Hint:    `Valid units for this parameter are "us", "ms", "s", "min", "h", and "d"; a plain number is milliseconds and 0 turns the timeout off.`}
	}
	*c.timeoutField(name) = d
	return FormatTimeout(d), nil
}

// Reasons a running statement is cancelled, as PostgreSQL words them.
const (
	msgCancelUser      = "canceling statement due to user request"
	msgCancelStatement = "canceling statement due to statement timeout"
	msgCancelLock      = "canceling statement due to lock timeout"
)

// statementTimedOut runs on the statement timer: it cancels the running
// statement if its deadline has passed (a timer of an earlier statement
// that fired late finds a later deadline and does nothing).
func (c *clientConn) statementTimedOut() {
	c.mu.Lock()
	if !c.running || c.stmtDeadline.IsZero() || time.Now().Before(c.stmtDeadline) {
		c.mu.Unlock()
		return
	}
	gen := c.gen
	c.cancelLocked(msgCancelStatement)
	c.mu.Unlock()
	c.keepInterrupting(gen)
}

// cancelStatement cancels the running statement, if any, with msg as the
// reason its client sees (57014). It returns at once; interrupts are
// repeated until the statement ends (see keepInterrupting).
//
// A session that is active (it works on a Query or an Execute, as
// pg_stat_activity shows) also keeps the cancel for its next statement,
// until it sends ReadyForQuery: as in PostgreSQL, where a cancel stays
// pending until the backend checks for it, and a cancel that comes while
// the session is idle does nothing. So a cancel that comes before the
// statement starts, between two statements of one Query, or while a
// statement runs that ends before the interrupt reaches it, cancels the
// Query's next statement. (Without it, such a cancel was dropped while
// pg_cancel_backend answered true, and the Query's endless statement ran
// on.) A statement that is cancelled fails its Query, so the kept cancel
// then ends with it at ReadyForQuery.
func (c *clientConn) cancelStatement(msg string) {
	c.mu.Lock()
	if c.act.state == StateActive && c.cancelLater == "" {
		c.cancelLater = msg
	}
	if !c.running {
		c.mu.Unlock()
		return
	}
	gen := c.gen
	c.cancelLocked(msg)
	c.mu.Unlock()
	go c.keepInterrupting(gen)
}

// cancelledAtStart returns the 57014 error of a statement, just started
// (startQuery), that is cancelled before it runs: by a cancel kept for
// the Query's next statement (see cancelStatement; COMMIT and ROLLBACK
// run all the same and leave it to the next one), by a cancel that came
// since startQuery, or because its session was terminated (the client
// gets the FATAL error instead). Nil if it may run.
func (c *clientConn) cancelledAtStart(p *plan) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg := c.cancelMsg
	if msg == "" && !p.endsTx() {
		msg = c.cancelLater
	}
	if msg == "" && c.fatal != nil {
		msg = msgCancelUser
	}
	if msg == "" {
		return nil
	}
	return newPgError(codeQueryCanceled, msg)
}

// cancelLocked cancels the running statement; c.mu is held.
func (c *clientConn) cancelLocked(msg string) {
	if c.cancelMsg == "" {
		c.cancelMsg = msg
	}
	c.queryCancel()
	if c.interrupt != nil {
		c.interrupt()
	}
}

// interruptRetry is how often a cancelled statement that still runs is
// interrupted again: sqlite3_interrupt does nothing to a statement that
// has not started yet, so an interrupt that arrives just before SQLite
// steps (or between two statements of one Query) would be lost.
const interruptRetry = 20 * time.Millisecond

// keepInterrupting interrupts statement gen again until it ends.
func (c *clientConn) keepInterrupting(gen uint64) {
	t := time.NewTicker(interruptRetry)
	defer t.Stop()
	for range t.C {
		c.mu.Lock()
		if !c.running || c.gen != gen {
			c.mu.Unlock()
			return
		}
		if c.interrupt != nil {
			c.interrupt()
		}
		c.mu.Unlock()
	}
}

// armTimers starts the statement's timers: the statement timeout and the
// socket watch (see watchSocket). Timers are reused, so a statement that
// ends before them costs no goroutine.
func (c *clientConn) armTimers() {
	if d := c.tmo.statement; d > 0 {
		if c.stmtTimer == nil {
			c.stmtTimer = time.AfterFunc(d, c.statementTimedOut)
		} else {
			c.stmtTimer.Reset(d)
		}
	}
	if c.watchTimer == nil {
		c.watchTimer = time.AfterFunc(watchDelay, c.watchSocket)
	} else {
		c.watchTimer.Reset(watchDelay)
	}
}

func (c *clientConn) stopTimers() {
	if c.stmtTimer != nil {
		c.stmtTimer.Stop()
	}
	if c.watchTimer != nil {
		c.watchTimer.Stop()
	}
}

// sendTerminated sends the FATAL error of a session terminated while its
// statement ran, in place of the statement's 57014, as PostgreSQL does;
// the connection then ends. False if the session was not terminated.
func (c *clientConn) sendTerminated() bool {
	c.mu.Lock()
	fe := c.fatal
	c.mu.Unlock()
	if fe == nil {
		return false
	}
	c.sendFatal(fe)
	c.fatalSent = true
	return true
}

// cancelError gives a 57014 error the reason the statement was cancelled
// for (statement timeout, user request...).
func (c *clientConn) cancelError(pe *pgError) *pgError {
	if pe.Code != codeQueryCanceled {
		return pe
	}
	c.mu.Lock()
	msg := c.cancelMsg
	c.mu.Unlock()
	if msg == "" || msg == pe.Message {
		return pe
	}
	cp := *pe
	cp.Message = msg
	return &cp
}

// beginWrite takes the database's write lock for a statement or a
// transaction, waiting at most the session's lock_timeout. The wait ends
// early when the statement is cancelled (cancel request, statement
// timeout, terminated session, client gone); pg_stat_activity shows it as
// wait_event_type Lock, wait_event write_lock.
func (c *clientConn) beginWrite() error {
	if wt, ok := c.sess.(WriteTrier); ok {
		// The lock is usually free: take it without making a timeout
		// context (2 % of the server's CPU in a 1-client pgbench run).
		got, err := wt.TryBeginWrite()
		if err != nil || got {
			c.mu.Lock()
			c.holdsWrite = err == nil
			c.mu.Unlock()
			return err
		}
	}
	c.mu.Lock()
	qctx := c.queryCtx
	c.act.waitLock = true
	c.mu.Unlock()
	ctx, cancel := qctx, context.CancelFunc(func() {})
	if c.tmo.lock > 0 {
		ctx, cancel = context.WithTimeout(qctx, c.tmo.lock)
	}
	err := c.sess.BeginWrite(ctx)
	cancel()
	c.mu.Lock()
	c.act.waitLock = false
	c.holdsWrite = err == nil
	c.mu.Unlock()
	if err != nil && qctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return c.lockTimeoutError()
	}
	return err
}

// endWrite releases the write lock taken by beginWrite.
func (c *clientConn) endWrite(ctx context.Context) error {
	err := c.sess.EndWrite(ctx)
	c.mu.Lock()
	c.holdsWrite = false
	c.mu.Unlock()
	return err
}

func (c *clientConn) lockTimeoutError() *pgError {
	pe := newPgError(codeLockNotAvailable, msgCancelLock)
	if pid := c.srv.writeHolder(c); pid != 0 {
		pe.Detail = fmt.Sprintf("The write lock of database %q is held by session %d.", c.database, pid)
		pe.Hint = fmt.Sprintf("Retry when session %d has committed; see it in pg_stat_activity, end it with SELECT pg_terminate_backend(%d) as the admin login or sqlink session kill %d, or raise lock_timeout.", pid, pid, pid)
	} else {
		pe.Detail = fmt.Sprintf("The write lock of database %q is held by the instance itself (a replication apply, a backup or a checkpoint).", c.database)
		pe.Hint = "Retry the statement, or raise lock_timeout."
	}
	return pe
}

// writeHolder returns the pid of the session, other than c, that holds
// the write lock of c's database; 0 if none does (the lock may then be
// held by the instance itself).
func (s *Server) writeHolder(c *clientConn) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for o := range s.conns {
		if o == c || o.database != c.database {
			continue
		}
		o.mu.Lock()
		holds := o.holdsWrite
		o.mu.Unlock()
		if holds {
			return o.pid
		}
	}
	return 0
}
