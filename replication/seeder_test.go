package replication

import (
	"context"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/transport"
)

// The seed sender sends a snapshot's pages in chunks from the page asked
// for; the seed receiver's buffer takes them in order, and its pages are
// the snapshot's.
func TestSeeder_SendAndReceive(t *testing.T) {
	const ps = 4096
	per := seedChunkBytes / ps
	snap := &fakeSnapshot{ps: ps, pages: int64(2*per + 5)}
	pos := sqlink.Pos{LSN: 42, Checksum: 9}
	for _, from := range []uint32{1, 3, uint32(per + 1)} {
		w := &fakeWire{}
		sd := newSeedSender(snap, w, 2, pos, ps, snap.pages, from)
		buf := seedBuffer{pos: pos, ps: ps, next: int64(from)}
		var sent int
		for {
			n, err := sd.step(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			sent += n
		}
		if want := int(snap.pages-int64(from)+1) * ps; sent != want || len(w.frames) != w.flushes {
			t.Fatalf("from page %d: sent %d bytes in %d frames (%d flushes), want %d", from, sent, len(w.frames), w.flushes, want)
		}
		for _, f := range w.frames {
			m := f.(*transport.SeedChunk)
			if m.Epoch != 2 || m.LSN != 42 || m.TotalSize != uint64(snap.pages*ps) || len(m.Data) > seedChunkBytes {
				t.Fatalf("chunk %+v", m)
			}
			if err := buf.take(m); err != nil {
				t.Fatal(err)
			}
		}
		pages := buf.takePending()
		if len(pages) != int(snap.pages)-int(from)+1 || buf.pendingB != 0 || buf.next != snap.pages+1 {
			t.Fatalf("from page %d: %d pages buffered, next %d", from, len(pages), buf.next)
		}
		for i, p := range pages {
			if want := uint32(int(from) + i); p.Pgno != want || p.Data[0] != byte(want) || len(p.Data) != ps {
				t.Fatalf("page %d: %d (%d bytes, first %d)", i, p.Pgno, len(p.Data), p.Data[0])
			}
		}
	}
}

// The seed receiver refuses a chunk that is not the next one of its
// snapshot; a rewind's takes any page-aligned chunk of it.
func TestSeedBuffer_TakesOnlyTheNextChunk(t *testing.T) {
	const ps = 1024
	pos := sqlink.Pos{LSN: 7}
	chunk := func(lsn sqlink.LSN, page, pages int) *transport.SeedChunk {
		return &transport.SeedChunk{LSN: lsn, Offset: uint64((page - 1) * ps), Data: make([]byte, pages*ps)}
	}
	b := seedBuffer{pos: pos, ps: ps, next: 1}
	if err := b.take(chunk(7, 1, 2)); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*transport.SeedChunk{
		"a gap":                  chunk(7, 4, 1),
		"a repeat":               chunk(7, 1, 1),
		"another snapshot":       chunk(8, 3, 1),
		"a part of a page":       {LSN: 7, Offset: 2 * ps, Data: make([]byte, ps/2)},
		"before the seed's plan": nil,
	} {
		bb := b
		if m == nil {
			bb, m = seedBuffer{}, chunk(7, 3, 1)
		}
		if err := bb.take(m); sqlink.ErrorCode(err) != sqlink.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := b.take(chunk(7, 3, 1)); err != nil || b.next != 4 || b.pendingB != 3*ps {
		t.Fatalf("the next chunk: %v, next %d, %d bytes", err, b.next, b.pendingB)
	}
	b.drop(2) // a write failed after page 1
	if err := b.take(chunk(7, 2, 1)); err != nil || len(b.pending) != 1 || b.pending[0].Pgno != 2 {
		t.Fatalf("after a failed write, from page 2: %v", err)
	}
	rw := seedBuffer{pos: pos, ps: ps, next: 1, sparse: true}
	for _, pg := range []int{9, 2, 5} {
		if err := rw.take(chunk(7, pg, 1)); err != nil {
			t.Fatalf("rewind page %d: %v", pg, err)
		}
	}
	if err := rw.take(&transport.SeedChunk{LSN: 7, Offset: ps / 2, Data: make([]byte, ps)}); err == nil {
		t.Fatal("a rewind chunk off a page boundary was taken")
	}
	if got := rw.takePending(); len(got) != 3 || got[0].Pgno != 9 || got[1].Pgno != 2 || got[2].Pgno != 5 {
		t.Fatalf("rewind pages %v", got)
	}
}
