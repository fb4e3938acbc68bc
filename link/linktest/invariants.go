package linktest

import (
	"fmt"
	"slices"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
)

// Check verifies the safety invariants; the simulation calls it after every
// step. It returns the first violation.
func (c *Cluster) Check() error {
	for _, id := range c.IDs {
		n := c.Nodes[id]
		hs := n.State()
		c.maxEpoch = max(c.maxEpoch, hs.Epoch)
		// Epochs and LSNs never go backwards; only a rewind shortens a log.
		if hs.Epoch < c.lastEpoch[id] {
			return fmt.Errorf("%s: epoch went back from %d to %d", id, c.lastEpoch[id], hs.Epoch)
		}
		c.lastEpoch[id] = hs.Epoch
		if n.End() < c.lastEnd[id] && n.Rewinds == c.lastRewinds[id] {
			return fmt.Errorf("%s: log end went back from %d to %d without a rewind", id, c.lastEnd[id], n.End())
		}
		c.lastEnd[id], c.lastRewinds[id] = n.End(), n.Rewinds
		if c.mayLose(n, hs) {
			if k := fmt.Sprintf("%s/%d/%d", hs.LastFailover.Kind, hs.LastFailover.Epoch, n.Rewinds); k != c.lastKind[id] {
				c.lastKind[id] = k
				c.exemptAll()
			}
		}
		// At most one writable primary per epoch.
		if !n.Down && n.Soft.Writable && !hs.Dropped && hs.Role == sqlink.RolePrimary {
			if o, ok := c.epochOwner[hs.Epoch]; ok && o != id {
				return fmt.Errorf("%s and %s were both writable primaries at epoch %d", o, id, hs.Epoch)
			}
			c.epochOwner[hs.Epoch] = id
			if owner := link.EpochOwner(hs.Epoch, "a", "b"); owner != id {
				return fmt.Errorf("%s is primary at epoch %d, which %s owns", id, hs.Epoch, owner)
			}
		}
		// The log agrees with the history the replica keeps.
		if !hs.Dropped {
			for _, e := range n.Log {
				if got := link.EpochAt(hs.History, e.LSN); got != e.Epoch {
					return fmt.Errorf("%s: LSN %d was written at epoch %d but its history %v says %d", id, e.LSN, e.Epoch, hs.History, got)
				}
			}
		}
	}
	if c.Etcd != nil {
		if err := c.checkEtcd(); err != nil {
			return err
		}
	}
	a, b := c.Nodes["a"], c.Nodes["b"]
	ha, hb := a.State(), b.State()
	// Two writable primaries at once only after a forced failover or a
	// set-role (the stale one stops when it hears); never in a planned one.
	if c.Etcd == nil && !a.Down && !b.Down && a.Soft.Writable && b.Soft.Writable && !ha.Dropped && !hb.Dropped {
		hi := hb
		if ha.Epoch > hb.Epoch {
			hi = ha
		}
		if k := hi.LastFailover.Kind; k != "forced" && k != "set-role" {
			return fmt.Errorf("a (e%d) and b (e%d) are both writable; the newer became primary by %q", ha.Epoch, hb.Epoch, k)
		}
	}
	if ha.Dropped || hb.Dropped {
		return c.checkAcks()
	}
	// The two logs agree up to the fork LSN of their histories.
	fork := sqlink.ForkLSN(ha.History, a.End(), hb.History, b.End())
	for l := sqlink.LSN(1); l <= fork; l++ {
		if a.Log[l-1] != b.Log[l-1] {
			return fmt.Errorf("logs differ at LSN %d (a %s, b %s) below fork LSN %d", l, a.Log[l-1], b.Log[l-1], fork)
		}
	}
	// A secondary that receives from the primary holds a prefix of its log.
	for _, pair := range [][2]*Node{{a, b}, {b, a}} {
		s, p := pair[0], pair[1]
		ps := p.State()
		r := s.Soft.Replication
		if s.Down || !r.Receive || ps.Role != sqlink.RolePrimary || ps.Epoch != r.ReceiveEpoch {
			continue
		}
		if s.End() > p.End() || !slices.Equal(s.Log, p.Log[:s.End()]) {
			return fmt.Errorf("%s follows %s but its log (end %d) is not a prefix of the primary's (end %d)", s.ID, p.ID, s.End(), p.End())
		}
	}
	return c.checkAcks()
}

// mayLose reports whether n's last role change may have lost acknowledged
// transactions: a forced failover or set-role, or a rewind; with etcd in
// sync mode only a forced failover (an automatic failover and the rewind
// of the old primary that follows it lose nothing acknowledged), in async
// mode also an automatic failover (up to MaxDataLoss).
func (c *Cluster) mayLose(n *Node, hs link.HardState) bool {
	k := hs.LastFailover.Kind
	if c.Etcd != nil && c.Opts.Mode == sqlink.ModeSync {
		return k == link.FailoverForced
	}
	return n.Rewinds > 0 || k == link.FailoverForced || k == link.FailoverSetRole ||
		(c.Etcd != nil && k == link.FailoverAutomatic)
}

// checkEtcd verifies the AutoFailover invariants: at most one instance
// takes writes at any moment, and only at the epoch etcd holds for it;
// etcd's epoch never goes back; no split brain.
func (c *Cluster) checkEtcd() error {
	e := c.Etcd
	if e.Epoch < c.etcdEpoch {
		return fmt.Errorf("etcd's epoch went back from %d to %d", c.etcdEpoch, e.Epoch)
	}
	c.etcdEpoch = e.Epoch
	var writers []string
	for _, id := range c.IDs {
		n := c.Nodes[id]
		hs := n.State()
		if hs.SplitBrain.Active {
			return fmt.Errorf("%s is in SPLIT_BRAIN with etcd on", id)
		}
		if n.Down || hs.Dropped || !n.Soft.Writable {
			continue
		}
		writers = append(writers, id)
		if hs.Role != sqlink.RolePrimary {
			return fmt.Errorf("%s takes writes as %s", id, hs.Role)
		}
		if e.Epoch != hs.Epoch && (e.Key == nil || e.Key.Holder != id) {
			return fmt.Errorf("%s takes writes at epoch %d but etcd's epoch is %d (%s)", id, hs.Epoch, e.Epoch, e)
		}
	}
	if len(writers) > 1 {
		return fmt.Errorf("a (e%d) and b (e%d) both take writes (%s)", c.Nodes["a"].State().Epoch, c.Nodes["b"].State().Epoch, e)
	}
	return nil
}

func (c *Cluster) exemptAll() {
	for i := range c.Acked {
		c.Acked[i].Exempt = true
	}
}

// checkAcks verifies that every acknowledged transaction not exempted by a
// forced failover is in the log of every primary at its epoch or later.
func (c *Cluster) checkAcks() error {
	for _, id := range c.IDs {
		n := c.Nodes[id]
		hs := n.State()
		if hs.Role != sqlink.RolePrimary || hs.SplitBrain.Active || (hs.Dropped && hs.LastFailover.Kind != "planned") {
			continue
		}
		for _, ack := range c.Acked {
			if ack.Exempt || hs.Epoch < ack.Epoch {
				continue
			}
			if ack.LSN > n.End() || n.Log[ack.LSN-1] != ack.Entry {
				got := "nothing"
				if ack.LSN <= n.End() {
					got = n.Log[ack.LSN-1].String()
				}
				return fmt.Errorf("acknowledged transaction %s (by %s) lost: primary %s (e%d) has %s", ack.Entry, ack.By, id, hs.Epoch, got)
			}
		}
	}
	return nil
}

// CheckConverged verifies liveness after the faults stopped: one writable
// primary, a synchronized secondary, equal logs, nothing in progress.
func (c *Cluster) CheckConverged() error {
	a, b := c.Nodes["a"], c.Nodes["b"]
	if a.Down || b.Down {
		return fmt.Errorf("a node is down")
	}
	sa, sb := a.R.Status(), b.R.Status()
	if sa.Dropped && sb.Dropped {
		return nil
	}
	if sa.Dropped != sb.Dropped {
		return fmt.Errorf("only one side dropped the link: a %v, b %v", sa.Dropped, sb.Dropped)
	}
	for _, s := range []link.Status{sa, sb} {
		if s.Op.Active() || s.SplitBrain.Active || s.Reverting || s.SyncState != sqlink.Synchronized {
			return fmt.Errorf("%s not converged: %s", s.Self, compactStatus(s))
		}
	}
	if (sa.Role == sqlink.RolePrimary) == (sb.Role == sqlink.RolePrimary) || sa.Writable == sb.Writable {
		return fmt.Errorf("want one writable primary: a %s, b %s", compactStatus(sa), compactStatus(sb))
	}
	if e := c.Etcd; e != nil {
		p := sa
		if sb.Role == sqlink.RolePrimary {
			p = sb
		}
		if e.Key == nil || e.Key.Holder != p.Self || e.Key.Epoch != p.Epoch {
			return fmt.Errorf("primary %s at e%d does not hold the lease: %s", p.Self, p.Epoch, e)
		}
	}
	if !slices.Equal(a.Log, b.Log) {
		return fmt.Errorf("logs differ: a ends at %d, b at %d", a.End(), b.End())
	}
	return nil
}
