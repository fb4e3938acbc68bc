package storage

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
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

// A reader's read-ahead may catch an entry half appended; when that entry
// is asked for (it has been appended whole since), it is read again.
func TestLogReader_ReadAheadOfAnEntryBeingAppended(t *testing.T) {
	dir := t.TempDir()
	l, err := openLog(filepath.Join(dir, "log"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	for lsn := sqlink.LSN(1); lsn <= 2; lsn++ {
		page := bytes.Repeat([]byte{byte(lsn)}, 4096)
		rec := &Record{LSN: lsn, Epoch: 1, Time: time.Unix(0, 0).UTC(), PageSize: 4096, DBSize: 1, Pages: []Page{{Pgno: 1, Data: page}}}
		if err := l.append(rec, walPos{}, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.sync(); err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(l.segs[0].path)
	if err != nil {
		t.Fatal(err)
	}
	first := int64(len(segMagic)) + 4 + int64(binary.BigEndian.Uint32(whole[len(segMagic):])) + 4

	path := filepath.Join(dir, "growing")
	cut := first + (int64(len(whole))-first)/2 // half of the second entry
	if err := os.WriteFile(path, whole[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &LogReader{f: f}
	defer r.Close()
	rec, n, err := r.entryAt(int64(len(segMagic)))
	if err != nil || rec.LSN != 1 || int64(len(segMagic))+n != first {
		t.Fatalf("first entry = %v, %d, %v", rec, n, err)
	}
	if int64(len(r.buf)) != cut-int64(len(segMagic)) {
		t.Fatalf("read ahead %d bytes, want the %d in the file", len(r.buf), cut-int64(len(segMagic)))
	}
	// The rest of the second entry lands.
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(whole[cut:]); err != nil {
		t.Fatal(err)
	}
	w.Close()
	rec, _, err = r.entryAt(first)
	if err != nil || rec.LSN != 2 || rec.Pages[0].Data[0] != 2 {
		t.Fatalf("second entry = %v, %v", rec, err)
	}
}
