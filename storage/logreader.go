package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sqlink/sqlink"
)

// LogReader streams a database's log records in LSN order. It is not safe
// for concurrent use; a DB may have many LogReaders.
type LogReader struct {
	db       *DB
	next     sqlink.LSN // LSN of the next record to return
	f        *os.File
	off      int64
	segFirst sqlink.LSN

	// buf holds the segment's bytes from bufOff, read ahead: a reader
	// following the log's end takes several records per read.
	buf    []byte
	bufOff int64
}

// ReadLog returns a reader of the records with LSN > from. It fails with
// ECONFLICT when the log no longer reaches back to from+1 (pruned) or when
// from is beyond the database's position.
func (db *DB) ReadLog(ctx context.Context, from sqlink.LSN) (*LogReader, error) {
	if pos := db.Pos(); from > pos.LSN {
		return nil, sqlink.Errorf(sqlink.ECONFLICT, "the replica is ahead of this database: compare histories and reseed",
			"log position %d is beyond the end of the log (%d)", from, pos.LSN)
	}
	if _, err := db.log.segmentsFrom(from); err != nil {
		return nil, err
	}
	return &LogReader{db: db, next: from + 1}, nil
}

// Close releases the reader's file.
func (r *LogReader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	r.buf = r.buf[:0]
	return err
}

// Next returns the next record, waiting for it to be captured if needed.
func (r *LogReader) Next(ctx context.Context) (*Record, error) {
	if err := r.db.WaitLSN(ctx, r.next); err != nil {
		return nil, err
	}
	return r.read()
}

// TryNext returns the next record, or io.EOF when the reader has reached
// the end of the log.
func (r *LogReader) TryNext() (*Record, error) {
	if r.db.Pos().LSN < r.next {
		return nil, io.EOF
	}
	return r.read()
}

// read returns record r.next, which is known to be in the log.
func (r *LogReader) read() (*Record, error) {
	for attempt := 0; attempt < 3; attempt++ {
		if r.f == nil {
			if err := r.openSegment(); err != nil {
				return nil, err
			}
		}
		for {
			var rec *Record
			var n int64
			var err error
			if r.next < r.db.Pos().LSN {
				// Behind the log's end: read ahead, several records a read.
				rec, n, err = r.entryAt(r.off)
			} else {
				// The last record: read just it (a read ahead would find
				// nothing more, and costs more than two exact reads).
				_, rec, n, err = readEntryAt(r.f, r.off)
			}
			if errors.Is(err, io.EOF) {
				// End of this segment: the record is in a later one.
				r.Close()
				break
			}
			if err != nil {
				return nil, fmt.Errorf("read log record %d: %w", r.next, err)
			}
			r.off += n
			if rec.LSN < r.next {
				continue
			}
			if rec.LSN != r.next {
				return nil, fmt.Errorf("read log: %w", corruptf("found LSN %d where %d was expected", rec.LSN, r.next))
			}
			r.next++
			return rec, nil
		}
	}
	return nil, fmt.Errorf("read log: record %d not found", r.next)
}

func (r *LogReader) openSegment() error {
	segs, err := r.db.log.segmentsFrom(r.next - 1)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return fmt.Errorf("read log: no segment holds record %d", r.next)
	}
	s := segs[0]
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return sqlink.Errorf(sqlink.ECONFLICT, "reseed the replica", "log no longer reaches back to LSN %d", r.next)
	}
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	r.f, r.off, r.segFirst = f, int64(len(segMagic)), s.first
	return nil
}

// readAhead is how much of a segment a LogReader reads at a time.
const readAhead = 64 << 10

// entryAt returns the log entry at off and its size, from the read-ahead
// buffer when it holds the entry whole and sound. Bytes read ahead may be
// of an entry still being appended, or the zeros written ahead of it
// (preallocBytes): incomplete, never a sound entry that is not the one
// there now. An entry that does not check out in the buffer is read again
// from the file.
func (r *LogReader) entryAt(off int64) (*Record, int64, error) {
	if rec, n, whole, err := r.buffered(off); whole && err == nil {
		return rec, n, nil
	}
	if cap(r.buf) < readAhead {
		r.buf = make([]byte, readAhead)
	}
	r.buf = r.buf[:cap(r.buf)]
	m, err := r.f.ReadAt(r.buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		r.buf = r.buf[:0]
		return nil, 0, err
	}
	r.buf, r.bufOff = r.buf[:m], off
	if rec, n, whole, err := r.buffered(off); whole {
		return rec, n, err
	}
	_, rec, n, err := readEntryAt(r.f, off)
	return rec, n, err
}

// buffered decodes the entry at off from the read-ahead buffer; whole says
// whether the buffer holds all of it.
func (r *LogReader) buffered(off int64) (rec *Record, size int64, whole bool, err error) {
	i := off - r.bufOff
	if i < 0 || i+4 > int64(len(r.buf)) {
		return nil, 0, false, nil
	}
	b := r.buf[i:]
	n := binary.BigEndian.Uint32(b)
	if n == 0 {
		return nil, 0, false, nil // zeros: readEntryAt decides
	}
	if err := checkEntryLen(n); err != nil {
		return nil, 0, true, err
	}
	size = 4 + int64(n) + 4
	if size > int64(len(b)) {
		return nil, 0, false, nil
	}
	if _, rec, err = decodeEntry(bytes.Clone(b[4:size])); err != nil {
		return nil, 0, true, err
	}
	return rec, size, true, nil
}

// readEntryAt reads the log entry at off and returns its size. It returns
// io.EOF at the end of the segment's complete entries.
func readEntryAt(f *os.File, off int64) (walPos, *Record, int64, error) {
	var hdr [4]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		if errors.Is(err, io.EOF) {
			return walPos{}, nil, 0, io.EOF
		}
		return walPos{}, nil, 0, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		// The zeros written ahead of the active segment's entries.
		return walPos{}, nil, 0, io.EOF
	}
	if err := checkEntryLen(n); err != nil {
		return walPos{}, nil, 0, err
	}
	body, err := readBody(io.NewSectionReader(f, off+4, int64(n)+4), int64(n)+4)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return walPos{}, nil, 0, io.EOF
		}
		return walPos{}, nil, 0, err
	}
	wp, rec, err := decodeEntry(body)
	if err != nil {
		return walPos{}, nil, 0, err
	}
	return wp, rec, 4 + int64(n) + 4, nil
}
