package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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
	whole = whole[:l.segs[0].size] // not the zeros written ahead
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

// FuzzLogReaderEntries feeds arbitrary segment bytes to a LogReader's
// buffered and exact entry readers: each entry is a record or an error,
// never a panic, and both readers agree.
func FuzzLogReaderEntries(f *testing.F) {
	dir := f.TempDir()
	l, err := openLog(filepath.Join(dir, "log"), 1<<20)
	if err != nil {
		f.Fatal(err)
	}
	for lsn := sqlink.LSN(1); lsn <= 3; lsn++ {
		rec := &Record{LSN: lsn, Epoch: 1, Time: time.Unix(0, 0).UTC(), PageSize: 512, DBSize: 1,
			Pages: []Page{{Pgno: 1, Data: bytes.Repeat([]byte{byte(lsn)}, 512)}}}
		if err := l.append(rec, walPos{}, true); err != nil {
			f.Fatal(err)
		}
	}
	l.sync()
	seg, _ := os.ReadFile(l.segs[0].path)
	seg = seg[:l.segs[0].size]
	l.close()
	f.Add(seg)
	f.Add(seg[:len(seg)-7])
	f.Add([]byte(segMagic + "\x00\x00\x00\x40garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "seg")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fb, _ := os.Open(path)
		fe, _ := os.Open(path)
		defer fb.Close()
		defer fe.Close()
		r := &LogReader{f: fb}
		for off := int64(len(segMagic)); off < int64(len(b)); {
			rec, n, err := r.entryAt(off)
			_, rec2, n2, err2 := readEntryAt(fe, off)
			if (err == nil) != (err2 == nil) || n != n2 || (rec == nil) != (rec2 == nil) {
				t.Fatalf("at %d: buffered %v, %d, %v; exact %v, %d, %v", off, rec, n, err, rec2, n2, err2)
			}
			if err != nil {
				return
			}
			if n <= 0 {
				t.Fatalf("entry of size %d at %d", n, off)
			}
			off += n
		}
	})
}

// A corrupt length field claiming a huge entry costs what the file holds,
// not what the field says.
func TestLog_CorruptLengthDoesNotAllocateIt(t *testing.T) {
	seg := []byte(segMagic + "\x60\x00\x00\x00" + strings.Repeat("x", 100))
	path := filepath.Join(t.TempDir(), "seg")
	if err := os.WriteFile(path, seg, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if n, err := scanEntries(bytes.NewReader(seg), func(int64, walPos, *Record) error { return nil }); err != nil || n != int64(len(segMagic)) {
		t.Fatalf("scan = %d, %v", n, err)
	}
	if _, _, _, err := readEntryAt(f, int64(len(segMagic))); !errors.Is(err, io.EOF) {
		t.Fatalf("read = %v, want EOF (a torn entry)", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("reading a 1.5 GiB length field allocated %d MiB", grew>>20)
	}
}

// The encoding buffer of a bulk load's record is not kept after it: a log
// holds on to at most maxKeptWriteBuf between appends.
func TestLog_DoesNotKeepABulkLoadsBuffer(t *testing.T) {
	l, err := openLog(filepath.Join(t.TempDir(), "log"), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	for lsn, pages := range []int{1, 1024, 1} { // 4 KiB, 4 MiB, 4 KiB
		rec := &Record{LSN: sqlink.LSN(lsn + 1), Epoch: 1, Time: time.Unix(0, 0).UTC(), PageSize: 4096, DBSize: uint32(pages)}
		for p := 1; p <= pages; p++ {
			rec.Pages = append(rec.Pages, Page{Pgno: uint32(p), Data: bytes.Repeat([]byte{byte(p)}, 4096)})
		}
		if err := l.append(rec, walPos{}, true); err != nil {
			t.Fatal(err)
		}
		if c := cap(l.wbuf); c > maxKeptWriteBuf {
			t.Fatalf("after a record of %d pages the log keeps a %d-byte buffer", pages, c)
		}
	}
}
