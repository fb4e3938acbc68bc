package server

import (
	"context"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/pgwire"
)

var _ adminapi.SessionManager = instance{}

// ListSessions implements adminapi.SessionManager.
func (i instance) ListSessions(ctx context.Context) ([]adminapi.SessionInfo, error) {
	ss := i.s.pg.Sessions()
	out := make([]adminapi.SessionInfo, 0, len(ss))
	for _, si := range ss {
		out = append(out, sessionInfo(si))
	}
	return out, nil
}

// TerminateSession implements adminapi.SessionManager.
func (i instance) TerminateSession(ctx context.Context, pid uint32) error {
	if !i.s.pg.TerminateSession(pid) {
		return sqlink.Errorf(sqlink.ENOTFOUND, "list the sessions with sqlink session list (GET /v1/sessions); the session may have ended already",
			"no SQL session with pid %d", pid)
	}
	i.s.log.Info("SQL session terminated by an operator", "pid", pid)
	return nil
}

func sessionInfo(si pgwire.SessionInfo) adminapi.SessionInfo {
	return adminapi.SessionInfo{
		PID:             si.PID,
		Usename:         si.User,
		Datname:         si.Database,
		ApplicationName: si.ApplicationName,
		ClientAddr:      si.ClientAddr,
		ClientPort:      si.ClientPort,
		BackendStart:    timePtr(si.BackendStart),
		XactStart:       timePtr(si.XactStart),
		QueryStart:      timePtr(si.QueryStart),
		StateChange:     timePtr(si.StateChange),
		State:           si.State,
		WaitEventType:   si.WaitEventType,
		WaitEvent:       si.WaitEvent,
		Query:           si.Query,
		BackendType:     si.BackendType,
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
