package storage

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
)

func preallocRec(lsn sqlink.LSN, size int) *Record {
	return &Record{LSN: lsn, Epoch: 1, Time: time.Unix(int64(lsn), 0).UTC(), PageSize: 4096, DBSize: 1,
		Pages: []Page{{Pgno: 1, Data: bytes.Repeat([]byte{byte(lsn), byte(size)}, 2048)}}}
}

// logLSNs returns the LSNs of every record in the log's segments, read as
// a restart reads them, and fails unless each segment's entries are whole.
func logLSNs(t *testing.T, l *segLog) []sqlink.LSN {
	t.Helper()
	var lsns []sqlink.LSN
	for _, s := range l.segs {
		if _, err := scanSegment(s.path, func(_ int64, _ walPos, r *Record) error {
			lsns = append(lsns, r.LSN)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return lsns
}

// openLogWith opens a new log in dir with records 1..n appended and
// synced.
func openLogWith(t *testing.T, dir string, segBytes int64, n sqlink.LSN) *segLog {
	t.Helper()
	l, err := openLog(dir, segBytes)
	if err != nil {
		t.Fatal(err)
	}
	for lsn := sqlink.LSN(1); lsn <= n; lsn++ {
		if err := l.append(preallocRec(lsn, 0), walPos{}, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.sync(); err != nil {
		t.Fatal(err)
	}
	return l
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// The active segment's file reaches past its entries by zeros written
// ahead, so that the fsync after an append does not change its size. The
// zeros end the segment for every reader; a closed segment and a reopened
// log keep whole entries only.
func TestLog_ZerosWrittenAheadEndTheSegment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	l := openLogWith(t, dir, 64<<10, 5) // a segment closes at 64 KiB
	active := l.segs[0]
	if got := fileSize(t, active.path); got <= active.size || got < preallocBytes {
		t.Fatalf("active segment's file is %d bytes for %d of entries: no zeros written ahead", got, active.size)
	}
	b, err := os.ReadFile(active.path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsFunc(b[active.size:], func(r rune) bool { return r != 0 }) {
		t.Fatal("the bytes past the last entry are not all zeros")
	}
	f, err := os.Open(active.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, _, err := readEntryAt(f, active.size); !errors.Is(err, io.EOF) {
		t.Fatalf("reading at the end of the entries: %v, want io.EOF", err)
	}
	r := &LogReader{f: f}
	if rec, _, err := r.entryAt(active.size); !errors.Is(err, io.EOF) {
		t.Fatalf("read-ahead at the end of the entries: %v, %v; want io.EOF", rec, err)
	}
	if got := logLSNs(t, l); len(got) != 5 {
		t.Fatalf("log holds %v, want 1..5", got)
	}

	// Fill the first segment: it closes with its entries only.
	lsn := sqlink.LSN(6)
	for ; len(l.segs) == 1; lsn++ {
		if err := l.append(preallocRec(lsn, 0), walPos{}, true); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := fileSize(t, l.segs[0].path), l.segs[0].size; got != want {
		t.Fatalf("closed segment's file is %d bytes, its entries %d", got, want)
	}
	if err := l.sync(); err != nil {
		t.Fatal(err)
	}
	last := lsn - 1

	// A crash (the log is not closed): the reopened log ends at the last
	// record, its file cut to it, and appends carry on after it.
	l2, err := openLog(dir, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.close()
	if got := l2.lastPos().LSN; got != last {
		t.Fatalf("reopened log ends at %d, want %d", got, last)
	}
	tail := l2.segs[len(l2.segs)-1]
	if got := fileSize(t, tail.path); got != tail.size {
		t.Fatalf("reopened active segment is %d bytes, its entries %d", got, tail.size)
	}
	if err := l2.append(preallocRec(last+1, 0), walPos{}, true); err != nil {
		t.Fatal(err)
	}
	if err := l2.sync(); err != nil {
		t.Fatal(err)
	}
	got := logLSNs(t, l2)
	if len(got) != int(last+1) || got[0] != 1 || got[len(got)-1] != last+1 {
		t.Fatalf("log holds %v, want 1..%d", got, last+1)
	}
	l.close()
}

// A crash may leave, in the zeros written ahead, a torn entry followed by
// a whole one that was never synced. A reopen cuts both off, so that the
// whole one cannot pass for a later record once the log has written over
// the torn one.
func TestLog_ReopenCutsWhatFollowsATornEntry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	l := openLogWith(t, dir, 16<<20, 3)
	seg := l.segs[0]
	end := seg.size
	// Records 4 and 5 as the crashed process wrote them, 4 torn.
	for lsn := sqlink.LSN(4); lsn <= 5; lsn++ {
		if err := l.append(preallocRec(lsn, 1), walPos{}, true); err != nil {
			t.Fatal(err)
		}
	}
	l.close()
	b, err := os.ReadFile(seg.path)
	if err != nil {
		t.Fatal(err)
	}
	fourth := b[end : end+(seg.size-end)/2]
	copy(b[end+int64(len(fourth))/2:end+int64(len(fourth))], make([]byte, len(fourth)/2)) // 4's second half never landed
	if err := os.WriteFile(seg.path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	l, err = openLog(dir, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.lastPos().LSN; got != 3 {
		t.Fatalf("reopened log ends at %d, want 3", got)
	}
	if got := fileSize(t, seg.path); got != end {
		t.Fatalf("reopened segment is %d bytes, want %d (everything after record 3 cut)", got, end)
	}
	// Record 4 again, the same size as the torn one, then a crash before
	// 5: record 5's old entry must not come back.
	if err := l.append(preallocRec(4, 1), walPos{}, true); err != nil {
		t.Fatal(err)
	}
	if err := l.sync(); err != nil {
		t.Fatal(err)
	}
	l2, err := openLog(dir, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.close()
	if got := logLSNs(t, l2); len(got) != 4 || got[3] != 4 {
		t.Fatalf("log holds %v, want 1..4", got)
	}
	l.close()
}
