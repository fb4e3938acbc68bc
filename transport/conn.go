package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"sync"
	"time"
)

// bufferSize is the size of a Conn's read and write buffers. 64 KiB holds
// many small frames per TLS record; larger payloads bypass the write buffer.
const bufferSize = 64 << 10

// aLongTimeAgo is a deadline in the past, set to abort blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// Conn is a framed connection to a partner's endpoint, usually over TLS.
//
// One goroutine may read (ReadFrame, ReadMessage) while others write
// (WriteFrame, WriteMessage, Flush); writes are serialized by the Conn.
// Writes are buffered: call Flush to send them. After any read or write
// error the stream is unusable and later calls return the same error; close
// the Conn.
//
// ReadFrame answers Heartbeat probes by itself (see Heartbeat), so an
// endpoint answers connectivity probes as long as someone reads from it.
type Conn struct {
	nc  net.Conn
	now func() time.Time

	r    *bufio.Reader
	hdr  [FrameHeaderSize]byte
	rerr error

	wmu     sync.Mutex
	w       *bufio.Writer
	scratch []byte
	werr    error
}

// NewConn returns a Conn framing nc. Dial and Listener make Conns over TLS;
// NewConn is for tests and tools.
func NewConn(nc net.Conn) *Conn {
	return &Conn{
		nc:  nc,
		now: time.Now,
		r:   bufio.NewReaderSize(nc, bufferSize),
		w:   bufio.NewWriterSize(nc, bufferSize),
	}
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the partner's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Close closes the connection without flushing.
func (c *Conn) Close() error { return c.nc.Close() }

// Handshake runs the TLS handshake if it has not run yet. It is called by
// Dial and Listener; a refusal of either certificate returns a
// *CertificateError. Note that in TLS 1.3 the dialer learns that the
// acceptor refused its certificate only on its first read.
func (c *Conn) Handshake(ctx context.Context) error {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("tls handshake with %s: %w", c.RemoteAddr(), mapTLSError(err))
	}
	return nil
}

// PeerCertificate returns the partner's certificate, or nil before the
// handshake or on a connection without TLS.
func (c *Conn) PeerCertificate() *x509.Certificate {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil
	}
	return certs[0]
}

// SetDeadline sets the read and write deadlines of the underlying
// connection, for callers that prefer them to contexts. A context with a
// deadline passed to a later call overrides it.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// arm applies ctx's deadline and cancellation to one I/O call through set
// (SetReadDeadline or SetWriteDeadline) and returns the function to call
// when the I/O is over, which reports whether ctx ended it.
func arm(ctx context.Context, set func(time.Time) error) (disarm func() error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if ok {
		if err := set(deadline); err != nil {
			return nil, err
		}
	}
	if ctx.Done() == nil {
		return func() error { return nil }, nil
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = set(aLongTimeAgo)
		close(fired)
	})
	return func() error {
		if stop() {
			if ok {
				_ = set(time.Time{})
				// The deadline we set may end the I/O a moment before
				// ctx's own timer fires: report it as ctx's error.
				if !time.Now().Before(deadline) {
					return context.DeadlineExceeded
				}
			}
			return nil
		}
		// ctx ended during the I/O. Clear the past deadline in case the
		// I/O completed anyway, so the Conn stays usable then.
		<-fired
		_ = set(time.Time{})
		return context.Cause(ctx)
	}, nil
}

// ReadFrame reads the next frame. It returns io.EOF when the partner closed
// the connection between frames. A frame that is truncated, oversize, of an
// unknown type or fails its checksum returns an error wrapping
// ErrTruncatedFrame, ErrFrameTooLarge, ErrUnknownFrameType or ErrChecksum;
// nothing of it is delivered. The partner's refusal of this instance's
// certificate returns a *CertificateError. The payload is the caller's: it
// is not reused by later reads.
func (c *Conn) ReadFrame(ctx context.Context) (Frame, error) {
	if c.rerr != nil {
		return Frame{}, c.rerr
	}
	if err := ctx.Err(); err != nil {
		return Frame{}, err
	}
	for {
		f, err := c.readFrame(ctx)
		if err != nil {
			c.rerr = err
			return Frame{}, err
		}
		if f.Type == FrameHeartbeat {
			var h Heartbeat
			if err := h.UnmarshalBinary(f.Payload); err != nil {
				c.rerr = err
				return Frame{}, err
			}
			if h.Probe && !h.Reply {
				if err := c.answerProbe(ctx, &h); err != nil {
					return Frame{}, err
				}
				continue
			}
		}
		return f, nil
	}
}

func (c *Conn) readFrame(ctx context.Context) (Frame, error) {
	disarm, err := arm(ctx, c.nc.SetReadDeadline)
	if err != nil {
		return Frame{}, err
	}
	f, err := readFrame(c.r, &c.hdr)
	if cerr := disarm(); cerr != nil && err != nil {
		return Frame{}, fmt.Errorf("read frame: %w", cerr)
	}
	if err != nil {
		return Frame{}, mapTLSError(err)
	}
	return f, nil
}

func (c *Conn) answerProbe(ctx context.Context, h *Heartbeat) error {
	reply := &Heartbeat{Seq: h.Seq, Time: c.now(), Echo: h.Time, Reply: true}
	if err := c.WriteMessage(ctx, reply); err != nil {
		return err
	}
	return c.Flush(ctx)
}

// ReadMessage reads the next frame and decodes it. A frame that does not
// decode returns an error and no message.
func (c *Conn) ReadMessage(ctx context.Context) (Message, error) {
	f, err := c.ReadFrame(ctx)
	if err != nil {
		return nil, err
	}
	return Decode(f)
}

// WriteFrame buffers f. It blocks only when the buffer must be drained to
// the network. Call Flush to send buffered frames.
func (c *Conn) WriteFrame(ctx context.Context, f Frame) error {
	return c.write(ctx, f.Type, f.Flags, nil, f.Payload)
}

// WriteMessage encodes m and buffers it as one frame. The large payloads of
// Records and SeedChunk are written from m's own memory, not copied into an
// encoding buffer first.
func (c *Conn) WriteMessage(ctx context.Context, m Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var head, body []byte
	var err error
	if bm, ok := m.(bulkMessage); ok {
		head, err = bm.appendHead(c.scratch[:0])
		body = bm.bulk()
	} else {
		head, err = m.AppendBinary(c.scratch[:0])
	}
	if err != nil {
		return err
	}
	if cap(head) <= bufferSize {
		c.scratch = head
	}
	return c.writeLocked(ctx, m.FrameType(), 0, head, body)
}

func (c *Conn) write(ctx context.Context, t FrameType, flags uint8, head, body []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(ctx, t, flags, head, body)
}

// writeLocked writes one frame whose payload is head followed by body.
func (c *Conn) writeLocked(ctx context.Context, t FrameType, flags uint8, head, body []byte) error {
	if c.werr != nil {
		return c.werr
	}
	n := len(head) + len(body)
	if n > MaxPayloadSize {
		return fmt.Errorf("write %s frame: %w: %d bytes, maximum %d", t, ErrFrameTooLarge, n, MaxPayloadSize)
	}
	if !t.Known() {
		return fmt.Errorf("write frame: %w %d", ErrUnknownFrameType, t)
	}
	var hdr [FrameHeaderSize]byte
	hdr[0], hdr[1] = byte(t), flags
	binary.BigEndian.PutUint32(hdr[2:], uint32(n))
	crc := crc32.Checksum(hdr[:], castagnoli)
	crc = crc32.Update(crc, castagnoli, head)
	crc = crc32.Update(crc, castagnoli, body)
	var trailer [FrameTrailerSize]byte
	binary.BigEndian.PutUint32(trailer[:], crc)

	disarm, err := arm(ctx, c.nc.SetWriteDeadline)
	if err != nil {
		return err
	}
	for _, b := range [][]byte{hdr[:], head, body, trailer[:]} {
		if _, err = c.w.Write(b); err != nil {
			break
		}
	}
	if cerr := disarm(); cerr != nil && err != nil {
		err = cerr
	}
	if err != nil {
		c.werr = fmt.Errorf("write %s frame: %w", t, mapTLSError(err))
		return c.werr
	}
	return nil
}

// Flush sends buffered frames.
func (c *Conn) Flush(ctx context.Context) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return c.werr
	}
	disarm, err := arm(ctx, c.nc.SetWriteDeadline)
	if err != nil {
		return err
	}
	err = c.w.Flush()
	if cerr := disarm(); cerr != nil && err != nil {
		err = cerr
	}
	if err != nil {
		c.werr = fmt.Errorf("flush: %w", mapTLSError(err))
		return c.werr
	}
	return nil
}

// Send writes m and flushes, for messages that should leave at once.
func (c *Conn) Send(ctx context.Context, m Message) error {
	if err := c.WriteMessage(ctx, m); err != nil {
		return err
	}
	return c.Flush(ctx)
}

// IsClosed reports whether err means the connection was closed, by either
// side, rather than that something went wrong on it.
func IsClosed(err error) bool {
	return errors.Is(err, net.ErrClosed)
}
