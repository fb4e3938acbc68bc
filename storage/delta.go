package storage

import (
	"encoding/binary"
	"errors"

	"github.com/cespare/xxhash/v2"
)

// Page deltas. A TPC-B style update changes a few dozen bytes of each 4 KiB
// page it touches, so shipping and hardening whole images cost 28 times
// PostgreSQL's WAL bytes per transaction. The capture path keeps the last
// image of recently written pages (pageCache) and encodes a page whose
// previous image it knows as a delta: the byte ranges that changed. A
// delta applies to the page's image as of the record's LSN-1, which every
// consumer of the log has at hand (a secondary's database, redone up to
// there, or earlier pages of the same apply batch).
//
// Delta encoding:
//
//	XXH64 of the page image after the change, u64 big endian
//	runs: uvarint skip | uvarint len | len bytes
//
// skip counts unchanged bytes from the end of the previous run (from the
// page start for the first). Applying checks that every run lies inside
// the page and that the result has the recorded checksum, so a delta
// applied to the wrong base image is an error, never a silently wrong page.
// A delta is always shorter than a page; an encoding as long as a page is
// a full image.

const deltaHeaderSize = 8

// deltaGap is the number of unchanged bytes worth starting a new run for:
// shorter gaps are shipped inside the run (a run costs two uvarints).
const deltaGap = 8

// afterSum returns the XXH64 of the page's image after its record: recorded
// in a delta, computed for a whole image.
func (p *Page) afterSum() uint64 {
	if p.Delta != nil {
		return binary.BigEndian.Uint64(p.Delta)
	}
	return xxhash.Sum64(p.Data)
}

// errBadDelta reports a delta that does not apply to its base.
var errBadDelta = errors.New("page delta does not apply to the page's previous image")

// appendDelta appends the delta from old to cur (equal lengths) to b. It
// returns ok=false when the delta would not be worth it (half a page or
// more): the caller then ships the whole image.
func appendDelta(b, old, cur []byte) ([]byte, bool) {
	start := len(b)
	limit := start + len(cur)/2
	b = binary.BigEndian.AppendUint64(b, xxhash.Sum64(cur))
	last := 0 // end of the previous run
	i, n := 0, len(cur)
	for i < n {
		// Skip equal bytes, 8 at a time where possible.
		for i+8 <= n && binary.LittleEndian.Uint64(old[i:]) == binary.LittleEndian.Uint64(cur[i:]) {
			i += 8
		}
		for i < n && old[i] == cur[i] {
			i++
		}
		if i >= n {
			break
		}
		// A run: extend while differences are closer than deltaGap.
		j, same := i, 0
		for j < n && same < deltaGap {
			if old[j] == cur[j] {
				same++
			} else {
				same = 0
			}
			j++
		}
		end := j - same
		b = binary.AppendUvarint(b, uint64(i-last))
		b = binary.AppendUvarint(b, uint64(end-i))
		b = append(b, cur[i:end]...)
		if len(b) >= limit {
			return b[:start], false
		}
		last, i = end, end
	}
	return b, true
}

// checkDelta validates a delta's structure for a page of pageSize bytes.
func checkDelta(d []byte, pageSize int) error {
	if len(d) < deltaHeaderSize || len(d) >= pageSize {
		return errBadDelta
	}
	d = d[deltaHeaderSize:]
	pos := 0
	for len(d) > 0 {
		skip, n1 := binary.Uvarint(d)
		if n1 <= 0 {
			return errBadDelta
		}
		l, n2 := binary.Uvarint(d[n1:])
		if n2 <= 0 || l == 0 {
			return errBadDelta
		}
		d = d[n1+n2:]
		if skip > uint64(pageSize-pos) || l > uint64(pageSize-pos)-skip || l > uint64(len(d)) {
			return errBadDelta
		}
		pos += int(skip + l)
		d = d[l:]
	}
	return nil
}

// applyDelta writes base with delta d applied into out (len(base) bytes;
// out may be base) and checks the result against the recorded checksum.
// d must have passed checkDelta for this page size.
func applyDelta(out, base, d []byte) error {
	if len(base) != len(out) || checkDelta(d, len(base)) != nil {
		return errBadDelta
	}
	sum := binary.BigEndian.Uint64(d)
	if &out[0] != &base[0] {
		copy(out, base)
	}
	d = d[deltaHeaderSize:]
	pos := 0
	for len(d) > 0 {
		skip, n1 := binary.Uvarint(d)
		l, n2 := binary.Uvarint(d[n1:])
		d = d[n1+n2:]
		pos += int(skip)
		copy(out[pos:], d[:l])
		pos += int(l)
		d = d[l:]
	}
	if xxhash.Sum64(out) != sum {
		return errBadDelta
	}
	return nil
}

// pageCache holds the last image of recently written pages: on the capture
// path, to encode deltas; in the applier, as the bases of the deltas it
// applies. It is used under the DB's capture mutex only. Eviction is
// arbitrary (map order): a miss only costs a whole image, or a page read.
type pageCache struct {
	max      int // pages; 0: no deltas
	pageSize uint32
	size     uint32
	pages    map[uint32][]byte
	// recycle, if set, is given each image the cache lets go of (replaced
	// or evicted): the capture's cache owns its images alone.
	recycle func([]byte)
}

func newPageCache(maxBytes int64, pageSize uint32) *pageCache {
	n := 0
	if pageSize > 0 && maxBytes > 0 {
		n = int(maxBytes / int64(pageSize))
	}
	return &pageCache{max: n, pageSize: pageSize, pages: make(map[uint32][]byte)}
}

// reset forgets every image: the database changed other than through
// capture (apply, restore, a role change).
func (c *pageCache) reset() { clear(c.pages); c.size = 0 }

// encode sets the Delta of each page of rec whose previous image is known
// and updates the cache with rec's images (which it keeps, not copies).
func (c *pageCache) encode(rec *Record) {
	if c.max == 0 {
		return
	}
	for i := range rec.Pages {
		p := &rec.Pages[i]
		// Page 1 is always whole: SQLite rewrites its change counter when
		// a secondary's applier commits it, so the secondary's image of it
		// differs from the primary's in those bytes.
		if old, ok := c.pages[p.Pgno]; ok && p.Pgno != 1 && len(old) == len(p.Data) {
			if d, ok := appendDelta(nil, old, p.Data); ok {
				p.Delta = d
			}
		}
		c.put(p.Pgno, p.Data)
	}
	c.cut(rec.DBSize)
}

// get returns the cached image of page pgno, if any.
func (c *pageCache) get(pgno uint32) ([]byte, bool) {
	img, ok := c.pages[pgno]
	if !ok || len(img) != int(c.pageSize) {
		return nil, false
	}
	return img, true
}

// put caches img (kept, not copied) as the image of page pgno, evicting an
// arbitrary page when the cache is full.
func (c *pageCache) put(pgno uint32, img []byte) {
	if c.max == 0 {
		return
	}
	old, ok := c.pages[pgno]
	switch {
	case ok && c.recycle != nil && len(old) > 0 && len(img) > 0 && &old[0] != &img[0]:
		c.recycle(old)
	case !ok && len(c.pages) >= c.max:
		for k, v := range c.pages {
			delete(c.pages, k)
			if c.recycle != nil {
				c.recycle(v)
			}
			break
		}
	}
	c.pages[pgno] = img
}

// cut records the database's new size: pages beyond it are gone, and a
// page that comes back is new.
func (c *pageCache) cut(size uint32) {
	if size < c.size {
		for k := range c.pages {
			if k > size {
				delete(c.pages, k)
			}
		}
	}
	c.size = size
}
