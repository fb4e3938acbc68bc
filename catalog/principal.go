package catalog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/rbac"
)

// Principal is an identity of the admin API: a name and the roles granted
// to it. Tokens authenticate as a principal.
type Principal struct {
	Name      string
	Roles     []string
	CreatedAt time.Time
}

// Token describes an admin API bearer token. The secret itself is shown
// once, by CreateToken, and never stored.
type Token struct {
	ID          string
	Principal   string
	Description string
	Prefix      string // the secret's first characters, to recognise it
	CreatedAt   time.Time
	RevokedAt   time.Time // zero while the token is valid
}

// Revoked reports whether the token has been revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// Token secrets.
const (
	// TokenPrefix starts every generated secret so that it is recognisable
	// in logs and by secret scanners.
	TokenPrefix = "sqlk_"
	// tokenPrefixLen is how much of a secret Token.Prefix keeps: the fixed
	// prefix and 7 random characters (35 bits), enough to tell tokens apart
	// and far too little to guess the rest.
	tokenPrefixLen = len(TokenPrefix) + 7
	// MinImportedSecretLen and MaxImportedSecretLen bound secrets given to
	// ImportToken.
	MinImportedSecretLen = 16
	MaxImportedSecretLen = 512
)

// hashSecret returns the stored form of a token secret.
func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

var secretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newSecret returns TokenPrefix and 32 random bytes in lower-case base32.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return TokenPrefix + strings.ToLower(secretEncoding.EncodeToString(b))
}

// checkRoles checks that every role exists, built in or custom.
func checkRoles(ctx context.Context, tx *sql.Tx, roles []string) error {
	seen := map[string]bool{}
	for _, r := range roles {
		if seen[r] {
			return sqlink.Errorf(sqlink.EINVALID, "give each role once", "role %q is given twice", r)
		}
		seen[r] = true
		if rbac.IsBuiltin(r) {
			continue
		}
		ok, err := exists(ctx, tx, "SELECT 1 FROM roles WHERE name = ?", r)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("role", r, "list roles to see their names, or create the custom role first")
		}
	}
	return nil
}

func setRoles(ctx context.Context, tx *sql.Tx, principal string, roles []string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM principal_roles WHERE principal = ?", principal); err != nil {
		return err
	}
	for i, r := range roles {
		if _, err := tx.ExecContext(ctx, "INSERT INTO principal_roles (principal, role, position) VALUES (?, ?, ?)",
			principal, r, i); err != nil {
			return err
		}
	}
	return nil
}

// CreatePrincipal creates a principal with the given roles, each of which
// must exist.
func (c *Catalog) CreatePrincipal(ctx context.Context, name string, roles []string) error {
	if err := ValidateName("principal", name); err != nil {
		return err
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM principals WHERE name = ?", name)
		if err != nil {
			return err
		}
		if ok {
			return sqlink.Errorf(sqlink.ECONFLICT, "choose another name, or change its roles instead",
				"principal %q already exists", name)
		}
		if err := checkRoles(ctx, tx, roles); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO principals (name, created_at) VALUES (?, ?)",
			name, ts(c.now())); err != nil {
			return err
		}
		return setRoles(ctx, tx, name, roles)
	})
}

// SetPrincipalRoles replaces the principal's roles. It takes effect on the
// principal's next request. Like DropPrincipal and RevokeToken, it refuses
// (EFORBIDDEN) to remove the last valid token holding every permission.
func (c *Catalog) SetPrincipalRoles(ctx context.Context, name string, roles []string) error {
	return c.writeKeepingAdmin(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM principals WHERE name = ?", name)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("principal", name, "list principals to see their names")
		}
		if err := checkRoles(ctx, tx, roles); err != nil {
			return err
		}
		return setRoles(ctx, tx, name, roles)
	})
}

// DropPrincipal removes a principal and all its tokens.
func (c *Catalog) DropPrincipal(ctx context.Context, name string) error {
	return c.writeKeepingAdmin(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM principals WHERE name = ?", name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("principal", name, "list principals to see their names")
		}
		return nil
	})
}

// GetPrincipal returns one principal.
func (c *Catalog) GetPrincipal(ctx context.Context, name string) (Principal, error) {
	ps, err := c.principals(ctx, c.db, name)
	if err != nil {
		return Principal{}, err
	}
	if len(ps) == 0 {
		return Principal{}, notFound("principal", name, "list principals to see their names")
	}
	return ps[0], nil
}

// ListPrincipals returns the principals sorted by name.
func (c *Catalog) ListPrincipals(ctx context.Context) ([]Principal, error) {
	return c.principals(ctx, c.db, "")
}

// principals returns the principal called name, or all of them if name is
// empty.
func (c *Catalog) principals(ctx context.Context, q queryer, name string) ([]Principal, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT p.name, p.created_at, r.role
		FROM principals p LEFT JOIN principal_roles r ON r.principal = p.name
		WHERE ? = '' OR p.name = ?
		ORDER BY p.name, r.position`, name, name)
	if err != nil {
		return nil, fmt.Errorf("list principals: %w", err)
	}
	defer rows.Close()
	out := []Principal{}
	for rows.Next() {
		var pname string
		var created int64
		var role sql.NullString
		if err := rows.Scan(&pname, &created, &role); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Name != pname {
			out = append(out, Principal{Name: pname, Roles: []string{}, CreatedAt: fromTS(created)})
		}
		if role.Valid {
			p := &out[len(out)-1]
			p.Roles = append(p.Roles, role.String)
		}
	}
	return out, rows.Err()
}

// CreateToken creates a token for principal and returns its secret, which
// is shown to the caller once and stored only as its SHA-256.
func (c *Catalog) CreateToken(ctx context.Context, principal, description string) (secret string, tok Token, err error) {
	secret = newSecret()
	tok, err = c.addToken(ctx, principal, secret, description)
	if err != nil {
		return "", Token{}, err
	}
	return secret, tok, nil
}

// ImportToken stores a secret chosen elsewhere (init --admin-token-file) as
// a token of principal. The secret must be 16 to 512 printable ASCII
// characters without spaces, so it fits an Authorization header.
func (c *Catalog) ImportToken(ctx context.Context, principal, secret string) (Token, error) {
	const hint = "use 16 to 512 printable ASCII characters without spaces, e.g. the output of openssl rand -hex 32"
	if len(secret) < MinImportedSecretLen || len(secret) > MaxImportedSecretLen {
		return Token{}, sqlink.Errorf(sqlink.EINVALID, hint, "token secret is %d characters long", len(secret))
	}
	for i := 0; i < len(secret); i++ {
		if secret[i] <= ' ' || secret[i] > '~' {
			return Token{}, sqlink.Errorf(sqlink.EINVALID, hint, "token secret has a space or non-printable character at byte %d", i)
		}
	}
	return c.addToken(ctx, principal, secret, "imported")
}

const maxDescriptionLen = 256

func (c *Catalog) addToken(ctx context.Context, principal, secret, description string) (Token, error) {
	if len(description) > maxDescriptionLen {
		return Token{}, sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("use at most %d bytes", maxDescriptionLen),
			"token description is too long")
	}
	tok := Token{
		ID:          randomHex(8),
		Principal:   principal,
		Description: description,
		Prefix:      secret[:min(len(secret), tokenPrefixLen)],
		CreatedAt:   c.now().UTC(),
	}
	err := c.write(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM principals WHERE name = ?", principal)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("principal", principal, "create the principal first")
		}
		hash := hashSecret(secret)
		ok, err = exists(ctx, tx, "SELECT 1 FROM tokens WHERE hash = ?", hash)
		if err != nil {
			return err
		}
		if ok {
			return sqlink.Errorf(sqlink.ECONFLICT, "generate a new secret", "this token secret is already in use")
		}
		_, err = tx.ExecContext(ctx,
			"INSERT INTO tokens (id, principal, hash, prefix, description, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			tok.ID, tok.Principal, hash, tok.Prefix, tok.Description, ts(tok.CreatedAt))
		return err
	})
	if err != nil {
		return Token{}, err
	}
	return tok, nil
}

// ListTokens returns the tokens of principal, or of every principal when
// principal is empty, oldest first. Revoked tokens are included.
func (c *Catalog) ListTokens(ctx context.Context, principal string) ([]Token, error) {
	rows, err := c.db.QueryContext(ctx, `
		SELECT id, principal, description, prefix, created_at, revoked_at FROM tokens
		WHERE ? = '' OR principal = ? ORDER BY created_at, id`, principal, principal)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		var created, revoked int64
		if err := rows.Scan(&t.ID, &t.Principal, &t.Description, &t.Prefix, &created, &revoked); err != nil {
			return nil, err
		}
		t.CreatedAt, t.RevokedAt = fromTS(created), fromTS(revoked)
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes the token with the given ID. It takes effect at once:
// the next Authenticate with its secret fails. Revoking a revoked token
// does nothing.
func (c *Catalog) RevokeToken(ctx context.Context, id string) error {
	return c.writeKeepingAdmin(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM tokens WHERE id = ?", id)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("token", id, "list tokens to see their IDs")
		}
		_, err = tx.ExecContext(ctx, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0", ts(c.now()), id)
		return err
	})
}

// errBadToken is the one answer for every failed authentication, so that a
// caller cannot tell unknown tokens from revoked ones.
var errBadToken = &sqlink.Error{
	Code:    sqlink.EUNAUTHORIZED,
	Message: "invalid or revoked token",
	Hint:    "pass --token or set SQLINK_TOKEN to a valid token",
}

// Authenticate returns the principal a token secret belongs to and the
// roles granted to it. It fails with EUNAUTHORIZED for an unknown or
// revoked token. Role names that no longer exist are skipped.
func (c *Catalog) Authenticate(ctx context.Context, secret string) (Principal, []rbac.Role, error) {
	if secret == "" || len(secret) > MaxImportedSecretLen {
		return Principal{}, nil, errBadToken
	}
	var name string
	err := c.db.QueryRowContext(ctx, "SELECT principal FROM tokens WHERE hash = ? AND revoked_at = 0",
		hashSecret(secret)).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, nil, errBadToken
	}
	if err != nil {
		return Principal{}, nil, fmt.Errorf("authenticate: %w", err)
	}
	p, err := c.GetPrincipal(ctx, name)
	if sqlink.ErrorCode(err) == sqlink.ENOTFOUND {
		return Principal{}, nil, errBadToken
	}
	if err != nil {
		return Principal{}, nil, err
	}
	roles := make([]rbac.Role, 0, len(p.Roles))
	for _, name := range p.Roles {
		r, err := c.GetRole(ctx, name)
		if sqlink.ErrorCode(err) == sqlink.ENOTFOUND {
			continue
		}
		if err != nil {
			return Principal{}, nil, err
		}
		roles = append(roles, r.Role)
	}
	return p, roles, nil
}
