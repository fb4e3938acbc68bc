// Package etcdlease keeps a link's primary claim in etcd: the I/O side of
// automatic failover (the pure side, the lease timer and the rules for
// claiming, is in package link).
//
// Layout, per link (link_id is the link's ID, the same on both instances):
//
//	/sqlink/links/<link_id>/leader  {"holder":"<instance name>","epoch":N}
//	                                 attached to the holder's lease
//	/sqlink/links/<link_id>/epoch   N, the last epoch etcd granted
//
// Both keys change only in compare-and-swap transactions that compare the
// mod revisions read just before, so etcd is the one arbiter of who holds
// which epoch:
//
//   - Hold (a primary at epoch E): when the leader key is absent or is
//     {self, E}, and the epoch key is absent or at most E, put both with a
//     fresh lease, then renew it every Renew interval (KeepAliveOnce, each
//     bounded by RPCTimeout). Each renewal reports Held with the time its
//     request was sent: etcd's expiry is at least that time plus the TTL.
//   - Claim (a secondary, From -> Target): when the leader key is absent
//     (its lease expired or was released) and the epoch key is From, put
//     both at Target with a fresh lease. A live leader key makes the claim
//     wait for it to go, up to ClaimTimeout.
//   - Release (a primary that gave up its role): delete the leader key if
//     it is still {self, E} and revoke the lease, so a planned failover's
//     claim need not wait for the TTL.
//
// A Keeper runs one goroutine per link. It polls (PollInterval) and
// watches the link's keys, and reports what it sees through a callback:
// Held, Lost (the lease is gone or a newer epoch holds the key), Expired
// (no live leader: a secondary may claim), ClaimResult and Health (a
// linearizable read succeeded: this instance reaches an etcd quorum). The
// callback may block (the link's loop takes the event when it can); the
// Keeper's own methods never block on etcd.
package etcdlease
