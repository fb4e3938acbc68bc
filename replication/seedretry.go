package replication

import (
	"time"

	"github.com/sqlink/sqlink"
)

// Seed retry: a secondary whose seed request the primary refused (a
// seedPlan of kind error, e.g. "cannot seed its partner now" while the
// primary is not ready) asks again on the same connection after a
// back-off, rather than waiting for a reconnection that may never come.

// seedRetryFirst and seedRetryMax bound the back-off between seed requests
// after refusals: it doubles from the first to the max.
const (
	seedRetryFirst = time.Second
	seedRetryMax   = 30 * time.Second
)

// seedBackoff is the delay before the next seed request after a refusal.
//
// Owner: Link.mu.
type seedBackoff struct {
	first, max time.Duration // 0: seedRetryFirst, seedRetryMax
	next       time.Duration // 0: none refused since the last reset
}

// refused returns how long to wait before asking again, and doubles the
// next wait.
func (b *seedBackoff) refused() time.Duration {
	first, max := b.first, b.max
	if first <= 0 {
		first = seedRetryFirst
	}
	if max <= 0 {
		max = seedRetryMax
	}
	d := b.next
	if d <= 0 {
		d = first
	}
	b.next = min(2*d, max)
	return min(d, max)
}

// reset starts over: a plan was accepted, or a new connection.
func (b *seedBackoff) reset() { b.next = 0 }

// seedRefused schedules another seed request on pc after the primary
// refused one (reader goroutine): it is sent on the loop, if pc is still
// the link's connection and the link still waits for a seed.
func (rt *Link) seedRefused(pc *peerConn, err error) {
	rt.mu.Lock()
	d := rt.seedRetry.refused()
	rt.mu.Unlock()
	rt.log.Warn("the primary refused the seed request: asking again", "in", d, "err", sqlink.ErrorMessage(err))
	time.AfterFunc(d, func() {
		if pc.ctx.Err() != nil {
			return // the connection ended: the next one asks anew
		}
		rt.call(func() {
			rt.mu.Lock()
			again := rt.conn == pc && rt.data.Phase == phaseSeeding
			rt.mu.Unlock()
			if again && pc.ctx.Err() == nil {
				rt.requestSeed(pc)
			}
		})
	})
}

// resetSeedRetry resets the back-off: a plan was taken, or a new
// connection.
func (rt *Link) resetSeedRetry() {
	rt.mu.Lock()
	rt.seedRetry.reset()
	rt.mu.Unlock()
}
