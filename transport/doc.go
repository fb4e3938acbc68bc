// Package transport carries link messages, log records and seed streams
// between two sqlink instances over the endpoint listener (default port
// 5022).
//
// # Certificates and trust
//
// Each instance has one self-signed endpoint certificate (NewCertificate),
// ECDSA P-256, used both when it accepts (Listener) and when it dials
// (Dial). Trust is pinning: ServerTLSConfig and ClientTLSConfig accept a
// partner only if its certificate's SHA-256 fingerprint is one of those its
// TrustStore returns, and only while the certificate is valid by the local
// clock. The trust store is read on every handshake and sessions are never
// resumed, so `sqlink cert trust` and distrust take effect at once. Only
// TLS 1.3 is spoken.
//
// A refusal is a *CertificateError on both sides. The refusing side knows
// the reason (untrusted, expired, not yet valid). The refused side only
// receives the TLS alert "bad certificate" and gets Reason
// ReasonRefusedByPartner. With TLS 1.3 a dialer whose certificate is refused
// completes its handshake and learns of the refusal on its first read, so
// always read the HelloAck (ReadHelloAck) before trusting a connection.
// Listener reports handshake failures through
// ListenConfig.OnHandshakeError, so the server can show them as a link's
// last error.
//
// # Frames
//
// After the handshake both directions carry frames. All integers are big
// endian.
//
//	offset  size  field
//	0       1     type (FrameType: 1 Hello ... 11 Error)
//	1       1     flags (reserved: 0; other values refused)
//	2       4     payload length n, at most MaxPayloadSize (64 MiB)
//	6       n     payload: the message's encoding (below)
//	6+n     4     CRC32C (Castagnoli) of bytes 0 .. 6+n
//
// A frame that is truncated, oversize, of an unknown type, has unknown flags
// or fails its checksum is refused with an error wrapping ErrTruncatedFrame,
// ErrFrameTooLarge, ErrUnknownFrameType, ErrFrameFlags or ErrChecksum, and
// nothing of it is delivered; the Conn is then unusable. A reader never
// allocates more than 4 MiB ahead of the bytes that actually arrived.
//
// # Messages
//
// Payload fields in order. str is a uint16 length and UTF-8 bytes, bytes a
// uint32 length and raw bytes, time an int64 of Unix nanoseconds (0 for
// the zero time), pos two uint64s (LSN, checksum), history a uint32 count of
// (uint64 epoch, uint64 first LSN) pairs, bool one byte 0 or 1. Decoders
// ignore trailing bytes, so a minor protocol version may append fields.
//
//	type  message          payload
//	1     Hello            u16 major, u16 minor, str instance ID, str instance name,
//	                       str link ID, str link name, str database, str role,
//	                       u64 epoch, pos, history, time, u64 features
//	2     HelloAck         as Hello: the acceptor describes itself
//	3     Refuse           str code, str message, str hint
//	4     Records          u64 epoch, u64 first LSN, u64 last LSN, bytes records
//	5     Ack              u64 epoch, u64 hardened LSN, u64 redone LSN, time,
//	                       (1.1) u64 nanoseconds since the hardened LSN was hardened
//	6     SeedChunk        u64 epoch, u64 seed LSN, u64 offset, u64 total size, bytes data
//	7     SeedDone         u64 epoch, pos, u64 total size, history
//	8     Heartbeat        u64 seq, time, time echo, u64 last commit LSN,
//	                       time last commit, bool probe, bool reply
//	9     ControlRequest   u64 id, str command, bytes JSON body
//	10    ControlResponse  u64 id, str code, str message, str hint, bytes JSON body
//	11    Error            str code, str message, str hint
//	12    RecordPart       (1.2) u64 epoch, u64 LSN, u64 offset, u64 total size, bytes data:
//	                       part of one record too large for a Records frame
//
// # Versions
//
// The protocol version is major.minor (ProtocolMajor, ProtocolMinor). The
// Hello and HelloAck carry it first; a partner of another major version is
// refused there, with an error (VersionError) that names both versions and
// which instance to upgrade, and every later frame of the connection is
// covered by the version agreed. The Hello, HelloAck and Refuse payloads
// keep their layout across major versions, so a refusal reaches an older
// or newer partner as a readable error. Minor versions only append fields
// or add frame types a sender uses when the partner's Hello says it knows
// them.
// Version 2.0 gave control bodies explicit JSON names and a version.
//
// # Control commands
//
// A ControlRequest's Command is one of the Cmd* constants (control.go) and
// its body a JSON object whose first field is "v", the sender's major
// version, followed by the command's payload: a link.Message (CmdLink), a
// PartnerStatus (CmdStatus), SeedRequest, SeedPlan, HoldApply or
// Empty. NewControl builds one; ControlRequest.Decode refuses a body of
// another major version, or without "v" (the format of protocol 1, whose
// link.Message had no JSON names), with a version error. The JSON names
// are part of the protocol: testdata/*.golden holds the bytes of every
// message (go test ./transport -run TestProtocol_Golden -update rewrites
// them, for a deliberate change with a new version only).
//
// The record encoding inside Records belongs to the storage package;
// transport carries it as bytes. Decoded Records and SeedChunk data alias
// the frame's payload (one copy from the network, none after); WriteMessage
// sends them from the caller's memory without an intermediate copy.
//
// # Session
//
// The dialer sends Hello; the acceptor reads it (Conn.ReadHello, which
// refuses another major version by itself), checks it with CheckHello
// (link ID, epoch not stale) and answers HelloAck, or Refuse and closes.
// Then the primary sends Records (or SeedChunk... SeedDone, then Records)
// and Heartbeats; the secondary answers Acks. The receiver passes each
// Records batch through a RecordStream, which refuses a batch that does not
// start at the last accepted LSN + 1 or whose epoch is lower than the
// stream's: replayed, duplicated, reordered and stale batches never reach
// storage. ControlRequest/ControlResponse carry operator commands (such as
// failover steps) as versioned JSON. Error reports a fatal condition before
// closing.
//
// A Heartbeat with probe set is answered by the reading Conn itself (a
// Heartbeat with reply set, echo = the probe's time, time = the answerer's
// clock) and not delivered; Probe uses it to measure round-trip time and
// clock skew.
//
// # Concurrency
//
// A Conn allows one reader and any number of writers at a time. Writes are
// buffered until Flush (Send = WriteMessage + Flush). Every blocking call
// takes a context whose deadline and cancellation apply to that call.
package transport
