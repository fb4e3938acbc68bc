package storage

import (
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/sqlink/sqlink"
)

// Page is one page a record changed: its 1-based page number and either
// its whole image (Data) or a delta against its image before the record
// (Delta, see delta.go). A captured page has both (Data is kept for the
// delta cache); a decoded one has exactly one.
type Page struct {
	Pgno  uint32
	Data  []byte
	Delta []byte
}

// payload returns what a record holds for the page: the delta if there is
// one, else the image.
func (p *Page) payload() []byte {
	if p.Delta != nil {
		return p.Delta
	}
	return p.Data
}

// Record is one committed transaction: the pages it changed, as images or
// deltas. Applying a record's pages to a database at LSN-1 gives the
// database at LSN, byte for byte.
//
// A Record is a plain value; it is not safe to mutate concurrently.
type Record struct {
	LSN      sqlink.LSN
	Epoch    sqlink.Epoch
	Time     time.Time // commit time (capture time on the primary)
	PageSize uint32
	DBSize   uint32 // database size in pages after the commit
	Pages    []Page // sorted by page number, each PageSize bytes, none beyond DBSize

	// PosChecksum is the chained checksum of the history up to and
	// including this record: ChainChecksum(previous PosChecksum, Checksum).
	PosChecksum uint64

	// enc is the encoding UnmarshalBinary decoded the record from (aliased).
	enc []byte

	// Checksum is the XXH64 of the record's content (everything in the
	// encoding before it); MarshalBinary sets it and UnmarshalBinary
	// verifies it.
	Checksum uint64
}

// Pos returns the position after the record.
func (r *Record) Pos() sqlink.Pos { return sqlink.Pos{LSN: r.LSN, Checksum: r.PosChecksum} }

// Size returns the length of the record's encoding in bytes.
func (r *Record) Size() int {
	n := recordHeaderSize + recordTrailerSize
	for i := range r.Pages {
		n += 8 + len(r.Pages[i].payload())
	}
	return n
}

// ChainChecksum returns the position checksum after a record whose own
// checksum is rec, following a position whose checksum is prev. Equal chains
// mean equal histories.
func ChainChecksum(prev, rec uint64) uint64 {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:], prev)
	binary.BigEndian.PutUint64(b[8:], rec)
	return xxhash.Sum64(b[:])
}

// Record encoding, all integers big endian:
//
//	magic "SQLR" | version u8 | 3 reserved bytes
//	LSN u64 | Epoch u64 | time (unix ns) i64 | PageSize u32 | DBSize u32
//	page count u32
//	page count x (pgno u32 | length u32 | length bytes)
//	   length = PageSize: the page's image; less: a delta (delta.go)
//	Checksum u64: XXH64 of everything before
//	PosChecksum u64
//	XXH64 of Checksum and PosChecksum, u64
//
// PosChecksum comes after Checksum because it is computed from it.
// Version 1 used CRC-64 (ECMA), which cost 7% of a primary's CPU at 16 KiB
// per record; XXH64 is an order of magnitude faster.
const (
	recordMagic       = "SQLR"
	recordVersion     = 2
	recordHeaderSize  = 4 + 4 + 8 + 8 + 8 + 4 + 4 + 4
	recordTrailerSize = 24
	maxPageSize       = 65536
)

// MarshalBinary encodes the record and sets r.Checksum.
func (r *Record) MarshalBinary() ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	b := make([]byte, r.Size())
	r.encode(b)
	return b, nil
}

func (r *Record) validate() error {
	if r.PageSize < 512 || r.PageSize > maxPageSize || r.PageSize&(r.PageSize-1) != 0 {
		return fmt.Errorf("record %d: invalid page size %d", r.LSN, r.PageSize)
	}
	var last uint32
	for _, p := range r.Pages {
		if p.Pgno <= last || p.Pgno > r.DBSize {
			return fmt.Errorf("record %d: page %d out of order or beyond db size %d", r.LSN, p.Pgno, r.DBSize)
		}
		if p.Delta != nil {
			if err := checkDelta(p.Delta, int(r.PageSize)); err != nil {
				return fmt.Errorf("record %d: page %d: malformed delta", r.LSN, p.Pgno)
			}
		} else if len(p.Data) != int(r.PageSize) {
			return fmt.Errorf("record %d: page %d has %d bytes, want %d", r.LSN, p.Pgno, len(p.Data), r.PageSize)
		}
		last = p.Pgno
	}
	return nil
}

// encode writes the record into b, which must be r.Size() bytes, and sets
// r.Checksum. If chain is set, it also sets r.PosChecksum to
// ChainChecksum(prev, r.Checksum).
func (r *Record) encode(b []byte) { r.encodeChain(b, false, 0) }

func (r *Record) encodeChain(b []byte, chain bool, prev uint64) {
	copy(b, recordMagic)
	b[4] = recordVersion
	b[5], b[6], b[7] = 0, 0, 0
	binary.BigEndian.PutUint64(b[8:], uint64(r.LSN))
	binary.BigEndian.PutUint64(b[16:], uint64(r.Epoch))
	binary.BigEndian.PutUint64(b[24:], uint64(r.Time.UnixNano()))
	binary.BigEndian.PutUint32(b[32:], r.PageSize)
	binary.BigEndian.PutUint32(b[36:], r.DBSize)
	binary.BigEndian.PutUint32(b[40:], uint32(len(r.Pages)))
	off := recordHeaderSize
	for i := range r.Pages {
		p := &r.Pages[i]
		d := p.payload()
		binary.BigEndian.PutUint32(b[off:], p.Pgno)
		binary.BigEndian.PutUint32(b[off+4:], uint32(len(d)))
		copy(b[off+8:], d)
		off += 8 + len(d)
	}
	r.Checksum = xxhash.Sum64(b[:off])
	if chain {
		r.PosChecksum = ChainChecksum(prev, r.Checksum)
	}
	binary.BigEndian.PutUint64(b[off:], r.Checksum)
	binary.BigEndian.PutUint64(b[off+8:], r.PosChecksum)
	binary.BigEndian.PutUint64(b[off+16:], xxhash.Sum64(b[off:off+16]))
}

// ErrCorruptRecord is returned (wrapped) for a record that fails to decode.
var ErrCorruptRecord = sqlink.Errorf(sqlink.EINTERNAL, "the log or the stream is damaged; reseed the replica", "corrupt log record")

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptRecord, fmt.Sprintf(format, args...))
}

// UnmarshalBinary decodes a record and verifies its checksum. The pages
// alias b.
func (r *Record) UnmarshalBinary(b []byte) error {
	if len(b) < recordHeaderSize+recordTrailerSize {
		return corruptf("record too short (%d bytes)", len(b))
	}
	if string(b[:4]) != recordMagic {
		return corruptf("bad record magic")
	}
	if b[4] != recordVersion || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return corruptf("unsupported record version %d", b[4])
	}
	pageSize := binary.BigEndian.Uint32(b[32:])
	if pageSize < 512 || pageSize > maxPageSize || pageSize&(pageSize-1) != 0 {
		return corruptf("invalid page size %d", pageSize)
	}
	n := binary.BigEndian.Uint32(b[40:])
	if uint64(n)*8 > uint64(len(b)) {
		return corruptf("record claims %d pages in %d bytes", n, len(b))
	}
	end := len(b) - recordTrailerSize
	if xxhash.Sum64(b[end:end+16]) != binary.BigEndian.Uint64(b[end+16:]) {
		return corruptf("record trailer checksum mismatch")
	}
	sum := xxhash.Sum64(b[:end])
	if got := binary.BigEndian.Uint64(b[end:]); got != sum {
		return corruptf("record checksum mismatch")
	}
	rec := Record{
		LSN:         sqlink.LSN(binary.BigEndian.Uint64(b[8:])),
		Epoch:       sqlink.Epoch(binary.BigEndian.Uint64(b[16:])),
		Time:        time.Unix(0, int64(binary.BigEndian.Uint64(b[24:]))).UTC(),
		PageSize:    pageSize,
		DBSize:      binary.BigEndian.Uint32(b[36:]),
		PosChecksum: binary.BigEndian.Uint64(b[end+8:]),
		Checksum:    sum,
		Pages:       make([]Page, n),
	}
	off := recordHeaderSize
	for i := range rec.Pages {
		if end-off < 8 {
			return corruptf("record truncated at page %d", i)
		}
		pgno := binary.BigEndian.Uint32(b[off:])
		l := int(binary.BigEndian.Uint32(b[off+4:]))
		if l > int(pageSize) || l > end-off-8 {
			return corruptf("page %d: payload of %d bytes", pgno, l)
		}
		d := b[off+8 : off+8+l : off+8+l]
		if l == int(pageSize) {
			rec.Pages[i] = Page{Pgno: pgno, Data: d}
		} else {
			rec.Pages[i] = Page{Pgno: pgno, Delta: d}
		}
		off += 8 + l
	}
	if off != end {
		return corruptf("record length %d, pages end at %d", len(b), off+recordTrailerSize)
	}
	if err := rec.validate(); err != nil {
		return corruptf("%v", err)
	}
	rec.enc = b
	*r = rec
	return nil
}

// AppendBinary appends the record's encoding to b: the bytes it was
// decoded from when it came from UnmarshalBinary (a record read from the
// log is sent on as it is), else a fresh encoding.
func (r *Record) AppendBinary(b []byte) ([]byte, error) {
	if r.enc != nil {
		return append(b, r.enc...), nil
	}
	enc, err := r.MarshalBinary()
	if err != nil {
		return b, err
	}
	return append(b, enc...), nil
}

// sortPages sorts pages by page number.
func sortPages(p []Page) { sort.Slice(p, func(i, j int) bool { return p[i].Pgno < p[j].Pgno }) }
