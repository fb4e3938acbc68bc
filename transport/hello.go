package transport

import (
	"context"
	"errors"

	"github.com/sqlink/sqlink"
)

// ReadHello reads the Hello that opens an accepted connection. A Hello of
// another major protocol version is answered with a Refuse saying so, and
// returned as an error wrapping ErrUnsupportedVersion. Check the Hello with
// CheckHello and answer with a HelloAck or RefuseFrom(err).
func (c *Conn) ReadHello(ctx context.Context) (*Hello, error) {
	f, err := c.ReadFrame(ctx)
	if err != nil {
		return nil, err
	}
	if f.Type != FrameHello {
		err := sqlink.Errorf(sqlink.EINVALID, "", "expected a Hello frame first, got %s", f.Type)
		_ = c.Send(ctx, RefuseFrom(err))
		return nil, err
	}
	var h Hello
	if err := h.UnmarshalBinary(f.Payload); err != nil {
		if errors.Is(err, ErrUnsupportedVersion) {
			_ = c.Send(ctx, RefuseFrom(err))
		}
		return nil, err
	}
	return &h, nil
}

// ReadHelloAck reads the answer to a Hello this side sent. A Refuse or an
// Error from the partner is returned as an error saying why; the
// partner's refusal of this instance's certificate as a *CertificateError.
func (c *Conn) ReadHelloAck(ctx context.Context) (*HelloAck, error) {
	m, err := c.ReadMessage(ctx)
	if err != nil {
		return nil, err
	}
	switch m := m.(type) {
	case *HelloAck:
		return m, nil
	case *Refuse:
		return nil, m.Err()
	case *ErrorMessage:
		return nil, m.Err()
	default:
		return nil, sqlink.Errorf(sqlink.EINVALID, "", "expected a HelloAck, got %s", m.FrameType())
	}
}
