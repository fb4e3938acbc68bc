package sqlink

// Version is the sqlink release. Instances exchange it when a link is
// created; two instances can link when their major versions match.
const Version = "0.1.0"

// The endpoint protocol's version is transport.ProtocolMajor and
// ProtocolMinor: instances whose major versions differ refuse each other's
// handshake.
