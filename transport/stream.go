package transport

import (
	"errors"
	"fmt"

	"github.com/sqlink/sqlink"
)

// Errors returned by CheckHello and RecordStream.Accept, wrapped together
// with a *sqlink.Error that says what was expected. Callers branch on them
// with errors.Is.
var (
	ErrWrongLink     = errors.New("transport: hello for another link")
	ErrStaleEpoch    = errors.New("transport: stale epoch")
	ErrRecordsGap    = errors.New("transport: records out of order")
	ErrInvalidRecord = errors.New("transport: invalid records batch")
)

// CheckHello checks a Hello received on a connection that should belong to
// the link expectLinkID at epoch minEpoch or later. It refuses another
// protocol major version, another link and a stale epoch: a partner still
// at an older epoch was demoted by a failover it has not heard of, and must
// not be treated as current. Send RefuseFrom(err) to refuse.
func CheckHello(expectLinkID string, minEpoch sqlink.Epoch, h *Hello) error {
	if h.Major != ProtocolMajor {
		return VersionError(h.Major, h.Minor)
	}
	if h.LinkID != expectLinkID {
		return fmt.Errorf("%w: %w", ErrWrongLink, sqlink.Errorf(sqlink.ECONFLICT,
			"check that the link was created on both instances (`sqlink link status` on each)",
			"instance %q sent a hello for link %q (%s), expected link %q", h.InstanceName, h.LinkID, h.LinkName, expectLinkID))
	}
	if h.Epoch < minEpoch {
		return fmt.Errorf("%w: %w", ErrStaleEpoch, sqlink.Errorf(sqlink.ECONFLICT,
			"the partner missed a role change; it must follow the current primary (`sqlink link status`)",
			"instance %q is at epoch %d of link %q, this instance is at epoch %d", h.InstanceName, h.Epoch, h.LinkName, minEpoch))
	}
	return nil
}

// RecordStream checks that Records batches arrive in order: each batch must
// start right after the last accepted LSN, and its epoch must not be lower
// than the stream's. A replayed, duplicated, reordered or stale batch is
// refused before anything of it is applied. It is not safe for concurrent
// use; one connection's reader owns it.
type RecordStream struct {
	epoch sqlink.Epoch
	last  sqlink.LSN
}

// NewRecordStream returns a stream whose next batch must start at last+1
// with an epoch of at least epoch.
func NewRecordStream(epoch sqlink.Epoch, last sqlink.LSN) *RecordStream {
	return &RecordStream{epoch: epoch, last: last}
}

// Last returns the last accepted LSN.
func (s *RecordStream) Last() sqlink.LSN { return s.last }

// Epoch returns the highest epoch accepted.
func (s *RecordStream) Epoch() sqlink.Epoch { return s.epoch }

// Accept checks b and, if it is the next batch, advances the stream past
// it. On error the stream is unchanged.
func (s *RecordStream) Accept(b *Records) error {
	if b.FirstLSN == 0 || b.LastLSN < b.FirstLSN {
		return fmt.Errorf("%w: %w", ErrInvalidRecord, sqlink.Errorf(sqlink.EINVALID, "",
			"records batch has an invalid LSN range %d..%d", b.FirstLSN, b.LastLSN))
	}
	if b.Epoch < s.epoch {
		return fmt.Errorf("%w: %w", ErrStaleEpoch, sqlink.Errorf(sqlink.ECONFLICT,
			"the sender was demoted by a role change; it must follow the current primary",
			"refused records %d..%d of epoch %d: the stream is at epoch %d", b.FirstLSN, b.LastLSN, b.Epoch, s.epoch))
	}
	if want := s.last + 1; b.FirstLSN != want {
		what := "a gap"
		if b.FirstLSN < want {
			what = "a replay"
		}
		return fmt.Errorf("%w: %w", ErrRecordsGap, sqlink.Errorf(sqlink.ECONFLICT,
			"reconnect the link so the primary resends from the expected LSN",
			"refused records %d..%d: expected LSN %d next (%s)", b.FirstLSN, b.LastLSN, want, what))
	}
	s.epoch, s.last = b.Epoch, b.LastLSN
	return nil
}

// RecordAssembler puts the RecordParts of one record back together. The
// parts of a record come in order and one record at a time: a part of
// another record while one is incomplete, a gap, a replay, or a change of
// size or epoch is refused (and what was assembled is dropped), before any
// of it reaches storage. It is not safe for concurrent use; one
// connection's reader owns it.
type RecordAssembler struct {
	cur RecordPart // the record being assembled (Epoch, LSN, Total)
	buf []byte
}

// assembleAhead bounds what Add allocates ahead of the bytes received.
const assembleAhead = 64 << 20

// Add adds part p. When p completes its record, Add returns the record as
// a Records batch of it alone, whose Data (the assembler's own memory, not
// the frame's) is what a Records frame of that record would carry.
func (a *RecordAssembler) Add(p *RecordPart) (*Records, error) {
	if err := p.validate(); err != nil {
		a.reset()
		return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if a.buf == nil {
		if p.Offset != 0 {
			return nil, fmt.Errorf("%w: %w", ErrRecordsGap, sqlink.Errorf(sqlink.EINVALID, "",
				"record %d: a part at byte %d, but no earlier part of it arrived", p.LSN, p.Offset))
		}
		a.cur = RecordPart{Epoch: p.Epoch, LSN: p.LSN, Total: p.Total}
		a.buf = make([]byte, 0, min(p.Total, assembleAhead))
	} else if p.LSN != a.cur.LSN || p.Epoch != a.cur.Epoch || p.Total != a.cur.Total || p.Offset != uint64(len(a.buf)) {
		err := fmt.Errorf("%w: %w", ErrRecordsGap, sqlink.Errorf(sqlink.EINVALID, "",
			"record part of %d (epoch %d, %d bytes) at byte %d, expected record %d (epoch %d, %d bytes) at byte %d",
			p.LSN, p.Epoch, p.Total, p.Offset, a.cur.LSN, a.cur.Epoch, a.cur.Total, len(a.buf)))
		a.reset()
		return nil, err
	}
	a.buf = append(a.buf, p.Data...)
	if uint64(len(a.buf)) < a.cur.Total {
		return nil, nil
	}
	r := &Records{Epoch: a.cur.Epoch, FirstLSN: a.cur.LSN, LastLSN: a.cur.LSN, Data: a.buf}
	a.reset()
	return r, nil
}

// Pending reports whether a record is partly assembled: a Records batch
// may not come in between.
func (a *RecordAssembler) Pending() bool { return a.buf != nil }

func (a *RecordAssembler) reset() { a.cur, a.buf = RecordPart{}, nil }
