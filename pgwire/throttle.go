package pgwire

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Login throttling defaults: ten wrong passwords from one address within a
// minute, then that address is refused for a minute. A person mistyping
// never gets there; a password guesser gets ten guesses a minute.
const (
	DefaultLoginFailureLimit  = 10
	DefaultLoginFailureWindow = time.Minute
	// maxThrottled bounds the addresses tracked, so that a spray of
	// sources cannot grow the table without end.
	maxThrottled = 10000
)

// LoginObserver is an optional Backend capability: it is told of every
// failed sign-in (a wrong password or an unknown user), to audit it. It must
// not block for long; the audit log summarises repeated failures.
type LoginObserver interface {
	LoginFailed(ctx context.Context, user, source, reason string)
}

// loginThrottle counts failed sign-ins per source address.
type loginThrottle struct {
	limit  int
	window time.Duration
	log    *slog.Logger

	mu sync.Mutex
	m  map[string]*loginFailures
}

type loginFailures struct {
	n            int
	start        time.Time // of the current counting window
	blockedUntil time.Time
}

func newLoginThrottle(limit int, window time.Duration, log *slog.Logger) *loginThrottle {
	return &loginThrottle{limit: limit, window: window, log: log, m: map[string]*loginFailures{}}
}

// blocked returns the error refusing a sign-in from src, or nil.
func (t *loginThrottle) blocked(src string) *pgError {
	if t.limit <= 0 {
		return nil
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[src]
	if f == nil || !now.Before(f.blockedUntil) {
		return nil
	}
	wait := f.blockedUntil.Sub(now).Round(time.Second)
	return &pgError{Code: codeInvalidAuthSpec,
		Message: fmt.Sprintf("too many failed login attempts from %s; try again in %s", src, max(wait, time.Second)),
		Hint:    "check the user name and password; sign-ins from this address are refused for a while after repeated failures"}
}

// failed records a failed sign-in from src.
func (t *loginThrottle) failed(src, user string) {
	if t.limit <= 0 {
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[src]
	if f == nil {
		if len(t.m) >= maxThrottled {
			t.pruneLocked(now)
			if len(t.m) >= maxThrottled {
				return
			}
		}
		f = &loginFailures{start: now}
		t.m[src] = f
	}
	if now.Sub(f.start) > t.window {
		f.n, f.start = 0, now
	}
	f.n++
	if f.n >= t.limit {
		f.blockedUntil = now.Add(t.window)
		f.n, f.start = 0, now
		t.log.Warn("pgwire: too many failed logins; refusing sign-ins from this address for a while",
			"source", src, "user", user, "failures", t.limit, "refused_for", t.window)
	}
}

// succeeded forgets src's failures.
func (t *loginThrottle) succeeded(src string) {
	if t.limit <= 0 {
		return
	}
	t.mu.Lock()
	delete(t.m, src)
	t.mu.Unlock()
}

func (t *loginThrottle) pruneLocked(now time.Time) {
	for k, f := range t.m {
		if now.Sub(f.start) > t.window && !now.Before(f.blockedUntil) {
			delete(t.m, k)
		}
	}
}
