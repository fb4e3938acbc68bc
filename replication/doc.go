// Package replication is the replication engine: it runs an instance's
// links (see the "link" package for the pure state machine it drives).
// The server wires it in as a Host (database registry, name reservation,
// client sessions, failpoints, endpoint address) and a Catalog; the
// engine owns the links' goroutines and serves adminapi.LinkManager.
//
// Pieces, each with one owner (the comment at each struct says which):
//
//   - Link (link.go, loop.go, peer.go): a link's loop, its persisted and
//     soft state and heartbeats; identity is its immutable part.
//   - recordSender (sender.go): a primary's Records stream; step sends one
//     frame from a recordLog to a frameWriter.
//   - recordReceiver, hardener (receiver.go): a secondary's checks of
//     what it receives (accept) and its group-commit fsyncs (step).
//   - the applier (applier.go): applyStep redoes what is hardened.
//   - seedSender, seedBuffer (seed.go, seedrecv.go): a seed's pages, sent
//     (step) and received (take); planSeed decides how to seed.
//   - lagTracker (lag.go): progress, rates and lags, pure, taking now.
//   - commitGate (gate.go): a sync primary's commits waiting.
//
// The steps and deciders take their edges as small interfaces, so tests
// drive them against fakes (fakes_test.go) without sockets or goroutines.
//
// Each link on this instance is a Link. Its loop goroutine owns the
// link.Replica and runs the Ready loop link/doc.go describes: it steps
// local events (commits seen through storage's Notify, hardened and redone
// positions, the partner's Acks as heartbeats), peer messages and ticks
// (Config.LinkTick), then persists the HardState to the catalog
// (LinkRecord.Data) when anything but the hardened LSN changed (the log
// recovers that), sends the messages, and applies the SoftState:
// read-only or writable, the commit LSN sync sessions wait for
// (session.EndWrite -> waitCommit), and the data path. The HardState's
// catalog write (an fsync) is the one blocking step left on the loop: the
// Ready's messages must wait for it anyway, and it is rare (role, epoch,
// mode or history changes). Blocking work without that order runs on
// workers: the failover drain and the saving of a diverged copy (both
// report back through the loop's events), and the periodic save of the
// retention floor.
// Saves of the link's record are serialized (Link.saveMu), so they land
// in the order they read it.
//
// Connection: the link's initial primary always dials the other
// instance's endpoint, whatever the current roles, so a link has one
// connection; it reconnects with backoff. The Hello exchange checks the
// link ID and the partner's instance ID. Control messages (link.Message,
// status, seeding, drop) travel as JSON in ControlRequest frames, queued so
// the loop never blocks on the network; the reader hands link messages to
// the loop and waits for it, so a Records batch is never handled before the
// message that made this replica follow its sender.
//
// Data path: on a primary the sender streams log records from the
// secondary's hardened LSN as they are captured (ReadLog, one Records frame
// per batch of what is available, flushed at once). On a secondary the
// reader checks each batch with a RecordStream, a hardener goroutine
// hardens what has arrived (one fsync for every batch that came during the
// previous one) and acknowledges it, and the applier redoes the hardened
// log, merging records into one transaction when it is behind.
//
// Seeding (seed.go) brings a secondary from nothing, or from a
// restored backup, to a copy at a known position; the database stays
// RESTORING until it has redone up to that position.
//
// Role changes (failover.go, rewind.go): applySoft makes a database
// read-only (stopWrites: waits for the transaction in flight, then ends the
// sessions so pools reconnect) or writable (takeWrites: redoes every
// hardened record and sets the epoch first, then ends the read-only
// sessions); process records each step of a failover for the result and
// runs the crash-test failpoints; a Ready.Rewind saves the diverged state
// and rewinds the copy from the primary.
//
// Automatic failover (lease.go): a link created with AutoFailover has an
// etcdlease.Keeper; the Ready's Claim, Renew and Release go to it without
// blocking, and what it learns of etcd comes back to the loop as lease
// messages through the events channel. A sync secondary that loses its
// connection probes the partner's endpoint (gone.go): a refused connection
// lets it take over the dead primary's live lease. Engine.Stop shuts the
// commit gates first, so a stopping primary acknowledges nothing its
// secondary has not confirmed.
//
// Retention: a primary keeps the log after the secondary's hardened LSN
// (or the seed base) with storage's retention floor; past
// Config.LinkLogCapBytes the link is RESEED_REQUIRED, the floor is released
// and the secondary is told to reseed when it returns.
package replication
