// Package catalog stores an instance's own system data in one SQLite file:
// the instance's identity, SQL logins and their rights per database
// (connect, read, write; see Right), admin principals, tokens and custom
// roles, the registry of user databases, backup history, trusted peer
// certificates, link records and the audit log. The catalog is never
// replicated; each instance has its own.
//
// The file is opened in WAL mode with synchronous=FULL, so every method that
// changes something has made the change durable when it returns. The schema
// carries a version number (PRAGMA user_version) and Open applies any missing
// migrations in order, each in its own transaction.
//
// Secrets are never stored: SQL login passwords become SCRAM-SHA-256 stored
// credentials (salt, iterations, StoredKey, ServerKey) and admin tokens are
// kept as their SHA-256 only, so a stolen catalog file does not reveal them.
//
// Errors meant for people are *sqlink.Error values: EINVALID for bad input
// (with a hint saying what is allowed), ENOTFOUND for a missing object,
// ECONFLICT for a duplicate or an object in use, EUNAUTHORIZED for an unknown
// or revoked token.
//
// A *Catalog is safe for concurrent use. Writes are serialized inside the
// process; reads run in parallel with them.
package catalog
