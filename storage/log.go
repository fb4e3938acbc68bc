package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/fsutil"
)

// The replication log is a directory of segment files named after the LSN
// of their first record (%016x.seg). A segment is the 8-byte magic followed
// by entries:
//
//	length u32 (of walpos+record) | walpos (24 bytes) | record | CRC-32C u32
//
// walpos is the WAL position just after the record's commit frame on this
// instance (local only, never sent). It lets OpenDB map the log's end to
// the WAL after a crash. meta.json holds the base position (the history
// before the first record, e.g. from a restored backup) and the epoch.
const (
	segMagic      = "SQLKSEG1"
	segSuffix     = ".seg"
	metaFile      = "meta.json"
	maxEntrySize  = 1 << 31
	entryOverhead = 4 + walPosSize + 4
	// maxKeptWriteBuf bounds the encoding buffer a log keeps between
	// appends (a TPC-B record is ~16 KiB).
	maxKeptWriteBuf = 1 << 20
	// preallocBytes is how far ahead of its end the active segment is
	// filled with zeros. An fdatasync after an append that grows a file
	// must also commit the file system's journal (the size changed); one
	// after an append into zeros written earlier flushes only data, about
	// half the time on ext4 (BENCHMARKS.md §5). A zero length field ends a
	// segment's entries for every reader, as a torn entry does.
	preallocBytes = 1 << 20
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// errRecordTooLarge: a record larger than a log entry holds (a transaction
// the size guard of txguard.go did not see, e.g. by another program).
var errRecordTooLarge = errors.New("larger than a log entry holds")

// logMeta is the small persistent state of a log.
type logMeta struct {
	Base             sqlink.Pos   `json:"base"` // history before the first record ever logged here
	Epoch            sqlink.Epoch `json:"epoch"`
	LastFullBackupID string       `json:"last_full_backup_id,omitempty"`
	Secondary        string       `json:"secondary_of,omitempty"` // read-only secondary of this instance
	Redone           sqlink.Pos   `json:"redone"`                 // secondary: applied at least through here
	// Fuzzy: records up to here may already be in some pages (a seed
	// copied from snapshots at different positions).
	Fuzzy sqlink.LSN `json:"fuzzy,omitempty"`
	// Gap: the database changed outside the capture before this record
	// (another program wrote and checkpointed the file): the records from
	// it on do not continue the history before it, so no reader may cross
	// it (see segmentsFrom). The record itself changes no page.
	Gap *LogGap `json:"gap,omitempty"`
	// Captured: the WAL position through which every frame was captured
	// and the log synced when it was written (at each checkpoint through
	// the capture path and at close); see checkWALAtOpen.
	Captured *walPos `json:"captured_wal,omitempty"`
	// Closed: the database file as the last clean close left it; cleared
	// when the database is opened again. On a secondary, ClosedWAL is its
	// WAL then (nil: none, or no frames in it).
	Closed    *fileStamp `json:"closed,omitempty"`
	ClosedWAL *fileStamp `json:"closed_wal,omitempty"`
	// Diverged: a secondary's copy no longer matches its log (another
	// program wrote to it, or a record it has not redone is damaged), so
	// it applies nothing more and its link reseeds it. LSN is the redone
	// position it had.
	Diverged *LogGap `json:"diverged,omitempty"`
}

// LogGap is a break in a database's history: before record LSN (which
// marks it and changes no page) changes came that the log does not hold.
type LogGap struct {
	LSN  sqlink.LSN `json:"lsn"`
	Time time.Time  `json:"time"`
	Why  string     `json:"why"`
}

// fileStamp identifies a file's content by its size and modification time.
type fileStamp struct {
	Size    int64 `json:"size"`
	ModNano int64 `json:"mod_unix_nano"`
}

func stampOf(path string) (*fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	return &fileStamp{Size: fi.Size(), ModNano: fi.ModTime().UnixNano()}, nil
}

type segment struct {
	first sqlink.LSN
	path  string
	size  int64
}

// segLog is the on-disk replication log. Appends come from one goroutine
// at a time (the DB's capture mutex); readers may run concurrently.
type segLog struct {
	dir      string
	segBytes int64

	mu     sync.Mutex
	segs   []*segment // sorted by first
	active *os.File   // the last segment, open for writing at its size
	// alloc is the active segment's file size: its entries end at the
	// segment's size, and zeros fill the rest (preallocBytes).
	alloc int64
	dirty bool
	meta  logMeta
	// gapNow and divergedNow publish meta.Gap and meta.Diverged (never
	// changed in place) to readers that must not wait for mu, which is
	// held across the log's writes and fsyncs: an applier that read them
	// under mu waited for the hardener's fsync before every group.
	gapNow, divergedNow atomic.Pointer[LogGap]

	last    sqlink.Pos // position after the last record (meta.Base if none)
	lastWAL walPos     // WAL position after the last record, if any
	lastEp  sqlink.Epoch
	wbuf    []byte // append's encoding buffer, reused (guarded by mu)
	// broken is set when a failed append left part of a record in the
	// active segment and it could not be cut off: nothing more is
	// appended until the log is reopened (which cuts the torn tail).
	broken error
}

func segName(first sqlink.LSN) string { return fmt.Sprintf("%016x%s", uint64(first), segSuffix) }

// openLog opens or creates the log in dir, truncating a torn tail.
func openLog(dir string, segBytes int64) (*segLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	l := &segLog{dir: dir, segBytes: segBytes}
	if err := l.readMeta(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read log dir: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 16, 64)
		if err != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("stat segment: %w", err)
		}
		l.segs = append(l.segs, &segment{first: sqlink.LSN(v), path: filepath.Join(dir, name), size: fi.Size()})
	}
	sort.Slice(l.segs, func(i, j int) bool { return l.segs[i].first < l.segs[j].first })
	l.last = l.meta.Base
	l.lastEp = l.meta.Epoch
	// Find the last record, dropping empty trailing segments and torn tails.
	for len(l.segs) > 0 {
		s := l.segs[len(l.segs)-1]
		var lastRec *Record
		var lastWAL walPos
		good, err := scanSegment(s.path, func(_ int64, wp walPos, rec *Record) error {
			lastRec, lastWAL = rec, wp
			return nil
		})
		if err != nil {
			return nil, err
		}
		if lastRec == nil {
			if err := os.Remove(s.path); err != nil {
				return nil, fmt.Errorf("remove empty segment: %w", err)
			}
			l.segs = l.segs[:len(l.segs)-1]
			continue
		}
		if good < s.size {
			// A torn tail, or the zeros written ahead (preallocBytes):
			// cut both off, so that nothing after the last sound entry
			// can pass for one later. The next append writes zeros ahead
			// again.
			if err := os.Truncate(s.path, good); err != nil {
				return nil, fmt.Errorf("truncate torn segment tail: %w", err)
			}
			s.size = good
		}
		l.last, l.lastWAL, l.lastEp = lastRec.Pos(), lastWAL, lastRec.Epoch
		if l.meta.Epoch > l.lastEp {
			l.lastEp = l.meta.Epoch
		}
		break
	}
	if l.lastEp == 0 {
		l.lastEp = 1
	}
	if len(l.segs) > 0 {
		s := l.segs[len(l.segs)-1]
		f, err := os.OpenFile(s.path, os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open segment: %w", err)
		}
		l.active, l.alloc = f, s.size
	}
	return l, nil
}

func (l *segLog) readMeta() error {
	b, err := os.ReadFile(filepath.Join(l.dir, metaFile))
	if errors.Is(err, os.ErrNotExist) {
		l.setMeta(logMeta{Epoch: 1})
		return nil
	}
	if err != nil {
		return fmt.Errorf("read log meta: %w", err)
	}
	var m logMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return sqlink.Errorf(sqlink.EINTERNAL, "restore the database from a backup", "log metadata %s is damaged: %v", filepath.Join(l.dir, metaFile), err)
	}
	l.setMeta(m)
	return nil
}

// setMeta makes m the log's metadata (mu held, or l not shared yet).
func (l *segLog) setMeta(m logMeta) {
	l.meta = m
	l.gapNow.Store(m.Gap)
	l.divergedNow.Store(m.Diverged)
}

// writeMeta persists m atomically. Callers hold l.mu or own l exclusively.
func writeMeta(dir string, m logMeta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, metaFile), b)
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", filepath.Base(path), err)
	}
	return fsutil.SyncDir(filepath.Dir(path))
}

// scanSegment calls fn for each valid entry of a segment in order and
// returns the offset just after the last valid entry. A damaged or torn
// entry ends the scan without error.
func scanSegment(path string, fn func(off int64, wp walPos, rec *Record) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, errSegmentGone
		}
		return 0, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	return scanEntries(bufio.NewReaderSize(f, 256<<10), fn)
}

var errSegmentGone = errors.New("storage: log segment removed")

// scanEntries reads a segment stream (magic then entries).
func scanEntries(r io.Reader, fn func(off int64, wp walPos, rec *Record) error) (int64, error) {
	var magic [len(segMagic)]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != segMagic {
		return 0, nil
	}
	off := int64(len(segMagic))
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, nil
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if checkEntryLen(n) != nil {
			return off, nil
		}
		body, err := readBody(r, int64(n)+4)
		if err != nil {
			return off, nil
		}
		wp, rec, err := decodeEntry(body)
		if err != nil {
			return off, nil
		}
		if err := fn(off, wp, rec); err != nil {
			return off, err
		}
		off += 4 + int64(n) + 4
	}
}

// A log entry is its length n (4 bytes), then n bytes of body (the WAL
// position after the record, then the record), then the CRC-32C of the
// body (4 bytes).

// checkEntryLen checks an entry's length field.
func checkEntryLen(n uint32) error {
	if n < walPosSize+recordHeaderSize+recordTrailerSize || n > maxEntrySize {
		return corruptf("bad entry length %d", n)
	}
	return nil
}

// decodeEntry decodes an entry's body followed by its CRC (b, which the
// record keeps: pass a copy of a reused buffer).
func decodeEntry(b []byte) (walPos, *Record, error) {
	n := len(b) - 4
	if crc32.Checksum(b[:n], crc32c) != binary.BigEndian.Uint32(b[n:]) {
		return walPos{}, nil, corruptf("entry checksum mismatch")
	}
	rec := new(Record)
	if err := rec.UnmarshalBinary(b[walPosSize:n]); err != nil {
		return walPos{}, nil, err
	}
	return getWALPos(b), rec, nil
}

// readBody reads an entry body of size bytes from r. The size comes from
// the entry's length field, which a torn or corrupt log can make anything
// up to maxEntrySize: a body over 1 MiB is read into a buffer that grows
// with the bytes actually there, not allocated whole up front.
func readBody(r io.Reader, size int64) ([]byte, error) {
	if size <= 1<<20 {
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, size); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// append writes one record (already numbered) to the log without syncing.
// With chain set it computes rec.PosChecksum from the log's position;
// otherwise it verifies that rec.PosChecksum continues the chain.
func (l *segLog) append(rec *Record, wp walPos, chain bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil {
		return l.broken
	}
	if rec.LSN != l.last.LSN+1 {
		panic(fmt.Sprintf("storage: log append of LSN %d after %d", rec.LSN, l.last.LSN))
	}
	if l.active == nil || l.segs[len(l.segs)-1].size >= l.segBytes {
		if err := l.roll(rec.LSN); err != nil {
			return err
		}
	}
	n := walPosSize + rec.Size()
	if n > maxEntrySize {
		// Never written: a reader would take the entry for a torn end.
		return fmt.Errorf("append record %d of %d bytes: %w", rec.LSN, rec.Size(), errRecordTooLarge)
	}
	if cap(l.wbuf) < 4+n+4 {
		l.wbuf = make([]byte, 4+n+4)
	}
	b := l.wbuf[:4+n+4]
	binary.BigEndian.PutUint32(b, uint32(n))
	wp.put(b[4:])
	rec.encodeChain(b[4+walPosSize:4+n], chain, l.last.Checksum)
	if !chain && rec.PosChecksum != ChainChecksum(l.last.Checksum, rec.Checksum) {
		return sqlink.Errorf(sqlink.ECONFLICT, "the replica's history diverged from the primary's; reseed it",
			"record %d does not continue the history at %s", rec.LSN, l.last)
	}
	binary.BigEndian.PutUint32(b[4+n:], crc32.Checksum(b[4:4+n], crc32c))
	s := l.segs[len(l.segs)-1]
	if err := l.preallocate(s.size + int64(len(b))); err != nil {
		return err
	}
	wn, err := l.active.WriteAt(b, s.size)
	if cap(l.wbuf) > maxKeptWriteBuf {
		l.wbuf = nil // a bulk load's buffer is not kept for the small records
	}
	if n := wn; err != nil {
		// A full disk may take part of the record (past the zeros
		// written ahead, a large record still grows the file). Cut it
		// off: a reader takes a torn entry for the segment's end, and
		// the next append, written at the same place, may be shorter.
		if n > 0 {
			if terr := l.active.Truncate(s.size); terr != nil {
				l.broken = sqlink.Errorf(sqlink.EINTERNAL, "free space, then restart the instance: reopening the log cuts the torn record off",
					"log %s: a record was written in part (%v) and could not be cut off: %v", l.dir, err, terr)
			} else {
				l.alloc = s.size
			}
		}
		return fmt.Errorf("append to log: %w", err)
	}
	s.size += int64(len(b))
	l.dirty = true
	l.last, l.lastWAL, l.lastEp = rec.Pos(), wp, rec.Epoch
	return nil
}

// zeros is what preallocate writes ahead of the active segment's end.
var zeros [64 << 10]byte

// preallocate makes the active segment's file reach past end, by
// preallocBytes of zeros, when it does not yet (mu held). The zeros reach
// the disk with the next sync; the syncs after it flush only data.
func (l *segLog) preallocate(end int64) error {
	if end <= l.alloc {
		return nil
	}
	to := end + preallocBytes
	for off := l.alloc; off < to; {
		n := min(to-off, int64(len(zeros)))
		if _, err := l.active.WriteAt(zeros[:n], off); err != nil {
			// Not written ahead: the zeros written so far are past the
			// segment's end, where they end it as before.
			return fmt.Errorf("append to log: preallocate: %w", err)
		}
		off += n
		l.alloc = off
	}
	return nil
}

// roll syncs and closes the active segment and starts one at first.
func (l *segLog) roll(first sqlink.LSN) error {
	if l.active != nil {
		// A closed segment holds its entries only: its size is the log's
		// size accounting (stats, prune) after a restart.
		if err := l.active.Truncate(l.segs[len(l.segs)-1].size); err != nil {
			return fmt.Errorf("close segment: %w", err)
		}
		if err := fdatasync(l.active); err != nil {
			return fmt.Errorf("sync segment: %w", err)
		}
		if err := l.active.Close(); err != nil {
			return fmt.Errorf("close segment: %w", err)
		}
		l.active = nil
	}
	path := filepath.Join(l.dir, segName(first))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	if _, err := f.WriteAt([]byte(segMagic), 0); err != nil {
		f.Close()
		return fmt.Errorf("create segment: %w", err)
	}
	if err := fsutil.SyncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.active, l.alloc = f, int64(len(segMagic))
	l.segs = append(l.segs, &segment{first: first, path: path, size: int64(len(segMagic))})
	l.dirty = true
	return nil
}

// persistedRedone returns the redone position in the log's metadata.
func (l *segLog) persistedRedone() sqlink.Pos {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.meta.Redone
}

func (l *segLog) lastPos() sqlink.Pos {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// sync makes every appended record durable.
func (l *segLog) sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.dirty || l.active == nil {
		return nil
	}
	if err := fdatasync(l.active); err != nil {
		return fmt.Errorf("sync log: %w", err)
	}
	l.dirty = false
	return nil
}

// setEpoch persists a new epoch for the records that follow.
func (l *segLog) setEpoch(e sqlink.Epoch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.meta
	m.Epoch = e
	if err := writeMeta(l.dir, m); err != nil {
		return err
	}
	l.setMeta(m)
	l.lastEp = e
	return nil
}

func (l *segLog) updateMeta(fn func(*logMeta)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.meta
	fn(&m)
	if err := writeMeta(l.dir, m); err != nil {
		return err
	}
	l.setMeta(m)
	return nil
}

// prune removes the oldest segments while the rest still holds at least
// keep bytes and the removed ones end at or before floor. The active
// segment is never removed.
func (l *segLog) prune(keep int64, floor sqlink.LSN) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var total int64
	for _, s := range l.segs {
		total += s.size
	}
	for len(l.segs) > 1 {
		s, next := l.segs[0], l.segs[1]
		if total-s.size < keep || next.first-1 > floor {
			break
		}
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove segment: %w", err)
		}
		total -= s.size
		l.segs = l.segs[1:]
	}
	return nil
}

// stats returns the log's size in bytes and its first LSN (the first record
// it can still serve; last+1 when empty).
func (l *segLog) stats() (bytes int64, first sqlink.LSN) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.segs {
		bytes += s.size
	}
	if len(l.segs) == 0 {
		return 0, l.last.LSN + 1
	}
	return bytes, l.segs[0].first
}

// segmentsFrom returns the segments that may hold records after from, or a
// conflict error when the log no longer reaches back to from.
func (l *segLog) segmentsFrom(from sqlink.LSN) ([]*segment, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.last.LSN + 1
	if len(l.segs) > 0 {
		first = l.segs[0].first
	}
	if from+1 < first {
		return nil, sqlink.Errorf(sqlink.ECONFLICT, "reseed the replica from a new backup or snapshot",
			"log no longer reaches back to LSN %d: the oldest record kept is %d", from+1, first)
	}
	if g := l.meta.Gap; g != nil && from < g.LSN {
		return nil, gapError(g, from, strings.TrimSuffix(l.dir, "-log"))
	}
	var out []*segment
	for i, s := range l.segs {
		if i+1 < len(l.segs) && l.segs[i+1].first <= from+1 {
			continue
		}
		cp := *s
		out = append(out, &cp)
	}
	return out, nil
}

func (l *segLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active == nil {
		return nil
	}
	err := fdatasync(l.active)
	if err2 := l.active.Close(); err == nil {
		err = err2
	}
	l.active = nil
	return err
}
