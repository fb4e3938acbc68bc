package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/link"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// phase is where a link's local replica stands (linkData.Phase).
type phase string

// Phases.
const (
	phaseSeeding phase = "seeding" // secondary: waiting for or receiving a seed
	phaseCatchup       = "catchup" // secondary: seeded, RESTORING until redone reaches SeedPos
	phaseOnline        = "online"  // the database is ONLINE (read-only on a secondary)
)

// Tuning of the data path.
const (
	// maxRecordsBatch bounds one Records frame: big enough that a catching
	// up secondary hardens many records per fsync, small enough to keep
	// memory flat.
	maxRecordsBatch = 4 << 20
	// seedChunkBytes is one SeedChunk frame; seedFlushBytes is how much the
	// secondary buffers before one write and fsync of the seed file.
	seedChunkBytes = 1 << 20
	seedFlushBytes = 32 << 20
	// seedFlushInterval bounds how much progress a crash loses when seeding
	// is slow.
	seedFlushInterval = 500 * time.Millisecond
	// maxApplyBatch bounds the records merged into one apply transaction.
	maxApplyBatch = 32 << 20
	// dropNotifyTimeout bounds how long a drop waits for the partner.
	dropNotifyTimeout = 5 * time.Second
	// maxReconnectDelay caps the reconnect backoff.
	maxReconnectDelay = 2 * time.Second
	// partnerGoneAfter is how long the partner must keep saying it has no
	// such link before this side drops its half too: longer than any
	// start-up window, so a restarting partner is never taken for a drop.
	partnerGoneAfter = 3 * time.Second
	// timesKept bounds the LSN->commit time memory used for lag figures.
	timesKept = 1 << 16
	// lagShownIdle is how long the last measured harden and replay lags
	// show once the secondary has caught up with an idle primary.
	lagShownIdle = 5 * time.Second
)

// linkData is what a link persists in catalog.LinkRecord.Data.
//
// Owner: Link.mu guards Link.data (the loop, the seeder and the admin
// calls change it; save writes a copy taken under the lock).
type linkData struct {
	LinkID             string      `json:"link_id"`
	PartnerID          string      `json:"partner_id"`
	PartnerFingerprint string      `json:"partner_fingerprint,omitempty"`
	InitialPrimary     string      `json:"initial_primary"` // instance ID
	InitialRole        sqlink.Role `json:"initial_role"`
	SeedFromBackup     bool        `json:"seed_from_backup,omitempty"`
	Phase              phase       `json:"phase"`
	SeedPos            sqlink.Pos  `json:"seed_pos"`
	SeedAttempts       int         `json:"seed_attempts,omitempty"`
	SeedBytes          int64       `json:"seed_bytes,omitempty"` // seed bytes received over every attempt
	ReseedRequired     bool        `json:"reseed_required,omitempty"`
	EverConnected      bool        `json:"ever_connected,omitempty"`
	// FloorLSN (primary): log after it is kept for the secondary. Persisted
	// lazily; an older value only keeps more log.
	FloorLSN sqlink.LSN      `json:"floor_lsn"`
	State    *link.HardState `json:"state,omitempty"`
	// PrevVersion is the role-state version of a replica that was reseeded,
	// so the new replica's messages are not taken for stale ones.
	PrevVersion uint64 `json:"prev_version,omitempty"`
	// Dropping: a drop began here; a restart finishes it before anything
	// else (the database is made independent, then the record goes).
	Dropping bool      `json:"dropping,omitempty"`
	Created  time.Time `json:"created"`
	// Automatic failover through etcd (lease.go): set at creation.
	AutoFailover    bool   `json:"auto_failover,omitempty"`
	LeaseTTLSeconds int    `json:"lease_ttl_seconds,omitempty"`
	MaxDataLoss     uint64 `json:"max_data_loss,omitempty"`
}

// Link runs one link on this instance: the loop that owns the
// link.Replica (Step, Ready, persist, send, apply, Advance), the connection
// to the partner, and the data path (Records sender on a primary, harden
// and apply on a secondary, seeding). It is safe for concurrent use.
//
// Each piece of its state has one owner:
//   - set by newLink and never changed: s, id, log, ctx, cancel, events,
//     kick, gate (which has a lock of its own);
//   - the loop goroutine: the replica and what its Ready loop keeps, the
//     records sender it starts and stops (recordSender: its goroutine
//     owns the rest), the applier's stop and done, the diverged copy being
//     saved;
//   - seedMu: the seed sender (primary), the seed receiver's writer and
//     buffer (secondary);
//   - mu: the persisted record and progress (rec, data), the database,
//     the connection, the published status and errors, the failover
//     events, the lag tracker and the seed progress: what the status, the
//     admin calls, the reader, the sender and the applier share;
//   - saveMu: the catalog writes of save, one at a time;
//   - atomic: applierWaiting (the applier sets it, the hardener reads
//     it), floorSaving (the loop sets it, the floor saver clears it);
//   - per connection (peerConn): the reader's recordReceiver, the
//     hardener (its own lock), the writer's queue (peerConn.mu).
type Link struct {
	s   *Engine
	id  identity // immutable
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	events chan func()
	kick   chan struct{}
	// Sync commit: sessions wait until the gate's commit >= their LSN.
	gate *commitGate

	// Owned by the loop goroutine.
	r           *link.Replica
	persisted   *link.HardState
	soft        link.SoftState
	sender      *recordSender
	lastSelfMsg *link.Message
	partnerMsg  *link.Message
	stepped     struct{ hardened, applied, ack sqlink.LSN }
	// heartbeatDue lets the next heartbeat out (set every tick).
	heartbeatDue bool
	floorSaved   time.Time
	// floorStarted: the retention floor was set for this primary role.
	floorStarted bool
	// rewindTried: this replica's Ready.Rewind was acted on.
	rewindTried  bool
	applierStop  context.CancelFunc
	applierDone  chan struct{}
	divergedCopy changedCopy // secondary: its copy, diverged, being saved before a reseed
	drain        *drain      // a stop of writes in progress, holding its Ready

	seedRetry seedBackoff // secondary: back-off of seed requests after refusals (mu)

	// seedMu serializes seed senders (primary) and the seed writer
	// (secondary), and guards what follows.
	seedMu   sync.Mutex
	snap     *storage.Snapshot // the seed sender's goroutine's while it runs
	seedStop context.CancelFunc
	seedDone chan struct{}
	writer   *storage.SeedWriter
	sbuf     seedBuffer // the pages received, not yet written
	// flushedAt is when the last flush of received pages started.
	flushedAt time.Time
	flushing  chan error // result of the seed flush in flight

	// saveMu serializes save (the loop, the seeder, the admin calls): a
	// write of the catalog record holds it from reading the record under
	// mu to its fsync, so writes land in the order they read and an older
	// record never overwrites a newer one. Taken before mu, never under it.
	saveMu sync.Mutex

	// floorSaving is true while saveFloor's worker runs (the loop sets
	// it, the worker clears it).
	floorSaving atomic.Bool

	// applierWaiting is true while the applier has applied everything
	// hardened and waits for more: it acknowledges the next records
	// itself, right after applying them.
	applierWaiting atomic.Bool

	mu      sync.Mutex // guards everything below
	rec     catalog.LinkRecord
	data    linkData
	db      *storage.DB
	ownsDB  bool // a catching-up secondary's DB, not in the host's registry
	conn    *peerConn
	status  link.Status
	history []sqlink.HistoryEntry
	lastErr *adminapi.LinkError
	// reseedErr is shown as the last error while the link is
	// RESEED_REQUIRED: it is what the operator must know.
	reseedErr   *adminapi.LinkError
	recvOn      bool
	recvEp      sqlink.Epoch
	stopped     bool
	dropping    bool
	dropStarted bool // dropLocal runs or ran

	partnerStatus     *transport.PartnerStatus
	partnerCertExpiry time.Time

	// Failover (failover.go): status waiters, role-change events, the
	// last diverged state saved.
	statusCh   chan struct{}
	roleEvents []roleEvent
	lastRewind *rewindResult
	saved      *rewindResult  // the diverged state saved when this replica gave up its role
	rewindReq  *rewindRequest // secondary: a rewind to ask for with the next seed request
	reseedAt   time.Time      // secondary: when the last full reseed started

	lag  lagTracker
	seed seedProgress

	lease leaseRuntime // etcd lease of an auto-failover link (lease.go)
}

// seedProgress is what status shows of a seed.
//
// Owner: Link.mu guards Link.seed (the seed sender or receiver updates
// it, the loop samples its rate, status reads it).
type seedProgress struct {
	state      seedState
	done       int64
	total      int64
	seedLSN    sqlink.LSN
	started    time.Time
	startBytes int64
	rate       rate
	active     bool  // primary: a seed sender is running
	sent       int64 // bytes sent (primary) or received (secondary) over every attempt
}

// identity is what names a link and its partner: set when the Link is
// made and never changed, so any goroutine reads it without a lock (the
// mutable progress is Link.data and Link.rec, under Link.mu).
type identity struct {
	name, database         string
	linkID                 string
	partnerID, partnerName string
	partnerURL             string
	initialPrimary         string // instance ID
}

func newLink(s *Engine, rec catalog.LinkRecord, data linkData) *Link {
	rt := &Link{
		s: s, rec: rec, data: data,
		id: identity{name: rec.Name, database: rec.Database, linkID: data.LinkID, partnerID: data.PartnerID,
			partnerName: rec.PartnerName, partnerURL: rec.PartnerURL, initialPrimary: data.InitialPrimary},
		log:    s.log.With("link", rec.Name, "database", rec.Database),
		events: make(chan func()),
		kick:   make(chan struct{}, 1),
		gate:   newCommitGate(),
	}
	rt.ctx, rt.cancel = context.WithCancel(s.ctx)
	return rt
}

func (rt *Link) database() string { return rt.id.database }

func (rt *Link) partnerEndpoint() string { return rt.id.partnerURL }

func (rt *Link) isConnected() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.conn != nil
}

// dials reports whether this side connects to the partner: the link's
// initial primary always dials, so there is one connection per link
// whatever the current roles.
func (rt *Link) dials() bool { return rt.id.initialPrimary == rt.s.info.ID }

// setError records err as the link's last error.
func (rt *Link) setError(err error) {
	if err == nil {
		return
	}
	code := sqlink.ErrorCode(err)
	msg := err.Error()
	var se *sqlink.Error
	if errors.As(err, &se) && se.Message != "" && errors.Unwrap(err) == nil {
		msg = se.Message
	}
	le := &adminapi.LinkError{Code: code, Message: msg, Hint: sqlink.ErrorHint(err), Time: rt.s.cfg.Now().UTC()}
	rt.mu.Lock()
	same := rt.lastErr != nil && rt.lastErr.Message == le.Message
	rt.lastErr = le
	rt.mu.Unlock()
	if !same {
		rt.log.Warn("link error", "err", err)
	}
}

// start runs the link's goroutines.
func (rt *Link) start() error {
	rt.mu.Lock()
	phase := rt.data.Phase
	rt.mu.Unlock()
	rt.mu.Lock()
	rt.seed.seedLSN = rt.data.SeedPos.LSN
	rt.seed.sent = rt.data.SeedBytes
	switch {
	case phase == phaseCatchup:
		rt.seed.state = seedCatchup
	case phase == phaseOnline && rt.data.SeedAttempts > 0:
		rt.seed.state = seedCompleted
	}
	rt.mu.Unlock()
	switch phase {
	case phaseOnline:
		db, err := rt.s.host.OpenDatabase(rt.ctx, rt.database())
		if err != nil {
			return fmt.Errorf("link %s: %w", rt.id.name, err)
		}
		rt.mu.Lock()
		rt.db = db
		rt.mu.Unlock()
	case phaseCatchup:
		if open := rt.s.host.Database(rt.database()); open != nil {
			// The catalog has it ONLINE (so the server opened it): the
			// catch-up ended just before a crash, ahead of this record.
			rt.mu.Lock()
			rt.db = open
			rt.mu.Unlock()
			if err := rt.markOnline(); err != nil {
				return fmt.Errorf("link %s: %w", rt.id.name, err)
			}
			break
		}
		db, err := storage.OpenDB(rt.ctx, databasePath(rt.s.cfg.DataDir, rt.database()), rt.s.dbConfig())
		if err != nil {
			return fmt.Errorf("link %s: open database: %w", rt.id.name, err)
		}
		rt.mu.Lock()
		rt.db, rt.ownsDB = db, true
		rt.mu.Unlock()
	case phaseSeeding:
		rt.setSeedState(seedPending)
		if rt.data.SeedFromBackup {
			// The restored backup becomes the secondary: it must never
			// capture a write of its own.
			db, err := storage.OpenDB(rt.ctx, databasePath(rt.s.cfg.DataDir, rt.database()), rt.s.dbConfig())
			if err != nil {
				return fmt.Errorf("link %s: open restored database: %w", rt.id.name, err)
			}
			if ro, _ := db.ReadOnly(); !ro {
				db.SetReadOnly(rt.id.partnerName)
			}
			rt.mu.Lock()
			rt.db, rt.ownsDB = db, true
			rt.mu.Unlock()
			break
		}
		path := databasePath(rt.s.cfg.DataDir, rt.database())
		if err := rt.clearForSeed(path); err != nil {
			return fmt.Errorf("link %s: %w", rt.id.name, err)
		}
		if w, err := storage.OpenSeed(path); err == nil {
			rt.writer = w
			st := w.State()
			rt.mu.Lock()
			rt.seed.done, rt.seed.total, rt.seed.seedLSN = st.BytesDone(), st.PageCount*st.PageSize, st.Pos.LSN
			rt.mu.Unlock()
		}
	}
	if rt.data.State != nil {
		if err := rt.startReplica(*rt.data.State); err != nil {
			return err
		}
	}
	rt.mu.Lock()
	db := rt.db
	rt.mu.Unlock()
	if d := divergedSecondary(db); d != nil {
		// Another program wrote to this secondary's copy while the
		// instance was stopped: it cannot follow on from its log. Not
		// connected yet, so it is kept until attach.
		rt.reseedDiverged(d.Why)
	}
	rt.startLease()
	rt.wg.Add(1)
	go rt.loop()
	if rt.dials() {
		rt.wg.Add(1)
		go rt.dialLoop()
	}
	return nil
}

// divergedSecondary returns why db, a secondary, no longer matches its log
// (nil if it does or db is not a secondary).
func divergedSecondary(db *storage.DB) *storage.LogGap {
	if db == nil {
		return nil
	}
	if ro, _ := db.ReadOnly(); !ro {
		return nil
	}
	return db.Diverged()
}

// clearForSeed makes way for a seed at a restart in the seeding phase.
// While seeding, the database at path is never the copy: the seed is
// received beside it (path.seed, kept: it resumes) and moved into place at
// the end. A database there is what a crash left: the copy being replaced
// (the link said seeding before its files were gone; the catalog may still
// have it ONLINE, and the server then opened it), or a seed moved into
// place before the catch-up that follows was saved, which cannot tell
// where it stands. Either way it goes, and the seed starts or resumes.
func (rt *Link) clearForSeed(path string) error {
	ctx := context.WithoutCancel(rt.ctx)
	if open := rt.s.host.UnregisterDatabase(rt.database(), nil); open != nil {
		open.Close(ctx)
	}
	if d, err := rt.s.cat.GetDatabase(ctx, rt.database()); err == nil && d.State != sqlink.DatabaseRestoring {
		if err := rt.s.cat.SetDatabaseState(ctx, rt.database(), sqlink.DatabaseRestoring); err != nil {
			return err
		}
	}
	left := false
	for _, p := range []string{path, path + "-wal", path + "-log"} {
		if _, err := os.Stat(p); err == nil {
			left = true
		}
	}
	if left {
		rt.log.Warn("removing the database a crash left while seeding; the seed starts or resumes", "path", path)
		removeDatabaseFiles(path)
	}
	return nil
}

// startReplica (re)starts the state machine from hs. Called before the loop
// runs or from the loop.
func (rt *Link) startReplica(hs link.HardState) error {
	cfg := link.Config{
		LinkID: rt.id.linkID, Self: rt.s.info.ID, Partner: rt.id.partnerID,
		InitialPrimary: rt.id.initialPrimary, State: &hs,
		HeartbeatTicks:      1,
		SessionTimeoutTicks: max(1, int(rt.s.cfg.LinkSessionTimeout/rt.s.cfg.LinkTick)),
	}
	if hs.AutoFailover {
		leaseTicks(&cfg, rt.leaseTTL(), rt.s.cfg.LinkTick)
	}
	r, err := link.New(cfg)
	if err != nil {
		return fmt.Errorf("link %s: %w", rt.id.name, err)
	}
	rt.r = r
	rt.rewindTried = false
	if k := rt.lease.keeper; k != nil {
		// A new state machine knows nothing of etcd: the Keeper reports
		// now rather than at its next poll.
		k.Refresh()
	}
	h := hs.Clone()
	rt.persisted = &h
	rt.stepped.hardened, rt.stepped.applied, rt.stepped.ack = hs.Hardened, hs.Hardened, 0
	rt.mu.Lock()
	db := rt.db
	rt.mu.Unlock()
	if db != nil {
		// The log may be ahead of the persisted HardState: we persist it
		// only when the role state changes.
		if end := db.Pos().LSN; end > hs.Hardened {
			if err := r.Step(link.Message{Type: link.MsgHardened, LSN: end}); err != nil {
				return fmt.Errorf("link %s: %w", rt.id.name, err)
			}
			rt.stepped.hardened = end
		}
		if hs.Role == sqlink.RolePrimary {
			if err := db.SetEpoch(max(db.Epoch(), hs.Epoch)); err != nil {
				return err
			}
			rt.startFloor()
		} else {
			rt.startApplier(db)
		}
	}
	return nil
}

// stop ends the link's goroutines and releases what it holds. The catalog
// record is kept.
func (rt *Link) stop(ctx context.Context) {
	rt.mu.Lock()
	if rt.stopped {
		rt.mu.Unlock()
		return
	}
	rt.stopped = true
	rt.mu.Unlock()
	rt.cancel()
	rt.wg.Wait()
	rt.stopLease()
	rt.seedMu.Lock()
	if rt.seedStop != nil {
		rt.seedStop()
		<-rt.seedDone
		rt.seedStop = nil
	}
	if rt.snap != nil {
		rt.snap.Close()
		rt.snap = nil
	}
	if rt.writer != nil {
		rt.flushSeed()
		rt.writer.Close()
		rt.writer = nil
	}
	rt.seedMu.Unlock()
	rt.stopApplier()
	rt.mu.Lock()
	db, owns := rt.db, rt.ownsDB
	rt.db, rt.ownsDB = nil, false
	rt.mu.Unlock()
	if db != nil && owns {
		db.Close(ctx)
	}
	rt.gate.open()
}

// call runs fn on the loop goroutine and waits for it (and the Ready
// processing after it). It reports false if the loop is gone.
func (rt *Link) call(fn func()) bool {
	done := make(chan struct{})
	select {
	case rt.events <- func() { fn(); close(done) }:
	case <-rt.ctx.Done():
		return false
	}
	select {
	case <-done:
		return true
	case <-rt.ctx.Done():
		return false
	}
}

// wake asks the loop to look at the coalesced local state.
func (rt *Link) wake() {
	select {
	case rt.kick <- struct{}{}:
	default:
	}
}
