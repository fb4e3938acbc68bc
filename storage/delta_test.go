package storage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestDelta_RoundTripsRandomChanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		size := 512 << rng.IntN(4)
		old := make([]byte, size)
		for j := range old {
			old[j] = byte(rng.IntN(4)) // few values: runs of equal bytes happen
		}
		cur := bytes.Clone(old)
		for range rng.IntN(20) {
			at, n := rng.IntN(size), 1+rng.IntN(40)
			for k := at; k < min(size, at+n); k++ {
				cur[k] = byte(rng.Uint32())
			}
		}
		d, ok := appendDelta(nil, old, cur)
		if !ok {
			continue // whole image
		}
		if len(d) >= size/2+8 {
			t.Fatalf("case %d: delta of %d bytes for a %d byte page was accepted", i, len(d), size)
		}
		if err := checkDelta(d, size); err != nil {
			t.Fatalf("case %d: checkDelta: %v", i, err)
		}
		out := make([]byte, size)
		if err := applyDelta(out, old, d); err != nil {
			t.Fatalf("case %d: applyDelta: %v", i, err)
		}
		if !bytes.Equal(out, cur) {
			t.Fatalf("case %d: applied delta differs from the new image", i)
		}
		in := bytes.Clone(old) // in place
		if err := applyDelta(in, in, d); err != nil || !bytes.Equal(in, cur) {
			t.Fatalf("case %d: in-place apply: %v", i, err)
		}
	}
}

func TestDelta_SmallChangeIsSmall(t *testing.T) {
	old := bytes.Repeat([]byte("sqlink page "), 4096/12+1)[:4096]
	cur := bytes.Clone(old)
	copy(cur[1000:], "balance=-4711")
	d, ok := appendDelta(nil, old, cur)
	if !ok || len(d) > 8+4+16 {
		t.Fatalf("delta of a 13-byte change: ok=%v, %d bytes", ok, len(d))
	}
	if _, ok := appendDelta(nil, old, old); !ok {
		t.Fatal("an unchanged page must encode as an empty delta")
	}
}

func TestDelta_WrongBaseIsAnError(t *testing.T) {
	old := make([]byte, 4096)
	cur := bytes.Clone(old)
	cur[10] = 1
	d, _ := appendDelta(nil, old, cur)
	other := bytes.Clone(old)
	other[4000] = 9 // a base that differs outside the changed range
	if err := applyDelta(make([]byte, 4096), other, d); !errors.Is(err, errBadDelta) {
		t.Fatalf("applying to a wrong base = %v, want errBadDelta", err)
	}
}

func TestPageCache_EncodesKnownPagesOnly(t *testing.T) {
	c := newPageCache(1<<20, 512)
	img := func(b byte) []byte { return bytes.Repeat([]byte{b}, 512) }
	r1 := &Record{PageSize: 512, DBSize: 3, Pages: []Page{{Pgno: 1, Data: img(1)}, {Pgno: 2, Data: img(2)}, {Pgno: 3, Data: img(3)}}}
	c.encode(r1)
	for _, p := range r1.Pages {
		if p.Delta != nil {
			t.Fatalf("page %d of the first record is a delta", p.Pgno)
		}
	}
	p2 := img(2)
	p2[7] = 9
	r2 := &Record{PageSize: 512, DBSize: 2, Pages: []Page{{Pgno: 1, Data: img(4)}, {Pgno: 2, Data: p2}}}
	c.encode(r2)
	if r2.Pages[0].Delta != nil || r2.Pages[1].Delta == nil {
		t.Fatalf("page 1 must stay whole and page 2 be a delta: %+v", r2.Pages)
	}
	// Page 3 was cut off by the shrink: when it comes back it is whole.
	r3 := &Record{PageSize: 512, DBSize: 3, Pages: []Page{{Pgno: 3, Data: img(3)}}}
	c.encode(r3)
	if r3.Pages[0].Delta != nil {
		t.Fatal("a page that came back after a shrink was encoded as a delta")
	}
}

func FuzzApplyDelta(f *testing.F) {
	old := make([]byte, 512)
	cur := bytes.Clone(old)
	cur[3], cur[300] = 1, 2
	d, _ := appendDelta(nil, old, cur)
	f.Add(d)
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 40))
	f.Fuzz(func(t *testing.T, d []byte) {
		out := make([]byte, 512)
		_ = applyDelta(out, old, d) // must not panic
	})
}
