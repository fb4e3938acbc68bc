// Package guide holds the engine of sqlink's guided operations: the
// validation checks that run before a link is created (each pass, warning
// or fail, with a hint) and the connectivity troubleshooting of the two
// endpoints. The CLI (`sqlink link validate`, `link troubleshoot`, `link
// create`), a wizard or a web console call it; each instance validates its
// own half through POST /v1/links/validate and probes its partner through
// POST /v1/endpoint/probe.
//
// The check functions are pure: they take the facts gathered from the
// instances and return one adminapi.ValidationCheck each, so that each
// check is tested on its own.
//
// # Using it
//
// A Pair holds the two instances' admin clients. Pair.Validate returns a
// Report with one adminapi.ValidationCheck per check (it returns an error
// only for an unknown Options.Skip name or when the context ends: an
// unreachable instance is a failed check), and
// Pair.Troubleshoot one Direction per side, each with its steps (name
// resolution, TCP connect, TLS handshake, link hello, round-trip time,
// clock skew), the first failing one named in Failed with a hint. Neither
// changes anything on the instances. A Pair is safe for concurrent use
// when its clients are.
//
// Options.Skip turns the failure of named checks into warnings, for an
// operator who knows better.
//
// CreateScript and FailoverScript write the Scripts of `sqlink link
// create --script` and `link failover --script`, which the CLI wizards
// and the web console's wizards show too: one generator for all of them.
package guide
