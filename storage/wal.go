package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// WAL file format (https://sqlite.org/fileformat2.html#walformat).
const (
	walHeaderSize      = 32
	walFrameHeaderSize = 24
	walMagicLE         = 0x377f0682
	walMagicBE         = 0x377f0683
	walVersion         = 3007000
)

// walPos is a position in one generation of the WAL: the generation's salts
// and checkpoint sequence, the number of frames consumed and the cumulative
// checksum after them. The zero walPos means "no WAL seen yet".
type walPos struct {
	Salt1, Salt2 uint32
	CkptSeq      uint32
	Frame        uint32
	Ck1, Ck2     uint32
}

func (p walPos) known() bool {
	return p.Salt1 != 0 || p.Salt2 != 0 || p.Frame != 0 || p.Ck1 != 0 || p.Ck2 != 0
}

const walPosSize = 24

func (p walPos) put(b []byte) {
	binary.BigEndian.PutUint32(b[0:], p.Salt1)
	binary.BigEndian.PutUint32(b[4:], p.Salt2)
	binary.BigEndian.PutUint32(b[8:], p.CkptSeq)
	binary.BigEndian.PutUint32(b[12:], p.Frame)
	binary.BigEndian.PutUint32(b[16:], p.Ck1)
	binary.BigEndian.PutUint32(b[20:], p.Ck2)
}

func getWALPos(b []byte) walPos {
	return walPos{
		Salt1:   binary.BigEndian.Uint32(b[0:]),
		Salt2:   binary.BigEndian.Uint32(b[4:]),
		CkptSeq: binary.BigEndian.Uint32(b[8:]),
		Frame:   binary.BigEndian.Uint32(b[12:]),
		Ck1:     binary.BigEndian.Uint32(b[16:]),
		Ck2:     binary.BigEndian.Uint32(b[20:]),
	}
}

// walCommit is one committed transaction read from the WAL.
type walCommit struct {
	PageSize uint32
	DBSize   uint32
	Pages    []Page // sorted, none beyond DBSize
	End      walPos // position just after the commit frame
}

// errWALRestart reports a WAL that was restarted while it still held frames
// that had not been captured: a silent gap in the history.
var errWALRestart = errors.New("storage: wal restarted with uncaptured frames (a checkpoint ran outside the capture path)")

// walChecksum continues SQLite's WAL checksum over b (a multiple of 8 bytes).
func walChecksum(bigEndian bool, s1, s2 uint32, b []byte) (uint32, uint32) {
	for i := 0; i+8 <= len(b); i += 8 {
		var x0, x1 uint32
		if bigEndian {
			x0, x1 = binary.BigEndian.Uint32(b[i:]), binary.BigEndian.Uint32(b[i+4:])
		} else {
			x0, x1 = binary.LittleEndian.Uint32(b[i:]), binary.LittleEndian.Uint32(b[i+4:])
		}
		s1 += x0 + s2
		s2 += x1 + s1
	}
	return s1, s2
}

type walHeader struct {
	bigEndian bool
	pageSize  uint32
	ckptSeq   uint32
	salt1     uint32
	salt2     uint32
	ck1, ck2  uint32
}

// readWALHeader reads and validates the header; ok is false when the file
// is shorter than a header or the header is not valid (SQLite then ignores
// the whole file).
func readWALHeader(f *os.File) (h walHeader, ok bool, err error) {
	var b [walHeaderSize]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return h, false, nil
		}
		return h, false, fmt.Errorf("read wal header: %w", err)
	}
	magic := binary.BigEndian.Uint32(b[0:])
	if magic != walMagicLE && magic != walMagicBE {
		return h, false, nil
	}
	if binary.BigEndian.Uint32(b[4:]) != walVersion {
		return h, false, nil
	}
	h = walHeader{
		bigEndian: magic&1 == 1,
		pageSize:  binary.BigEndian.Uint32(b[8:]),
		ckptSeq:   binary.BigEndian.Uint32(b[12:]),
		salt1:     binary.BigEndian.Uint32(b[16:]),
		salt2:     binary.BigEndian.Uint32(b[20:]),
		ck1:       binary.BigEndian.Uint32(b[24:]),
		ck2:       binary.BigEndian.Uint32(b[28:]),
	}
	if h.pageSize == 1 { // 65536 is stored as 1
		h.pageSize = 65536
	}
	if h.pageSize < 512 || h.pageSize > maxPageSize || h.pageSize&(h.pageSize-1) != 0 {
		return h, false, nil
	}
	s1, s2 := walChecksum(h.bigEndian, 0, 0, b[:24])
	if s1 != h.ck1 || s2 != h.ck2 {
		return h, false, nil
	}
	return h, true, nil
}

// walScanner reads committed transactions from a WAL file. It is not safe
// for concurrent use; DB serializes it under its capture mutex.
type walScanner struct {
	path string
	f    *os.File
	pos  walPos
	// restartOK is set after a checkpoint through the capture path that
	// followed a capture of everything: the next generation change is
	// announced. It is cleared by a generation change or a new commit.
	restartOK bool
	buf       []byte
	rbuf      []byte // frameReader's buffer, reused across scans
	// skipPages makes scan emit commits without their pages: a
	// secondary's WAL holds the applier's commits, whose records are in
	// the log already, and only their end positions matter.
	skipPages bool
	// pending holds the current commit's page images by page number;
	// free, page buffers the capture's delta cache let go of (recycle),
	// reused for the next frames' images instead of allocating 4 KiB
	// per page per commit.
	pending map[uint32][]byte
	free    [][]byte
	// lastFrames is how many frames the last scan that found a commit
	// took: the size of the next scan's first read.
	lastFrames int64
	// limit, when set, bounds a scan to the WAL end it names (group
	// commit: the end the last fdatasync covered); frames after it, or in
	// another generation, are left for a later scan.
	limit *walPos
	// checked, when set, is the size the -wal file had when the group
	// commit's fdatasync just checked the descriptor (under capMu, before
	// the sync): the capture right after it takes it instead of another
	// fstat.
	checked *int64
}

// maxFreePages bounds the page buffers a walScanner keeps for reuse.
const maxFreePages = 256

// page returns a buffer for one page image: a recycled one if any.
func (s *walScanner) page(size uint32) []byte {
	for n := len(s.free); n > 0; n = len(s.free) {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		if len(b) == int(size) {
			return b
		}
	}
	return make([]byte, size)
}

// recycle takes back a page buffer nothing refers to any more.
func (s *walScanner) recycle(b []byte) {
	if len(s.free) < maxFreePages {
		s.free = append(s.free, b)
	}
}

func newWALScanner(path string, pos walPos) *walScanner {
	return &walScanner{path: path, pos: pos}
}

func (s *walScanner) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// open opens the -wal file if it exists and returns its size; it returns
// false when it does not exist.
func (s *walScanner) open() (int64, bool, error) {
	if c := s.checked; c != nil && s.f != nil {
		s.checked = nil
		return *c, true, nil
	}
	s.checked = nil
	if s.f != nil {
		// The file is deleted when the last connection closes; we keep a
		// connection open, but check that our descriptor is still the
		// file: one fstat tells both (a deleted file has no links left).
		fi, err := s.f.Stat()
		if err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 0 {
				return fi.Size(), true, nil
			} else if !ok {
				if pi, err := os.Stat(s.path); err == nil && os.SameFile(fi, pi) {
					return fi.Size(), true, nil
				}
			}
		}
		s.close()
	}
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("open wal: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, false, fmt.Errorf("stat wal: %w", err)
	}
	s.f = f
	return fi.Size(), true, nil
}

// scan reads every transaction committed after s.pos, calling emit for each
// in WAL order, and advances s.pos past each emitted commit. It stops at the
// first invalid frame and never takes frames after the last commit frame.
// If emit fails, scanning stops and s.pos stays after the last commit emit
// accepted.
func (s *walScanner) scan(emit func(walCommit) error) error {
	size, exists, err := s.open()
	if err != nil {
		return err
	}
	if !exists {
		return s.noWAL()
	}
	h, ok, err := readWALHeader(s.f)
	if err != nil {
		return err
	}
	if !ok {
		return s.noWAL()
	}
	if l := s.limit; l != nil {
		if h.salt1 != l.Salt1 || h.salt2 != l.Salt2 {
			// The bound is in a generation the file has left: a restart
			// follows a capture of everything, so nothing up to the bound
			// is left to take. (Or the file holds a generation the bound
			// does not reach yet.)
			return nil
		}
		size = min(size, int64(walHeaderSize)+int64(l.Frame)*(int64(walFrameHeaderSize)+int64(h.pageSize)))
	}
	if h.salt1 != s.pos.Salt1 || h.salt2 != s.pos.Salt2 || !s.pos.known() {
		// A new generation. It is harmless when the previous one was fully
		// captured and checkpointed through us (restartOK), when we never
		// saw a WAL, or when the previous generation held no frames we had
		// consumed and SQLite merely re-salted an empty WAL: a connection
		// writes a new header whenever the WAL holds no frame, with its
		// own checkpoint sequence, and random salts when that is 0 (a
		// rolled-back first transaction; or a rolled-back transaction
		// that had restarted the WAL, then a write on a connection that
		// never restarted it).
		freshResalt := s.pos.Frame == 0 && (h.ckptSeq == s.pos.CkptSeq || h.ckptSeq == 0)
		if s.pos.known() && !s.restartOK && !freshResalt {
			return errWALRestart
		}
		s.pos = walPos{Salt1: h.salt1, Salt2: h.salt2, CkptSeq: h.ckptSeq, Ck1: h.ck1, Ck2: h.ck2}
		s.restartOK = false
	}

	frameSize := int64(walFrameHeaderSize) + int64(h.pageSize)
	off := int64(walHeaderSize) + int64(s.pos.Frame)*frameSize
	if size < off+frameSize {
		return nil
	}
	// Read the new frames in large chunks into a buffer kept across scans:
	// a commit usually adds a few frames, and allocating a reader per scan
	// cost more than the read itself.
	// The first read asks for twice the frames the last scan took (a
	// TPC-B commit adds about five): reading minFrameRead every time
	// copied 16 frames, most of them stale, per commit.
	first := max(2*s.lastFrames, 4) * frameSize
	fr := frameReader{f: s.f, off: off, end: size, frameSize: int(frameSize), buf: s.rbuf, first: min(first, minFrameRead)}
	start := s.pos.Frame
	defer func() {
		s.rbuf = fr.buf
		if s.pos.Frame > start {
			s.lastFrames = int64(s.pos.Frame - start)
		}
	}()

	cur := s.pos
	if s.pending == nil {
		s.pending = map[uint32][]byte{}
	}
	pending := s.pending
	clear(pending) // left over from a scan that stopped mid-commit
	for {
		frame, err := fr.next()
		if err != nil {
			return fmt.Errorf("read wal frame: %w", err)
		}
		if frame == nil {
			return nil
		}
		pgno := binary.BigEndian.Uint32(frame[0:])
		commit := binary.BigEndian.Uint32(frame[4:])
		if pgno == 0 || binary.BigEndian.Uint32(frame[8:]) != h.salt1 || binary.BigEndian.Uint32(frame[12:]) != h.salt2 {
			return nil
		}
		c1, c2 := walChecksum(h.bigEndian, cur.Ck1, cur.Ck2, frame[:8])
		c1, c2 = walChecksum(h.bigEndian, c1, c2, frame[walFrameHeaderSize:])
		if c1 != binary.BigEndian.Uint32(frame[16:]) || c2 != binary.BigEndian.Uint32(frame[20:]) {
			return nil
		}
		cur.Frame++
		cur.Ck1, cur.Ck2 = c1, c2
		if !s.skipPages {
			data, ok := pending[pgno]
			if !ok {
				data = s.page(h.pageSize)
				pending[pgno] = data
			}
			copy(data, frame[walFrameHeaderSize:])
		}
		if commit == 0 {
			continue
		}
		c := walCommit{PageSize: h.pageSize, DBSize: commit, End: cur}
		for n, d := range pending {
			if n <= commit {
				c.Pages = append(c.Pages, Page{Pgno: n, Data: d})
			}
		}
		sortPages(c.Pages)
		if err := emit(c); err != nil {
			return err
		}
		s.pos = cur
		s.restartOK = false
		clear(pending) // emit's record (and the delta cache) keep the images
	}
}

// noWAL handles a missing, empty or invalid WAL: fine unless we had
// consumed frames that a checkpoint we did not run could have removed.
func (s *walScanner) noWAL() error {
	if s.pos.Frame > 0 && !s.restartOK {
		return errWALRestart
	}
	return nil
}

// announceRestart records that everything in the WAL was captured and a
// checkpoint ran through the capture path, so the next generation change is
// expected.
func (s *walScanner) announceRestart() { s.restartOK = true }

// frameReader reads whole WAL frames from [off, end) of f through a reusable
// buffer, a few megabytes at a time.
type frameReader struct {
	f         *os.File
	off, end  int64
	frameSize int
	buf       []byte
	p, n      int
	chunk     int64 // size of the next read; grows while frames keep coming
	first     int64 // size of the first read; minFrameRead if 0
}

// WAL reads start small, since a commit usually appends a few frames and
// the file beyond them holds stale frames of earlier generations (SQLite
// reuses the file after a restart), and double up to maxFrameRead while
// there is more to read.
const (
	minFrameRead = 64 << 10
	maxFrameRead = 4 << 20
)

// next returns the next frame (valid until the following call), or nil at
// the end of the range or of the file.
func (r *frameReader) next() ([]byte, error) {
	if r.p+r.frameSize > r.n {
		remaining := r.end - r.off
		if remaining < int64(r.frameSize) {
			return nil, nil
		}
		if r.chunk == 0 {
			r.chunk = r.first
			if r.chunk <= 0 {
				r.chunk = minFrameRead
			}
		} else if r.chunk < maxFrameRead {
			r.chunk *= 2
		}
		want := min(remaining, r.chunk)
		want -= want % int64(r.frameSize)
		if want == 0 {
			want = int64(r.frameSize)
		}
		if int64(cap(r.buf)) < want {
			r.buf = make([]byte, want)
		}
		n, err := r.f.ReadAt(r.buf[:want], r.off)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		n -= n % r.frameSize
		if n == 0 {
			return nil, nil
		}
		r.off += int64(n)
		r.p, r.n = 0, n
	}
	f := r.buf[r.p : r.p+r.frameSize]
	r.p += r.frameSize
	return f, nil
}
