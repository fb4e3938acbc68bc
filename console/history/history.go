// Package history keeps the web console's link history: every SampleEvery
// the status of every link is sampled (through the engine's ListLinks,
// like the API) into a ring buffer per link holding the last Span. It
// lives in memory only; a restart starts it afresh.
package history

import (
	"context"
	"sync"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/console"
)

// SampleEvery is the sampling period, Span how far back the history goes.
const (
	SampleEvery = 2 * time.Second
	Span        = time.Hour
	ringLen     = int(Span / SampleEvery)
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
		r.buf = make([]console.Sample, ringLen)
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

// History keeps the rings of every link. It is safe for concurrent use:
// mu guards rings (the sampler writes, console requests read).
type History struct {
	mu    sync.Mutex
	rings map[string]*linkRing
}

// New returns an empty history.
func New() *History {
	return &History{rings: map[string]*linkRing{}}
}

// Get returns a link's samples, oldest first; nil for a link never seen
// (console.Config.History).
func (h *History) Get(name string) []console.Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rings[name]
	if r == nil {
		return nil
	}
	return r.samples()
}

// Record adds one sample per link from their status at now; a link
// missing from links loses its history.
func (h *History) Record(now time.Time, links []adminapi.LinkStatus) {
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

// Run samples list every SampleEvery until ctx ends.
func (h *History) Run(ctx context.Context, list func(context.Context) []adminapi.LinkStatus) {
	t := time.NewTicker(SampleEvery)
	defer t.Stop()
	h.Record(time.Now(), list(ctx))
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.Record(now, list(ctx))
		}
	}
}
