package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sqlink/sqlink"
)

// errShortPayload is returned by decoders when a payload ends early.
var errShortPayload = errors.New("transport: message payload is truncated")

// encoder appends big-endian fields to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }

func (e *encoder) boolean(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// time encodes t as Unix nanoseconds; the zero Time encodes as 0.
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.u64(0)
		return
	}
	e.u64(uint64(t.UnixNano()))
}

// str encodes a string of at most 65535 bytes; longer ones are an error
// reported by the caller through check.
func (e *encoder) str(s string) {
	e.u16(uint16(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) bytes(b []byte) {
	e.u32(uint32(len(b)))
	e.b = append(e.b, b...)
}

func (e *encoder) pos(p sqlink.Pos) {
	e.u64(uint64(p.LSN))
	e.u64(p.Checksum)
}

func (e *encoder) history(h []sqlink.HistoryEntry) {
	e.u32(uint32(len(h)))
	for _, x := range h {
		e.u64(uint64(x.Epoch))
		e.u64(uint64(x.FirstLSN))
	}
}

// checkStrings returns an EINVALID error if any string is too long to
// encode.
func checkStrings(msg string, ss ...string) error {
	for _, s := range ss {
		if len(s) > math.MaxUint16 {
			return sqlink.Errorf(sqlink.EINVALID, "", "%s: string field of %d bytes exceeds %d", msg, len(s), math.MaxUint16)
		}
	}
	return nil
}

// decoder reads big-endian fields from a payload. The first failure sticks:
// later reads return zero values and err reports the failure. Byte slices
// alias the payload; nothing is allocated from a length field beyond what
// the payload actually holds.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || len(d.b) < n {
		d.err = errShortPayload
		d.b = nil
		return false
	}
	return true
}

func (d *decoder) u8() uint8 {
	if !d.need(1) {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *decoder) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) boolean() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	default:
		if d.err == nil {
			d.err = errors.New("transport: invalid boolean")
		}
		return false
	}
}

func (d *decoder) time() time.Time {
	v := d.u64()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v)).UTC()
}

func (d *decoder) str() string {
	n := int(d.u16())
	if !d.need(n) {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// bytes returns a slice aliasing the payload (capacity clipped, so appends
// by the caller never overwrite what follows).
func (d *decoder) bytes() []byte {
	n := int(d.u32())
	if !d.need(n) || n == 0 {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) pos() sqlink.Pos {
	return sqlink.Pos{LSN: sqlink.LSN(d.u64()), Checksum: d.u64()}
}

func (d *decoder) history() []sqlink.HistoryEntry {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if uint64(n)*16 > uint64(len(d.b)) {
		d.err = errShortPayload
		return nil
	}
	if n == 0 {
		return nil
	}
	h := make([]sqlink.HistoryEntry, n)
	for i := range h {
		h[i] = sqlink.HistoryEntry{Epoch: sqlink.Epoch(d.u64()), FirstLSN: sqlink.LSN(d.u64())}
	}
	return h
}

// finish returns the decoding error, if any, as a clear error naming the
// message. Trailing bytes are allowed: a newer minor protocol version may
// append fields.
func (d *decoder) finish(msg string) error {
	if d.err != nil {
		return fmt.Errorf("decode %s: %w", msg, d.err)
	}
	return nil
}
