package sqlink

// Version is the sqlink release. Instances exchange it when a link is
// created; two instances can link when their major versions match.
const Version = "0.1.0"

// ProtocolVersion is the endpoint protocol's major version. Instances whose
// protocol versions differ refuse each other's handshake.
const ProtocolVersion = 1
