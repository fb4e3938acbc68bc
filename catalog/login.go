package catalog

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/xdg-go/scram"
)

// DefaultIterations is the PBKDF2 iteration count of new SCRAM-SHA-256
// credentials. 4096 is PostgreSQL's default (scram_iterations), so clients
// spend the time they expect on each sign-in.
const DefaultIterations = 4096

// MaxPasswordLen bounds passwords so that hashing one stays cheap.
const MaxPasswordLen = 1024

// Login is a SQL login as listed: never its secret.
type Login struct {
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Rights are the login's grants, AllDatabases first, then by
	// database name; none for a login that may use no database.
	Rights []LoginRight
}

// credentials derives SCRAM-SHA-256 stored credentials for password with a
// fresh random salt. Like PostgreSQL, it applies SASLprep when the password
// allows it and uses the raw bytes otherwise, which is what libpq sends.
func credentials(password string) (scram.StoredCredentials, error) {
	if password == "" {
		return scram.StoredCredentials{}, sqlink.Errorf(sqlink.EINVALID, "give a non-empty password", "password is empty")
	}
	if len(password) > MaxPasswordLen {
		return scram.StoredCredentials{}, sqlink.Errorf(sqlink.EINVALID,
			fmt.Sprintf("use at most %d bytes", MaxPasswordLen), "password is too long")
	}
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		client, err = scram.SHA256.NewClientUnprepped("", password, "")
		if err != nil {
			return scram.StoredCredentials{}, fmt.Errorf("scram client: %w", err)
		}
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	creds, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: DefaultIterations})
	if err != nil {
		return scram.StoredCredentials{}, fmt.Errorf("derive scram credentials: %w", err)
	}
	return creds, nil
}

// CreateLogin creates a SQL login that signs in with password over
// SCRAM-SHA-256. Only the derived credentials are stored.
func (c *Catalog) CreateLogin(ctx context.Context, name, password string) error {
	if err := ValidateName("login", name); err != nil {
		return err
	}
	creds, err := credentials(password)
	if err != nil {
		return err
	}
	now := ts(c.now())
	return c.write(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM logins WHERE name = ?", name)
		if err != nil {
			return err
		}
		if ok {
			return sqlink.Errorf(sqlink.ECONFLICT, "choose another name, or change its password instead",
				"login %q already exists", name)
		}
		_, err = tx.ExecContext(ctx,
			"INSERT INTO logins (name, salt, iterations, stored_key, server_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			name, []byte(creds.Salt), creds.Iters, creds.StoredKey, creds.ServerKey, now, now)
		return err
	})
}

// SetLoginPassword replaces the login's credentials. Sessions already signed
// in are not affected.
func (c *Catalog) SetLoginPassword(ctx context.Context, name, password string) error {
	creds, err := credentials(password)
	if err != nil {
		return err
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			"UPDATE logins SET salt = ?, iterations = ?, stored_key = ?, server_key = ?, updated_at = ? WHERE name = ?",
			[]byte(creds.Salt), creds.Iters, creds.StoredKey, creds.ServerKey, ts(c.now()), name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("login", name, "list logins to see their names")
		}
		return nil
	})
}

// DropLogin removes a SQL login.
func (c *Catalog) DropLogin(ctx context.Context, name string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM logins WHERE name = ?", name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("login", name, "list logins to see their names")
		}
		return nil
	})
}

// ListLogins returns the logins sorted by name.
func (c *Catalog) ListLogins(ctx context.Context) ([]Login, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT name, created_at, updated_at FROM logins ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list logins: %w", err)
	}
	defer rows.Close()
	rights, err := c.LoginRights(ctx)
	if err != nil {
		return nil, err
	}
	out := []Login{}
	for rows.Next() {
		var l Login
		var created, updated int64
		if err := rows.Scan(&l.Name, &created, &updated); err != nil {
			return nil, err
		}
		l.CreatedAt, l.UpdatedAt = fromTS(created), fromTS(updated)
		l.Rights = rights[l.Name]
		out = append(out, l)
	}
	return out, rows.Err()
}

// LookupLogin returns the login's SCRAM-SHA-256 stored credentials, for a
// scram.Server's CredentialLookup. It fails with ENOTFOUND for an unknown
// login.
func (c *Catalog) LookupLogin(ctx context.Context, name string) (scram.StoredCredentials, error) {
	var salt []byte
	var creds scram.StoredCredentials
	err := c.db.QueryRowContext(ctx, "SELECT salt, iterations, stored_key, server_key FROM logins WHERE name = ?", name).
		Scan(&salt, &creds.Iters, &creds.StoredKey, &creds.ServerKey)
	if errors.Is(err, sql.ErrNoRows) {
		return scram.StoredCredentials{}, notFound("login", name, "check the user name, or create the login")
	}
	if err != nil {
		return scram.StoredCredentials{}, fmt.Errorf("lookup login: %w", err)
	}
	creds.Salt = string(salt)
	return creds, nil
}
