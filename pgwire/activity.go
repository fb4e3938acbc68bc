package pgwire

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Session states, as pg_stat_activity's state column names them.
const (
	StateActive        = "active"
	StateIdle          = "idle"
	StateIdleInTx      = "idle in transaction"
	StateIdleInTxAbort = "idle in transaction (aborted)"
)

// SessionInfo describes one client session as pg_stat_activity shows it.
// Zero times are unknown or not applicable (NULL in pg_stat_activity).
type SessionInfo struct {
	PID             uint32
	User            string
	Database        string
	ApplicationName string
	ClientAddr      string // IP address; empty for a non-TCP client
	ClientPort      int    // -1 for a non-TCP client
	BackendStart    time.Time
	XactStart       time.Time // start of the open transaction
	QueryStart      time.Time // start of the running or last statement
	StateChange     time.Time
	State           string // StateActive, StateIdle...
	WaitEventType   string // "Lock" while waiting for the write lock
	WaitEvent       string // "write_lock"
	Query           string // the running or last statement
	BackendType     string // "client backend"
}

// activity is what pg_stat_activity shows of a session. Guarded by the
// connection's mu; written by the connection's goroutine.
type activity struct {
	backendStart time.Time
	xactStart    time.Time
	queryStart   time.Time
	stateChange  time.Time
	state        string
	query        string
	appName      string
	waitLock     bool // waiting for the database's write lock
}

// startActivity records the start of the session.
func (c *clientConn) startActivity() {
	now := time.Now()
	c.mu.Lock()
	c.act.backendStart, c.act.stateChange, c.act.state = now, now, StateIdle
	c.act.appName = c.params["application_name"]
	c.mu.Unlock()
}

// maxQueryText is how much of a statement pg_stat_activity shows:
// PostgreSQL's default track_activity_query_size. It also bounds the rows
// that a pg_stat_activity query hands to SQLite.
const maxQueryText = 1024

// activeFor records that the session runs query (a Query or Execute
// message).
func (c *clientConn) activeFor(query string) {
	if len(query) > maxQueryText {
		n := maxQueryText
		for n > 0 && !utf8.RuneStart(query[n]) {
			n--
		}
		query = strings.Clone(query[:n])
	}
	now := time.Now()
	c.mu.Lock()
	c.act.query, c.act.queryStart = query, now
	if c.act.state != StateActive {
		c.act.state, c.act.stateChange = StateActive, now
	}
	if c.act.xactStart.IsZero() {
		c.act.xactStart = now
	}
	c.mu.Unlock()
}

// idleNow records the session's state when it sends ReadyForQuery.
func (c *clientConn) idleNow() {
	st := StateIdle
	switch c.tx {
	case txActive:
		st = StateIdleInTx
	case txFailed:
		st = StateIdleInTxAbort
	}
	app := c.params["application_name"]
	now := time.Now()
	c.mu.Lock()
	if c.act.state != st {
		c.act.state, c.act.stateChange = st, now
	}
	c.cancelLater = "" // a cancel kept for a statement that never came
	if st == StateIdle {
		c.act.xactStart = time.Time{}
	}
	c.act.appName = app
	c.mu.Unlock()
}

// info returns the session's row of pg_stat_activity.
func (c *clientConn) info() SessionInfo {
	si := SessionInfo{PID: c.pid, User: c.user, Database: c.database, ClientPort: -1, BackendType: "client backend"}
	if a, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
		si.ClientAddr, si.ClientPort = a.IP.String(), a.Port
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.act
	si.ApplicationName = a.appName
	si.BackendStart, si.XactStart, si.QueryStart, si.StateChange = a.backendStart, a.xactStart, a.queryStart, a.stateChange
	si.State, si.Query = a.state, a.query
	if a.waitLock {
		si.WaitEventType, si.WaitEvent = "Lock", "write_lock"
	}
	return si
}

// sessions returns the registered sessions, by pid; a session still
// opening has a zero backend start in its info and is left out by callers.
func (s *Server) sessions() []*clientConn {
	s.mu.Lock()
	out := make([]*clientConn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// lookupPID returns the session with process id pid, or nil.
func (s *Server) lookupPID(pid int64) *clientConn {
	if pid <= 0 || pid > 1<<31-1 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byKey[uint32(pid)]
}

// Sessions returns every client session, by process id, as an operator
// sees them (query texts included).
func (s *Server) Sessions() []SessionInfo {
	cs := s.sessions()
	out := make([]SessionInfo, 0, len(cs))
	for _, c := range cs {
		if si := c.info(); !si.BackendStart.IsZero() {
			out = append(out, si)
		}
	}
	return out
}

// CancelSession cancels the running statement of session pid, as
// pg_cancel_backend does: the client gets 57014 "canceling statement due
// to user request" and the session stays. False when there is no such
// session.
func (s *Server) CancelSession(pid uint32) bool {
	c := s.lookupPID(int64(pid))
	if c == nil {
		return false
	}
	c.cancelStatement(msgCancelUser)
	return true
}

// TerminateSession ends session pid, as pg_terminate_backend does: its
// statement is interrupted, its transaction rolled back, its write lock
// released and its client gets FATAL 57P01. False when there is no such
// session.
func (s *Server) TerminateSession(pid uint32) bool {
	c := s.lookupPID(int64(pid))
	if c == nil {
		return false
	}
	c.terminate(newPgError(codeAdminShutdown, "terminating connection due to administrator command"))
	return true
}

// activityColumns are pg_stat_activity's columns (PostgreSQL 15), with the
// types clients see.
var activityColumns = []column{
	{name: "datid", oid: oidOID},
	{name: "datname", oid: oidName},
	{name: "pid", oid: oidInt4},
	{name: "leader_pid", oid: oidInt4},
	{name: "usesysid", oid: oidOID},
	{name: "usename", oid: oidName},
	{name: "application_name", oid: oidText},
	{name: "client_addr", oid: oidText},
	{name: "client_hostname", oid: oidText},
	{name: "client_port", oid: oidInt4},
	{name: "backend_start", oid: oidTimestamptz},
	{name: "xact_start", oid: oidTimestamptz},
	{name: "query_start", oid: oidTimestamptz},
	{name: "state_change", oid: oidTimestamptz},
	{name: "wait_event_type", oid: oidText},
	{name: "wait_event", oid: oidText},
	{name: "state", oid: oidText},
	{name: "backend_xid", oid: oidText},
	{name: "backend_xmin", oid: oidText},
	{name: "query_id", oid: oidInt8},
	{name: "query", oid: oidText},
	{name: "backend_type", oid: oidText},
}

// activityRows returns pg_stat_activity's rows as c may see them: a
// session of another login shows only its identity to a login that is not
// a superuser, and '<insufficient privilege>' as its query, as in
// PostgreSQL.
func (c *clientConn) activityRows() [][]any {
	super := c.superuser()
	var rows [][]any
	for _, o := range c.srv.sessions() {
		si := o.info()
		if si.BackendStart.IsZero() {
			continue
		}
		r := []any{nil, si.Database, int64(si.PID), nil, nil, si.User, si.ApplicationName,
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "<insufficient privilege>", si.BackendType}
		if super || o.user == c.user {
			if si.ClientAddr != "" {
				r[7] = si.ClientAddr
			}
			r[9] = int64(si.ClientPort)
			r[10], r[11], r[12], r[13] = timeValue(si.BackendStart), timeValue(si.XactStart), timeValue(si.QueryStart), timeValue(si.StateChange)
			r[14], r[15] = textValue(si.WaitEventType), textValue(si.WaitEvent)
			r[16], r[20] = si.State, si.Query
		}
		rows = append(rows, r)
	}
	return rows
}

// superuser reports whether c's login may see and end others' sessions.
func (c *clientConn) superuser() bool {
	su, ok := c.sess.(Superuser)
	return ok && su.Superuser()
}

func timeValue(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02 15:04:05.999999-07")
}

func textValue(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// sqlLiteral writes v (nil, int64, string) as an SQLite literal.
func sqlLiteral(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "NULL"...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case string:
		b = append(b, '\'')
		for i := 0; i < len(x); i++ {
			if x[i] == '\'' {
				b = append(b, '\'')
			}
			b = append(b, x[i])
		}
		return append(b, '\'')
	}
	return sqlLiteral(b, fmt.Sprint(v))
}
