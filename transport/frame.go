package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// FrameType identifies a frame's message type. Values are part of the wire
// protocol and never reused.
type FrameType uint8

// Frame types. See doc.go for each payload's layout.
const (
	FrameHello           FrameType = 1
	FrameHelloAck        FrameType = 2
	FrameRefuse          FrameType = 3
	FrameRecords         FrameType = 4
	FrameAck             FrameType = 5
	FrameSeedChunk       FrameType = 6
	FrameSeedDone        FrameType = 7
	FrameHeartbeat       FrameType = 8
	FrameControlRequest  FrameType = 9
	FrameControlResponse FrameType = 10
	FrameError           FrameType = 11
	FrameRecordPart      FrameType = 12 // protocol 1.2
)

var frameTypeNames = [...]string{
	FrameHello:           "Hello",
	FrameHelloAck:        "HelloAck",
	FrameRefuse:          "Refuse",
	FrameRecords:         "Records",
	FrameAck:             "Ack",
	FrameSeedChunk:       "SeedChunk",
	FrameSeedDone:        "SeedDone",
	FrameHeartbeat:       "Heartbeat",
	FrameControlRequest:  "ControlRequest",
	FrameControlResponse: "ControlResponse",
	FrameError:           "Error",
	FrameRecordPart:      "RecordPart",
}

// Known reports whether t is a frame type this build understands.
func (t FrameType) Known() bool { return t >= FrameHello && t <= FrameRecordPart }

// String returns the type's name, or "FrameType(n)" for an unknown one.
func (t FrameType) String() string {
	if t.Known() {
		return frameTypeNames[t]
	}
	return fmt.Sprintf("FrameType(%d)", uint8(t))
}

// Frame sizes.
const (
	// FrameHeaderSize is the size of type, flags and length.
	FrameHeaderSize = 6
	// FrameTrailerSize is the size of the CRC32C after the payload.
	FrameTrailerSize = 4
	// MaxPayloadSize bounds a frame's payload. 64 MiB holds a batch of
	// records of any sensible transaction size (one record holds the pages
	// a transaction changed) while bounding the memory a corrupt or hostile
	// length field can make a receiver allocate.
	MaxPayloadSize = 64 << 20
)

// Errors of the frame layer. ReadFrame wraps them with the frame's type
// and length. After any of them the stream is out of sync: close the Conn.
var (
	ErrChecksum         = errors.New("transport: frame checksum mismatch (corrupted in transit)")
	ErrFrameTooLarge    = errors.New("transport: frame larger than the maximum")
	ErrUnknownFrameType = errors.New("transport: unknown frame type")
	ErrFrameFlags       = errors.New("transport: unsupported frame flags")
	ErrTruncatedFrame   = errors.New("transport: truncated frame (connection closed mid-frame)")
)

// castagnoli is the CRC32C table; it is immutable after creation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Frame is one unit of the wire protocol: a type, flags (reserved, zero in
// protocol 1.x), and a payload that is a message's encoding.
type Frame struct {
	Type    FrameType
	Flags   uint8
	Payload []byte
}

// AppendFrame appends f's wire encoding to b. It is how WriteFrame encodes,
// exposed for tests and tools that build raw streams.
func AppendFrame(b []byte, f Frame) []byte {
	start := len(b)
	b = append(b, byte(f.Type), f.Flags)
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.Payload)))
	b = append(b, f.Payload...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// readChunk is how much payload ReadFrame allocates ahead of the bytes that
// have arrived, so a frame announcing 64 MiB and then stopping costs at most
// this much memory beyond what was actually sent.
const readChunk = 4 << 20

// readFrame reads one frame from r. It returns io.EOF only when r ends
// cleanly before a frame starts.
func readFrame(r io.Reader, hdr *[FrameHeaderSize]byte) (Frame, error) {
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return Frame{}, fmt.Errorf("read frame header: %w", ErrTruncatedFrame)
		}
		return Frame{}, err
	}
	t, flags, n := FrameType(hdr[0]), hdr[1], binary.BigEndian.Uint32(hdr[2:])
	if !t.Known() {
		return Frame{}, fmt.Errorf("read frame: %w %d (the partner may run a newer sqlink)", ErrUnknownFrameType, hdr[0])
	}
	if flags != 0 {
		return Frame{}, fmt.Errorf("read %s frame: %w %#x", t, ErrFrameFlags, flags)
	}
	if n > MaxPayloadSize {
		return Frame{}, fmt.Errorf("read %s frame: %w: %d bytes, maximum %d", t, ErrFrameTooLarge, n, MaxPayloadSize)
	}
	size := int(n)
	payload := make([]byte, 0, min(size, readChunk))
	for len(payload) < size {
		if len(payload) == cap(payload) {
			// Grow only once the bytes so far have arrived.
			payload = slices.Grow(payload, min(size, 2*cap(payload))-len(payload))
		}
		m, err := io.ReadFull(r, payload[len(payload):min(size, cap(payload))])
		payload = payload[:len(payload)+m]
		if err != nil {
			return Frame{}, truncated(t, n, err)
		}
	}
	var trailer [FrameTrailerSize]byte
	if _, err := io.ReadFull(r, trailer[:]); err != nil {
		return Frame{}, truncated(t, n, err)
	}
	crc := crc32.Update(crc32.Checksum(hdr[:], castagnoli), castagnoli, payload)
	if got := binary.BigEndian.Uint32(trailer[:]); got != crc {
		return Frame{}, fmt.Errorf("read %s frame of %d bytes: %w: crc %08x, computed %08x", t, n, ErrChecksum, got, crc)
	}
	return Frame{Type: t, Flags: flags, Payload: payload}, nil
}

func truncated(t FrameType, n uint32, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("read %s frame of %d bytes: %w", t, n, ErrTruncatedFrame)
	}
	return fmt.Errorf("read %s frame of %d bytes: %w", t, n, err)
}
