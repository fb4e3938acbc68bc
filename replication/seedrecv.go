package replication

import (
	"context"
	"fmt"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// Receiving a seed (secondary): the plan, the chunks, their writes and
// the finish, on the reader goroutine under Link.seedMu.

// onSeedPlan prepares the seed writer for what the primary will send
// (secondary, reader goroutine).
func (rt *Link) onSeedPlan(pc *peerConn, plan seedPlan) error {
	path := databasePath(rt.s.cfg.DataDir, rt.database())
	switch plan.Kind {
	case planError:
		return sqlink.Errorf(plan.Code, plan.Hint, "%s", plan.Message)
	case planLog:
		rt.mu.Lock()
		db := rt.db
		rt.mu.Unlock()
		if db == nil {
			return sqlink.Errorf(sqlink.EINTERNAL, "drop and recreate the link", "restored database %s is not open", rt.database())
		}
		rt.mu.Lock()
		rt.data.SeedAttempts++
		rt.mu.Unlock()
		rt.call(func() { rt.beginCatchup(db, plan.Epoch, plan.History, plan.Pos) })
		return nil
	}
	rt.seedMu.Lock()
	defer rt.seedMu.Unlock()
	if err := rt.flushSeed(); err != nil {
		rt.setError(err)
	}
	rt.sbuf = seedBuffer{}
	switch plan.Kind {
	case planRewind:
		if rt.writer == nil {
			return sqlink.Errorf(sqlink.EINTERNAL, "", "rewind planned but no copy of the database in progress")
		}
		if err := rt.writer.Retarget(plan.Pos, plan.Epoch, plan.PageSize, plan.PageCount); err != nil {
			return err
		}
		rt.sbuf.sparse = true
	case planFresh:
		if rt.writer != nil {
			rt.writer.Close()
			rt.writer = nil
		}
		removeSeedFiles(path)
		w, err := storage.CreateSeed(path, plan.Pos, plan.Epoch, plan.PageSize, plan.PageCount)
		if err != nil {
			return err
		}
		rt.writer = w
	case planResume, planRebase:
		if rt.writer == nil {
			return sqlink.Errorf(sqlink.EINTERNAL, "", "seed %s planned but no seed in progress", plan.Kind)
		}
		if plan.Kind == planRebase {
			if err := rt.writer.Rebase(plan.Pos, plan.PageCount); err != nil {
				return err
			}
		}
		if st := rt.writer.State(); st.Pos != plan.Pos || st.Next != plan.Next {
			return sqlink.Errorf(sqlink.EINTERNAL, "", "seed %s at %s page %d, but this replica is at %s page %d", plan.Kind, plan.Pos, plan.Next, st.Pos, st.Next)
		}
	default:
		return sqlink.Errorf(sqlink.EINVALID, "", "unknown seed plan %q", plan.Kind)
	}
	st := rt.writer.State()
	rt.sbuf.pos, rt.sbuf.ps, rt.sbuf.next = st.Pos, st.PageSize, int64(st.Next)
	rt.mu.Lock()
	rt.data.SeedAttempts++
	rt.seed.total, rt.seed.done, rt.seed.seedLSN = st.PageCount*st.PageSize, st.BytesDone(), st.Pos.LSN
	rt.mu.Unlock()
	rt.decideRewind(plan.Kind == planRewind)
	if err := rt.save(); err != nil {
		return err
	}
	rt.s.failpoint(fpSeedPlanned)
	rt.setSeedState(seedSeeding)
	rt.log.Info("receiving seed", "plan", plan.Kind, "seed_lsn", plan.Pos.LSN, "next_page", st.Next, "pages", st.PageCount)
	return nil
}

// seedChunk buffers a chunk of pages and writes them in big batches
// (secondary, reader goroutine).
func (rt *Link) seedChunk(m *transport.SeedChunk) error {
	rt.seedMu.Lock()
	defer rt.seedMu.Unlock()
	if rt.writer == nil {
		return sqlink.Errorf(sqlink.EINVALID, "", "seed chunk without a seed in progress")
	}
	if err := rt.sbuf.take(m); err != nil {
		return err
	}
	n := int64(len(m.Data))
	rt.mu.Lock()
	if rt.sbuf.sparse {
		rt.seed.done += n
	}
	// Bytes done are the written ones (a rewind's aside): a flush advances
	// them (a full disk must not show pages as done that the seed resumes
	// before).
	rt.seed.sent += n
	rt.lag.receivedSeed(rt.s.cfg.Now())
	rt.mu.Unlock()
	if rt.sbuf.full() || !rt.sbuf.sparse && rt.s.cfg.Now().Sub(rt.flushedAt) >= seedFlushInterval {
		return rt.startFlush()
	}
	return nil
}

// seedBuffer checks the chunks of a seed being received and gathers their
// pages for one write. It does no I/O.
//
// Owner: Link.seedMu.
type seedBuffer struct {
	pos  sqlink.Pos // the snapshot the seed being received comes from
	ps   int64      // its page size
	next int64      // next page expected, buffered pages included
	// sparse: the seed being received is a rewind, whose pages arrive
	// out of order (WritePagesAt).
	sparse   bool
	pending  []storage.Page
	pendingB int
}

// take checks that m is the next chunk (any page-aligned chunk of the
// snapshot, for a rewind) and buffers its pages.
func (b *seedBuffer) take(m *transport.SeedChunk) error {
	ps := b.ps
	if ps <= 0 {
		return sqlink.Errorf(sqlink.EINVALID, "", "seed chunk before the seed's plan")
	}
	if b.sparse {
		if m.LSN != b.pos.LSN || m.Offset%uint64(ps) != 0 || int64(len(m.Data))%ps != 0 {
			return sqlink.Errorf(sqlink.EINVALID, "", "rewind chunk at offset %d of LSN %d, expected a page boundary of LSN %d", m.Offset, m.LSN, b.pos.LSN)
		}
		pg := uint32(m.Offset/uint64(ps)) + 1
		for off := int64(0); off < int64(len(m.Data)); off += ps {
			b.pending = append(b.pending, storage.Page{Pgno: pg, Data: m.Data[off : off+ps]})
			pg++
		}
		b.pendingB += len(m.Data)
		return nil
	}
	if m.LSN != b.pos.LSN || m.Offset != uint64((b.next-1)*ps) || int64(len(m.Data))%ps != 0 {
		return sqlink.Errorf(sqlink.EINVALID, "", "seed chunk at offset %d of LSN %d, expected offset %d of LSN %d", m.Offset, m.LSN, (b.next-1)*ps, b.pos.LSN)
	}
	for off := int64(0); off < int64(len(m.Data)); off += ps {
		b.pending = append(b.pending, storage.Page{Pgno: uint32(b.next), Data: m.Data[off : off+ps]})
		b.next++
	}
	b.pendingB += len(m.Data)
	return nil
}

// full says whether enough is buffered for a write.
func (b *seedBuffer) full() bool { return b.pendingB >= seedFlushBytes }

// takePending returns the buffered pages and empties the buffer.
func (b *seedBuffer) takePending() []storage.Page {
	p := b.pending
	b.pending, b.pendingB = nil, 0
	return p
}

// drop forgets the buffered pages after a failed write: the seed goes on
// from next, the first page not written.
func (b *seedBuffer) drop(next int64) {
	b.pending, b.pendingB = nil, 0
	b.next = next
}

// startFlush writes the buffered pages in the background, so the next
// chunks arrive while they are written and synced (seedMu held). At most
// one flush is in flight.
func (rt *Link) startFlush() error {
	if err := rt.waitFlush(); err != nil {
		return err
	}
	if len(rt.sbuf.pending) == 0 || rt.writer == nil {
		return nil
	}
	w, pages := rt.writer, rt.sbuf.takePending()
	rt.flushedAt = rt.s.cfg.Now()
	rt.mu.Lock()
	sent := rt.seed.sent
	rt.mu.Unlock()
	sparse := rt.sbuf.sparse
	ch := make(chan error, 1)
	rt.flushing = ch
	write := w.WritePages
	if sparse {
		write = w.WritePagesAt
	}
	go func() {
		err := write(pages)
		if err == nil {
			rt.mu.Lock()
			rt.data.SeedBytes = sent
			if !sparse {
				rt.seed.done = w.State().BytesDone()
			}
			rt.mu.Unlock()
			err = rt.save()
		}
		if err == nil {
			rt.s.failpoint(fpSeedFlushed)
		}
		ch <- err
	}()
	return nil
}

// waitFlush waits for the flush in flight, if any (seedMu held). When it
// failed (a full disk), the pages buffered since cannot follow it: they are
// dropped and the seed goes on from the last page written, so the next
// flush fails for the same reason, not with pages out of order.
func (rt *Link) waitFlush() error {
	if rt.flushing == nil {
		return nil
	}
	err := <-rt.flushing
	rt.flushing = nil
	if err != nil && rt.writer != nil && !rt.sbuf.sparse {
		rt.sbuf.drop(int64(rt.writer.State().Next))
	}
	return err
}

// flushSeed writes every buffered seed page before it returns (seedMu
// held).
func (rt *Link) flushSeed() error {
	if err := rt.startFlush(); err != nil {
		return err
	}
	return rt.waitFlush()
}

// seedFinish moves a complete seed into place and starts catching up
// (secondary, reader goroutine).
func (rt *Link) seedFinish(pc *peerConn, m *transport.SeedDone) error {
	rt.seedMu.Lock()
	w := rt.writer
	if w == nil {
		rt.seedMu.Unlock()
		return sqlink.Errorf(sqlink.EINVALID, "", "seed done without a seed in progress")
	}
	if err := rt.flushSeed(); err != nil {
		rt.seedMu.Unlock()
		return err
	}
	if rt.sbuf.sparse {
		// A rewind: every page that may differ has arrived.
		rt.s.failpoint(fpRewindPages)
		if err := w.Complete(); err != nil {
			rt.seedMu.Unlock()
			return err
		}
		rt.sbuf.sparse = false
		rt.mu.Lock()
		rt.rewindReq = nil
		rt.mu.Unlock()
	}
	if st := w.State(); st.Pos != m.Pos {
		rt.seedMu.Unlock()
		return sqlink.Errorf(sqlink.EINVALID, "", "seed done at %s, but the seed is at %s", m.Pos, st.Pos)
	}
	st, err := w.Finish(rt.id.partnerName)
	rt.writer = nil
	rt.seedMu.Unlock()
	if err != nil {
		return err
	}
	db, err := storage.OpenDB(rt.ctx, databasePath(rt.s.cfg.DataDir, rt.database()), rt.s.dbConfig())
	if err != nil {
		return fmt.Errorf("open seeded database: %w", err)
	}
	rt.log.Info("seed received", "base", st.Base.LSN, "seed_lsn", st.Pos.LSN)
	rt.s.failpoint(fpSeedFinished)
	if !rt.call(func() { rt.beginCatchup(db, m.Epoch, m.History, st.Pos) }) {
		db.Close(context.Background())
	}
	return nil
}

// beginCatchup starts the secondary's state machine on a seeded (or
// restored) database; it stays RESTORING until it has redone up to seedPos
// (on the loop).
func (rt *Link) beginCatchup(db *storage.DB, epoch sqlink.Epoch, history []sqlink.HistoryEntry, seedPos sqlink.Pos) {
	if ro, _ := db.ReadOnly(); !ro {
		db.SetReadOnly(rt.id.partnerName)
	}
	rt.mu.Lock()
	rt.db, rt.ownsDB = db, true
	rt.data.Phase = phaseCatchup
	rt.data.SeedPos = seedPos
	rt.seed.state = seedCatchup
	rt.seed.seedLSN = seedPos.LSN
	prev := rt.data.PrevVersion
	rt.mu.Unlock()
	hs := link.HardState{
		LinkID: rt.id.linkID, Self: rt.s.info.ID, Partner: rt.id.partnerID,
		InitialPrimary: rt.id.initialPrimary,
		Role:           sqlink.RoleSecondary, Epoch: epoch, History: history,
		Mode: rt.rec.Mode, TwoWay: rt.rec.TwoWay,
		Hardened: db.Pos().LSN,
		Version:  prev + 1, PartnerVersion: 0,
	}
	rt.mu.Lock()
	hs.AutoFailover, hs.MaxDataLoss = rt.data.AutoFailover, rt.data.MaxDataLoss
	rt.mu.Unlock()
	if err := rt.startReplica(hs); err != nil {
		rt.setError(err)
		return
	}
	if err := rt.persistState(&hs); err != nil {
		rt.setError(err)
	}
	rt.heartbeatDue = true
	rt.tickEarly() // announce ourselves at once
	rt.checkCatchup()
}

// changedCopyRetry is how long a secondary waits to save its changed copy
// again after saving it failed (a full disk, say).
const changedCopyRetry = 10 * time.Second
