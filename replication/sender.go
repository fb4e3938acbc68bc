package replication

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/storage"
	"github.com/sqlink/sqlink/transport"
)

// recordSender streams log records from an LSN to the partner (primary).
//
// Owner: pc, epoch, cancel and done are set when it starts and read by
// the loop (which starts and stops it); w, held, buf and times belong to
// the sender's goroutine, or to a test that drives step.
type recordSender struct {
	pc     *peerConn
	epoch  sqlink.Epoch
	cancel context.CancelFunc
	done   chan struct{}

	w     frameWriter
	held  *storage.Record // read, not yet sent: it did not fit the last batch
	buf   []byte
	times []lsnTime
}

func (rt *Link) startSender(pc *peerConn, db *storage.DB, from sqlink.LSN, epoch sqlink.Epoch) {
	ctx, cancel := context.WithCancel(pc.ctx)
	s := &recordSender{pc: pc, epoch: epoch, cancel: cancel, done: make(chan struct{}), w: pc.c}
	rt.sender = s
	go func() {
		defer close(s.done)
		err := rt.sendRecords(ctx, s, db, from)
		if err == nil || ctx.Err() != nil {
			return
		}
		if corrupt := errors.Is(err, storage.ErrCorruptRecord); corrupt || sqlink.ErrorCode(err) == sqlink.ECONFLICT {
			rt.setError(fmt.Errorf("cannot stream from LSN %d: %w", from+1, err))
			// Not from this goroutine: the loop may be waiting for it.
			// (The log was pruned, or has a gap: changes made outside
			// sqlink, which only a new copy carries; or a record in it
			// is damaged on disk, which sending again cannot mend.)
			why := "the log the secondary needs cannot be sent: " + sqlink.ErrorMessage(err)
			if corrupt {
				why = "the log the secondary needs is damaged: " + err.Error()
			}
			go func() {
				select {
				case rt.events <- func() { rt.markReseed(why) }:
				case <-rt.ctx.Done():
				}
			}()
			return
		}
		rt.setError(fmt.Errorf("stream records: %w", err))
		pc.close()
	}()
}

func (rt *Link) stopSender() {
	if rt.sender == nil {
		return
	}
	rt.sender.cancel()
	<-rt.sender.done
	rt.sender = nil
}

// sendRecords streams the log from LSN from+1 until ctx ends or a send
// fails (the sender's goroutine).
func (rt *Link) sendRecords(ctx context.Context, s *recordSender, db *storage.DB, from sqlink.LSN) error {
	lr, err := db.ReadLog(ctx, from)
	if err != nil {
		return err
	}
	defer lr.Close()
	for {
		b, err := s.step(ctx, lr, true)
		if err != nil {
			return err
		}
		now := rt.s.cfg.Now()
		rt.mu.Lock()
		rt.lag.sent(b.last, b.bytes, b.times, now)
		rt.mu.Unlock()
	}
}

// recordLog is the log a sender reads (*storage.LogReader).
type recordLog interface {
	// Next returns the next record, waiting for it.
	Next(ctx context.Context) (*storage.Record, error)
	// TryNext returns the next record if it is at hand, else io.EOF.
	TryNext() (*storage.Record, error)
}

// frameWriter is the connection a sender writes to (*transport.Conn).
type frameWriter interface {
	WriteMessage(ctx context.Context, m transport.Message) error
	Flush(ctx context.Context) error
}

// sentBatch is what one step of a sender sent: up to the record at last,
// bytes of payload, with the records' commit times. Empty (last 0) when
// nothing was at hand. A value the sender goroutine hands to the lag
// tracker (under Link.mu).
type sentBatch struct {
	last  sqlink.LSN
	bytes int
	times []lsnTime
}

// step sends one Records frame (or one record too large for a frame, in
// parts): the next record, waiting for it if wait is set, and every
// record after it that the log has at hand, up to maxRecordsBatch bytes.
// The batch's times are valid until the next step.
func (s *recordSender) step(ctx context.Context, lr recordLog, wait bool) (sentBatch, error) {
	var err error
	rec := s.held
	if s.held = nil; rec == nil {
		if wait {
			rec, err = lr.Next(ctx)
		} else if rec, err = lr.TryNext(); errors.Is(err, io.EOF) {
			return sentBatch{}, nil
		}
		if err != nil {
			return sentBatch{}, err
		}
	}
	buf, times := s.buf[:0], s.times[:0]
	first := rec.LSN
	last := rec.LSN
	if buf, err = appendRecord(buf, rec); err != nil {
		return sentBatch{}, err
	}
	times = append(times, lsnTime{rec.LSN, rec.Time})
	for len(buf) < maxRecordsBatch {
		rec, err = lr.TryNext()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sentBatch{}, err
		}
		n := len(buf)
		if buf, err = appendRecord(buf, rec); err != nil {
			return sentBatch{}, err
		}
		if len(buf) > maxRecordsBatch {
			// A frame stays under maxRecordsBatch unless its one record
			// is larger: this one starts the next.
			buf, s.held = buf[:n], rec
			break
		}
		last = rec.LSN
		times = append(times, lsnTime{rec.LSN, rec.Time})
	}
	if len(buf) > maxRecordsBatch && s.partnerTakesParts() || len(buf) > maxRecordsFrame {
		// One record larger than a batch (a bulk load, an index build):
		// it goes in parts.
		if err := s.sendParts(ctx, first, buf); err != nil {
			return sentBatch{}, err
		}
	} else if err := s.w.WriteMessage(ctx, &transport.Records{Epoch: s.epoch, FirstLSN: first, LastLSN: last, Data: buf}); err != nil {
		return sentBatch{}, err
	}
	if err := s.w.Flush(ctx); err != nil {
		return sentBatch{}, err
	}
	b := sentBatch{last: last, bytes: len(buf), times: times}
	s.buf, s.times = buf, times
	if cap(buf) > 4*maxRecordsBatch {
		s.buf = nil // a huge record's buffer is not kept for the small ones
	}
	return b, nil
}

// maxRecordsFrame is the largest Records payload one frame holds (its
// header is below 64 bytes): what a partner without RecordPart can take.
const maxRecordsFrame = transport.MaxPayloadSize - 64

// partnerTakesParts says whether the partner's protocol has RecordPart.
func (s *recordSender) partnerTakesParts() bool {
	h := s.pc.hello
	return h == nil || h.TakesRecordParts()
}

// sendParts sends the encoding of one record (as a Records frame would
// carry it) in RecordPart frames of at most maxRecordsBatch bytes.
func (s *recordSender) sendParts(ctx context.Context, lsn sqlink.LSN, enc []byte) error {
	if !s.partnerTakesParts() {
		h := s.pc.hello
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "upgrade the partner instance: it cannot receive a record larger than one frame",
			"record %d is %d bytes, more than one frame holds, and the partner speaks link protocol %d.%d (record parts need %d.%d)",
			lsn, len(enc), h.Major, h.Minor, 1, transport.MinorRecordPart)
	}
	for off := 0; off < len(enc); off += maxRecordsBatch {
		part := &transport.RecordPart{Epoch: s.epoch, LSN: lsn, Offset: uint64(off), Total: uint64(len(enc)), Data: enc[off:min(off+maxRecordsBatch, len(enc))]}
		if err := s.w.WriteMessage(ctx, part); err != nil {
			return err
		}
	}
	return nil
}
