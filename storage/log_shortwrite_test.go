package storage

import (
	"bytes"
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/testutil"
)

// A record that does not fit (a full disk, here a file size limit) may be
// written in part. The log must not keep that part: the next append, once
// there is room, follows the last whole record, and every record appended
// is read back, in the running log and after a reopen.
func TestLog_AppendAfterAShortWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	l, err := openLog(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(lsn sqlink.LSN) *Record {
		return &Record{LSN: lsn, Epoch: 1, Time: time.Unix(int64(lsn), 0).UTC(), PageSize: 4096, DBSize: 1,
			Pages: []Page{{Pgno: 1, Data: bytes.Repeat([]byte{byte(lsn)}, 4096)}}}
	}
	for lsn := sqlink.LSN(1); lsn <= 3; lsn++ {
		if err := l.append(rec(lsn), walPos{}, true); err != nil {
			t.Fatal(err)
		}
	}
	size := l.segs[0].size
	// Room for half of record 4.
	restore := testutil.LimitFileSize(t, size+2000)
	err = l.append(rec(4), walPos{}, true)
	restore()
	if !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("append past the limit: %v, want EFBIG", err)
	}
	if got := l.lastPos().LSN; got != 3 {
		t.Fatalf("after the failed append the log ends at %d, want 3", got)
	}
	for lsn := sqlink.LSN(4); lsn <= 5; lsn++ {
		if err := l.append(rec(lsn), walPos{}, true); err != nil {
			t.Fatalf("append %d once there is room: %v", lsn, err)
		}
	}
	if err := l.sync(); err != nil {
		t.Fatal(err)
	}
	check := func(l *segLog, when string) {
		t.Helper()
		var lsns []sqlink.LSN
		if _, err := scanSegment(l.segs[0].path, func(_ int64, _ walPos, r *Record) error {
			if !bytes.Equal(r.Pages[0].Data, rec(r.LSN).Pages[0].Data) {
				t.Errorf("%s: record %d holds another record's page", when, r.LSN)
			}
			lsns = append(lsns, r.LSN)
			return nil
		}); err != nil {
			t.Fatalf("%s: scan: %v", when, err)
		}
		if len(lsns) != 5 || lsns[0] != 1 || lsns[4] != 5 {
			t.Fatalf("%s: the segment holds records %v, want 1..5", when, lsns)
		}
		if got := l.lastPos().LSN; got != 5 {
			t.Fatalf("%s: the log ends at %d, want 5", when, got)
		}
	}
	check(l, "running")
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	l, err = openLog(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	check(l, "reopened")
}
