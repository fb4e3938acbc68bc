package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sqlink/sqlink"
)

// A database's history has a gap when its file changed in ways the
// replication log does not hold: another program committed to it and
// checkpointed those commits out of the WAL before the capture read them.
// While the instance runs, the capture sees that as a WAL restart it did
// not announce and stops (see DB.capture). While it is down, nothing
// watches, so OpenDB checks that the file and its WAL are as the log's end
// left them (checkWALAtOpen). When they are not, the database opens all
// the same (it is the operator's data), and the gap is recorded instead of
// silently bridged: a record that changes no page marks it in the log
// (logMeta.Gap), no reader may read across it (segmentsFrom), so a replica
// from before it reseeds, and the backup chain ends there (a link needs a
// new full backup).

// checkWALAtOpen reports why the database file at path may hold changes
// the log does not (an empty reason: it cannot). last is the WAL position
// after the log's last record. meta.Captured and meta.Closed, written at
// checkpoints and at a clean close, say what the file and the WAL looked
// like then.
//
// It cannot tell a program that only read the file after a crash of the
// instance (SQLite deletes the WAL when the last connection closes) from
// one that wrote: both leave the WAL gone, and that is reported as a gap.
// Nor, after a clean close, a copy of the data directory that did not keep
// modification times (cp without -p; rsync -a and cp -a keep them) from a
// write. Either way the cost is a reseed of the links and a new full
// backup, never a replica silently missing changes.
func checkWALAtOpen(path string, meta logMeta, last walPos) (string, error) {
	if !last.known() {
		// Nothing was captured from a WAL here yet: a new or restored
		// database, or a secondary (its records come from the primary).
		return "", nil
	}
	h, present, err := peekWALHeader(path + "-wal")
	if err != nil {
		return "", err
	}
	if present && h.salt1 == last.Salt1 && h.salt2 == last.Salt2 {
		// The WAL the log ends in: the capture reads on in it, and a
		// commit there by another program is captured like any other.
		return "", nil
	}
	if meta.Captured == nil || *meta.Captured != last {
		return "the WAL the replication log ends in was checkpointed away while it held commits the log does not have", nil
	}
	if meta.Closed != nil {
		st, err := stampOf(path)
		if err != nil {
			return "", fmt.Errorf("check database file: %w", err)
		}
		if *st != *meta.Closed {
			return "the database file changed while the instance was stopped", nil
		}
		// Closed cleanly and untouched since: a WAL holds only commits
		// made after the close, and the capture reads them all.
		return "", nil
	}
	// After a crash, with everything up to last captured and synced: the
	// WAL may be the next generation, which a writer begins only once a
	// checkpoint copied all of the previous one (SQLite adds one to
	// salt-1 at each restart). Anything else means a generation went by
	// unread.
	if present && h.salt1 == last.Salt1+1 {
		return "", nil
	}
	return "the WAL the replication log ends in is gone or was replaced more than once while the instance was stopped", nil
}

// peekWALHeader reads the header of the WAL at path; present is false when
// there is no WAL or no valid header (SQLite ignores such a file).
func peekWALHeader(path string) (h walHeader, present bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return h, false, nil
	}
	if err != nil {
		return h, false, fmt.Errorf("open wal: %w", err)
	}
	defer f.Close()
	return readWALHeader(f)
}

// markGap records a gap found at open (the DB is not shared yet): the
// record that marks it has as WAL position the start of the WAL now on
// disk, so that the capture reads every commit in it. It returns that WAL
// position.
func (db *DB) markGap(why string) (walPos, error) {
	wp, _, err := walStart(db.path + "-wal")
	if err != nil {
		return wp, err
	}
	rec, err := db.recordGap(why, wp)
	if err != nil {
		return wp, err
	}
	db.cfg.Logger.Error("the database changed outside sqlink: its history has a gap; replicas from before it reseed, and the backup chain starts again with the next full backup",
		logKeyPath, db.path, logKeyLSN, rec.LSN, "why", why)
	return wp, nil
}

// walStart returns the position at the start of the WAL at path (zero,
// and present false, when there is none).
func walStart(path string) (wp walPos, present bool, err error) {
	h, present, err := peekWALHeader(path)
	if err != nil || !present {
		return wp, present, err
	}
	return walPos{Salt1: h.salt1, Salt2: h.salt2, CkptSeq: h.ckptSeq, Ck1: h.ck1, Ck2: h.ck2}, true, nil
}

// recordGap appends the record that marks a gap in the history, why, at
// WAL position wp, syncs it, and persists the gap in the log's metadata
// with the backup chain ended and the stamps of a clean close (which no
// longer describe the history) and any divergence cleared.
func (db *DB) recordGap(why string, wp walPos) (*Record, error) {
	db.mu.Lock()
	rec := &Record{LSN: db.pos.LSN + 1, Epoch: db.epoch, Time: db.cfg.Now().UTC(), PageSize: db.pageSize, DBSize: db.pageCount}
	db.mu.Unlock()
	if err := db.log.append(rec, wp, true); err != nil {
		return nil, fmt.Errorf("mark the gap in the log: %w", err)
	}
	if err := db.log.sync(); err != nil {
		return nil, err
	}
	gap := &LogGap{LSN: rec.LSN, Time: rec.Time, Why: why}
	if err := db.log.updateMeta(func(m *logMeta) {
		m.Gap, m.Diverged = gap, nil
		m.LastFullBackupID = ""
		m.Captured, m.Closed, m.ClosedWAL = nil, nil, nil
	}); err != nil {
		return nil, err
	}
	db.advance(rec)
	return rec, nil
}

// Gap returns the latest gap in the database's history (nil if none).
func (db *DB) Gap() *LogGap { return db.log.gap() }

// gap returns a copy of the latest gap recorded in the log's metadata.
func (l *segLog) gap() *LogGap { return copyGap(l.gapNow.Load()) }

func copyGap(g *LogGap) *LogGap {
	if g == nil {
		return nil
	}
	c := *g
	return &c
}

// gapError is the error a reader gets for records across a gap.
func gapError(g *LogGap, from sqlink.LSN, path string) error {
	return sqlink.Errorf(sqlink.ECONFLICT, "reseed the replica, or take a new full backup: records from before the gap cannot be continued",
		"database %s: the history has a gap at LSN %d (%s; found %s): it cannot be read on from LSN %d",
		filepath.Base(path), g.LSN, g.Why, g.Time.UTC().Format("2006-01-02 15:04:05 MST"), from)
}

// markCaptured persists that every WAL frame up to the log's last record
// was captured and the log synced (see checkWALAtOpen); with stamp set, it
// also records the database file as a clean close left it.
func (l *segLog) markCaptured(stamp *fileStamp) error {
	return l.updateMeta(func(m *logMeta) {
		// updateMeta holds l.mu.
		w := l.lastWAL
		m.Captured, m.Closed = &w, stamp
	})
}

// stampClosed records, after a clean close, the database file as it was
// left (the log and SQLite closed).
func (db *DB) stampClosed() error {
	st, err := stampOf(db.path)
	if err != nil {
		return fmt.Errorf("stamp database file: %w", err)
	}
	return db.log.markCaptured(st)
}

// A secondary's copy can change outside sqlink too, and that is worse than
// a primary's gap: its capture reads no commits of its own (it only steps
// over the applier's), so another program's write would stay in the copy,
// unknown to the primary, and later deltas would apply to pages that are
// not what the primary had. So a copy that changed is marked diverged
// (logMeta.Diverged): it applies nothing more, and its link reseeds it.
// It is found while the instance runs by a commit in the WAL that is not
// the applier's (captureLocked counts them), or a WAL restarted behind the
// capture's back; at open after a clean close by the file and its WAL no
// longer matching the stamps that close left (checkSecondaryAtOpen); after
// a crash, when nothing was stamped, by the first page delta that does not
// apply to the page the copy holds.

// checkSecondaryAtOpen reports why a secondary's copy at path may no
// longer be what its log redid (empty: no sign of a change).
func checkSecondaryAtOpen(path string, meta logMeta) (string, error) {
	if meta.Closed == nil {
		return "", nil
	}
	st, err := stampOf(path)
	if errors.Is(err, os.ErrNotExist) {
		return "the secondary's database file is gone", nil
	}
	if err != nil {
		return "", fmt.Errorf("check database file: %w", err)
	}
	wst, err := walStampOf(path + "-wal")
	if err != nil {
		return "", fmt.Errorf("check wal: %w", err)
	}
	if *st != *meta.Closed || !sameStamp(wst, meta.ClosedWAL) {
		return "the secondary's database file changed while the instance was stopped", nil
	}
	return "", nil
}

// walStampOf stamps the WAL at path; nil when there is none or it holds no
// frame (a reader's, which changes nothing).
func walStampOf(path string) (*fileStamp, error) {
	st, err := stampOf(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && st.Size <= walHeaderSize {
		return nil, nil
	}
	return st, err
}

func sameStamp(a, b *fileStamp) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// markDiverged marks a secondary's copy diverged, why, at its redone
// position (once: a second call returns the first mark).
func (db *DB) markDiverged(why string) (*LogGap, error) {
	if d := db.Diverged(); d != nil {
		return d, nil
	}
	db.mu.Lock()
	d := &LogGap{LSN: db.redone.LSN, Time: db.cfg.Now().UTC(), Why: why}
	db.mu.Unlock()
	if err := db.log.updateMeta(func(m *logMeta) {
		m.Diverged = d
		m.Closed, m.ClosedWAL = nil, nil
	}); err != nil {
		return nil, err
	}
	db.cfg.Logger.Error("a secondary's copy no longer matches its log: it applies nothing more, and its link reseeds it",
		logKeyPath, db.path, "redone_lsn", d.LSN, "why", why)
	return d, nil
}

// divergedToGapLocked turns a diverged secondary that is becoming
// writable (a forced failover, or its link dropped) into a primary whose
// history has a gap: the copy stays as it stands, another program's change
// included, and what its log says it holds (records hardened but not
// redone among them) no longer explains it. So, as for a primary changed
// outside sqlink (markGap), a record marks the gap, no reader crosses it
// (replicas reseed) and the backup chain starts again. The write lock and
// capMu are held and the capture has stepped over the WAL; notRedone
// hardened records were never applied to the copy (lost to it).
func (db *DB) divergedToGapLocked(d *LogGap, notRedone sqlink.LSN) error {
	wp := db.wal.pos
	start, present, err := walStart(db.path + "-wal")
	if err != nil {
		return err
	}
	if present && (start.Salt1 != wp.Salt1 || start.Salt2 != wp.Salt2) {
		// The WAL was restarted behind the capture's back (one way the
		// copy diverged): the capture reads on from the start of the one
		// on disk, as after markGap.
		wp = start
		db.wal.pos = wp
	}
	rec, err := db.recordGap("the copy no longer matched its log when it became writable ("+d.Why+")", wp)
	if err != nil {
		return err
	}
	db.cfg.Logger.Error("a secondary whose copy no longer matched its log became writable as it stands: its history has a gap; replicas reseed, and the backup chain starts again with the next full backup",
		logKeyPath, db.path, logKeyLSN, rec.LSN, "hardened_not_redone", notRedone, "why", d.Why)
	return nil
}

// LogCorrupt marks a secondary whose own log holds a damaged record it has
// not redone (err, from reading it) diverged: it cannot go on from its
// log, so it applies nothing more and its link reseeds it. It returns the
// error Apply gives from now on.
func (db *DB) LogCorrupt(err error) error {
	if ro, _ := db.ReadOnly(); !ro || !errors.Is(err, ErrCorruptRecord) {
		return err
	}
	d, merr := db.markDiverged(corruptLogWhy(err))
	if merr != nil {
		return errors.Join(err, merr)
	}
	return divergedError(d, db.path)
}

func deltaMismatchWhy(err error) string {
	return "a page delta does not apply to the page the copy holds: " + sqlink.ErrorMessage(err)
}

func corruptLogWhy(err error) string {
	return "its replication log is damaged (" + err.Error() + ")"
}

// divergeLocked marks a running secondary diverged (capMu held) and
// returns the error Apply gives from now on.
func (db *DB) divergeLocked(why string) error {
	d, err := db.markDiverged(why)
	if err != nil {
		return err
	}
	return divergedError(d, db.path)
}

// Diverged returns why a secondary's copy no longer matches its log (nil:
// it does, as far as can be told); see checkSecondaryAtOpen.
func (db *DB) Diverged() *LogGap { return db.log.diverged() }

// diverged returns a copy of logMeta.Diverged.
func (l *segLog) diverged() *LogGap { return copyGap(l.divergedNow.Load()) }

// ErrDiverged is in the chain of Apply's error when the secondary's copy
// is not what the primary's history says: it changed outside sqlink, its
// log is damaged, or a page delta does not apply to the page it holds
// (DB.Diverged). No record can be applied to it any more: it needs a new
// seed.
var ErrDiverged = errors.New("the secondary's copy is not the primary's history")

// divergedError is what Apply returns on a diverged secondary.
func divergedError(d *LogGap, path string) error {
	return fmt.Errorf("%w: %w", ErrDiverged, sqlink.Errorf(sqlink.ECONFLICT, "the link reseeds the secondary by itself; drop and create the link again if it does not",
		"database %s: the copy no longer matches its log (%s; found %s at redone LSN %d): nothing more is applied to it",
		filepath.Base(path), d.Why, d.Time.UTC().Format("2006-01-02 15:04:05 MST"), d.LSN))
}

// stampSecondaryClosed records, after a clean close of a secondary, its
// database file and WAL as they were left.
func (db *DB) stampSecondaryClosed() error {
	st, err := stampOf(db.path)
	if err != nil {
		return fmt.Errorf("stamp database file: %w", err)
	}
	wst, err := walStampOf(db.path + "-wal")
	if err != nil {
		return fmt.Errorf("stamp wal: %w", err)
	}
	return db.log.updateMeta(func(m *logMeta) { m.Closed, m.ClosedWAL = st, wst })
}
