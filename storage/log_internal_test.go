package storage

import (
	"bytes"
	"testing"
)

func FuzzSegmentReader(f *testing.F) {
	var seg bytes.Buffer
	seg.WriteString(segMagic)
	f.Add(seg.Bytes())
	f.Add([]byte("SQLKSEG1\x00\x00\x00\x40garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var last *Record
		n, err := scanEntries(bytes.NewReader(b), func(_ int64, _ walPos, rec *Record) error {
			last = rec
			return nil
		})
		if err != nil || n > int64(len(b)) {
			t.Fatalf("scan = %d, %v", n, err)
		}
		_ = last
	})
}
