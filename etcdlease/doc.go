// Package etcdlease keeps a link's primary claim in etcd: the I/O side of
// automatic failover (the pure side, the lease timer and the rules for
// claiming, is in package link).
//
// Layout, per link (link_id is the link's ID, the same on both instances):
//
//	/sqlink/links/<link_id>/leader  {"holder":"<instance name>","holder_id":"<instance id>","epoch":N}
//	                                 attached to the holder's lease
//	/sqlink/links/<link_id>/epoch   N, the last epoch etcd granted
//
// Both keys change only in compare-and-swap transactions that compare the
// mod revisions read just before, so etcd is the one arbiter of who holds
// which epoch. The link's state machine (package link) asks, through its
// Ready, and the Keeper answers:
//
//   - Claim(From, Target): when the epoch key is From (absent counts as
//     1, a new link's epoch) and the leader key is absent (its lease
//     expired or was released) or names this instance, put both at Target
//     with a fresh lease. From == Target is a primary re-taking its own
//     epoch (after a restart, or once etcd is back); a primary holding From
//     takes a solo epoch the same way. Another holder's live key at From
//     makes the claim wait for it to go, up to ClaimTimeout (a planned
//     failover's claim may come just before the old primary's release).
//     Every claim is answered; when etcd cannot be read or the put's
//     outcome is unknown, "not granted" with no epoch.
//   - Renew(Epoch, Seq): KeepAliveOnce, then check that the leader key
//     still names this instance on that lease: Held{Seq} answers, or Lost.
//     The state machine counts its lease from when it asked, so a slow
//     answer only fences the primary earlier.
//   - Release(Epoch): revoke the lease; etcd deletes the leader key with
//     it, so a planned failover's claim need not wait for the TTL.
//
// A Keeper runs one goroutine per link. Besides the requests, it polls
// (PollInterval) and watches the link's keys and reports what it sees:
// Observed (the holder), Expired (no live leader: a secondary may claim),
// Lost (a lease of ours is gone) and Health (a linearizable read
// succeeded: this instance reaches an etcd quorum). The callback may block
// (the link's loop takes the event when it can); the Keeper's own methods
// never block on etcd.
package etcdlease
