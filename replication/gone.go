package replication

// Finding a dead primary at once (auto-failover links in sync mode).
//
// A primary killed with kill -9 leaves its etcd lease to run out: the
// secondary would wait nearly the whole TTL. But the kernel says at once
// that the process is gone: the link's connection ends, and a new TCP
// connection to its endpoint is refused because nothing listens there.
// The secondary then reads etcd's leader key, probes the endpoint, and if
// the probe is refused tells the Keeper (PartnerGone: that key, at that
// revision, belongs to a dead process) and the state machine
// (MsgPartnerGone), which may claim over the live lease (link.Claim
// Takeover). The revision is read before the probe: a process that
// re-takes the key after the probe changes it, and the claim is refused.
// The endpoint listens from before this instance's links start until
// after its databases close (server.Start, server.Close), so a refused
// probe means no process of the partner can be taking writes.

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
)

const (
	// goneProbeEvery is the interval between two probes of the partner's
	// endpoint in the first goneProbeFast after the connection ended
	// (the kernel closes a killed process's listener a moment after its
	// connections), then goneProbeSlow.
	goneProbeEvery = 100 * time.Millisecond
	goneProbeFast  = 2 * time.Second
	goneProbeSlow  = time.Second
)

// goneProbes reports whether this replica should probe its partner after
// the link's connection ended: an auto-failover secondary of a sync link
// with a Keeper.
func (rt *Link) goneProbes() bool {
	if rt.r == nil || rt.lease.keeper == nil {
		return false
	}
	hs := rt.r.HardState()
	return hs.AutoFailover && !hs.Dropped && hs.Role == sqlink.RoleSecondary && hs.Mode == sqlink.ModeSync
}

// startGoneProbe starts probing the partner after the link's connection
// ended (loop), unless a probe runs already.
func (rt *Link) startGoneProbe() {
	if !rt.goneProbes() || !rt.lease.probing.CompareAndSwap(false, true) {
		return
	}
	k := rt.lease.keeper
	ttl := rt.leaseTTL()
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		defer rt.lease.probing.Store(false)
		start := rt.s.cfg.Now()
		told := false
		for rt.ctx.Err() == nil && !rt.isConnected() && rt.s.cfg.Now().Sub(start) < ttl {
			holder, rev, err := k.LeaderKey(rt.ctx)
			if err == nil && holder != rt.id.partnerID {
				return // no live lease of the partner's to take over (any more)
			}
			if err == nil && refused(rt.ctx, rt.partnerEndpoint()) && !rt.isConnected() {
				k.PartnerGone(holder, rev)
				if !told {
					rt.log.Warn("partner's process is gone: its link connection ended and its endpoint refuses connections", "partner", rt.id.partnerName)
					told = true
				}
				m := link.Message{Type: link.MsgPartnerGone}
				select {
				case rt.events <- func() {
					if rt.r != nil {
						_ = rt.r.Step(m)
					}
				}:
				case <-rt.ctx.Done():
				}
				// Go on probing: a claim refused (etcd unreachable) is
				// retried after the next probe.
			}
			wait := goneProbeEvery
			if rt.s.cfg.Now().Sub(start) >= goneProbeFast {
				wait = goneProbeSlow
			}
			if !sleep(rt.ctx, wait) {
				return
			}
		}
	}()
}

// refused reports whether a TCP connection to addr is refused: nothing
// listens there. Any other outcome (connected, timed out, unreachable)
// says nothing of the process.
func refused(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
