package catalog

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sqlink/sqlink"
)

// migrations[i] brings the schema from version i to version i+1. Never edit
// a migration that has shipped; append a new one.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE instance (
	singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
	id         TEXT NOT NULL,
	name       TEXT NOT NULL,
	collation  TEXT NOT NULL,
	version    TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE logins (
	name       TEXT PRIMARY KEY,
	salt       BLOB NOT NULL,
	iterations INTEGER NOT NULL,
	stored_key BLOB NOT NULL,
	server_key BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE TABLE principals (
	name       TEXT PRIMARY KEY,
	created_at INTEGER NOT NULL
);
CREATE TABLE principal_roles (
	principal TEXT NOT NULL REFERENCES principals (name) ON DELETE CASCADE,
	role      TEXT NOT NULL,
	position  INTEGER NOT NULL,
	PRIMARY KEY (principal, role)
);
CREATE INDEX principal_roles_role ON principal_roles (role);
CREATE TABLE roles (
	name        TEXT PRIMARY KEY,
	permissions TEXT NOT NULL, -- JSON array of permission names
	created_at  INTEGER NOT NULL
);
CREATE TABLE tokens (
	id          TEXT PRIMARY KEY,
	principal   TEXT NOT NULL REFERENCES principals (name) ON DELETE CASCADE,
	hash        BLOB NOT NULL UNIQUE, -- SHA-256 of the secret
	prefix      TEXT NOT NULL,
	description TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	revoked_at  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE databases (
	name       TEXT PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	state      TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE TABLE backups (
	id           TEXT PRIMARY KEY,
	database     TEXT NOT NULL,
	lsn          INTEGER NOT NULL,
	epoch        INTEGER NOT NULL,
	page_count   INTEGER NOT NULL,
	sha256       TEXT NOT NULL,
	copy_only    INTEGER NOT NULL,
	starts_chain INTEGER NOT NULL,
	size         INTEGER NOT NULL,
	created_at   INTEGER NOT NULL
);
CREATE INDEX backups_database ON backups (database, created_at);
CREATE TABLE trusted_certificates (
	name        TEXT PRIMARY KEY,
	fingerprint TEXT NOT NULL UNIQUE,
	subject     TEXT NOT NULL,
	not_before  INTEGER NOT NULL,
	not_after   INTEGER NOT NULL,
	pem         BLOB NOT NULL,
	added_at    INTEGER NOT NULL
);
CREATE TABLE links (
	name         TEXT PRIMARY KEY,
	database     TEXT NOT NULL,
	role         TEXT NOT NULL,
	partner_url  TEXT NOT NULL,
	partner_name TEXT NOT NULL,
	mode         TEXT NOT NULL,
	two_way      INTEGER NOT NULL,
	epoch        INTEGER NOT NULL,
	state        TEXT NOT NULL,
	data         BLOB,
	updated_at   INTEGER NOT NULL
);
CREATE INDEX links_database ON links (database);
CREATE TABLE audit (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	time      INTEGER NOT NULL,
	principal TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL,
	result    TEXT NOT NULL,
	detail    TEXT NOT NULL
);
`,
	// 2: SQL login rights per database (connect, read, write; database '*'
	// is every database). The logins that existed before could use every
	// database, so they keep write on all: an upgrade locks no one out.
	// Logins created from now on start with no right.
	`
CREATE TABLE login_rights (
	login    TEXT NOT NULL REFERENCES logins (name) ON DELETE CASCADE,
	database TEXT NOT NULL, -- a database name, or '*' for every database
	access   TEXT NOT NULL, -- connect, read or write
	PRIMARY KEY (login, database)
);
INSERT INTO login_rights (login, database, access) SELECT name, '*', 'write' FROM logins;
`,
}

// migrate applies the migrations the file lacks, each in its own
// transaction together with its version bump.
func (c *Catalog) migrate(ctx context.Context) error {
	v, err := c.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("read catalog schema version: %w", err)
	}
	if v > len(migrations) {
		return sqlink.Errorf(sqlink.EINVALID, "run a sqlink release at least as new as the one that last used this data directory",
			"catalog %s has schema version %d; this sqlink knows versions up to %d", c.path, v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		err := c.write(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate catalog to version %d: %w", i+1, err)
		}
	}
	return nil
}
