package transport_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/transport"
)

// readerConn is a net.Conn that reads from a byte stream and discards
// writes, for feeding raw bytes to a Conn.
type readerConn struct {
	r io.Reader
}

func (c *readerConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *readerConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *readerConn) Close() error                     { return nil }
func (c *readerConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *readerConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *readerConn) SetDeadline(time.Time) error      { return nil }
func (c *readerConn) SetReadDeadline(time.Time) error  { return nil }
func (c *readerConn) SetWriteDeadline(time.Time) error { return nil }
func newReaderConn(b []byte) *transport.Conn {
	return transport.NewConn(&readerConn{r: bytes.NewReader(b)})
}
func mustMarshal(tb testing.TB, m transport.Message) []byte {
	tb.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func recordsFrame(tb testing.TB) []byte {
	tb.Helper()
	m := &transport.Records{Epoch: 2, FirstLSN: 7, LastLSN: 9, Data: []byte("page images")}
	return transport.AppendFrame(nil, transport.Frame{Type: transport.FrameRecords, Payload: mustMarshal(tb, m)})
}

func TestReadFrame_Good(t *testing.T) {
	raw := recordsFrame(t)
	c := newReaderConn(append(raw, raw...))
	for i := 0; i < 2; i++ {
		m, err := c.ReadMessage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.(*transport.Records).LastLSN, sqlink.LSN(9); got != want {
			t.Fatalf("LastLSN = %d, want %d", got, want)
		}
	}
	if _, err := c.ReadFrame(context.Background()); err != io.EOF {
		t.Fatalf("at end: err = %v, want io.EOF", err)
	}
}

func TestReadFrame_Refused(t *testing.T) {
	good := recordsFrame(t)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	oversize := bytes.Clone(good)
	binary.BigEndian.PutUint32(oversize[2:], transport.MaxPayloadSize+1)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"payload bit flip", flip(transport.FrameHeaderSize + 3), transport.ErrChecksum},
		{"crc bit flip", flip(len(good) - 1), transport.ErrChecksum},
		{"length changed", func() []byte { b := bytes.Clone(good); b[5]--; return b }(), transport.ErrChecksum},
		{"truncated header", good[:3], transport.ErrTruncatedFrame},
		{"truncated payload", good[:10], transport.ErrTruncatedFrame},
		{"truncated crc", good[:len(good)-1], transport.ErrTruncatedFrame},
		{"unknown type", func() []byte { b := bytes.Clone(good); b[0] = 99; return b }(), transport.ErrUnknownFrameType},
		{"flags", func() []byte { b := bytes.Clone(good); b[1] = 1; return b }(), transport.ErrFrameFlags},
		{"oversize", oversize, transport.ErrFrameTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newReaderConn(tc.in)
			f, err := c.ReadFrame(context.Background())
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if f.Payload != nil || f.Type != 0 {
				t.Fatalf("delivered %+v with the error", f)
			}
			// The error sticks: the stream is out of sync.
			if _, err2 := c.ReadFrame(context.Background()); !errors.Is(err2, tc.want) {
				t.Fatalf("second read err = %v", err2)
			}
		})
	}
}

// TestReadFrame_LengthDoesNotAllocate checks that a length field announcing
// the maximum payload, followed by little data, does not make the reader
// allocate the whole payload up front.
func TestReadFrame_LengthDoesNotAllocate(t *testing.T) {
	raw := []byte{byte(transport.FrameRecords), 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(raw[2:], transport.MaxPayloadSize)
	raw = append(raw, make([]byte, 100)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 10; i++ {
		if _, err := newReaderConn(raw).ReadFrame(context.Background()); !errors.Is(err, transport.ErrTruncatedFrame) {
			t.Fatalf("err = %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	// Each read may allocate one read chunk plus the Conn's buffers.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(10*(4<<20+256<<10)); got > limit {
		t.Fatalf("allocated %d bytes for 10 truncated frames, want at most %d", got, limit)
	}
}

func TestWriteFrame_TooLarge(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := transport.NewConn(a)
	err := c.WriteMessage(context.Background(), &transport.Records{FirstLSN: 1, LastLSN: 1, Data: make([]byte, transport.MaxPayloadSize)})
	if !errors.Is(err, transport.ErrFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func TestReadFrame_ContextCancel(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := transport.NewConn(a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.ReadFrame(ctx)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	c2 := transport.NewConn(b)
	if _, err := c2.ReadFrame(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

// FuzzReadFrame feeds arbitrary bytes to a Conn. It must never panic, and
// every frame it delivers must decode to a message that re-encodes to an
// equal message, or be refused with an error.
func FuzzReadFrame(f *testing.F) {
	f.Add(recordsFrame(f))
	for _, m := range randomMessagesSeed(1) {
		f.Add(transport.AppendFrame(nil, transport.Frame{Type: m.FrameType(), Payload: mustMarshal(f, m)}))
	}
	f.Add([]byte{4, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := newReaderConn(in)
		for {
			fr, err := c.ReadFrame(context.Background())
			if err != nil {
				return
			}
			if len(fr.Payload) > transport.MaxPayloadSize {
				t.Fatalf("payload of %d bytes", len(fr.Payload))
			}
			checkDecode(t, fr.Type, fr.Payload)
		}
	})
}

// FuzzUnmarshal drives every message decoder with arbitrary payloads.
func FuzzUnmarshal(f *testing.F) {
	for _, m := range randomMessagesSeed(2) {
		f.Add(uint8(m.FrameType()), mustMarshal(f, m))
	}
	f.Add(uint8(transport.FrameHello), []byte{0, 2, 0, 0})
	f.Add(uint8(transport.FrameSeedDone), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, typ uint8, payload []byte) {
		checkDecode(t, transport.FrameType(typ%13), payload)
	})
}

// checkDecode decodes payload as a t message; if that works, the message
// must re-encode and decode to an equal message.
func checkDecode(tb testing.TB, t transport.FrameType, payload []byte) {
	tb.Helper()
	m, err := transport.Decode(transport.Frame{Type: t, Payload: payload})
	if err != nil {
		return
	}
	b, err := m.MarshalBinary()
	if err != nil {
		// Decoders check what encoders check, so this cannot happen.
		tb.Fatalf("decoded %T does not re-encode: %v", m, err)
	}
	m2, err := transport.Decode(transport.Frame{Type: t, Payload: b})
	if err != nil {
		tb.Fatalf("re-encoded %T does not decode: %v", m, err)
	}
	if !reflect.DeepEqual(m, m2) {
		tb.Fatalf("%T changed in a round trip:\n%+v\n%+v", m, m, m2)
	}
}
