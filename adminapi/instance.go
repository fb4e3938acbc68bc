package adminapi

import (
	"context"
	"io"
)

// Instance is what the API needs from the running server beyond the
// catalog. The server implements it; every method may be called
// concurrently. Errors should be *sqlink.Error values: their codes become
// HTTP statuses (see StatusCode) and their message and hint reach the
// operator. Any other error becomes a 500.
type Instance interface {
	// Info returns the instance's identity, listener addresses and uptime.
	Info(ctx context.Context) (InstanceStatus, error)

	// ListDatabases returns every user database, sorted by name. Backups
	// may be left empty.
	ListDatabases(ctx context.Context) ([]DatabaseInfo, error)

	// GetDatabase returns one database with its position, size, state,
	// read-only flag, backup history and whether its chain started;
	// ENOTFOUND if there is none.
	GetDatabase(ctx context.Context, name string) (DatabaseInfo, error)

	// CreateDatabase creates an empty ONLINE database. The name has already
	// passed catalog.ValidateName; ECONFLICT if it exists.
	CreateDatabase(ctx context.Context, name string) (DatabaseInfo, error)

	// DropDatabase drops a database and deletes its file; ENOTFOUND if
	// there is none, ECONFLICT while a link replicates it.
	DropDatabase(ctx context.Context, name string) error

	// Backup writes a consistent full backup of the database to w while
	// writes go on, records it in the catalog (a backup that is not
	// copy-only starts the chain) and returns what it recorded. The
	// BackupInfo's SHA256 must be that of the bytes written to w, or empty.
	// An error before the first write to w becomes an ordinary error
	// response; after it, the client sees the stream fail.
	Backup(ctx context.Context, name string, copyOnly bool, w io.Writer) (BackupInfo, error)

	// Restore creates database name from the backup file read from r. With
	// restoring, the database is left RESTORING (not readable) so a link
	// can seed it from the backup's LSN; otherwise it is ONLINE. ECONFLICT
	// if the database exists, EINVALID if r is not a valid backup.
	Restore(ctx context.Context, name string, restoring bool, r io.Reader) (DatabaseInfo, error)

	// CompleteRestore brings a RESTORING database ONLINE; ECONFLICT if it
	// is not RESTORING or a link is seeding it.
	CompleteRestore(ctx context.Context, name string) (DatabaseInfo, error)

	// EndpointCertificate returns the replication endpoint's certificate
	// (PEM, fingerprint, subject, validity), never its key.
	EndpointCertificate(ctx context.Context) (CertificateInfo, error)
}

// CertificateRotator is implemented by an Instance that can replace its
// endpoint certificate (POST /v1/endpoint-certificate/rotate). Without it
// that route answers 501 Not Implemented.
type CertificateRotator interface {
	// RotateEndpointCertificate generates a new endpoint certificate and
	// key, starts using them for new connections without breaking existing
	// links, and returns the new certificate. Peers must trust it before
	// the old one expires.
	RotateEndpointCertificate(ctx context.Context) (CertificateInfo, error)
}
