package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/fsutil"
)

// Snapshot is a read transaction's view of a database at a known position,
// read in chunks of pages for seeding a secondary. Reads are resumable by
// page number as long as the Snapshot stays open. A Snapshot is not safe
// for concurrent use; it pins one connection and keeps the WAL from being
// fully checkpointed until it is closed.
type Snapshot struct {
	Pos       sqlink.Pos
	Epoch     sqlink.Epoch
	PageSize  int64
	PageCount int64

	conn *sql.Conn
	stmt *sql.Stmt
	// rows streams pages from page next on, so reading a snapshot in order
	// runs one query, not one per page.
	rows *sql.Rows
	next uint32
	// file is the database file when the snapshot is all in it (see
	// OpenSnapshot): pages are then read from it in big chunks.
	file *os.File
}

// OpenSnapshot fixes a read snapshot at the current position (the last
// captured commit on a primary, the redone position on a secondary).
func (db *DB) OpenSnapshot(ctx context.Context) (*Snapshot, error) {
	c, err := db.sqldb.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: get connection: %w", err)
	}
	s := &Snapshot{conn: c}
	if err := db.lockWrite(ctx); err != nil {
		c.Close()
		return nil, err
	}
	// Checkpoint first: when nothing is left in the WAL, the snapshot is
	// the database file itself, read in big chunks instead of a page at a
	// time through SQLite. While the snapshot's read transaction is open,
	// no checkpoint can write to the file (a reader of the file alone
	// holds read mark 0, which stops backfilling), and commits (none can
	// come in between: we hold the write lock) go to the WAL.
	direct, err := db.checkpointLocked(ctx)
	if err == nil {
		_, err = c.ExecContext(ctx, "BEGIN")
	}
	if err == nil {
		err = c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(new(int64))
	}
	s.Pos, s.Epoch = db.Redone(), db.Epoch()
	db.unlockWrite()
	if err == nil && direct {
		if f, e := os.Open(db.path); e == nil {
			s.file = f
		}
	}
	if err == nil {
		err = c.QueryRowContext(ctx, "PRAGMA page_size").Scan(&s.PageSize)
	}
	if err == nil {
		err = c.QueryRowContext(ctx, "PRAGMA page_count").Scan(&s.PageCount)
	}
	if err == nil {
		s.stmt, err = c.PrepareContext(ctx, "SELECT data FROM sqlite_dbpage WHERE pgno = ?")
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open snapshot: %w", err)
	}
	return s, nil
}

// ReadPages returns up to n pages starting at page number from (1-based),
// fewer at the end of the snapshot, none after it.
func (s *Snapshot) ReadPages(ctx context.Context, from uint32, n int) ([]Page, error) {
	if from == 0 {
		return nil, sqlink.Errorf(sqlink.EINVALID, "page numbers start at 1", "invalid page number 0")
	}
	var out []Page
	if int64(from) > s.PageCount {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.file != nil {
		n = int(min(int64(n), s.PageCount-int64(from)+1))
		buf := make([]byte, int64(n)*s.PageSize)
		if _, err := s.file.ReadAt(buf, int64(from-1)*s.PageSize); err != nil {
			return nil, fmt.Errorf("snapshot: read pages %d..%d: %w", from, int(from)+n-1, err)
		}
		out = make([]Page, n)
		for i := range out {
			out[i] = Page{Pgno: from + uint32(i), Data: buf[int64(i)*s.PageSize : int64(i+1)*s.PageSize : int64(i+1)*s.PageSize]}
		}
		return out, nil
	}
	if s.rows == nil || s.next != from {
		if s.rows != nil {
			s.rows.Close()
			s.rows = nil
		}
		// sqlite_dbpage uses only an equality on pgno; a range makes it
		// step over the earlier pages without reading them.
		// The cursor outlives this call (a later call continues it), so
		// it must not be bound to this call's context.
		rows, err := s.conn.QueryContext(context.WithoutCancel(ctx), "SELECT pgno, data FROM sqlite_dbpage WHERE pgno >= ? AND pgno <= ?", from, s.PageCount)
		if err != nil {
			return nil, fmt.Errorf("snapshot: read from page %d: %w", from, err)
		}
		s.rows, s.next = rows, from
	}
	for pg := int64(from); pg < int64(from)+int64(n) && pg <= s.PageCount; pg++ {
		if !s.rows.Next() {
			err := s.rows.Err()
			s.rows.Close()
			s.rows = nil
			if err == nil {
				err = fmt.Errorf("snapshot ends before page %d", pg)
			}
			return out, fmt.Errorf("snapshot: read page %d: %w", pg, err)
		}
		var got int64
		var data []byte
		if err := s.rows.Scan(&got, &data); err != nil {
			s.rows.Close()
			s.rows = nil
			return out, fmt.Errorf("snapshot: read page %d: %w", pg, err)
		}
		if got != pg || int64(len(data)) != s.PageSize {
			s.rows.Close()
			s.rows = nil
			return out, fmt.Errorf("snapshot: page %d has %d bytes (page %d)", pg, len(data), got)
		}
		out = append(out, Page{Pgno: uint32(pg), Data: data})
		s.next = uint32(pg) + 1
	}
	return out, nil
}

// Close ends the read transaction.
func (s *Snapshot) Close() error {
	if s.conn == nil {
		return nil
	}
	if s.rows != nil {
		s.rows.Close()
		s.rows = nil
	}
	if s.stmt != nil {
		s.stmt.Close()
	}
	if s.file != nil {
		s.file.Close() // before the read transaction ends
		s.file = nil
	}
	s.conn.ExecContext(context.Background(), "ROLLBACK")
	err := s.conn.Close()
	s.conn = nil
	return err
}

// SeedState is the persistent progress of a seed being received.
type SeedState struct {
	Pos       sqlink.Pos   `json:"pos"`   // snapshot the pages currently come from
	Base      sqlink.Pos   `json:"base"`  // earliest snapshot any written page came from
	Epoch     sqlink.Epoch `json:"epoch"` // epoch at Base
	PageSize  int64        `json:"page_size"`
	PageCount int64        `json:"page_count"`
	Next      uint32       `json:"next"` // next page number wanted
}

// Done reports whether every page has arrived.
func (s SeedState) Done() bool { return int64(s.Next) > s.PageCount }

// BytesDone returns the bytes received so far.
func (s SeedState) BytesDone() int64 { return int64(s.Next-1) * s.PageSize }

// SeedWriter receives a seed into a RESTORING file next to the final path
// (path+".seed", progress in path+".seed.json"); Finish moves it into
// place. After a restart OpenSeed resumes at the next page. Not safe for
// concurrent use.
type SeedWriter struct {
	path  string
	f     *os.File
	state SeedState
	buf   []byte
}

// CreateSeed starts receiving a seed taken at pos into path, which must
// not exist yet.
func CreateSeed(path string, pos sqlink.Pos, epoch sqlink.Epoch, pageSize, pageCount int64) (*SeedWriter, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{path, path + "-wal", path + "-log"} {
		if _, err := os.Stat(p); err == nil {
			return nil, sqlink.Errorf(sqlink.ECONFLICT, "drop the existing database first", "%s already exists", p)
		}
	}
	if pageSize < 512 || pageSize > maxPageSize || pageSize&(pageSize-1) != 0 || pageCount < 0 {
		return nil, sqlink.Errorf(sqlink.EINVALID, "", "invalid seed geometry: %d pages of %d bytes", pageCount, pageSize)
	}
	f, err := os.OpenFile(path+".seed", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create seed: %w", err)
	}
	w := &SeedWriter{path: path, f: f, state: SeedState{Pos: pos, Base: pos, Epoch: epoch, PageSize: pageSize, PageCount: pageCount, Next: 1}}
	if err := w.saveState(); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// OpenSeed resumes a seed that CreateSeed started for path.
func OpenSeed(path string) (*SeedWriter, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path + ".seed.json")
	if errors.Is(err, os.ErrNotExist) {
		return nil, sqlink.Errorf(sqlink.ENOTFOUND, "start a new seed", "no seed in progress for %s", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open seed: %w", err)
	}
	var st SeedState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, sqlink.Errorf(sqlink.EINTERNAL, "start a new seed", "seed progress for %s is damaged: %v", path, err)
	}
	f, err := os.OpenFile(path+".seed", os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open seed: %w", err)
	}
	return &SeedWriter{path: path, f: f, state: st}, nil
}

// State returns the seed's progress.
func (w *SeedWriter) State() SeedState { return w.state }

// WritePages writes the next pages of the current snapshot (contiguous,
// starting at State().Next) and persists the progress.
func (w *SeedWriter) WritePages(pages []Page) error {
	// The pages are contiguous: write them with one call, not one per page.
	buf := w.buf[:0]
	next := w.state.Next
	for _, p := range pages {
		if p.Pgno != next || int64(len(p.Data)) != w.state.PageSize || int64(p.Pgno) > w.state.PageCount {
			return sqlink.Errorf(sqlink.EINVALID, "resume the seed from State().Next", "seed page %d (of %d bytes) out of order: want page %d", p.Pgno, len(p.Data), next)
		}
		buf = append(buf, p.Data...)
		next++
	}
	if len(buf) > 0 {
		if _, err := w.f.WriteAt(buf, int64(w.state.Next-1)*w.state.PageSize); err != nil {
			return fmt.Errorf("write seed pages: %w", err)
		}
	}
	w.state.Next = next
	w.buf = buf[:0] // reused: a fresh buffer per call costs page faults
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync seed: %w", err)
	}
	return w.saveState()
}

// Rebase continues the seed from a newer snapshot (the old one was lost,
// e.g. the primary restarted) without starting over. The database is then
// consistent only after the log from State().Base up to pos has been
// applied, which replication does anyway.
func (w *SeedWriter) Rebase(pos sqlink.Pos, pageCount int64) error {
	if pos.LSN < w.state.Pos.LSN {
		return sqlink.Errorf(sqlink.EINVALID, "take a newer snapshot", "seed snapshot %s is older than %s", pos, w.state.Pos)
	}
	w.state.Pos, w.state.PageCount = pos, pageCount
	if int64(w.state.Next) > pageCount+1 {
		w.state.Next = uint32(pageCount + 1)
	}
	return w.saveState()
}

func (w *SeedWriter) saveState() error {
	b, err := json.Marshal(w.state)
	if err != nil {
		return err
	}
	return writeFileAtomic(w.path+".seed.json", b)
}

// Finish moves a complete seed into place as a read-only secondary of
// instance primary whose log starts at State().Base. The caller keeps the
// database RESTORING until its redone LSN reaches State().Pos.LSN.
func (w *SeedWriter) Finish(primary string) (SeedState, error) {
	st := w.state
	if !st.Done() {
		return st, sqlink.Errorf(sqlink.ECONFLICT, "send the remaining pages", "seed incomplete: %d of %d pages", st.Next-1, st.PageCount)
	}
	if err := w.f.Truncate(st.PageCount * st.PageSize); err != nil {
		return st, fmt.Errorf("finish seed: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return st, fmt.Errorf("finish seed: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return st, fmt.Errorf("finish seed: %w", err)
	}
	if err := os.MkdirAll(w.path+"-log", 0o755); err != nil {
		return st, fmt.Errorf("finish seed: %w", err)
	}
	epoch := st.Epoch
	if epoch == 0 {
		epoch = 1
	}
	m := logMeta{Base: st.Base, Epoch: epoch, Secondary: primary, Redone: st.Base}
	if st.Pos.LSN > st.Base.LSN {
		// Pages copied after the first snapshot already hold some of the
		// records from Base on: applying them needs to know that.
		m.Fuzzy = st.Pos.LSN
	}
	if err := writeMeta(w.path+"-log", m); err != nil {
		return st, err
	}
	if err := os.Rename(w.path+".seed", w.path); err != nil {
		return st, fmt.Errorf("finish seed: %w", err)
	}
	os.Remove(w.path + ".seed.json")
	return st, fsutil.SyncDir(filepath.Dir(w.path))
}

// Close releases the seed file, keeping the progress for OpenSeed.
func (w *SeedWriter) Close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}

// CreateSeedCopy starts a seed for path from a copy of a local snapshot
// (rewinding a diverged replica: only the pages that differ from the
// primary are then written with WritePagesAt). The copy goes to
// path+".seed" while the database at path is still open; the caller
// removes the database before Finish. The progress says no page has
// arrived (Next 1), so a seed resumed after a crash starts over.
func CreateSeedCopy(ctx context.Context, path string, snap *Snapshot) (*SeedWriter, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path+".seed", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create seed: %w", err)
	}
	w := &SeedWriter{path: path, f: f, state: SeedState{Pos: snap.Pos, Base: snap.Pos, Epoch: snap.Epoch,
		PageSize: snap.PageSize, PageCount: snap.PageCount, Next: 1}}
	fail := func(err error) (*SeedWriter, error) {
		f.Close()
		os.Remove(path + ".seed")
		return nil, fmt.Errorf("copy the database into the seed: %w", err)
	}
	for pg := uint32(1); int64(pg) <= snap.PageCount; {
		pages, err := snap.ReadPages(ctx, pg, 256)
		if err != nil {
			return fail(err)
		}
		if len(pages) == 0 {
			break
		}
		buf := w.buf[:0]
		for _, p := range pages {
			buf = append(buf, p.Data...)
		}
		if _, err := f.WriteAt(buf, int64(pg-1)*snap.PageSize); err != nil {
			return fail(err)
		}
		w.buf = buf[:0]
		pg += uint32(len(pages))
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := w.saveState(); err != nil {
		return fail(err)
	}
	return w, nil
}

// Retarget makes a copied seed (CreateSeedCopy) the primary's snapshot at
// pos, of pageCount pages, once the pages that differ are written with
// WritePagesAt and Complete is called.
func (w *SeedWriter) Retarget(pos sqlink.Pos, epoch sqlink.Epoch, pageSize, pageCount int64) error {
	if pageSize != w.state.PageSize {
		return sqlink.Errorf(sqlink.EINVALID, "reseed", "page size %d differs from the local copy's %d", pageSize, w.state.PageSize)
	}
	w.state.Pos, w.state.Base, w.state.Epoch, w.state.PageCount, w.state.Next = pos, pos, epoch, pageCount, 1
	return w.saveState()
}

// WritePagesAt writes pages anywhere in the seed (they need not be
// contiguous) and syncs them; the progress does not move.
func (w *SeedWriter) WritePagesAt(pages []Page) error {
	for _, p := range pages {
		if int64(len(p.Data)) != w.state.PageSize || p.Pgno == 0 || int64(p.Pgno) > w.state.PageCount {
			return sqlink.Errorf(sqlink.EINVALID, "", "seed page %d (of %d bytes) outside the seed's %d pages", p.Pgno, len(p.Data), w.state.PageCount)
		}
		if _, err := w.f.WriteAt(p.Data, int64(p.Pgno-1)*w.state.PageSize); err != nil {
			return fmt.Errorf("write seed pages: %w", err)
		}
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync seed: %w", err)
	}
	return nil
}

// Complete marks every page as arrived (after WritePagesAt wrote the last
// differing page), so Finish can move the seed into place.
func (w *SeedWriter) Complete() error {
	w.state.Next = uint32(w.state.PageCount + 1)
	return w.saveState()
}
