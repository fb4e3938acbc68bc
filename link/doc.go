// Package link is the replication link's state machine: one Replica per
// side of one link, pure (no I/O, time, goroutines or randomness), driven the
// way etcd's raft RawNode is.
//
// # Model
//
// A link replicates one database from its primary replica to its secondary
// replica. Each replica keeps a HardState: role, epoch, the history of
// (epoch, first LSN) pairs its log was written in, mode, the two-way flag,
// its last hardened LSN, whether the database may take writes, a planned
// failover in progress and any split brain. Everything that happens is a
// Message stepped in: storage acknowledgements (MsgCommitted, MsgHardened,
// MsgApplied, MsgRewound), operator commands (MsgPlannedFailover,
// MsgForcedFailover, MsgSetRole, MsgResume, MsgAbort, MsgSetMode), ticks
// (MsgTick, or Tick) and messages from the partner. Every peer message
// carries its sender's status, so any of them is a heartbeat; a secondary's
// heartbeat after it hardens more log is the acknowledgement.
//
// Epochs: the link's initial primary owns the odd epochs and the other
// instance the even ones (EpochOwner, NextEpoch). A replica only becomes
// primary at an epoch it owns, so no two replicas are ever primary at the
// same epoch, whatever operators do concurrently. Each role change takes a
// new epoch; in the usual alternation that is epoch+1. Every role-state
// change also increases the replica's Version; a message older than the
// last version seen from the partner is stale and ignored, which is what
// lets the network delay, duplicate and reorder messages.
//
// Planned failover (old primary P, new primary S, target epoch T):
// P persists {DRAINING, writes off, mode sync}; once the server has applied
// "writes off" (Advance) and S has acknowledged P's last LSN, P persists its
// demotion (secondary at T) and sends Promote. S checks that it holds exactly
// P's log, persists {primary at T, history += (T, last+1)} and only then
// takes writes, and answers Promoted. P then follows S (keep link) or both
// sides drop the link. A restart pauses the operation; a step that makes no
// progress for FailoverTimeoutTicks pauses it too. Resume finishes it; Abort
// rolls it back: locally while DRAINING, or, once P is demoted, by asking S
// to fence itself at T (AbortPromotion/Aborted) before P takes writes again
// at a new epoch. If S already took T, the abort is refused and the failover
// completes.
//
// Forced failover: on a secondary, with AllowDataLoss, at once: primary at
// its next epoch, history += (epoch, hardened+1). Status.EstimatedLoss shows
// the loss before; HardState.LastFailover records it after.
//
// Split brain: a primary that hears another primary compares histories
// (sqlink.ForkLSN): both sides record the fork LSN and the diverged counts;
// the lower epoch stops writes at once; nothing is replicated. SetRole on
// either side designates the primary, which takes an epoch above both. The
// other side, and any secondary whose log diverges from its primary's
// history (Diverged), gets a Ready.Rewind: save the transactions after the
// fork, rewind or reseed to the fork, report MsgRewound, then follow.
//
// # Automatic failover through etcd (HardState.AutoFailover)
//
// etcd is the arbiter: its key for the link names the primary and its
// epoch and lives on the primary's lease; epochs change only by a
// compare-and-swap the replica asks for with Ready.Claim (the key's epoch
// is From and no live lease holds it, or it names this instance), answered
// by MsgClaimResult. Every role change goes through it: automatic
// promotion, planned failover (the new primary claims after the old one
// demoted and released its lease with Ready.Release), forced failover
// (refused while the partner holds a live lease), set-role, an aborted
// planned failover, and a primary re-taking its own epoch after a restart.
// Claims still target epochs their claimer owns (NextEpoch), so the holder
// of any epoch is known.
//
// Lease timer (pure, in ticks; Config.LeaseTTLTicks and friends): a
// primary asks for a renewal every LeaseRenewTicks (Ready.Renew, answered
// by MsgLeaseHeld echoing its Seq) and takes writes only while its last
// confirmed renewal was requested less than FenceTicks = TTL - margin -
// drift ago: etcd extended the lease to at least TTL after that request,
// and the primary's clock runs at most ClockDriftTicks per TTL slow, so it
// has stopped (SoftState.Writable false, status Waiting says why) before
// etcd can expire the lease and a secondary claim it. A claim granted a
// renewal period or more after it was made renews at once (ticks before
// the answer renew nothing), so the first renewal never falls on the
// fence point.
//
// Acknowledgements: a primary acknowledges only what its secondary holds
// unless its epoch is solo. Before acknowledging alone (async mode, or a
// sync secondary gone while a commit waits) it takes a new, solo epoch
// through etcd; a SYNCHRONIZED secondary makes it take a non-solo one
// again. A secondary records the non-solo epoch at which it holds every
// acknowledged commit (HardState.SyncedEpoch). After an automatic
// promotion the old primary counts as gone (its lease expired, so it
// fenced itself) until it is heard from at the new epoch or later: the
// first commit takes a solo epoch at once rather than waiting the session
// timeout for it.
//
// A secondary that sees the lease expire (MsgLeaseExpired) claims the next
// epoch when it may: sync mode, etcd's epoch is its SyncedEpoch
// (SYNCHRONIZED: nothing acknowledged is lost); async mode, it follows that
// epoch and the estimated loss is at most MaxDataLoss. Otherwise it waits
// and Status.AutoFailover.Waiting says why. A granted claim makes it
// primary like a forced failover, recorded as LastFailover{Kind:
// "automatic", Reason}. A primary that learns of a newer epoch (from etcd
// or from a partner primary at it) stops writes and becomes a secondary;
// it follows the new primary after a Rewind that saves its diverged
// transactions: no split brain.
//
// A dead primary's lease need not be waited out (sync mode): when the
// runtime has the kernel's word that the partner's process is gone (the
// link's connection ended and its endpoint then refused a TCP
// connection: MsgPartnerGone), a SYNCHRONIZED secondary claims the next
// epoch over the partner's live lease at its own epoch (Claim.Takeover).
// Safe because a process that is not running takes no writes, a restarted
// one takes none before it re-takes its key (which makes the takeover's
// compare-and-swap fail), and a sync primary acknowledges nothing alone
// without first taking a solo epoch through etcd. Any message from the
// partner cancels it; the failsafe hold does not apply (a dead primary
// has no failsafe window). Async links wait for the lease to expire.
//
// Failsafe: when a sync secondary cannot reach etcd and follows the
// primary at the epoch it last saw in etcd, its messages echo the
// primary's Clock ("I hold your commits"; it sends one at once when it
// finds etcd unreachable and at each new Clock of the primary, not at its
// next tick); a primary that cannot reach
// etcd either keeps writes for FenceTicks after sending the message echoed,
// and the secondary does not claim for FailsafeHoldTicks (TTL + drift)
// after sending the echo, nor for that long after a restart, so the
// primary has stopped before any claim. Nobody promotes without etcd.
//
// # What the server must do
//
// The server owns one loop per link. After stepping events, while
// HasReady():
//
//	rd := r.Ready()
//	1. if rd.HardState != nil, persist it (fsync) before anything else;
//	2. send rd.Messages to the partner (they may be lost: the replica resends);
//	3. apply rd.SoftState: make the database read-only or read-write per
//	   Writable (rolling back transactions in flight when writes stop, and
//	   stepping MsgCommitted for any that committed first); acknowledge
//	   client commits with LSN <= Commit; stream records from SendFrom
//	   (primary) or accept records that follow the local log only from a
//	   primary at ReceiveEpoch (secondary), discarding unhardened received
//	   records when ReceiveEpoch changes; delete the link when Dropped;
//	4. if rd.Rewind != nil, save (To, Through] to a file, rewind or reseed
//	   to To, then step MsgRewound{LSN: To} (after Advance is fine);
//	5. publish rd.Status if not nil;
//	6. hand rd.Claim, rd.Renew and rd.Release to the etcd runtime, which
//	   steps the answers (MsgClaimResult, MsgLeaseHeld, MsgLeaseLost),
//	   watch events (MsgLeaseObserved, MsgLeaseExpired) and MsgEtcdHealth
//	   back in later (AutoFailover links only);
//	7. r.Advance(rd).
//
// Storage reports MsgCommitted for each primary commit, MsgHardened and
// MsgApplied on a secondary, and after a restart MsgHardened with the log's
// end if it is ahead of the persisted HardState. Restart a replica with
// Config.State set to the last persisted HardState.
//
// Step returns an error only for bad input: a refused operator command
// (a *sqlink.Error with a hint) or a malformed event. Broken invariants, such
// as two primaries at one epoch, panic.
//
// package linktest simulates two replicas, their logs and a faulty network,
// and checks the invariants after every step.
package link
