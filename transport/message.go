package transport

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sqlink/sqlink"
)

// Protocol version spoken by this build. A partner with another major
// version is refused during the Hello exchange, and every later frame is
// covered by the version agreed there; control bodies also carry the major
// version (ControlRequest.Decode). Minor versions append fields, which
// older decoders ignore, or add frame types, which a sender uses only with
// a partner whose Hello says it knows them.
//
// History: 1.1 appended Ack.HardenedAgo; 1.2 added RecordPart; 2.0 gave
// control bodies explicit JSON names (link.Message had none) and a version,
// and the status message its own small shape (PartnerStatus: what the
// partner cannot know itself, zero fields left out). 2.0 has not been in a
// release yet, so its format may still change without a new version until
// sqlink 0.1.0 ships; after that, only with one.
const (
	ProtocolMajor uint16 = 2
	ProtocolMinor uint16 = 0
)

// MinorRecordPart is the first minor version of protocol 1 that understands
// RecordPart; every version of protocol 2 does (Hello.TakesRecordParts).
const MinorRecordPart uint16 = 2

// TakesRecordParts reports whether a partner that sent h understands
// RecordPart frames.
func (h *Hello) TakesRecordParts() bool {
	return h.Major > 1 || h.Major == 1 && h.Minor >= MinorRecordPart
}

// ErrUnsupportedVersion is wrapped by the error of a Hello or HelloAck whose
// major protocol version this build does not speak.
var ErrUnsupportedVersion = errors.New("transport: unsupported protocol version")

// Message is a typed link message. Each message type has one FrameType;
// MarshalBinary encodes the frame payload, UnmarshalBinary decodes it.
// Decoded byte slices (Records.Data, SeedChunk.Data, control bodies) alias
// the payload they were decoded from.
type Message interface {
	FrameType() FrameType
	AppendBinary(b []byte) ([]byte, error)
	MarshalBinary() ([]byte, error)
	UnmarshalBinary(b []byte) error
}

// bulkMessage is a Message whose payload ends with a large byte slice. The
// Conn writes that slice straight from the caller's memory instead of
// copying it into an encoding buffer.
type bulkMessage interface {
	Message
	// appendHead appends the payload up to, not including, bulk().
	appendHead(b []byte) ([]byte, error)
	bulk() []byte
}

// NewMessage returns an empty message of type t, or nil for an unknown type.
func NewMessage(t FrameType) Message {
	switch t {
	case FrameHello:
		return &Hello{}
	case FrameHelloAck:
		return &HelloAck{}
	case FrameRefuse:
		return &Refuse{}
	case FrameRecords:
		return &Records{}
	case FrameAck:
		return &Ack{}
	case FrameSeedChunk:
		return &SeedChunk{}
	case FrameSeedDone:
		return &SeedDone{}
	case FrameHeartbeat:
		return &Heartbeat{}
	case FrameControlRequest:
		return &ControlRequest{}
	case FrameControlResponse:
		return &ControlResponse{}
	case FrameError:
		return &ErrorMessage{}
	case FrameRecordPart:
		return &RecordPart{}
	}
	return nil
}

// Decode decodes f's payload into the message of f's type.
func Decode(f Frame) (Message, error) {
	m := NewMessage(f.Type)
	if m == nil {
		return nil, fmt.Errorf("decode frame: %w: %d", ErrUnknownFrameType, f.Type)
	}
	if err := m.UnmarshalBinary(f.Payload); err != nil {
		return nil, err
	}
	return m, nil
}

func marshal(m Message) ([]byte, error) { return m.AppendBinary(nil) }

// Hello opens a link connection: the dialing replica says who it is, which
// link and database it is about, and where its history stands, so the
// acceptor can check the link, refuse a stale epoch and find the fork point.
type Hello struct {
	Major, Minor uint16 // protocol version; set by the Conn when zero
	InstanceID   string
	InstanceName string
	LinkID       string
	LinkName     string
	Database     string
	Role         sqlink.Role
	Epoch        sqlink.Epoch
	Pos          sqlink.Pos // the sender's last hardened position
	History      []sqlink.HistoryEntry
	Time         time.Time // the sender's clock, for skew estimates
	Features     uint64    // optional capabilities, a bit set; none yet
}

// FrameType implements Message.
func (*Hello) FrameType() FrameType { return FrameHello }

// MarshalBinary implements encoding.BinaryMarshaler.
func (h *Hello) MarshalBinary() ([]byte, error) { return marshal(h) }

// AppendBinary implements encoding.BinaryAppender.
func (h *Hello) AppendBinary(b []byte) ([]byte, error) { return appendHello(b, h, "hello") }

// UnmarshalBinary implements encoding.BinaryUnmarshaler. A Hello with
// another major version sets only Major and Minor and returns an error
// wrapping ErrUnsupportedVersion.
func (h *Hello) UnmarshalBinary(b []byte) error { return decodeHello(b, h, "hello") }

// HelloAck accepts a Hello: the acceptor describes itself the same way.
type HelloAck Hello

// FrameType implements Message.
func (*HelloAck) FrameType() FrameType { return FrameHelloAck }

// MarshalBinary implements encoding.BinaryMarshaler.
func (h *HelloAck) MarshalBinary() ([]byte, error) { return marshal(h) }

// AppendBinary implements encoding.BinaryAppender.
func (h *HelloAck) AppendBinary(b []byte) ([]byte, error) {
	return appendHello(b, (*Hello)(h), "hello ack")
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (h *HelloAck) UnmarshalBinary(b []byte) error {
	return decodeHello(b, (*Hello)(h), "hello ack")
}

func appendHello(b []byte, h *Hello, name string) ([]byte, error) {
	if err := checkStrings(name, h.InstanceID, h.InstanceName, h.LinkID, h.LinkName, h.Database, string(h.Role)); err != nil {
		return b, err
	}
	major, minor := h.Major, h.Minor
	if major == 0 {
		major, minor = ProtocolMajor, ProtocolMinor
	}
	e := encoder{b}
	e.u16(major)
	e.u16(minor)
	e.str(h.InstanceID)
	e.str(h.InstanceName)
	e.str(h.LinkID)
	e.str(h.LinkName)
	e.str(h.Database)
	e.str(string(h.Role))
	e.u64(uint64(h.Epoch))
	e.pos(h.Pos)
	e.history(h.History)
	e.time(h.Time)
	e.u64(h.Features)
	return e.b, nil
}

func decodeHello(b []byte, h *Hello, name string) error {
	d := decoder{b: b}
	*h = Hello{Major: d.u16(), Minor: d.u16()}
	if d.err == nil && h.Major != ProtocolMajor {
		return VersionError(h.Major, h.Minor)
	}
	h.InstanceID = d.str()
	h.InstanceName = d.str()
	h.LinkID = d.str()
	h.LinkName = d.str()
	h.Database = d.str()
	h.Role = sqlink.Role(d.str())
	h.Epoch = sqlink.Epoch(d.u64())
	h.Pos = d.pos()
	h.History = d.history()
	h.Time = d.time()
	h.Features = d.u64()
	return d.finish(name)
}

// VersionError returns the error for a partner speaking protocol
// major.minor when this build speaks ProtocolMajor. It wraps
// ErrUnsupportedVersion and an EINVALID *sqlink.Error whose hint says which
// instance to upgrade.
func VersionError(major, minor uint16) error {
	return fmt.Errorf("%w: %w", ErrUnsupportedVersion, sqlink.Errorf(sqlink.EINVALID, versionHint(major, minor),
		"the partner speaks link protocol %d.%d, this instance speaks %d.%d", major, minor, ProtocolMajor, ProtocolMinor))
}

// Refuse answers a Hello that cannot be accepted. The connection is closed
// after it.
type Refuse struct {
	Code    string // a sqlink error code
	Message string
	Hint    string
}

// RefuseFrom returns the Refuse that carries err to the partner.
func RefuseFrom(err error) *Refuse {
	return &Refuse{Code: sqlink.ErrorCode(err), Message: sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)}
}

// Err returns the refusal as a *sqlink.Error for the refused side.
func (r *Refuse) Err() error {
	return sqlink.Errorf(r.Code, r.Hint, "the partner refused the connection: %s", r.Message)
}

// FrameType implements Message.
func (*Refuse) FrameType() FrameType { return FrameRefuse }

// MarshalBinary implements encoding.BinaryMarshaler.
func (r *Refuse) MarshalBinary() ([]byte, error) { return marshal(r) }

// AppendBinary implements encoding.BinaryAppender.
func (r *Refuse) AppendBinary(b []byte) ([]byte, error) {
	return appendErrorFields(b, "refuse", r.Code, r.Message, r.Hint)
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (r *Refuse) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	*r = Refuse{Code: d.str(), Message: d.str(), Hint: d.str()}
	return d.finish("refuse")
}

// ErrorMessage reports an error that ends the connection after the Hello
// exchange, such as a batch refused by RecordStream.Accept.
type ErrorMessage struct {
	Code    string // a sqlink error code
	Message string
	Hint    string
}

// ErrorMessageFrom returns the ErrorMessage that carries err to the partner.
func ErrorMessageFrom(err error) *ErrorMessage {
	return &ErrorMessage{Code: sqlink.ErrorCode(err), Message: sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)}
}

// Err returns the message as a *sqlink.Error.
func (m *ErrorMessage) Err() error {
	return sqlink.Errorf(m.Code, m.Hint, "the partner reported: %s", m.Message)
}

// FrameType implements Message.
func (*ErrorMessage) FrameType() FrameType { return FrameError }

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *ErrorMessage) MarshalBinary() ([]byte, error) { return marshal(m) }

// AppendBinary implements encoding.BinaryAppender.
func (m *ErrorMessage) AppendBinary(b []byte) ([]byte, error) {
	return appendErrorFields(b, "error", m.Code, m.Message, m.Hint)
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (m *ErrorMessage) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	*m = ErrorMessage{Code: d.str(), Message: d.str(), Hint: d.str()}
	return d.finish("error")
}

func appendErrorFields(b []byte, name, code, msg, hint string) ([]byte, error) {
	if err := checkStrings(name, code, msg, hint); err != nil {
		return b, err
	}
	e := encoder{b}
	e.str(code)
	e.str(msg)
	e.str(hint)
	return e.b, nil
}

// Records carries a batch of consecutive log records, FirstLSN through
// LastLSN, all written in Epoch. Data is the records as the storage package
// encodes them; transport does not look inside.
type Records struct {
	Epoch    sqlink.Epoch
	FirstLSN sqlink.LSN
	LastLSN  sqlink.LSN
	Data     []byte
}

// FrameType implements Message.
func (*Records) FrameType() FrameType { return FrameRecords }

// MarshalBinary implements encoding.BinaryMarshaler.
func (r *Records) MarshalBinary() ([]byte, error) { return marshal(r) }

// AppendBinary implements encoding.BinaryAppender.
func (r *Records) AppendBinary(b []byte) ([]byte, error) {
	b, err := r.appendHead(b)
	return append(b, r.Data...), err
}

func (r *Records) validate() error {
	if r.FirstLSN == 0 || r.LastLSN < r.FirstLSN {
		return sqlink.Errorf(sqlink.EINVALID, "", "records: invalid LSN range %d..%d", r.FirstLSN, r.LastLSN)
	}
	return nil
}

func (r *Records) appendHead(b []byte) ([]byte, error) {
	if err := r.validate(); err != nil {
		return b, err
	}
	e := encoder{b}
	e.u64(uint64(r.Epoch))
	e.u64(uint64(r.FirstLSN))
	e.u64(uint64(r.LastLSN))
	e.u32(uint32(len(r.Data)))
	return e.b, nil
}

func (r *Records) bulk() []byte { return r.Data }

// UnmarshalBinary implements encoding.BinaryUnmarshaler. Data aliases b.
func (r *Records) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	*r = Records{Epoch: sqlink.Epoch(d.u64()), FirstLSN: sqlink.LSN(d.u64()), LastLSN: sqlink.LSN(d.u64()), Data: d.bytes()}
	if err := d.finish("records"); err != nil {
		return err
	}
	return r.validate()
}

// Ack tells the primary how far the secondary got: records up to Hardened
// are durable on its disk, records up to Redone are applied and readable.
type Ack struct {
	Epoch    sqlink.Epoch
	Hardened sqlink.LSN
	Redone   sqlink.LSN
	Time     time.Time // the secondary's clock when it sent the Ack
	// HardenedAgo is how long before sending the Ack the secondary
	// hardened Hardened (its own clock, so no clock needs to agree): an
	// Ack sent after the apply still tells when the records were durable.
	// Zero from a partner of protocol 1.0.
	HardenedAgo time.Duration
}

// FrameType implements Message.
func (*Ack) FrameType() FrameType { return FrameAck }

// MarshalBinary implements encoding.BinaryMarshaler.
func (a *Ack) MarshalBinary() ([]byte, error) { return marshal(a) }

// AppendBinary implements encoding.BinaryAppender.
func (a *Ack) AppendBinary(b []byte) ([]byte, error) {
	e := encoder{b}
	e.u64(uint64(a.Epoch))
	e.u64(uint64(a.Hardened))
	e.u64(uint64(a.Redone))
	e.time(a.Time)
	e.u64(uint64(max(a.HardenedAgo, 0))) // 1.1
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (a *Ack) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	*a = Ack{Epoch: sqlink.Epoch(d.u64()), Hardened: sqlink.LSN(d.u64()), Redone: sqlink.LSN(d.u64()), Time: d.time()}
	if len(d.b) > 0 { // 1.1; a 1.0 Ack ends before it
		a.HardenedAgo = time.Duration(min(d.u64(), math.MaxInt64))
	}
	return d.finish("ack")
}

// MaxRecordSize bounds the record a sequence of RecordPart frames may
// carry: the largest a replication log entry can be.
const MaxRecordSize = 1<<31 - 1

// RecordPart carries bytes Offset through Offset+len(Data) of the encoding
// of one record (LSN) that is Total bytes long: a transaction too large
// for one Records frame (a bulk load, an index build) goes as several
// parts, in order, and counts as a Records batch of that one record once
// its last part has arrived (see RecordAssembler). Protocol 1.2.
type RecordPart struct {
	Epoch  sqlink.Epoch
	LSN    sqlink.LSN
	Offset uint64
	Total  uint64
	Data   []byte
}

// FrameType implements Message.
func (*RecordPart) FrameType() FrameType { return FrameRecordPart }

// MarshalBinary implements encoding.BinaryMarshaler.
func (p *RecordPart) MarshalBinary() ([]byte, error) { return marshal(p) }

// AppendBinary implements encoding.BinaryAppender.
func (p *RecordPart) AppendBinary(b []byte) ([]byte, error) {
	b, err := p.appendHead(b)
	return append(b, p.Data...), err
}

func (p *RecordPart) validate() error {
	end := p.Offset + uint64(len(p.Data))
	switch {
	case p.LSN == 0:
		return sqlink.Errorf(sqlink.EINVALID, "", "record part: LSN 0")
	case p.Total == 0 || p.Total > MaxRecordSize:
		return sqlink.Errorf(sqlink.EINVALID, "", "record part: a record of %d bytes (at most %d)", p.Total, MaxRecordSize)
	case len(p.Data) == 0 || end < p.Offset || end > p.Total:
		return sqlink.Errorf(sqlink.EINVALID, "", "record part: bytes %d..%d outside a record of %d bytes", p.Offset, end, p.Total)
	}
	return nil
}

func (p *RecordPart) appendHead(b []byte) ([]byte, error) {
	if err := p.validate(); err != nil {
		return b, err
	}
	e := encoder{b}
	e.u64(uint64(p.Epoch))
	e.u64(uint64(p.LSN))
	e.u64(p.Offset)
	e.u64(p.Total)
	e.u32(uint32(len(p.Data)))
	return e.b, nil
}

func (p *RecordPart) bulk() []byte { return p.Data }

// UnmarshalBinary implements encoding.BinaryUnmarshaler. Data aliases b.
func (p *RecordPart) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	*p = RecordPart{Epoch: sqlink.Epoch(d.u64()), LSN: sqlink.LSN(d.u64()), Offset: d.u64(), Total: d.u64(), Data: d.bytes()}
	if err := d.finish("record part"); err != nil {
		return err
	}
	return p.validate()
}

// SeedChunk carries bytes Offset through Offset+len(Data) of a seed: a
// consistent copy of the database as of LSN, TotalSize bytes long. A
// resumed seed restarts at the first offset the secondary lacks.
type SeedChunk struct {
	Epoch     sqlink.Epoch
	LSN       sqlink.LSN // the position the seed copy is consistent at
	Offset    uint64
	TotalSize uint64
	Data      []byte
}

// FrameType implements Message.
func (*SeedChunk) FrameType() FrameType { return FrameSeedChunk }

// MarshalBinary implements encoding.BinaryMarshaler.
func (s *SeedChunk) MarshalBinary() ([]byte, error) { return marshal(s) }

// AppendBinary implements encoding.BinaryAppender.
func (s *SeedChunk) AppendBinary(b []byte) ([]byte, error) {
	b, err := s.appendHead(b)
	return append(b, s.Data...), err
}

func (s *SeedChunk) validate() error {
	if end := s.Offset + uint64(len(s.Data)); end < s.Offset || end > s.TotalSize {
		return sqlink.Errorf(sqlink.EINVALID, "", "seed chunk: bytes %d..%d outside a seed of %d bytes", s.Offset, end, s.TotalSize)
	}
	return nil
}

func (s *SeedChunk) appendHead(b []byte) ([]byte, error) {
	if err := s.validate(); err != nil {
		return b, err
	}
	e := encoder{b}
	e.u64(uint64(s.Epoch))
	e.u64(uint64(s.LSN))
	e.u64(s.Offset)
	e.u64(s.TotalSize)
	e.u32(uint32(len(s.Data)))
	return e.b, nil
}

func (s *SeedChunk) bulk() []byte { return s.Data }

// UnmarshalBinary implements encoding.BinaryUnmarshaler. Data aliases b.
func (s *SeedChunk) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	*s = SeedChunk{Epoch: sqlink.Epoch(d.u64()), LSN: sqlink.LSN(d.u64()), Offset: d.u64(), TotalSize: d.u64(), Data: d.bytes()}
	if err := d.finish("seed chunk"); err != nil {
		return err
	}
	return s.validate()
}

// SeedDone ends a seed: all TotalSize bytes were sent, the copy is at Pos,
// and History is the primary's epoch history up to Pos.
type SeedDone struct {
	Epoch     sqlink.Epoch
	Pos       sqlink.Pos
	TotalSize uint64
	History   []sqlink.HistoryEntry
}

// FrameType implements Message.
func (*SeedDone) FrameType() FrameType { return FrameSeedDone }

// MarshalBinary implements encoding.BinaryMarshaler.
func (s *SeedDone) MarshalBinary() ([]byte, error) { return marshal(s) }

// AppendBinary implements encoding.BinaryAppender.
func (s *SeedDone) AppendBinary(b []byte) ([]byte, error) {
	e := encoder{b}
	e.u64(uint64(s.Epoch))
	e.pos(s.Pos)
	e.u64(s.TotalSize)
	e.history(s.History)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (s *SeedDone) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	*s = SeedDone{Epoch: sqlink.Epoch(d.u64()), Pos: d.pos(), TotalSize: d.u64(), History: d.history()}
	return d.finish("seed done")
}

// Heartbeat keeps a quiet link alive and tells the secondary where the
// primary is, so it can compute lag and estimated data loss.
//
// A Heartbeat with Probe set asks for an echo: Conn.ReadFrame answers it by
// itself with a Heartbeat that has Reply set, Echo set to the probe's Time
// and Time set to the answering side's clock, and does not deliver it.
type Heartbeat struct {
	Seq            uint64
	Time           time.Time // the sender's clock
	Echo           time.Time // in a reply, the Time of the probe it answers
	LastCommitLSN  sqlink.LSN
	LastCommitTime time.Time
	Probe          bool
	Reply          bool
}

// FrameType implements Message.
func (*Heartbeat) FrameType() FrameType { return FrameHeartbeat }

// MarshalBinary implements encoding.BinaryMarshaler.
func (h *Heartbeat) MarshalBinary() ([]byte, error) { return marshal(h) }

// AppendBinary implements encoding.BinaryAppender.
func (h *Heartbeat) AppendBinary(b []byte) ([]byte, error) {
	e := encoder{b}
	e.u64(h.Seq)
	e.time(h.Time)
	e.time(h.Echo)
	e.u64(uint64(h.LastCommitLSN))
	e.time(h.LastCommitTime)
	e.boolean(h.Probe)
	e.boolean(h.Reply)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (h *Heartbeat) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	*h = Heartbeat{Seq: d.u64(), Time: d.time(), Echo: d.time(), LastCommitLSN: sqlink.LSN(d.u64()), LastCommitTime: d.time(), Probe: d.boolean(), Reply: d.boolean()}
	return d.finish("heartbeat")
}

// ControlRequest carries a command to the partner, such as a link
// message or a seed request. Command is one of the Cmd* constants and Body
// its versioned JSON payload (NewControl, Decode); ID matches the response.
type ControlRequest struct {
	ID      uint64
	Command string
	Body    []byte
}

// FrameType implements Message.
func (*ControlRequest) FrameType() FrameType { return FrameControlRequest }

// MarshalBinary implements encoding.BinaryMarshaler.
func (c *ControlRequest) MarshalBinary() ([]byte, error) { return marshal(c) }

// AppendBinary implements encoding.BinaryAppender.
func (c *ControlRequest) AppendBinary(b []byte) ([]byte, error) {
	if err := checkStrings("control request", c.Command); err != nil {
		return b, err
	}
	e := encoder{b}
	e.u64(c.ID)
	e.str(c.Command)
	e.bytes(c.Body)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. Body aliases b.
func (c *ControlRequest) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	*c = ControlRequest{ID: d.u64(), Command: d.str(), Body: d.bytes()}
	return d.finish("control request")
}

// ControlResponse answers the ControlRequest with the same ID. Code is ""
// on success, else a sqlink error code with Message and Hint.
type ControlResponse struct {
	ID      uint64
	Code    string
	Message string
	Hint    string
	Body    []byte
}

// Err returns nil on success, else the partner's error as a *sqlink.Error.
func (c *ControlResponse) Err() error {
	if c.Code == "" {
		return nil
	}
	return sqlink.Errorf(c.Code, c.Hint, "%s", c.Message)
}

// FrameType implements Message.
func (*ControlResponse) FrameType() FrameType { return FrameControlResponse }

// MarshalBinary implements encoding.BinaryMarshaler.
func (c *ControlResponse) MarshalBinary() ([]byte, error) { return marshal(c) }

// AppendBinary implements encoding.BinaryAppender.
func (c *ControlResponse) AppendBinary(b []byte) ([]byte, error) {
	if err := checkStrings("control response", c.Code, c.Message, c.Hint); err != nil {
		return b, err
	}
	e := encoder{b}
	e.u64(c.ID)
	e.str(c.Code)
	e.str(c.Message)
	e.str(c.Hint)
	e.bytes(c.Body)
	return e.b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. Body aliases b.
func (c *ControlResponse) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	*c = ControlResponse{ID: d.u64(), Code: d.str(), Message: d.str(), Hint: d.str(), Body: d.bytes()}
	return d.finish("control response")
}

var (
	_ bulkMessage = (*Records)(nil)
	_ bulkMessage = (*SeedChunk)(nil)
	_ Message     = (*Hello)(nil)
	_ Message     = (*HelloAck)(nil)
	_ Message     = (*Refuse)(nil)
	_ Message     = (*Ack)(nil)
	_ Message     = (*SeedDone)(nil)
	_ Message     = (*Heartbeat)(nil)
	_ Message     = (*ControlRequest)(nil)
	_ Message     = (*ControlResponse)(nil)
	_ Message     = (*ErrorMessage)(nil)
)
