package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/console"
	"github.com/sqlink/sqlink/rbac"
)

// The web console's link history: every consoleSampleEvery the status of
// every link is sampled (through ListLinks, like the API) into a ring
// buffer per link holding the last consoleHistorySpan. It lives in memory
// only; a restart starts it afresh.
const (
	consoleSampleEvery = 2 * time.Second
	consoleHistorySpan = time.Hour
	consoleHistoryLen  = int(consoleHistorySpan / consoleSampleEvery)
)

type linkRing struct {
	buf     []console.Sample
	next    int
	full    bool
	lastLSN sqlink.LSN
	lastAt  time.Time
}

func (r *linkRing) add(s console.Sample) {
	if r.buf == nil {
		r.buf = make([]console.Sample, consoleHistoryLen)
	}
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

func (r *linkRing) samples() []console.Sample {
	if !r.full {
		return append([]console.Sample(nil), r.buf[:r.next]...)
	}
	out := make([]console.Sample, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// consoleHistory keeps the rings of every link.
type consoleHistory struct {
	mu    sync.Mutex
	rings map[string]*linkRing
}

func newConsoleHistory() *consoleHistory {
	return &consoleHistory{rings: map[string]*linkRing{}}
}

// get returns a link's samples, oldest first; nil for a link never seen.
func (h *consoleHistory) get(name string) []console.Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rings[name]
	if r == nil {
		return nil
	}
	return r.samples()
}

// record adds one sample per link from their status at now.
func (h *consoleHistory) record(now time.Time, links []adminapi.LinkStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	for _, l := range links {
		seen[l.Name] = true
		r := h.rings[l.Name]
		if r == nil {
			r = &linkRing{}
			h.rings[l.Name] = r
		}
		// The secondary's lag, whichever side this instance is.
		lag := l.Local.SecondaryLag
		if l.Local.Role != sqlink.RoleSecondary && l.Partner.SecondaryLag > lag {
			lag = l.Partner.SecondaryLag
		}
		// Every committed transaction takes the next LSN: the rise of the
		// newest LSN known on either side is the number of commits (a
		// secondary may know the primary's only through what it redid).
		lsn := max(l.Local.LastCommitLSN, l.Partner.LastCommitLSN, l.Local.LastRedoneLSN,
			l.Partner.LastRedoneLSN, l.Local.LastHardenedLSN, l.Partner.LastHardenedLSN,
			l.Local.LastReceivedLSN, l.Local.LastSentLSN)
		var rate float64
		if !r.lastAt.IsZero() && lsn >= r.lastLSN {
			if d := now.Sub(r.lastAt).Seconds(); d > 0 {
				rate = float64(lsn-r.lastLSN) / d
			}
		}
		r.lastLSN, r.lastAt = lsn, now
		r.add(console.Sample{Time: now.UTC(), LagSeconds: lag, CommitsPerSec: rate, State: l.State})
	}
	for name := range h.rings {
		if !seen[name] {
			delete(h.rings, name)
		}
	}
}

// run samples until ctx ends.
func (h *consoleHistory) run(ctx context.Context, list func(context.Context) []adminapi.LinkStatus) {
	t := time.NewTicker(consoleSampleEvery)
	defer t.Stop()
	h.record(time.Now(), list(ctx))
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.record(now, list(ctx))
		}
	}
}

// consoleHandler wraps the admin API handler with the web console and
// starts the history sampler (stopped with s.ctx).
func (s *Server) consoleHandler(api http.Handler) http.Handler {
	h := newConsoleHistory()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		h.run(s.ctx, func(ctx context.Context) []adminapi.LinkStatus {
			links, err := s.eng.ListLinks(ctx)
			if err != nil {
				return nil
			}
			return links
		})
	}()
	return console.New(console.Config{
		Authenticate: func(ctx context.Context, token string) (string, []rbac.Role, error) {
			p, roles, err := s.cat.Authenticate(ctx, token)
			return p.Name, roles, err
		},
		History: h.get,
		// The Scripts pin the certificate the admin listener serves.
		Fingerprint: func() string { return s.TLSCertificate().Fingerprint },
		Audit: func(ctx context.Context, principal, action, result, source string) {
			e := catalog.AuditEntry{Principal: principal, Action: action, Target: source, Result: result}
			if result == sqlink.EUNAUTHORIZED {
				// Summarised per source, as the API's refusals are.
				s.failAudit.Record(ctx, "admin", source, e)
			} else if err := s.cat.Audit(ctx, e); err != nil {
				s.log.Error("console audit failed", "action", action, "err", err)
			}
		},
	}, api)
}
