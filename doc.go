// Package sqlink holds the vocabulary shared by every part of sqlink: log
// positions, epochs, roles and states, and the user-facing Error type.
//
// It does no I/O. Front ends (pgwire, adminapi, cli) map the error codes
// defined here to SQLSTATEs, HTTP statuses and exit codes, each in one table.
package sqlink
