package adminapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/rbac"
)

// sessionInstance is a fakeInstance with SQL sessions.
type sessionInstance struct {
	fakeInstance
	mu       sync.Mutex
	sessions []adminapi.SessionInfo
}

func (f *sessionInstance) ListSessions(ctx context.Context) ([]adminapi.SessionInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]adminapi.SessionInfo(nil), f.sessions...), nil
}

func (f *sessionInstance) TerminateSession(ctx context.Context, pid uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.sessions {
		if s.PID == pid {
			f.sessions = append(f.sessions[:i], f.sessions[i+1:]...)
			return nil
		}
	}
	return sqlink.Errorf(sqlink.ENOTFOUND, "list the sessions first", "no SQL session with pid %d", pid)
}

func TestSessions(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	inst := &sessionInstance{sessions: []adminapi.SessionInfo{
		{PID: 42, Usename: "admin", Datname: "app", State: "active", Query: "SELECT 1", QueryStart: &now, BackendType: "client backend"},
		{PID: 43, Usename: "bob", Datname: "app", State: "idle in transaction", WaitEventType: "Lock", WaitEvent: "write_lock"},
	}}
	env := MustServe(t, adminapi.Config{}, inst)
	ctx := context.Background()

	ss, err := env.admin.ListSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || ss[0].PID != 42 || ss[0].QueryStart == nil || !ss[0].QueryStart.Equal(now) || ss[1].WaitEvent != "write_lock" {
		t.Fatalf("sessions = %+v", ss)
	}

	// A reader lists but cannot end sessions.
	if err := env.cat.CreateRole(ctx, rbac.Role{Name: "reader", Permissions: []rbac.Permission{rbac.InstanceRead}}); err != nil {
		t.Fatal(err)
	}
	reader := env.Client(env.MustToken(t, "reader", "reader"))
	if _, err := reader.ListSessions(ctx); err != nil {
		t.Fatalf("list as reader: %v", err)
	}
	if err := reader.TerminateSession(ctx, 42); sqlink.ErrorCode(err) != sqlink.EFORBIDDEN {
		t.Fatalf("kill as reader: %v, want EFORBIDDEN", err)
	}

	if err := env.admin.TerminateSession(ctx, 42); err != nil {
		t.Fatal(err)
	}
	err = env.admin.TerminateSession(ctx, 42)
	if sqlink.ErrorCode(err) != sqlink.ENOTFOUND || sqlink.ErrorHint(err) == "" {
		t.Fatalf("kill of a gone session: %v, want ENOTFOUND with a hint", err)
	}
	if resp := env.do(t, "DELETE", "/v1/sessions/abc", env.token, nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("DELETE /v1/sessions/abc: %d, want 400", resp.StatusCode)
	}

	// An instance without sessions answers 501.
	plain := MustServe(t, adminapi.Config{}, &fakeInstance{})
	if _, err := plain.admin.ListSessions(ctx); sqlink.ErrorCode(err) != sqlink.ENOTIMPLEMENTED {
		t.Fatalf("list without a SessionManager: %v, want ENOTIMPLEMENTED", err)
	}
}
