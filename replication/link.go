package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
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

// Phases of a link's local replica (linkData.Phase).
const (
	phaseSeeding = "seeding" // secondary: waiting for or receiving a seed
	phaseCatchup = "catchup" // secondary: seeded, RESTORING until redone reaches SeedPos
	phaseOnline  = "online"  // the database is ONLINE (read-only on a secondary)
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
type linkData struct {
	LinkID             string      `json:"link_id"`
	PartnerID          string      `json:"partner_id"`
	PartnerFingerprint string      `json:"partner_fingerprint,omitempty"`
	InitialPrimary     string      `json:"initial_primary"` // instance ID
	InitialRole        sqlink.Role `json:"initial_role"`
	SeedFromBackup     bool        `json:"seed_from_backup,omitempty"`
	Phase              string      `json:"phase"`
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
}

// Link runs one link on this instance: the loop that owns the
// link.Replica (Step, Ready, persist, send, apply, Advance), the connection
// to the partner, and the data path (Records sender on a primary, harden
// and apply on a secondary, seeding). It is safe for concurrent use; the
// replica is touched only by the loop goroutine.
type Link struct {
	s   *Engine
	id  identity // immutable
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	events chan func()
	kick   chan struct{}

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
	rewindTried bool

	// seedMu serializes seed senders (primary) and the seed writer
	// (secondary).
	seedMu   sync.Mutex
	snap     *storage.Snapshot
	seedStop context.CancelFunc
	seedDone chan struct{}
	writer   *storage.SeedWriter
	pending  []storage.Page
	// seedSparse: the seed being received is a rewind, whose pages
	// arrive out of order (WritePagesAt).
	seedSparse bool
	pendingB   int
	flushedAt  time.Time
	flushing   chan error // result of the seed flush in flight
	seedPos    sqlink.Pos // snapshot the seed being received comes from
	seedPS     int64      // its page size
	seedNext   int64      // next page expected, buffered pages included

	applierStop context.CancelFunc
	applierDone chan struct{}
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

	partnerStatus     *adminapi.ReplicaStatus
	partnerCertExpiry time.Time

	// Failover (failover.go): status waiters, role-change events, the
	// last diverged state saved.
	statusCh     chan struct{}
	roleEvents   []roleEvent
	lastRewind   *rewindResult
	saved        *rewindResult  // the diverged state saved when this replica gave up its role
	rewindReq    *rewindRequest // secondary: a rewind to ask for with the next seed request
	reseedAt     time.Time      // secondary: when the last full reseed started
	divergedCopy changedCopy    // secondary: its copy, diverged, being saved before a reseed (on the loop)

	lag lagTracker

	seed seedProgress

	// Sync commit: sessions wait until the gate's commit >= their LSN.
	gate *commitGate
}

// seedProgress is what status shows of a seed.
type seedProgress struct {
	state      string
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
		rt.seed.state = "CATCHUP"
	case phase == phaseOnline && rt.data.SeedAttempts > 0:
		rt.seed.state = "COMPLETED"
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
		rt.setSeedState("PENDING")
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
	r, err := link.New(cfg)
	if err != nil {
		return fmt.Errorf("link %s: %w", rt.id.name, err)
	}
	rt.r = r
	rt.rewindTried = false
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

func (rt *Link) loop() {
	defer rt.wg.Done()
	defer func() {
		rt.mu.Lock()
		pc := rt.conn
		rt.conn = nil
		rt.mu.Unlock()
		if pc != nil {
			pc.close()
		}
		rt.stopSender()
	}()
	t := time.NewTicker(rt.s.cfg.LinkTick)
	defer t.Stop()
	notify := rt.commitNotify()
	rt.process()
	for {
		select {
		case <-rt.ctx.Done():
			return
		case fn := <-rt.events:
			rt.syncLocal()
			rt.process()
			fn()
		case <-rt.kick:
		case <-notify:
		case <-t.C:
			rt.onTick()
		}
		// Taken before syncLocal reads the position: a commit after that
		// read closes this channel.
		notify = rt.commitNotify()
		rt.syncLocal()
		rt.process()
	}
}

// commitNotify returns the channel the database closes at its next
// commit when the loop should wake for it, else nil. An async primary that
// is streaming does not wake per commit: the records go out on the
// sender's goroutine and each acknowledgment (one per group the secondary
// hardens) wakes the loop, which then steps every commit made since; the
// tick does when no acknowledgment comes. A wake per commit cost the
// primary a goroutine hand-off and a pass of the state machine per
// transaction (about 4 % of its CPU at one client, by profile). A sync link
// (commits wait on the loop), a primary without a partner connected and a
// link in a failover wake per commit.
func (rt *Link) commitNotify() <-chan struct{} {
	rt.mu.Lock()
	db, op := rt.db, rt.status.Op.Active()
	receiving := rt.recvOn && rt.conn != nil && rt.data.Phase == phaseOnline
	rt.mu.Unlock()
	if db == nil || rt.r == nil {
		return nil
	}
	if op {
		return db.Notify()
	}
	if rt.sender != nil && !rt.syncMode() {
		return nil
	}
	if receiving {
		// A secondary streaming: the hardener (after its acknowledgment)
		// or the applier (after applying) wakes the loop for every
		// group, so a wake at the log's append as well is one too many.
		return nil
	}
	return db.Notify()
}

// syncLocal steps what storage and the partner's acks did since the last
// look: commits (primary), hardened and applied records (secondary).
func (rt *Link) syncLocal() {
	r := rt.r
	if r == nil {
		rt.checkCatchup()
		return
	}
	rt.mu.Lock()
	db, ack, ackEp := rt.db, rt.lag.ackHardened, rt.partnerMsg
	rt.mu.Unlock()
	if db == nil {
		return
	}
	hs := r.HardState()
	pos := db.Pos().LSN
	switch hs.Role {
	case sqlink.RolePrimary:
		if ro, _ := db.ReadOnly(); !ro && pos > hs.Hardened && !hs.Dropped {
			if err := r.Step(link.Message{Type: link.MsgCommitted, LSN: pos}); err != nil {
				rt.log.Debug("step committed", "err", err)
			}
		}
		if ack > rt.stepped.ack && ackEp != nil {
			m := *ackEp
			m.Type = link.MsgHeartbeat
			m.LSN = ack
			rt.stepped.ack = ack
			if err := r.Step(m); err != nil {
				rt.log.Debug("step ack", "err", err)
			}
		}
	case sqlink.RoleSecondary:
		if pos > rt.stepped.hardened {
			if err := r.Step(link.Message{Type: link.MsgHardened, LSN: pos}); err == nil {
				rt.stepped.hardened = pos
			}
		}
		if red := db.Redone().LSN; red > rt.stepped.applied && red <= rt.stepped.hardened {
			if err := r.Step(link.Message{Type: link.MsgApplied, LSN: red}); err == nil {
				rt.stepped.applied = red
			}
		}
		rt.checkCatchup()
	}
}

// process runs the Ready loop: persist, send, apply, publish, Advance.
func (rt *Link) process() {
	r := rt.r
	if r == nil {
		return
	}
	for r.HasReady() {
		rd := r.Ready()
		if rd.HardState != nil && rt.mustPersist(rd.HardState) {
			prev := rt.persisted
			if err := rt.persistState(rd.HardState); err != nil {
				// Nothing may be sent or applied before the state is
				// durable: try again at the next event.
				rt.setError(fmt.Errorf("persist link state: %w", err))
				return
			}
			rt.afterPersist(prev, rd.HardState)
		}
		rt.mu.Lock()
		pc := rt.conn
		rt.mu.Unlock()
		for i := range rd.Messages {
			m := rd.Messages[i]
			// The state machine queues a heartbeat at every commit or
			// harden; between ticks only those that change the role state
			// go out (positions travel in Records and Acks).
			skip := m.Type == link.MsgHeartbeat && !rt.heartbeatDue && rt.lastSelfMsg != nil &&
				rt.lastSelfMsg.Version == m.Version && rt.lastSelfMsg.Epoch == m.Epoch && rt.lastSelfMsg.Role == m.Role
			rt.lastSelfMsg = &m
			if pc != nil && !skip {
				pc.control(cmdLink, m)
			}
		}
		rt.heartbeatDue = false
		// The status first: a commit the soft state releases (a sync wait
		// that ended) then finds the link's status already saying why.
		if rd.Status != nil {
			rt.mu.Lock()
			prevErr := rt.status.LastError
			rt.status = *rd.Status
			rt.mu.Unlock()
			if e := rd.Status.LastError; e != "" && e != prevErr {
				// A refused or cancelled operation: show it as the link's
				// last error here and, through the status, on the partner.
				rt.setError(sqlink.Errorf(sqlink.ECONFLICT, "check the link's status on both instances", "%s", rt.named(errors.New(e)).Error()))
			}
		}
		rt.applySoft(rd.SoftState)
		if rd.Status != nil {
			rt.changed()
		}
		hs := r.HardState()
		rt.mu.Lock()
		rt.history = slices.Clone(hs.History)
		rt.mu.Unlock()
		r.Advance(rd)
		if rd.Rewind != nil && !rt.rewindTried {
			// Save the diverged transactions, then reseed: the replica
			// is replaced.
			rt.rewindTried = true
			rt.rewind(*rd.Rewind)
			return
		}
	}
}

// mustPersist reports whether hs differs from the persisted state in more
// than the hardened LSN, which the storage log recovers by itself.
func (rt *Link) mustPersist(hs *link.HardState) bool {
	if rt.persisted == nil {
		return true
	}
	a, b := hs.Clone(), rt.persisted.Clone()
	a.Hardened, b.Hardened = 0, 0
	if len(a.History) == 0 && len(b.History) == 0 {
		a.History, b.History = nil, nil
	}
	return !reflect.DeepEqual(a, b)
}

func (rt *Link) persistState(hs *link.HardState) error {
	h := hs.Clone()
	rt.mu.Lock()
	rt.data.State = &h
	rt.rec.Role, rt.rec.Epoch, rt.rec.Mode, rt.rec.TwoWay = h.Role, h.Epoch, h.Mode, h.TwoWay
	if h.Role != sqlink.RolePrimary && rt.data.ReseedRequired {
		// RESEED_REQUIRED says this replica, as primary, released the log
		// its secondary needed; as a secondary it has nothing to keep.
		rt.data.ReseedRequired = false
		rt.reseedErr = nil
	}
	rt.mu.Unlock()
	if err := rt.save(); err != nil {
		return err
	}
	rt.persisted = &h
	return nil
}

// save writes the link's catalog record (durable on return).
func (rt *Link) save() error {
	rt.mu.Lock()
	rec := rt.rec
	rec.UpdatedAt = time.Time{}
	rec.State = rt.stateLocked()
	b, err := json.Marshal(rt.data)
	rt.mu.Unlock()
	if err != nil {
		return err
	}
	rec.Data = b
	return rt.s.cat.PutLink(context.WithoutCancel(rt.ctx), rec)
}

// applySoft makes the database and the data path match the state machine.
func (rt *Link) applySoft(soft link.SoftState) {
	r := rt.r
	hs := r.HardState()
	rt.mu.Lock()
	db := rt.db
	rt.mu.Unlock()
	if db != nil && !soft.Dropped {
		if hs.Role == sqlink.RolePrimary && rt.applierStop != nil {
			// Stop redoing before the database takes writes.
			rt.stopApplier()
			rt.floorStarted = false
		}
		ro, _ := db.ReadOnly()
		switch {
		case soft.Writable && ro:
			rt.takeWrites(db, hs)
		case !soft.Writable && !ro:
			rt.stopWrites(db, hs)
			// Commits that made it in before the switch.
			if pos := db.Pos().LSN; hs.Role == sqlink.RolePrimary && pos > hs.Hardened {
				_ = r.Step(link.Message{Type: link.MsgCommitted, LSN: pos})
			}
		}
		if hs.Role == sqlink.RolePrimary && db.Epoch() < hs.Epoch {
			if err := db.SetEpoch(hs.Epoch); err != nil {
				rt.setError(err)
			}
		}
		// A role change at run time (failover): a secondary redoes what
		// it hardens; a primary keeps log for its partner.
		switch {
		case hs.Role == sqlink.RoleSecondary && rt.applierStop == nil:
			db.SetRetentionFloor(0, false)
			rt.startApplier(db)
		case hs.Role == sqlink.RolePrimary && !rt.floorStarted:
			rt.startFloor()
		}
	}
	// Sync commits.
	rt.gate.set(soft.Commit, hs.Role == sqlink.RolePrimary && hs.Mode == sqlink.ModeSync && !soft.Dropped)
	// Receiving.
	rt.mu.Lock()
	rt.recvOn, rt.recvEp = soft.Replication.Receive, soft.Replication.ReceiveEpoch
	reseed := rt.data.ReseedRequired
	rt.mu.Unlock()
	// Sending.
	want := soft.Replication.Send && !reseed && db != nil
	rt.mu.Lock()
	pc := rt.conn
	rt.mu.Unlock()
	if rt.sender != nil && (!want || rt.sender.pc != pc || rt.sender.epoch != soft.Replication.SendEpoch) {
		rt.stopSender()
	}
	if want && pc != nil && rt.sender == nil {
		rt.startSender(pc, db, soft.Replication.SendFrom-1, soft.Replication.SendEpoch)
	}
	rt.soft = soft
	if soft.Dropped {
		rt.mu.Lock()
		already := rt.dropping
		rt.dropping = true
		rt.mu.Unlock()
		if !already {
			// The state machine dropped the link (the partner dropped it,
			// or a failover ended with drop): finish outside the loop,
			// once the partner knows (it may wait for our answer to
			// finish its side of a failover).
			go func() {
				rt.awaitPartnerDropped()
				if err := rt.s.dropLocal(context.Background(), rt, "the link was dropped"); err != nil {
					rt.log.Error("drop link", "err", err)
				}
			}()
		}
	}
}

// takeWrites makes a read-only replica's database writable (on the loop):
// it redoes every hardened record first, sets the epoch new records are
// written in, and ends the sessions opened read-only so they reconnect
// read-write.
func (rt *Link) takeWrites(db *storage.DB, hs link.HardState) {
	rt.stopApplier()
	forced := hs.LastFailover.Epoch == hs.Epoch && hs.LastFailover.Kind == "forced"
	if err := redoForWrites(rt.ctx, db, forced); err != nil {
		// Never take writes over a copy that misses hardened records: the
		// next Ready tries again.
		rt.setError(fmt.Errorf("redo before taking writes: %w", err))
		return
	}
	if hs.Role == sqlink.RolePrimary && db.Epoch() < hs.Epoch {
		if err := db.SetEpoch(hs.Epoch); err != nil {
			rt.setError(err)
			return
		}
	}
	db.SetReadOnly("")
	rt.log.Info("database writable", "role", hs.Role, "epoch", hs.Epoch)
	rt.s.endSessions(rt.database(), "57P01", fmt.Sprintf("database %q is now the primary of link %s (epoch %d): reconnect for read-write sessions", rt.database(), rt.id.name, hs.Epoch))
	rt.noteEvent(evWritable)
	rt.failoverFailpoint(&hs, fpAfterSwap, fpForcedWritable)
}

// stopWrites makes the database read-only (on the loop). The transaction
// in flight may finish; one that does not within FailoverDrainTimeout has its
// session ended, which rolls it back. The remaining sessions are ended too,
// so pools reconnect and find the primary.
func (rt *Link) stopWrites(db *storage.DB, hs link.HardState) {
	why := fmt.Sprintf("a planned failover of link %s to instance %s is in progress", rt.id.name, rt.id.partnerName)
	switch {
	case hs.SplitBrain.Active:
		why = fmt.Sprintf("split brain on link %s: instance %s is primary at a higher epoch", rt.id.name, rt.id.partnerName)
	case hs.Role == sqlink.RoleSecondary:
		why = fmt.Sprintf("this replica of link %s is now a secondary of instance %s", rt.id.name, rt.id.partnerName)
	}
	done := make(chan struct{})
	go func() {
		db.SetReadOnly(rt.id.partnerName)
		close(done)
	}()
	t := time.NewTimer(rt.s.cfg.FailoverDrainTimeout)
	select {
	case <-done:
		t.Stop()
	case <-t.C:
		rt.log.Warn("transactions still in flight after the drain timeout: ending their sessions", "timeout", rt.s.cfg.FailoverDrainTimeout)
		rt.s.endSessions(rt.database(), "57P01", fmt.Sprintf("terminating connection: its transaction was rolled back because %s", why))
		<-done
	}
	rt.log.Info("database read-only", "role", hs.Role, "epoch", hs.Epoch, "why", why)
	rt.s.endSessions(rt.database(), "25006", fmt.Sprintf("database %q no longer takes writes: %s; reconnect to the primary (target_session_attrs=read-write)", rt.database(), why))
	if hs.Op.Step == link.StepDraining {
		rt.noteEvent(evWritesOff)
		rt.s.failpoint(fpAfterDrain)
	}
}

// awaitPartnerDropped waits, up to partnerGoneAfter, until the partner
// reports the link dropped too or the connection ends.
func (rt *Link) awaitPartnerDropped() {
	ctx, cancel := context.WithTimeout(rt.ctx, partnerGoneAfter)
	defer cancel()
	rt.waitFor(ctx, func() bool {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		return rt.conn == nil || rt.partnerMsg != nil && rt.partnerMsg.Dropped
	})
}

// waitCommit blocks a session's commit at lsn until the link allows it:
// at once for async links, else until the secondary hardened it or was
// marked disconnected.
func (rt *Link) waitCommit(ctx context.Context, lsn sqlink.LSN) error {
	return rt.gate.waitFor(ctx, lsn)
}

func (rt *Link) onTick() {
	now := rt.s.cfg.Now()
	rt.heartbeatDue = true
	if rt.r != nil {
		rt.r.Tick()
	}
	rt.mu.Lock()
	rt.lag.tick(now)
	if rt.seed.state == "SEEDING" {
		rt.seed.rate.sample(rt.seed.done, now)
	}
	pc, db := rt.conn, rt.db
	rt.mu.Unlock()
	rt.checkRetention()
	if pc == nil {
		return
	}
	if db != nil && rt.r != nil && rt.r.HardState().Role == sqlink.RolePrimary {
		st := db.Stats()
		pc.send(&transport.Heartbeat{Time: now, LastCommitLSN: st.Pos.LSN, LastCommitTime: st.LastCommit})
		rt.mu.Lock()
		reseed := rt.data.ReseedRequired
		rt.mu.Unlock()
		if reseed {
			// A secondary that is seeding already ignores it.
			pc.control(cmdReseed, struct{}{})
		}
	} else if db != nil && rt.r != nil && rt.r.HardState().Role == sqlink.RoleSecondary {
		if d := divergedSecondary(db); d != nil {
			// Changed outside sqlink while it ran (the background
			// capture found it): reseed now, not when the next record
			// fails to apply. Once per copy; a failed save of the copy
			// retries on its own.
			if rt.divergedCopy.db != db {
				rt.reseedDiverged(d.Why)
			}
		} else {
			rt.tickAck(pc, db, now)
		}
	}
	pc.control(cmdStatus, rt.localStatus())
}

// attach makes pc the link's connection (on the loop).
func (rt *Link) attach(pc *peerConn) {
	rt.mu.Lock()
	old := rt.conn
	rt.conn = pc
	if cert := pc.c.PeerCertificate(); cert != nil {
		rt.partnerCertExpiry = cert.NotAfter
	}
	first := !rt.data.EverConnected
	rt.data.EverConnected = true
	phase := rt.data.Phase
	rt.mu.Unlock()
	if old != nil {
		old.close()
	}
	rt.stopSender()
	if first {
		if err := rt.save(); err != nil {
			rt.setError(err)
		}
	}
	rt.log.Info("link connected", "partner", pc.hello.InstanceName, "remote", pc.c.RemoteAddr())
	if rt.lastSelfMsg != nil {
		m := *rt.lastSelfMsg
		m.Type = link.MsgHeartbeat
		m.Target, m.KeepLink, m.AllowDataLoss, m.Primary, m.NewMode = 0, false, false, "", ""
		if rt.r != nil {
			hs := rt.r.HardState()
			m.LSN = hs.Hardened
		}
		pc.control(cmdLink, m)
	} else if rt.r != nil {
		rt.heartbeatDue = true
		rt.r.Tick() // queues a heartbeat carrying our status
	}
	pc.control(cmdStatus, rt.localStatus())
	rt.mu.Lock()
	db := rt.db
	rt.mu.Unlock()
	if phase == phaseSeeding {
		rt.requestSeed(pc)
	} else if d := divergedSecondary(db); d != nil {
		rt.reseedDiverged(d.Why)
	}
}

// detach forgets pc (on the loop).
func (rt *Link) detach(pc *peerConn) {
	rt.mu.Lock()
	if rt.conn != pc {
		rt.mu.Unlock()
		return
	}
	rt.conn = nil
	rt.mu.Unlock()
	if rt.sender != nil && rt.sender.pc == pc {
		rt.stopSender()
	}
	rt.log.Info("link disconnected")
}

// serveConn runs an established connection until it ends.
func (rt *Link) serveConn(ctx context.Context, c *transport.Conn, h *transport.Hello) {
	pc := newPeerConn(ctx, c, h)
	defer pc.close()
	if !rt.call(func() { rt.attach(pc) }) {
		return
	}
	go pc.writeLoop()
	err := rt.readLoop(pc)
	if err != nil && rt.ctx.Err() == nil && pc.ctx.Err() == nil && !transport.IsClosed(err) && !errors.Is(err, io.EOF) {
		rt.setError(fmt.Errorf("link connection: %w", err))
	}
	pc.close()
	rt.call(func() { rt.detach(pc) })
}

func (rt *Link) dialLoop() {
	defer rt.wg.Done()
	var wait time.Duration
	var notFound time.Time // first of the partner's "no such link" refusals in a row
	for rt.ctx.Err() == nil {
		c, h, err := rt.s.dialLink(rt.ctx, rt)
		if err == nil {
			wait, notFound = 0, time.Time{}
			rt.serveConn(rt.ctx, c, h)
			c.Close()
			continue
		}
		if rt.ctx.Err() != nil {
			return
		}
		rt.setError(err)
		rt.mu.Lock()
		ever := rt.data.EverConnected
		rt.mu.Unlock()
		if sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
			notFound = time.Time{}
		} else if notFound.IsZero() {
			notFound = time.Now()
		}
		if !notFound.IsZero() && ever && time.Since(notFound) >= partnerGoneAfter {
			// The partner has said for a while that it no longer has the
			// link: it was dropped there while we could not be told.
			go func() {
				if err := rt.s.dropLocal(context.Background(), rt, "the partner no longer has the link"); err != nil {
					rt.log.Error("drop link", "err", err)
				}
			}()
			return
		}
		wait = backoff(wait, maxReconnectDelay)
		if !sleep(rt.ctx, wait) {
			return
		}
	}
}

// readLoop handles the partner's frames until the connection ends.
func (rt *Link) readLoop(pc *peerConn) error {
	for {
		m, err := pc.c.ReadMessage(pc.ctx)
		if err != nil {
			return err
		}
		if err := rt.drainEarly(pc); err != nil {
			_ = pc.c.Send(pc.ctx, transport.ErrorMessageFrom(err))
			return err
		}
		switch m := m.(type) {
		case *transport.ControlRequest:
			if err := rt.onControl(pc, m); err != nil {
				return err
			}
			if err := rt.drainEarly(pc); err != nil {
				_ = pc.c.Send(pc.ctx, transport.ErrorMessageFrom(err))
				return err
			}
		case *transport.ControlResponse:
			pc.respond(m)
		case *transport.Records:
			var err error
			if pc.asm.Pending() {
				err = sqlink.Errorf(sqlink.EINVALID, "", "records %d..%d arrived in the middle of a record sent in parts", m.FirstLSN, m.LastLSN)
			} else {
				err = rt.receive(pc, m)
			}
			if err != nil {
				_ = pc.c.Send(pc.ctx, transport.ErrorMessageFrom(err))
				return err
			}
		case *transport.RecordPart:
			// A record too large for one frame: received whole, it is a
			// Records batch of its own.
			b, err := pc.asm.Add(m)
			if err == nil && b != nil {
				err = rt.receive(pc, b)
			}
			if err != nil {
				_ = pc.c.Send(pc.ctx, transport.ErrorMessageFrom(err))
				return err
			}
		case *transport.Ack:
			rt.onAck(m)
		case *transport.Heartbeat:
			rt.mu.Lock()
			rt.lag.heardPrimary(m.LastCommitLSN, m.LastCommitTime, true)
			rt.mu.Unlock()
		case *transport.SeedChunk:
			if err := rt.seedChunk(m); err != nil {
				rt.setError(err)
				return err
			}
		case *transport.SeedDone:
			if err := rt.seedFinish(pc, m); err != nil {
				rt.setError(err)
				return err
			}
		case *transport.ErrorMessage:
			return m.Err()
		}
	}
}

func (rt *Link) onControl(pc *peerConn, m *transport.ControlRequest) error {
	switch m.Command {
	case cmdLink:
		var msg link.Message
		if err := json.Unmarshal(m.Body, &msg); err != nil {
			return fmt.Errorf("decode link message: %w", err)
		}
		rt.call(func() {
			if rt.r == nil {
				return
			}
			if msg.Type == link.MsgHeartbeat && (rt.partnerMsg == nil || msg.Version > rt.partnerMsg.Version) {
				// The partner's role state changed: the state machine
				// answers with ours, which must go out now, not at the
				// next tick.
				rt.heartbeatDue = true
			}
			if msg.Role == sqlink.RolePrimary || rt.partnerMsg == nil || msg.Version >= rt.partnerMsg.Version {
				mm := msg
				rt.mu.Lock()
				rt.partnerMsg = &mm
				rt.mu.Unlock()
			}
			if err := rt.r.Step(msg); err != nil {
				rt.setError(err)
			}
			// Act on it before the reader goes on: a secondary that now
			// knows its primary receives the records that came early
			// (readLoop drains them after this).
			rt.process()
		})
	case cmdStatus:
		var st adminapi.ReplicaStatus
		if err := json.Unmarshal(m.Body, &st); err != nil {
			return fmt.Errorf("decode partner status: %w", err)
		}
		rt.mu.Lock()
		rt.partnerStatus = &st
		if st.Role == sqlink.RolePrimary {
			rt.lag.heardPrimary(st.LastCommitLSN, st.LastCommitTime, false)
		}
		rt.mu.Unlock()
	case cmdSeedRequest:
		var req seedRequest
		if err := json.Unmarshal(m.Body, &req); err != nil {
			return fmt.Errorf("decode seed request: %w", err)
		}
		rt.startSeedSender(pc, req)
	case cmdSeedPlan:
		var plan seedPlan
		if err := json.Unmarshal(m.Body, &plan); err != nil {
			return fmt.Errorf("decode seed plan: %w", err)
		}
		if err := rt.onSeedPlan(pc, plan); err != nil {
			rt.setError(err)
			rt.setSeedState("FAILED")
			return nil
		}
	case cmdReseed:
		rt.call(func() { rt.restartSeeding(pc, "the primary no longer holds the log this replica needs") })
	case cmdHoldApply:
		var h holdApply
		if err := json.Unmarshal(m.Body, &h); err != nil {
			return fmt.Errorf("decode hold-apply: %w", err)
		}
		rt.mu.Lock()
		db := rt.db
		rt.mu.Unlock()
		if db != nil {
			if ro, _ := db.ReadOnly(); ro {
				db.HoldApply(h.LSN, rt.s.cfg.Now().Add(rt.s.cfg.LinkDigestTimeout))
			}
		}
	case cmdDrop:
		_ = pc.c.Send(pc.ctx, &transport.ControlResponse{ID: m.ID})
		go func() {
			if err := rt.s.dropLocal(context.Background(), rt, "the partner dropped the link"); err != nil {
				rt.log.Error("drop link", "err", err)
			}
		}()
		return io.EOF
	default:
		if m.ID != 0 {
			pc.send(&transport.ControlResponse{ID: m.ID, Code: sqlink.ENOTIMPLEMENTED, Message: "unknown link command " + m.Command})
		}
	}
	return nil
}

// hello describes this replica to the partner.
func (rt *Link) hello() transport.Hello {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	h := transport.Hello{
		InstanceID: rt.s.info.ID, InstanceName: rt.s.info.Name,
		LinkID: rt.id.linkID, LinkName: rt.id.name, Database: rt.id.database,
		Role: rt.rec.Role, Epoch: rt.rec.Epoch, History: slices.Clone(rt.history),
		Time: rt.s.cfg.Now(),
	}
	if rt.status.Role != "" {
		h.Role, h.Epoch = rt.status.Role, rt.status.Epoch
	}
	if rt.db != nil {
		h.Pos = rt.db.Pos()
	}
	return h
}

// checkHello refuses a Hello for another link or from another instance than
// the partner. Epochs are not refused here: a partner at an older epoch
// must hear from us to learn that it was demoted (the state machine decides).
func (rt *Link) checkHello(h *transport.Hello) error {
	if err := transport.CheckHello(rt.id.linkID, 0, h); err != nil {
		return err
	}
	if h.InstanceID != rt.id.partnerID {
		return sqlink.Errorf(sqlink.ECONFLICT, "check the link's partner on both instances (`sqlink link status`)",
			"instance %s (%s) spoke for link %q, whose partner is instance %s (%s)", h.InstanceName, h.InstanceID, rt.id.name, rt.id.partnerName, rt.id.partnerID)
	}
	return nil
}
