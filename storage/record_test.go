package storage_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sqlink/sqlink/storage"
)

func TestRecord_RoundTrip(t *testing.T) {
	r := &storage.Record{LSN: 7, Epoch: 2, Time: time.Unix(0, 12345).UTC(), PageSize: 512, DBSize: 3, PosChecksum: 99,
		Pages: []storage.Page{{Pgno: 1, Data: bytes.Repeat([]byte{1}, 512)}, {Pgno: 3, Data: bytes.Repeat([]byte{3}, 512)}}}
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got storage.Record
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got.LSN != 7 || got.Epoch != 2 || !got.Time.Equal(r.Time) || got.DBSize != 3 || got.PosChecksum != 99 || got.Checksum != r.Checksum || len(got.Pages) != 2 || !bytes.Equal(got.Pages[1].Data, r.Pages[1].Data) {
		t.Fatalf("round trip = %+v", got)
	}
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x40
		if err := new(storage.Record).UnmarshalBinary(c); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	r := &storage.Record{LSN: 1, Epoch: 1, PageSize: 512, DBSize: 1, Pages: []storage.Page{{Pgno: 1, Data: make([]byte, 512)}}}
	b, _ := r.MarshalBinary()
	f.Add(b)
	f.Add([]byte("SQLR"))
	f.Add([]byte{})
	d := &storage.Record{LSN: 2, Epoch: 1, PageSize: 512, DBSize: 2, Pages: []storage.Page{{Pgno: 2, Delta: deltaSeed(512)}}}
	if b, err := d.MarshalBinary(); err == nil {
		f.Add(b)
	} else {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r storage.Record
		if err := r.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatal("re-encoding differs")
		}
	})
}

// deltaSeed returns a valid delta for a page of size bytes: one changed byte.
func deltaSeed(size int) []byte {
	old := make([]byte, size)
	cur := bytes.Clone(old)
	cur[5] = 1
	return storage.AppendDelta(old, cur)
}
