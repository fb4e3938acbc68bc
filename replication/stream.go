package replication

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
)

// appendRecord appends rec, length-prefixed, to a Records payload.
func appendRecord(b []byte, rec *storage.Record) ([]byte, error) {
	n := len(b)
	b = append(b, 0, 0, 0, 0)
	b, err := rec.AppendBinary(b)
	if err != nil {
		return b[:n], err
	}
	binary.BigEndian.PutUint32(b[n:], uint32(len(b)-n-4))
	return b, nil
}

// splitRecords decodes a Records payload.
func splitRecords(b []byte) ([]*storage.Record, error) {
	var out []*storage.Record
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, sqlink.Errorf(sqlink.EINVALID, "", "records payload truncated")
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, sqlink.Errorf(sqlink.EINVALID, "", "records payload truncated")
		}
		rec := new(storage.Record)
		if err := rec.UnmarshalBinary(b[4 : 4+n]); err != nil {
			return nil, err
		}
		out = append(out, rec)
		b = b[4+n:]
	}
	return out, nil
}

// --- Secondary: harden, acknowledge, apply ---

// maxEarlyBytes bounds the Records kept while receiving is not on yet.
const maxEarlyBytes = 16 << 20

// syncMode says whether the primary waits for this replica's hardened
// acknowledgments before its commits return.
func (rt *Link) syncMode() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.rec.Mode != sqlink.ModeAsync
}

// hardenDelay returns how long the hardener gathers records before an
// fsync: the configured delay for an async link, none for a sync one.
func (rt *Link) hardenDelay() time.Duration {
	if rt.syncMode() {
		return 0
	}
	return rt.s.cfg.LinkHardenDelay
}

// checkCatchup brings a seeded secondary ONLINE once it has redone up to
// the seed's position (on the loop).
func (rt *Link) checkCatchup() {
	rt.mu.Lock()
	db, phase, seedPos := rt.db, rt.data.Phase, rt.data.SeedPos
	rt.mu.Unlock()
	if phase != phaseCatchup || db == nil || db.Redone().LSN < seedPos.LSN {
		return
	}
	ctx := context.WithoutCancel(rt.ctx)
	if err := rt.s.cat.SetDatabaseState(ctx, rt.database(), sqlink.DatabaseOnline); err != nil {
		rt.setError(err)
		return
	}
	rt.s.failpoint(fpSeedOnline)
	rt.s.host.RegisterDatabase(rt.database(), db)
	if err := rt.markOnline(); err != nil {
		rt.setError(err)
	}
	rt.log.Info("secondary online", "redone", db.Redone().LSN)
	rt.mu.Lock()
	pc := rt.conn
	rt.mu.Unlock()
	if pc != nil {
		// The primary's view of this replica said RESTORING until the
		// next tick's status: tell it now.
		pc.control(cmdStatus, partnerStatusOf(rt.localStatus()))
	}
}

// markOnline ends a seeded secondary's catch-up: its database, now the
// server's (ONLINE in the catalog), is no longer the link's own; the
// phase is saved.
func (rt *Link) markOnline() error {
	rt.mu.Lock()
	rt.ownsDB = false
	rt.data.Phase = phaseOnline
	rt.seed.state = seedCompleted
	rt.mu.Unlock()
	return rt.save()
}

// --- Primary: log retention ---

// startFloor keeps the log the secondary may still need.
func (rt *Link) startFloor() {
	rt.floorStarted = true
	rt.mu.Lock()
	db, floor, reseed := rt.db, rt.data.FloorLSN, rt.data.ReseedRequired
	rt.mu.Unlock()
	if db == nil {
		return
	}
	db.SetRetentionFloor(floor, !reseed)
}

// saveFloor saves the link's record, for its new retention floor, on a
// worker (from the loop): the floor has no order to keep with the loop's
// messages (a floor saved late only keeps more log after a crash), so the
// loop does not wait for the fsync. One at a time: while one runs, the
// next tick's save writes the newer floor. stop waits for it (rt.wg), so a
// drop never sees it land after the record is deleted.
func (rt *Link) saveFloor() {
	if !rt.floorSaving.CompareAndSwap(false, true) {
		return
	}
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		defer rt.floorSaving.Store(false)
		if err := rt.save(); err != nil {
			rt.setError(err)
		}
	}()
}

// checkRetention moves the retention floor up to what the secondary has
// hardened and marks the link RESEED_REQUIRED when the log kept for it
// passes the cap (on the loop).
func (rt *Link) checkRetention() {
	if rt.r == nil {
		return
	}
	hs := rt.r.HardState()
	rt.mu.Lock()
	db, reseed, floor := rt.db, rt.data.ReseedRequired, rt.data.FloorLSN
	ack := rt.lag.ackHardened
	seeding := rt.seed.active
	rt.mu.Unlock()
	if db == nil || hs.Role != sqlink.RolePrimary || hs.Dropped || reseed {
		return
	}
	st := rt.r.Status()
	partner := ack
	if st.PartnerRole == sqlink.RoleSecondary && st.PartnerLSN > partner {
		partner = st.PartnerLSN
	}
	if !seeding && partner > floor {
		floor = partner
		db.SetRetentionFloor(floor, true)
		rt.mu.Lock()
		rt.data.FloorLSN = floor
		rt.mu.Unlock()
		if now := rt.s.cfg.Now(); now.Sub(rt.floorSaved) > 5*time.Second {
			rt.floorSaved = now
			rt.saveFloor()
		}
	}
	if q := rt.queueBytes(db, floor); q > rt.s.cfg.LinkLogCapBytes {
		rt.markReseed(fmt.Sprintf("the log kept for the secondary (%d bytes) passed the cap of %d bytes", q, rt.s.cfg.LinkLogCapBytes))
	}
}

// queueBytes estimates the bytes of log after lsn.
func (rt *Link) queueBytes(db *storage.DB, lsn sqlink.LSN) int64 {
	st := db.Stats()
	if st.Pos.LSN <= lsn {
		return 0
	}
	n := st.Pos.LSN - lsn
	kept := st.Pos.LSN - st.LogFirstLSN + 1
	if st.LogFirstLSN == 0 || st.LogFirstLSN > st.Pos.LSN || kept == 0 {
		rt.mu.Lock()
		avg := rt.lag.avgRecord
		rt.mu.Unlock()
		return int64(float64(n) * avg)
	}
	return int64(float64(st.LogBytes) / float64(kept) * float64(n))
}

// markReseed gives up the log kept for the secondary (on the loop).
func (rt *Link) markReseed(why string) {
	rt.mu.Lock()
	if rt.data.ReseedRequired {
		rt.mu.Unlock()
		return
	}
	rt.data.ReseedRequired = true
	db, pc := rt.db, rt.conn
	rt.mu.Unlock()
	rt.stopSender()
	if db != nil {
		db.SetRetentionFloor(0, false)
	}
	err := sqlink.Errorf(sqlink.ECONFLICT, "the secondary reseeds by itself when it reconnects; check why it is away",
		"link %s is RESEED_REQUIRED: %s; the log was released", rt.id.name, why)
	rt.log.Error("link needs a reseed", "err", err)
	rt.setError(err)
	rt.mu.Lock()
	rt.reseedErr = rt.lastErr
	rt.mu.Unlock()
	if err := rt.save(); err != nil {
		rt.setError(err)
	}
	if pc != nil {
		pc.control(cmdReseed, struct{}{})
	}
}
