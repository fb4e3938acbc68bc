package replication

import (
	"fmt"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/etcdlease"
	"github.com/sqlink/sqlink/link"
	"github.com/sqlink/sqlink/storage"
)

// readOnlyReason says why the database of a replica in hs is read-only
// when it is not a secondary of the partner: a primary of an auto-failover
// link that fenced itself (its lease is not confirmed). The zero value
// otherwise, and while writable: writes then say the partner is primary.
func (rt *Link) readOnlyReason(hs link.HardState, writable bool) storage.ReadOnlyReason {
	if writable || !fencedPrimary(hs) {
		return storage.ReadOnlyReason{}
	}
	var o *etcdlease.Observation
	if k := rt.lease.keeper; k != nil {
		ob := k.Observation()
		o = &ob
	}
	return fencedReason(rt.id.name, rt.s.info.Name, hs.Epoch, o)
}

// fencedPrimary reports whether hs is a primary kept read-only by its
// lease alone (not by a failover, a split brain or a drop).
func fencedPrimary(hs link.HardState) bool {
	return hs.AutoFailover && hs.Role == sqlink.RolePrimary && !hs.Dropped && !hs.Op.Active() && !hs.SplitBrain.Active
}

// fencedReason tells a fenced primary's writers what etcd says: o is the
// keeper's observation (nil without etcd).
func fencedReason(linkName, self string, epoch sqlink.Epoch, o *etcdlease.Observation) storage.ReadOnlyReason {
	why := fmt.Sprintf("this instance is the primary of link %s at epoch %d but fenced itself: its etcd lease was not renewed in time", linkName, epoch)
	hint := fmt.Sprintf("writes resume by themselves once this instance renews its lease; check etcd with 'sqlink link status %s'", linkName)
	switch {
	case o == nil:
		why += " (this instance has no etcd configured)"
		hint = "start the instance with serve --etcd-endpoints"
	case !o.Healthy:
		why += "; etcd is unreachable from here"
		if o.Err != "" {
			why += " (" + o.Err + ")"
		}
		hint = fmt.Sprintf("writes resume once etcd answers again and the lease is renewed, unless etcd gives the link to the other instance; check etcd and 'sqlink link status %s'", linkName)
	case o.Holder != "" && o.Holder != self:
		why += fmt.Sprintf("; etcd holds a newer epoch %d at instance %s", o.Epoch, o.Holder)
		hint = fmt.Sprintf("connect to instance %s, or use target_session_attrs=read-write with both hosts; this instance follows it by itself", o.Holder)
	case o.Holder == self:
		why += fmt.Sprintf("; it holds the lease again at epoch %d and is about to take writes", o.Epoch)
		hint = "retry the transaction"
	default:
		why += fmt.Sprintf("; etcd holds no live lease (epoch %d)", max(o.Epoch, o.KeyEpoch))
	}
	return storage.ReadOnlyReason{Why: why, Hint: hint}
}
