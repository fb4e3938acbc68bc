package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sqlink/sqlink"
)

// Right is what a SQL login may do in a database. Each right includes the
// ones before it: write includes read, read includes connect.
type Right int

// Rights, from none to all.
const (
	// RightNone is the absence of a right: the login cannot open a
	// session on the database. A new login has no right anywhere.
	RightNone Right = iota
	// RightConnect may open a session and run statements that touch no
	// table.
	RightConnect
	// RightRead may also read the database's tables.
	RightRead
	// RightWrite may also change them and their schema.
	RightWrite
)

// AllDatabases is the database name of a right on every database of the
// instance, those created later included.
const AllDatabases = "*"

var rightNames = [...]string{RightNone: "none", RightConnect: "connect", RightRead: "read", RightWrite: "write"}

// String returns the right's name: none, connect, read or write.
func (r Right) String() string {
	if r >= 0 && int(r) < len(rightNames) {
		return rightNames[r]
	}
	return fmt.Sprintf("Right(%d)", int(r))
}

// ParseRight parses connect, read or write (and none, which only
// RevokeRight accepts).
func ParseRight(s string) (Right, error) {
	for r, name := range rightNames {
		if s == name {
			return Right(r), nil
		}
	}
	return RightNone, sqlink.Errorf(sqlink.EINVALID, "use connect, read or write", "unknown right %q", s)
}

// MarshalText encodes the right as its name.
func (r Right) MarshalText() ([]byte, error) {
	if r < 0 || int(r) >= len(rightNames) {
		return nil, fmt.Errorf("invalid right %d", int(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText decodes a right's name.
func (r *Right) UnmarshalText(b []byte) error {
	v, err := ParseRight(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// LoginRight is one grant: a right on a database, or on AllDatabases.
type LoginRight struct {
	Database string
	Right    Right
}

// checkGrantTarget returns an error unless the login exists and database
// is AllDatabases or a database of the instance.
func checkGrantTarget(ctx context.Context, tx *sql.Tx, login, database string) error {
	ok, err := exists(ctx, tx, "SELECT 1 FROM logins WHERE name = ?", login)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("login", login, "list logins to see their names (sqlink login list)")
	}
	if database == AllDatabases {
		return nil
	}
	ok, err = exists(ctx, tx, "SELECT 1 FROM databases WHERE name = ?", database)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("database", database, fmt.Sprintf("list databases to see their names (sqlink db list), or grant on all databases with %q", AllDatabases))
	}
	return nil
}

// GrantRight sets login's right on database (a database name or
// AllDatabases) to r, replacing the right it had there: granting read
// where it had write lowers it. Sessions already open keep the right they
// started with.
func (c *Catalog) GrantRight(ctx context.Context, login, database string, r Right) error {
	if r <= RightNone || r > RightWrite {
		return sqlink.Errorf(sqlink.EINVALID, "grant connect, read or write; revoke to take rights away", "cannot grant %s", r)
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		if err := checkGrantTarget(ctx, tx, login, database); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			"INSERT INTO login_rights (login, database, access) VALUES (?, ?, ?) ON CONFLICT (login, database) DO UPDATE SET access = excluded.access",
			login, database, r.String())
		return err
	})
}

// RevokeRight takes right r on database (a name or AllDatabases) away from
// login, with the rights that include it: revoking read from a login that
// has write leaves it connect. RightNone revokes every right on database.
// It returns the right the login keeps on that entry. A right granted on
// AllDatabases still applies to every database; revoke it there too.
func (c *Catalog) RevokeRight(ctx context.Context, login, database string, r Right) (Right, error) {
	if r < RightNone || r > RightWrite {
		return RightNone, sqlink.Errorf(sqlink.EINVALID, "revoke connect, read or write", "invalid right %d", int(r))
	}
	left := RightNone
	err := c.write(ctx, func(tx *sql.Tx) error {
		ok, err := exists(ctx, tx, "SELECT 1 FROM logins WHERE name = ?", login)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("login", login, "list logins to see their names (sqlink login list)")
		}
		cur, err := storedRight(ctx, tx, login, database)
		if err != nil {
			return err
		}
		left = cur
		if r != RightNone && cur >= r {
			left = r - 1
		} else if r == RightNone {
			left = RightNone
		}
		if left == cur {
			return nil
		}
		if left == RightNone {
			_, err = tx.ExecContext(ctx, "DELETE FROM login_rights WHERE login = ? AND database = ?", login, database)
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE login_rights SET access = ? WHERE login = ? AND database = ?", left.String(), login, database)
		return err
	})
	return left, err
}

// storedRight returns the right stored for exactly (login, database).
func storedRight(ctx context.Context, q queryer, login, database string) (Right, error) {
	var s string
	err := q.QueryRowContext(ctx, "SELECT access FROM login_rights WHERE login = ? AND database = ?", login, database).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return RightNone, nil
	}
	if err != nil {
		return RightNone, fmt.Errorf("read login right: %w", err)
	}
	return ParseRight(s)
}

// DatabaseRight returns what login may do in database: the higher of its
// right on that database and its right on AllDatabases. An unknown login
// has RightNone.
func (c *Catalog) DatabaseRight(ctx context.Context, login, database string) (Right, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT access FROM login_rights WHERE login = ? AND database IN (?, ?)", login, database, AllDatabases)
	if err != nil {
		return RightNone, fmt.Errorf("read login rights: %w", err)
	}
	defer rows.Close()
	best := RightNone
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return RightNone, err
		}
		r, err := ParseRight(s)
		if err != nil {
			return RightNone, err
		}
		best = max(best, r)
	}
	return best, rows.Err()
}

// LoginRights returns every login's grants, by login name, each sorted
// with AllDatabases first and then by database name.
func (c *Catalog) LoginRights(ctx context.Context) (map[string][]LoginRight, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT login, database, access FROM login_rights ORDER BY login, database <> '*', database")
	if err != nil {
		return nil, fmt.Errorf("list login rights: %w", err)
	}
	defer rows.Close()
	out := map[string][]LoginRight{}
	for rows.Next() {
		var login, db, s string
		if err := rows.Scan(&login, &db, &s); err != nil {
			return nil, err
		}
		r, err := ParseRight(s)
		if err != nil {
			return nil, err
		}
		out[login] = append(out[login], LoginRight{Database: db, Right: r})
	}
	return out, rows.Err()
}
