package adminapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/sqlink/sqlink"
)

// SessionInfo describes one SQL client session, with the fields and names
// of PostgreSQL's pg_stat_activity. Times that do not apply (no open
// transaction, no statement yet) are omitted.
type SessionInfo struct {
	PID             uint32     `json:"pid"`
	Usename         string     `json:"usename"`
	Datname         string     `json:"datname"`
	ApplicationName string     `json:"application_name"`
	ClientAddr      string     `json:"client_addr,omitempty"`
	ClientPort      int        `json:"client_port"`
	BackendStart    *time.Time `json:"backend_start,omitempty"`
	XactStart       *time.Time `json:"xact_start,omitempty"`
	QueryStart      *time.Time `json:"query_start,omitempty"`
	StateChange     *time.Time `json:"state_change,omitempty"`
	State           string     `json:"state"`
	WaitEventType   string     `json:"wait_event_type,omitempty"`
	WaitEvent       string     `json:"wait_event,omitempty"`
	Query           string     `json:"query"`
	BackendType     string     `json:"backend_type"`
}

// SessionManager is implemented by an Instance that lists and ends SQL
// client sessions (GET /v1/sessions, DELETE /v1/sessions/{id}). Without
// it those routes answer 501 Not Implemented.
type SessionManager interface {
	// ListSessions returns every SQL client session, by pid.
	ListSessions(ctx context.Context) ([]SessionInfo, error)
	// TerminateSession ends session pid as pg_terminate_backend does: its
	// statement is interrupted, its transaction rolled back and its write
	// lock released. ENOTFOUND if there is no such session.
	TerminateSession(ctx context.Context, pid uint32) error
}

func (s *server) sessionManager() (SessionManager, error) {
	sm, ok := s.inst.(SessionManager)
	if !ok {
		return nil, sqlink.Errorf(sqlink.ENOTIMPLEMENTED, "use pg_stat_activity and pg_terminate_backend from a SQL session",
			"this instance does not manage SQL sessions through the admin API")
	}
	return sm, nil
}

func (s *server) listSessions(w http.ResponseWriter, r *http.Request) error {
	sm, err := s.sessionManager()
	if err != nil {
		return err
	}
	ss, err := sm.ListSessions(r.Context())
	if err != nil {
		return err
	}
	if ss == nil {
		ss = []SessionInfo{}
	}
	WriteJSON(w, http.StatusOK, ss)
	return nil
}

func (s *server) terminateSession(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	SetAuditTarget(r, id)
	pid, err := strconv.ParseUint(id, 10, 31)
	if err != nil || pid == 0 {
		return sqlink.Errorf(sqlink.EINVALID, "use a session's pid as GET /v1/sessions (or sqlink session list) shows it",
			"invalid session id %q", id)
	}
	sm, err := s.sessionManager()
	if err != nil {
		return err
	}
	if err := sm.TerminateSession(r.Context(), uint32(pid)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ListSessions lists the instance's SQL client sessions.
func (c *Client) ListSessions(ctx context.Context) ([]SessionInfo, error) {
	var out []SessionInfo
	err := c.Do(ctx, "GET", "/v1/sessions", nil, &out)
	return out, err
}

// TerminateSession ends SQL client session pid; ENOTFOUND if there is none.
func (c *Client) TerminateSession(ctx context.Context, pid uint32) error {
	return c.Do(ctx, "DELETE", "/v1/sessions/"+strconv.FormatUint(uint64(pid), 10), nil, nil)
}
