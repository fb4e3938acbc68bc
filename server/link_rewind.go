package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
	"github.com/sqlink/sqlink/storage"
)

// Diverged state
//
// When a Ready asks for a rewind (this replica holds transactions its new
// primary does not: the loser of a split brain), the loop first saves the
// database as it stands to <data-dir>/diverged/<link>-<database>-fork<LSN>-<time>.db,
// an ordinary SQLite file (rollback-journal mode, openable with sqlite3
// -readonly), and lists the diverged transactions (LSN, epoch, commit time,
// pages) from the replication log in a .txt file next to it. Then it
// reseeds the copy from the new primary and follows it. Rewinding in place
// (fetching only the pages changed since the fork) is not done yet: the
// method is always "reseed".

// rewindResult is what the last save of a diverged state did.
type rewindResult struct {
	at     time.Time
	fork   sqlink.LSN
	count  int64
	file   string
	list   string
	method string
	err    error
}

// divergedDir is where diverged states are saved.
func divergedDir(dataDir string) string { return filepath.Join(dataDir, "diverged") }

// rewind saves the diverged state rw describes and reseeds this replica
// from its primary (on the loop). The replica is replaced: the caller must
// stop using the Ready it came from.
func (rt *linkRuntime) rewind(rw link.Rewind) {
	rt.mu.Lock()
	db, pc := rt.db, rt.conn
	rt.mu.Unlock()
	res := &rewindResult{fork: rw.To, count: int64(rw.Through - min(rw.Through, rw.To)), method: "reseed"}
	ctx := context.WithoutCancel(rt.ctx)
	if db != nil {
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
	rt.log.Warn("diverged from the primary: saved the diverged transactions, reseeding",
		"fork_lsn", rw.To, "through", rw.Through, "file", res.file, "list", res.list)
	rt.restartSeeding(pc, fmt.Sprintf("diverged from the primary after LSN %d; the %d diverged transactions were saved to %s", rw.To, res.count, res.file))
	res.at = rt.s.cfg.Now()
	rt.mu.Lock()
	rt.lastRewind = res
	rt.mu.Unlock()
	rt.changed()
}

// saveDiverged writes a copy of db and the listing of the transactions
// after the fork.
func (rt *linkRuntime) saveDiverged(ctx context.Context, db *storage.DB, rw link.Rewind) (file, list string, err error) {
	dir := divergedDir(rt.s.cfg.DataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%s-fork%d-%s", rt.name, rt.database(), rw.To, rt.s.cfg.Now().UTC().Format("20060102T150405.000Z")))
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
		var batch []*storage.Record
		size := 0
		for size < maxApplyBatch {
			rec, err := lr.TryNext()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				lr.Close()
				return err
			}
			batch = append(batch, rec)
			size += rec.Size()
		}
		lr.Close()
		if len(batch) == 0 {
			return fmt.Errorf("redo: the log ends before the hardened LSN %d", db.Pos().LSN)
		}
		if err := db.Apply(ctx, batch...); err != nil {
			return err
		}
	}
	return nil
}
