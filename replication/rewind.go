package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// Diverged state
//
// When a Ready asks for a rewind (this replica holds transactions its new
// primary does not: the loser of a split brain), the loop first saves the
// database as it stands to <data-dir>/diverged/<link>-<database>-fork<LSN>-<time>.db,
// an ordinary SQLite file (rollback-journal mode, openable with sqlite3
// -readonly), and lists the diverged transactions (LSN, epoch, commit time,
// pages) from the replication log in a .txt file next to it.
//
// Then it rewinds: it copies its database into a seed file and asks the
// primary (a seed request carrying a rewindRequest) for the pages that may
// differ: those its own records after the fork wrote, those the primary's
// records after the fork wrote, and every page past the smallest size the
// database had since the fork. The primary sends them from one snapshot
// (plan "rewind"), so the seed becomes the primary's database at that
// snapshot, and the replica follows from there. When the local log or the
// primary's no longer reaches back to the fork, it reseeds in full instead.

// rewindResult is what the last save of a diverged state did.
//
// Owner: Link.mu guards Link.lastRewind and Link.saved and the results
// they point to once published (decideRewind marks one decided under it).
type rewindResult struct {
	at     time.Time
	fork   sqlink.LSN
	count  int64
	file   string
	list   string
	method string // rewind or reseed
	// decided: the primary answered the rewind request (method is final).
	decided bool
	err     error
}

// rewindRequest asks the primary for the pages a diverged copy needs.
type rewindRequest = transport.RewindRequest

// rewindDecisionWait bounds how long set-role waits for the primary to say
// whether it rewinds or reseeds the copy.
const rewindDecisionWait = 10 * time.Second

// divergedDir is where diverged states are saved.
func divergedDir(dataDir string) string { return filepath.Join(dataDir, "diverged") }

// rewind saves the diverged state rw describes and reseeds this replica
// from its primary (on the loop). The replica is replaced: the caller must
// stop using the Ready it came from.
func (rt *Link) rewind(rw link.Rewind) {
	rt.mu.Lock()
	db, pc := rt.db, rt.conn
	rt.mu.Unlock()
	res := &rewindResult{fork: rw.To, count: int64(rw.Through - min(rw.Through, rw.To)), method: "reseed"}
	ctx := context.WithoutCancel(rt.ctx)
	rt.mu.Lock()
	saved := rt.saved
	rt.mu.Unlock()
	if saved != nil && saved.fork == rw.To && saved.count == res.count {
		// Saved when this replica gave up its role (set-role).
		res.file, res.list = saved.file, saved.list
	} else if db != nil {
		file, list, err := rt.saveDiverged(ctx, db, rw)
		res.file, res.list = file, list
		if err != nil {
			// Never throw the diverged transactions away unsaved.
			res.err = fmt.Errorf("save the diverged transactions: %w", err)
			res.at = rt.s.cfg.Now()
			rt.setError(res.err)
			rt.mu.Lock()
			rt.lastRewind = res
			rt.mu.Unlock()
			rt.changed()
			return
		}
	}
	why := fmt.Sprintf("diverged from the primary after LSN %d; the %d diverged transactions were saved to %s", rw.To, res.count, res.file)
	rt.s.failpoint(fpRewindSaved)
	var req *rewindRequest
	var w *storage.SeedWriter
	if db != nil {
		var err error
		if req, w, err = rt.prepareRewind(ctx, db, rw); err != nil {
			rt.log.Warn("cannot rewind: reseeding in full", "err", err)
		}
	}
	if req != nil {
		rt.log.Warn("diverged from the primary: saved the diverged transactions, rewinding",
			"fork_lsn", rw.To, "through", rw.Through, "local_pages", len(req.Pages), "file", res.file, "list", res.list)
		res.method = "rewind"
		rt.seedMu.Lock()
		rt.writer = w
		rt.seedMu.Unlock()
		rt.mu.Lock()
		rt.rewindReq = req
		rt.mu.Unlock()
		rt.restartSeedingWith(pc, "rewinding: "+why, true)
		rt.s.failpoint(fpRewindCopied)
	} else {
		rt.log.Warn("diverged from the primary: saved the diverged transactions, reseeding",
			"fork_lsn", rw.To, "through", rw.Through, "file", res.file, "list", res.list)
		res.decided = true
		rt.restartSeeding(pc, why)
	}
	res.at = rt.s.cfg.Now()
	rt.mu.Lock()
	rt.lastRewind = res
	rt.mu.Unlock()
	rt.changed()
}

// giveUpRole steps a set-role that designates the partner and, once the
// database stopped taking writes, saves its diverged state (on the loop).
func (rt *Link) giveUpRole(m link.Message) error {
	var err error
	ok := rt.call(func() {
		if rt.r == nil {
			err = sqlink.Errorf(sqlink.ECONFLICT, "wait until seeding finishes", "link %q has no replica here yet (seeding)", rt.id.name)
			return
		}
		hs := rt.r.HardState()
		sb := hs.SplitBrain
		if err = rt.r.Step(m); err != nil {
			return
		}
		rt.process()
		rt.awaitDrain() // the diverged state is saved once writes stopped
		rt.mu.Lock()
		db := rt.db
		rt.mu.Unlock()
		if db == nil || !sb.Active {
			return
		}
		rw := link.Rewind{To: sb.ForkLSN, Through: hs.Hardened}
		res := &rewindResult{fork: rw.To, count: int64(rw.Through - min(rw.Through, rw.To))}
		res.file, res.list, res.err = rt.saveDiverged(context.WithoutCancel(rt.ctx), db, rw)
		res.at = rt.s.cfg.Now()
		if res.err != nil {
			rt.setError(fmt.Errorf("save the diverged transactions: %w", res.err))
			return
		}
		rt.log.Warn("gave up the primary role: saved the database as it stood", "fork_lsn", rw.To, "diverged", res.count, "file", res.file)
		rt.mu.Lock()
		rt.saved = res
		rt.mu.Unlock()
	})
	if !ok {
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "", "link %q is stopping", rt.id.name)
	}
	return rt.named(err)
}

// prepareRewind lists the pages the local records after the fork wrote and
// copies the database into a seed file.
func (rt *Link) prepareRewind(ctx context.Context, db *storage.DB, rw link.Rewind) (*rewindRequest, *storage.SeedWriter, error) {
	lr, err := db.ReadLog(ctx, rw.To)
	if err != nil {
		return nil, nil, fmt.Errorf("the local log no longer reaches back to the fork LSN %d: %w", rw.To, err)
	}
	pages := map[uint32]bool{}
	minSize := uint32(math.MaxUint32)
	n := 0
	for {
		rec, err := lr.TryNext()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			lr.Close()
			return nil, nil, err
		}
		if rec.LSN > rw.Through {
			break
		}
		if n == 0 && rec.LSN != rw.To+1 {
			lr.Close()
			return nil, nil, fmt.Errorf("the local log starts at %d, after the fork LSN %d", rec.LSN, rw.To)
		}
		n++
		for _, p := range rec.Pages {
			pages[p.Pgno] = true
		}
		minSize = min(minSize, rec.DBSize)
	}
	lr.Close()
	snap, err := db.OpenSnapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer snap.Close()
	minSize = min(minSize, uint32(snap.PageCount))
	w, err := storage.CreateSeedCopy(ctx, databasePath(rt.s.cfg.DataDir, rt.database()), snap)
	if err != nil {
		return nil, nil, err
	}
	req := &rewindRequest{Fork: rw.To, MinSize: minSize, Pages: make([]uint32, 0, len(pages))}
	for p := range pages {
		req.Pages = append(req.Pages, p)
	}
	slices.Sort(req.Pages)
	return req, w, nil
}

// decideRewind records whether the primary rewinds this copy or reseeds it.
func (rt *Link) decideRewind(rewind bool) {
	rt.mu.Lock()
	rw := rt.lastRewind
	if rw != nil && !rw.decided {
		rw.decided = true
		if !rewind {
			rw.method = "reseed"
		}
	}
	if !rewind {
		rt.rewindReq = nil
	}
	rt.mu.Unlock()
	rt.changed()
}

// sendRewind answers a rewind request (primary): the pages that may differ,
// from one snapshot. It reports false, with nothing sent, when the log no
// longer reaches back to the fork.
func (rt *Link) sendRewind(ctx context.Context, pc *peerConn, db *storage.DB, req *rewindRequest, epoch sqlink.Epoch, hist []sqlink.HistoryEntry) (bool, error) {
	snap, err := db.OpenSnapshot(ctx)
	if err != nil {
		return false, err
	}
	defer snap.Close()
	lr, err := db.ReadLog(ctx, req.Fork)
	if err != nil {
		rt.log.Info("cannot rewind the partner: the log no longer reaches back to the fork; seeding in full", "fork_lsn", req.Fork, "err", err)
		return false, nil
	}
	want := map[uint32]bool{}
	for _, p := range req.Pages {
		want[p] = true
	}
	for first := true; ; first = false {
		rec, err := lr.TryNext()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			lr.Close()
			return false, err
		}
		if first && rec.LSN != req.Fork+1 {
			lr.Close()
			return false, nil
		}
		if rec.LSN > snap.Pos.LSN {
			break
		}
		for _, p := range rec.Pages {
			want[p.Pgno] = true
		}
	}
	lr.Close()
	for p := int64(req.MinSize) + 1; p <= snap.PageCount; p++ {
		want[uint32(p)] = true
	}
	pages := make([]uint32, 0, len(want))
	for p := range want {
		if int64(p) <= snap.PageCount && p > 0 {
			pages = append(pages, p)
		}
	}
	slices.Sort(pages)
	ps := snap.PageSize
	total := uint64(snap.PageCount * ps) // the database's size, as in any seed
	rt.setFloor(db, snap.Pos.LSN)
	plan := seedPlan{Kind: planRewind, Pos: snap.Pos, Epoch: epoch, PageSize: ps, PageCount: snap.PageCount, Next: 1, History: hist}
	rt.log.Info("rewinding the partner", "fork_lsn", req.Fork, "seed_lsn", snap.Pos.LSN, "pages", len(pages), "of", snap.PageCount)
	if err := pc.c.Send(ctx, controlOf(cmdSeedPlan, plan)); err != nil {
		return true, err
	}
	rt.mu.Lock()
	rt.seed.total, rt.seed.done, rt.seed.seedLSN = int64(len(pages))*ps, 0, snap.Pos.LSN
	rt.mu.Unlock()
	rt.setSeedState(seedSeeding)
	per := max(1, seedChunkBytes/int(ps))
	for i := 0; i < len(pages); {
		// One chunk per run of consecutive pages.
		j := i + 1
		for j < len(pages) && j-i < per && pages[j] == pages[j-1]+1 {
			j++
		}
		got, err := snap.ReadPages(ctx, pages[i], j-i)
		if err != nil {
			return true, err
		}
		if len(got) != j-i {
			return true, fmt.Errorf("rewind: read %d pages at %d, want %d", len(got), pages[i], j-i)
		}
		buf := make([]byte, 0, (j-i)*int(ps))
		for _, p := range got {
			buf = append(buf, p.Data...)
		}
		if err := pc.c.WriteMessage(ctx, &transport.SeedChunk{Epoch: epoch, LSN: snap.Pos.LSN, Offset: uint64(pages[i]-1) * uint64(ps), TotalSize: total, Data: buf}); err != nil {
			return true, err
		}
		rt.mu.Lock()
		rt.seed.done += int64(len(buf))
		rt.seed.sent += int64(len(buf))
		rt.mu.Unlock()
		if err := pc.c.Flush(ctx); err != nil {
			return true, err
		}
		rt.s.failpoint(fpRewindSending)
		i = j
	}
	if err := pc.c.Flush(ctx); err != nil {
		return true, err
	}
	if err := pc.c.Send(ctx, &transport.SeedDone{Epoch: epoch, Pos: snap.Pos, TotalSize: total, History: hist}); err != nil {
		return true, err
	}
	rt.setSeedState(seedCompleted)
	rt.log.Info("partner rewound", "seed_lsn", snap.Pos.LSN, "bytes", int64(len(pages))*ps)
	return true, nil
}

// saveDiverged writes a copy of db and the listing of the transactions
// after the fork.
func (rt *Link) saveDiverged(ctx context.Context, db *storage.DB, rw link.Rewind) (file, list string, err error) {
	dir := divergedDir(rt.s.cfg.DataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%s-fork%d-%s", rt.id.name, rt.database(), rw.To, rt.s.cfg.Now().UTC().Format("20060102T150405.000Z")))
	file, list = base+".db", base+".txt"
	pos, err := copyDatabase(ctx, db, file)
	if err != nil {
		return "", "", err
	}
	if err := listDiverged(ctx, db, rw, pos, list); err != nil {
		rt.log.Warn("list the diverged transactions", "err", err)
		list = ""
	}
	return file, list, nil
}

// copyDatabase writes a consistent copy of db to path as a plain SQLite
// file and returns the position it holds.
func copyDatabase(ctx context.Context, db *storage.DB, path string) (sqlink.Pos, error) {
	snap, err := db.OpenSnapshot(ctx)
	if err != nil {
		return sqlink.Pos{}, err
	}
	defer snap.Close()
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return sqlink.Pos{}, err
	}
	defer os.Remove(tmp)
	w := bufio.NewWriterSize(f, 1<<20)
	for pg := uint32(1); int64(pg) <= snap.PageCount; {
		pages, err := snap.ReadPages(ctx, pg, 256)
		if err != nil {
			f.Close()
			return sqlink.Pos{}, err
		}
		if len(pages) == 0 {
			break
		}
		for _, p := range pages {
			data := p.Data
			if p.Pgno == 1 && len(data) > 19 {
				// Rollback-journal mode, so sqlite3 opens the copy read-only
				// without a -wal or -shm file.
				data = append([]byte(nil), data...)
				data[18], data[19] = 1, 1
			}
			if _, err := w.Write(data); err != nil {
				f.Close()
				return sqlink.Pos{}, err
			}
		}
		pg += uint32(len(pages))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return sqlink.Pos{}, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return sqlink.Pos{}, err
	}
	if err := f.Close(); err != nil {
		return sqlink.Pos{}, err
	}
	return snap.Pos, os.Rename(tmp, path)
}

// listDiverged writes one line per transaction (to, through] of db's log.
func listDiverged(ctx context.Context, db *storage.DB, rw link.Rewind, copied sqlink.Pos, path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "# transactions after the fork LSN %d (through %d); the copy %s holds the database at LSN %d\n",
		rw.To, rw.Through, filepath.Base(path[:len(path)-len(".txt")]+".db"), copied.LSN)
	fmt.Fprintf(w, "# lsn\tepoch\tcommit_time\tpages\n")
	lr, err := db.ReadLog(ctx, rw.To)
	if err != nil {
		fmt.Fprintf(w, "# the replication log no longer reaches back to the fork: %s\n", sqlink.ErrorMessage(err))
		if ferr := w.Flush(); ferr != nil {
			return ferr
		}
		return f.Sync()
	}
	defer lr.Close()
	for {
		rec, err := lr.TryNext()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if rec.LSN > rw.Through {
			break
		}
		fmt.Fprintf(w, "%d\t%d\t%s\t%d\n", rec.LSN, rec.Epoch, rec.Time.UTC().Format(time.RFC3339Nano), len(rec.Pages))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

// redoForWrites is catchUpRedo before a secondary takes writes. A copy that
// no longer matches its log (storage.DB.Diverged) redoes nothing more: with
// lossOK (a forced failover, a drop of the link) it takes writes as it
// stands, its hardened records not redone lost to it (storage turns the
// divergence into a history gap); otherwise it refuses if there are any.
func redoForWrites(ctx context.Context, db *storage.DB, lossOK bool) error {
	d := divergedSecondary(db)
	if d == nil {
		return catchUpRedo(ctx, db)
	}
	n := db.Pos().LSN - min(db.Pos().LSN, db.Redone().LSN)
	if n > 0 && !lossOK {
		return sqlink.Errorf(sqlink.ECONFLICT, "fail over forced to make it writable as it stands (those records are lost to it), or wait for the link to reseed it",
			"the copy no longer matches its log (%s): %d hardened records cannot be redone on it", d.Why, n)
	}
	return nil
}

// catchUpRedo applies every hardened record the database has not redone
// yet, so a secondary about to take writes (or be dropped) holds its whole
// log. The applier must be stopped.
func catchUpRedo(ctx context.Context, db *storage.DB) error {
	if ro, _ := db.ReadOnly(); !ro {
		return nil
	}
	for db.Redone().LSN < db.Pos().LSN {
		lr, err := db.ReadLog(ctx, db.Redone().LSN)
		if err != nil {
			return err
		}
		batch, _, err := readApplyBatch(lr)
		lr.Close()
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return fmt.Errorf("redo: the log ends before the hardened LSN %d", db.Pos().LSN)
		}
		if err := db.Apply(ctx, batch...); err != nil {
			return err
		}
	}
	return nil
}
