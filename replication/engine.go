package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"sort"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/link"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// Start starts every link in the catalog.
func (s *Engine) Start(ctx context.Context) error {
	recs, err := s.cat.ListLinks(ctx)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		var data linkData
		if err := json.Unmarshal(rec.Data, &data); err != nil || data.LinkID == "" {
			s.log.Error("link record is damaged; drop the link and create it again", "link", rec.Name, "err", err)
			continue
		}
		rt := newLink(s, rec, data)
		s.lmu.Lock()
		s.links[rec.Name] = rt
		s.lmu.Unlock()
		if data.Dropping {
			// A drop interrupted by a crash: finish it.
			if err := s.dropLocal(ctx, rt, "finishing a drop that a restart interrupted"); err != nil {
				rt.setError(err)
				s.log.Error("finish dropping link", "link", rec.Name, "err", err)
			}
			continue
		}
		if err := rt.start(); err != nil {
			rt.setError(err)
			s.log.Error("start link", "link", rec.Name, "err", err)
		}
	}
	return nil
}

// Stop stops every link's goroutines (the links stay in the catalog).
func (s *Engine) Stop(ctx context.Context) {
	// Shut the commit gates first: a sync primary's commit that its
	// secondary has not confirmed must not be acknowledged because the
	// link stopped (the partner may take over without it).
	for _, rt := range s.runtimes() {
		rt.gate.shut(sqlink.Errorf(sqlink.EUNAVAILABLE,
			"reconnect (to the new primary, if the link fails over) and check whether the transaction is there",
			"commit not confirmed: instance %s is stopping before the secondary of link %s confirmed it; it is durable here, but may be missing after a failover", s.info.Name, rt.id.name))
	}
	s.cancel()
	for _, rt := range s.runtimes() {
		rt.stop(ctx)
	}
}

func (s *Engine) runtimes() []*Link {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	out := make([]*Link, 0, len(s.links))
	for _, rt := range s.links {
		out = append(out, rt)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id.name < out[j].id.name })
	return out
}

func (s *Engine) runtimeByID(id string) *Link {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	for _, rt := range s.links {
		if rt.id.linkID == id {
			return rt
		}
	}
	return nil
}

func (s *Engine) runtime(name string) (*Link, error) {
	s.lmu.Lock()
	rt := s.links[name]
	s.lmu.Unlock()
	if rt == nil {
		return nil, sqlink.Errorf(sqlink.ENOTFOUND, "list links with `sqlink link status`", "link %q does not exist on instance %s", name, s.info.Name)
	}
	return rt, nil
}

// linkForDatabase returns the running link that replicates database, if any.
func (s *Engine) linkForDatabase(database string) *Link {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	for _, rt := range s.links {
		if rt.id.database == database {
			return rt
		}
	}
	return nil
}

// CreateLink creates this instance's half of a link and starts it: on the
// primary the database must be ONLINE with a started backup chain; on the
// secondary the database must not exist (it is created RESTORING and
// seeded) unless req.SeedFromBackup, where it must exist RESTORING.
func (s *Engine) CreateLink(ctx context.Context, req adminapi.CreateLinkRequest) (adminapi.LinkStatus, error) {
	if err := catalog.ValidateName("link", req.Name); err != nil {
		return adminapi.LinkStatus{}, err
	}
	if err := catalog.ValidateName("database", req.Database); err != nil {
		return adminapi.LinkStatus{}, err
	}
	if req.Mode == "" {
		req.Mode = sqlink.ModeAsync
	}
	switch {
	case req.LinkID == "":
		return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.EINVALID, "give both halves the same link_id", "link %q: no link ID", req.Name)
	case req.Role != sqlink.RolePrimary && req.Role != sqlink.RoleSecondary:
		return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.EINVALID, "use PRIMARY or SECONDARY", "link %q: invalid role %q", req.Name, req.Role)
	case req.Mode != sqlink.ModeAsync && req.Mode != sqlink.ModeSync:
		return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.EINVALID, "use async or sync", "link %q: invalid mode %q", req.Name, req.Mode)
	case req.PartnerID == "" || req.PartnerName == "" || req.PartnerEndpoint == "":
		return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.EINVALID, "give the partner's name, id and endpoint address (`sqlink instance show` there)", "link %q: partner not described", req.Name)
	case req.PartnerID == s.info.ID:
		return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.EINVALID, "link two different instances", "link %q: the partner is this instance", req.Name)
	case req.SeedFromBackup && req.Role != sqlink.RoleSecondary:
		return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.EINVALID, "seed from a backup on the secondary's half only", "link %q: seed_from_backup on the primary", req.Name)
	}
	s.createMu.Lock()
	defer s.createMu.Unlock()
	if _, err := s.cat.GetLink(ctx, req.Name); err == nil {
		return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ECONFLICT, "pick another name, or drop it first with `sqlink link drop "+req.Name+"`", "link %q already exists", req.Name)
	}
	for _, rt := range s.runtimes() {
		if rt.id.linkID == req.LinkID {
			return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ECONFLICT, "use a new link ID", "link ID %s is already used by link %q", req.LinkID, rt.id.name)
		}
		if rt.id.database == req.Database {
			return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ECONFLICT, "drop that link first", "database %q is already replicated by link %q", req.Database, rt.id.name)
		}
	}
	if err := s.checkAutoFailover(req); err != nil {
		return adminapi.LinkStatus{}, err
	}
	if req.AutoFailover {
		// The old primary follows the new one by itself: the link must
		// replicate either way.
		req.TwoWay = true
	}
	if err := s.checkPartnerTrusted(ctx, req); err != nil {
		return adminapi.LinkStatus{}, err
	}
	now := s.cfg.Now().UTC()
	data := linkData{LinkID: req.LinkID, PartnerID: req.PartnerID, PartnerFingerprint: req.PartnerCertFingerprint,
		InitialRole: req.Role, Created: now,
		AutoFailover: req.AutoFailover, LeaseTTLSeconds: req.LeaseTTLSeconds, MaxDataLoss: req.MaxDataLoss}
	rec := catalog.LinkRecord{Name: req.Name, Database: req.Database, Role: req.Role, PartnerURL: req.PartnerEndpoint,
		PartnerName: req.PartnerName, Mode: req.Mode, TwoWay: req.TwoWay, Epoch: 1}
	path := databasePath(s.cfg.DataDir, req.Database)
	addedDB := false
	switch req.Role {
	case sqlink.RolePrimary:
		d, err := s.cat.GetDatabase(ctx, req.Database)
		if err != nil {
			if sqlink.ErrorCode(err) == sqlink.ENOTFOUND {
				return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ENOTFOUND, "create the database first, or check its name with `sqlink db list`", "database %q does not exist on instance %s", req.Database, s.info.Name)
			}
			return adminapi.LinkStatus{}, err
		}
		if d.State != sqlink.DatabaseOnline {
			return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ECONFLICT, fmt.Sprintf("bring it online first: sqlink db complete-restore %s", req.Database), "database %q is %s, not ONLINE", req.Database, d.State)
		}
		db, err := s.host.OpenDatabase(ctx, req.Database)
		if err != nil {
			return adminapi.LinkStatus{}, err
		}
		chain, err := s.host.ChainStarted(ctx, req.Database, db)
		if err != nil {
			return adminapi.LinkStatus{}, err
		}
		if !chain {
			why := "has no full backup that starts its backup chain"
			if g := db.Gap(); g != nil {
				why = fmt.Sprintf("has no full backup since the gap in its history at LSN %d (%s)", g.LSN, g.Why)
			}
			return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ECONFLICT, fmt.Sprintf("take a full backup: sqlink backup %s --to FILE", req.Database),
				"database %q %s", req.Database, why)
		}
		if ro, primary := db.ReadOnly(); ro {
			return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ECONFLICT, "create the link from the primary", "database %q is a read-only secondary of %s", req.Database, primary)
		}
		data.InitialPrimary = s.info.ID
		data.Phase = phaseOnline
		pos := db.Pos().LSN
		data.FloorLSN = pos
		lcfg := link.Config{LinkID: req.LinkID, Self: s.info.ID, Partner: req.PartnerID, InitialPrimary: s.info.ID,
			Mode: req.Mode, TwoWay: req.TwoWay, SeedLSN: pos, AutoFailover: req.AutoFailover, MaxDataLoss: req.MaxDataLoss}
		if req.AutoFailover {
			leaseTicks(&lcfg, data.leaseTTL(), s.cfg.LinkTick)
		}
		r, err := link.New(lcfg)
		if err != nil {
			return adminapi.LinkStatus{}, err
		}
		hs := r.HardState()
		data.State = &hs
	case sqlink.RoleSecondary:
		data.InitialPrimary = req.PartnerID
		data.Phase = phaseSeeding
		d, err := s.cat.GetDatabase(ctx, req.Database)
		switch {
		case req.SeedFromBackup && err != nil:
			return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ECONFLICT, fmt.Sprintf("restore the primary's full backup here first: sqlink restore FILE --as %s --restoring", req.Database),
				"database %q does not exist on instance %s", req.Database, s.info.Name)
		case req.SeedFromBackup && d.State != sqlink.DatabaseRestoring:
			return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ECONFLICT, "restore the backup with --restoring", "database %q is %s, not RESTORING", req.Database, d.State)
		case !req.SeedFromBackup && err == nil:
			return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ECONFLICT, fmt.Sprintf("drop it on the secondary (`sqlink db drop %s`), or restore a backup there with --restoring and seed from it", req.Database),
				"database %q already exists on instance %s", req.Database, s.info.Name)
		case !req.SeedFromBackup && sqlink.ErrorCode(err) != sqlink.ENOTFOUND:
			return adminapi.LinkStatus{}, err
		}
		data.SeedFromBackup = req.SeedFromBackup
		if !req.SeedFromBackup {
			// The name is held like a restore's while the files are
			// cleared and the database registered.
			if !s.host.ReserveName(req.Database) {
				return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ECONFLICT, "wait for the restore to finish, then seed from it with --seed-from-backup, or drop it",
					"database %q is being restored or created on instance %s", req.Database, s.info.Name)
			}
			release := func() { s.host.ReleaseName(req.Database) }
			if _, err := s.cat.GetDatabase(ctx, req.Database); err == nil {
				release()
				return adminapi.LinkStatus{}, sqlink.Errorf(sqlink.ECONFLICT, fmt.Sprintf("drop it on the secondary (`sqlink db drop %s`), or restore a backup there with --restoring and seed from it", req.Database),
					"database %q already exists on instance %s", req.Database, s.info.Name)
			}
			removeDatabaseFiles(path)
			removeSeedFiles(path)
			_, err := s.cat.AddDatabase(ctx, catalog.Database{Name: req.Database, State: sqlink.DatabaseRestoring, CreatedAt: now})
			release()
			if err != nil {
				return adminapi.LinkStatus{}, err
			}
			addedDB = true
		}
	}
	rt := newLink(s, rec, data)
	undo := func() {
		s.cat.DeleteLink(context.WithoutCancel(ctx), req.Name)
		if addedDB {
			s.cat.RemoveDatabase(context.WithoutCancel(ctx), req.Database)
			removeDatabaseFiles(path)
			removeSeedFiles(path)
		}
	}
	if err := rt.save(); err != nil {
		undo()
		return adminapi.LinkStatus{}, err
	}
	s.lmu.Lock()
	s.links[req.Name] = rt
	s.lmu.Unlock()
	if err := rt.start(); err != nil {
		s.lmu.Lock()
		delete(s.links, req.Name)
		s.lmu.Unlock()
		rt.stop(ctx)
		undo()
		return adminapi.LinkStatus{}, err
	}
	s.log.Info("link created", "link", req.Name, "database", req.Database, "role", req.Role, "mode", req.Mode, "partner", req.PartnerName)
	return rt.linkStatus(), nil
}

// checkPartnerTrusted checks that the partner's certificate is in the trust
// store (the orchestrator trusts both sides first).
func (s *Engine) checkPartnerTrusted(ctx context.Context, req adminapi.CreateLinkRequest) error {
	want := normFingerprint(req.PartnerCertFingerprint)
	if want == "" {
		return sqlink.Errorf(sqlink.EINVALID, "give the partner's endpoint certificate fingerprint (`sqlink cert show` there)", "link %q: no partner certificate fingerprint", req.Name)
	}
	tcs, err := s.cat.ListTrustedCertificates(ctx)
	if err != nil {
		return err
	}
	for _, tc := range tcs {
		if normFingerprint(tc.Fingerprint) == want {
			if now := s.cfg.Now(); now.After(tc.NotAfter) {
				return sqlink.Errorf(sqlink.ECONFLICT, "rotate the partner's endpoint certificate and trust the new one", "the partner's certificate %q expired at %s", tc.Name, tc.NotAfter.UTC().Format(time.RFC3339))
			}
			return nil
		}
	}
	return sqlink.Errorf(sqlink.ECONFLICT, fmt.Sprintf("trust the partner's endpoint certificate on instance %s first (`sqlink cert trust`)", s.info.Name),
		"the certificate of instance %s (SHA-256 %s) is not trusted here", req.PartnerName, req.PartnerCertFingerprint)
}

func normFingerprint(f string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(f), ":", ""))
}

// DropLink drops this instance's half of a link and tells the partner if
// it can be reached, so it drops its half too. A seeded secondary becomes an
// ordinary read-write database; one not yet seeded is removed.
func (s *Engine) DropLink(ctx context.Context, name string) error {
	rt, err := s.runtime(name)
	if err != nil {
		if _, gerr := s.cat.GetLink(ctx, name); gerr == nil {
			return s.cat.DeleteLink(ctx, name)
		}
		return err
	}
	if err := s.notifyDrop(ctx, rt); err != nil {
		s.log.Warn("partner not told of the drop; it drops its half when it next reaches this instance, or by `sqlink link drop` there",
			"link", name, "err", err)
	}
	return s.dropLocal(ctx, rt, "dropped by the operator")
}

// notifyDrop tells the partner that the link is dropped.
func (s *Engine) notifyDrop(ctx context.Context, rt *Link) error {
	ctx, cancel := context.WithTimeout(ctx, dropNotifyTimeout)
	defer cancel()
	rt.mu.Lock()
	pc := rt.conn
	rt.mu.Unlock()
	if pc != nil {
		if err := pc.request(ctx, cmdDrop, struct{}{}); err == nil {
			return nil
		}
	}
	if !rt.dials() {
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "", "partner not connected")
	}
	c, _, err := s.dialLink(ctx, rt)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(ctx, transport.MustControl(1, cmdDrop, transport.Empty{})); err != nil {
		return err
	}
	for {
		m, err := c.ReadMessage(ctx)
		if err != nil {
			return err
		}
		if r, ok := m.(*transport.ControlResponse); ok && r.ID == 1 {
			return r.Err()
		}
	}
}

// dropLocal removes this instance's half of a link.
func (s *Engine) dropLocal(ctx context.Context, rt *Link, why string) error {
	s.lmu.Lock()
	current := s.links[rt.id.name] == rt
	s.lmu.Unlock()
	rt.mu.Lock()
	started := rt.dropStarted
	rt.dropStarted, rt.dropping = true, true
	phase := rt.data.Phase
	// A copy seeded from a backup the operator restored is theirs: a
	// drop before it is online (an undone link create, say) leaves it
	// RESTORING as it was, rather than removing it.
	keep := phase != phaseOnline && rt.data.SeedFromBackup
	rt.mu.Unlock()
	if !current || started {
		return nil
	}
	// The link stays listed (DROPPED) until its database is independent.
	defer func() {
		s.lmu.Lock()
		if s.links[rt.id.name] == rt {
			delete(s.links, rt.id.name)
		}
		s.lmu.Unlock()
	}()
	// Saved first, and the record removed last: a crash part-way finishes
	// the drop at the next start (startLinks), never leaving a read-only
	// copy without a link.
	rt.mu.Lock()
	rt.data.Dropping = true
	rt.mu.Unlock()
	if err := rt.save(); err != nil {
		return err
	}
	s.failpoint(fpDropSaved)
	rt.stop(ctx)
	if keep {
		if err := s.keepRestored(ctx, rt); err != nil {
			return err
		}
	} else if err := s.dropDatabase(ctx, rt, phase); err != nil {
		return err
	}
	s.failpoint(fpDropIndependent)
	del := func() error { return s.cat.DeleteLink(ctx, rt.id.name) }
	if phase != phaseOnline && !keep {
		del = func() error { return s.cat.DeleteLinkAndDatabase(ctx, rt.id.name, rt.database()) }
	}
	if err := del(); err != nil && sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
		return err
	}
	s.log.Info("link dropped", "link", rt.id.name, "database", rt.database(), "why", why)
	return nil
}

// dropDatabase makes a dropped link's database independent: a seeded
// copy takes writes once it has redone its log; one still seeding is
// removed.
func (s *Engine) dropDatabase(ctx context.Context, rt *Link, phase phase) error {
	name := rt.database()
	if phase == phaseOnline {
		if db := s.host.Database(name); db != nil {
			if ro, _ := db.ReadOnly(); ro {
				// Everything hardened is redone before the copy takes
				// writes.
				if err := redoForWrites(ctx, db, true); err != nil {
					return fmt.Errorf("redo the hardened log: %w", err)
				}
				db.SetReadOnly("")
				s.endSessions(name, "57P01", fmt.Sprintf("database %q is independent now (link %s dropped): reconnect for read-write sessions", name, rt.id.name))
				rt.noteEvent(evWritable)
			}
			db.SetRetentionFloor(0, false)
		}
	} else {
		// Not a consistent copy yet: nothing worth keeping.
		// Its catalog entry goes with the link's record (dropLocal).
		s.endSessions(name, "57P01", fmt.Sprintf("database %q is being dropped with its link", name))
		path := databasePath(s.cfg.DataDir, name)
		removeDatabaseFiles(path)
		removeSeedFiles(path)
	}
	return nil
}

// keepRestored returns the restored database a dropped link was seeding
// from to what the operator restored: RESTORING, and no longer a read-only
// copy of the partner (what the link redid on it stays).
func (s *Engine) keepRestored(ctx context.Context, rt *Link) error {
	name := rt.database()
	db, err := storage.OpenDB(context.WithoutCancel(ctx), databasePath(s.cfg.DataDir, name), s.dbConfig())
	if err != nil {
		return fmt.Errorf("open the restored database %s: %w", name, err)
	}
	defer db.Close(context.WithoutCancel(ctx))
	if ro, _ := db.ReadOnly(); ro {
		if err := redoForWrites(ctx, db, true); err != nil {
			return fmt.Errorf("redo the hardened log: %w", err)
		}
		db.SetReadOnly("")
	}
	removeSeedFiles(databasePath(s.cfg.DataDir, name))
	s.log.Info("restored database kept (RESTORING) as the link that seeded from it is dropped", "database", name, "link", rt.id.name)
	return nil
}

// ListLinks returns the status of every link on this instance.
func (s *Engine) ListLinks(ctx context.Context) ([]adminapi.LinkStatus, error) {
	out := []adminapi.LinkStatus{}
	for _, rt := range s.runtimes() {
		out = append(out, rt.linkStatus())
	}
	return out, nil
}

// The engine serves the admin API's link routes.
var _ adminapi.LinkManager = (*Engine)(nil)

// GetLink returns the status of one link.
func (s *Engine) GetLink(ctx context.Context, name string) (adminapi.LinkStatus, error) {
	rt, err := s.runtime(name)
	if err != nil {
		return adminapi.LinkStatus{}, err
	}
	return rt.linkStatus(), nil
}

// holdApply asks a secondary to apply nothing past LSN for a while: the
// primary took a digest's snapshot there.
type holdApply = transport.HoldApply

// LinkDigest returns the page checksums of the local copy of a link's
// database at exactly lsn, waiting (up to LinkDigestTimeout) for the copy
// to reach it. Page 1's change counter and version bytes are masked. An
// lsn of 0 means the copy's current position: on the primary, its
// snapshot's LSN is then sent to the secondary, which holds its apply
// there so that its own digest can be taken at the same LSN while writes
// go on (it also holds when asked for a digest at an LSN ahead of it).
func (s *Engine) LinkDigest(ctx context.Context, name string, lsn sqlink.LSN) (adminapi.PageDigest, error) {
	rt, err := s.runtime(name)
	if err != nil {
		return adminapi.PageDigest{}, err
	}
	rt.mu.Lock()
	db, pc := rt.db, rt.conn
	rt.mu.Unlock()
	if db == nil {
		return adminapi.PageDigest{}, sqlink.Errorf(sqlink.ECONFLICT, "wait until seeding finishes", "link %q has no consistent copy of %q here yet", name, rt.database())
	}
	if lsn == 0 {
		snap, err := db.OpenSnapshot(ctx)
		if err != nil {
			return adminapi.PageDigest{}, err
		}
		defer snap.Close()
		if ro, _ := db.ReadOnly(); !ro && pc != nil {
			pc.control(cmdHoldApply, holdApply{LSN: snap.Pos.LSN})
		}
		return digestOf(ctx, rt.database(), snap)
	}
	if ro, _ := db.ReadOnly(); ro && db.HoldApply(lsn, s.cfg.Now().Add(s.cfg.LinkDigestTimeout)) {
		defer db.ReleaseApply(lsn)
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.LinkDigestTimeout)
	defer cancel()
	for {
		ch := db.Notify()
		cur := db.Redone().LSN
		if cur >= lsn {
			break
		}
		select {
		case <-ch:
		case <-wctx.Done():
			return adminapi.PageDigest{}, sqlink.Errorf(sqlink.ETIMEOUT, "check the link's status; retry when it has caught up",
				"the copy of %q on %s did not reach LSN %d within %s (it is at %d)", rt.database(), s.info.Name, lsn, s.cfg.LinkDigestTimeout, cur)
		}
	}
	moved := func(at sqlink.LSN) error {
		return sqlink.Errorf(sqlink.ECONFLICT, "stop writes and retry", "the copy of %q on %s moved past LSN %d (it is at %d)", rt.database(), s.info.Name, lsn, at)
	}
	if cur := db.Redone().LSN; cur != lsn {
		return adminapi.PageDigest{}, moved(cur)
	}
	snap, err := db.OpenSnapshot(ctx)
	if err != nil {
		return adminapi.PageDigest{}, err
	}
	defer snap.Close()
	db.ReleaseApply(lsn) // the snapshot stands still; the apply goes on
	if snap.Pos.LSN != lsn {
		return adminapi.PageDigest{}, moved(snap.Pos.LSN)
	}
	return digestOf(ctx, rt.database(), snap)
}

// digestOf returns the page checksums of a snapshot.
func digestOf(ctx context.Context, database string, snap *storage.Snapshot) (adminapi.PageDigest, error) {
	d := adminapi.PageDigest{Database: database, LSN: snap.Pos.LSN, PageSize: snap.PageSize, PageCount: snap.PageCount,
		Pages: make([]uint64, 0, snap.PageCount)}
	table := crc64.MakeTable(crc64.ECMA)
	for pg := uint32(1); int64(pg) <= snap.PageCount; {
		pages, err := snap.ReadPages(ctx, pg, 256)
		if err != nil {
			return adminapi.PageDigest{}, err
		}
		if len(pages) == 0 {
			break
		}
		for _, p := range pages {
			data := p.Data
			if p.Pgno == 1 {
				data = maskPage1(data)
			}
			d.Pages = append(d.Pages, crc64.Checksum(data, table))
		}
		pg += uint32(len(pages))
	}
	return d, nil
}

// maskPage1 zeroes the bytes of page 1 that differ between copies by
// design: the file change counter (24-27), version-valid-for and the
// SQLite version (92-99).
func maskPage1(p []byte) []byte {
	q := append([]byte(nil), p...)
	for _, r := range [][2]int{{24, 28}, {92, 100}} {
		for i := r[0]; i < r[1] && i < len(q); i++ {
			q[i] = 0
		}
	}
	return q
}

// stepLink steps an operator command (planned or forced failover, set-role,
// resume, abort, set-mode) into a link's state machine on its loop, and
// returns the replica's status after the Ready it produced was processed.
// For the failover routes.
func (s *Engine) stepLink(ctx context.Context, name string, m link.Message) (link.Status, error) {
	rt, err := s.runtime(name)
	if err != nil {
		return link.Status{}, err
	}
	var st link.Status
	var serr error
	ok := rt.call(func() {
		if rt.r == nil {
			serr = sqlink.Errorf(sqlink.ECONFLICT, "wait until seeding finishes", "link %q has no replica here yet (seeding)", name)
			return
		}
		if serr = rt.r.Step(m); serr == nil {
			rt.process()
			st = rt.r.Status()
		}
	})
	if !ok {
		return link.Status{}, sqlink.Errorf(sqlink.EUNAVAILABLE, "", "link %q is stopping", name)
	}
	return st, rt.named(serr)
}

// named rewrites the state machine's refusals, which name the link by its
// ID, with the link's name the operator knows.
func (rt *Link) named(err error) error {
	var se *sqlink.Error
	if !errors.As(err, &se) || rt.id.linkID == "" {
		return err
	}
	e := *se
	e.Message = strings.ReplaceAll(e.Message, "link "+rt.id.linkID, "link "+rt.id.name)
	if rt.id.partnerID != "" {
		e.Message = strings.ReplaceAll(e.Message, rt.id.partnerID, rt.id.partnerName)
	}
	e.Message = strings.ReplaceAll(e.Message, rt.s.info.ID, rt.s.info.Name)
	return &e
}
