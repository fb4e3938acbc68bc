package catalog

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sqlink/sqlink"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// MaxNameLen is the longest name of a database, login, principal, role,
// certificate or link. It is PostgreSQL's identifier limit, so every name
// can also be used as a dbname or user name over the wire protocol.
const MaxNameLen = 63

// Catalog is an open catalog file. It is safe for concurrent use.
type Catalog struct {
	db   *sql.DB
	path string

	// wmu serializes write transactions so that writers queue in Go
	// instead of spinning on SQLITE_BUSY.
	wmu sync.Mutex

	// now returns the current time; it is time.Now outside tests.
	now func() time.Time

	// auditWrites counts Audit calls since the last pruning.
	auditWrites int
}

// Open opens the catalog at path, creating the file if it does not exist,
// and brings its schema up to date. Close it when done.
func Open(ctx context.Context, path string) (*Catalog, error) {
	if path == "" {
		return nil, sqlink.Errorf(sqlink.EINVALID, "give the catalog file's path", "catalog path is empty")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, sqlink.Errorf(sqlink.EINVALID, "choose a data directory whose path has no '?' or '#'",
			"catalog path %q contains '?' or '#'", path)
	}
	// busy_timeout covers other processes (sqlite3 CLI, backups) holding a
	// lock for a moment; inside this process writers queue on wmu.
	dsn := path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
		"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	c := &Catalog{db: db, path: path, now: time.Now}
	if err := c.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

func (c *Catalog) init(ctx context.Context) error {
	var mode string
	if err := c.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "check that the data directory exists and is writable",
			"open catalog %s: %v", c.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("open catalog %s: journal mode is %q, want wal", c.path, mode)
	}
	return c.migrate(ctx)
}

// Close closes the catalog file.
func (c *Catalog) Close() error {
	return c.db.Close()
}

// Path returns the catalog file's path.
func (c *Catalog) Path() string { return c.path }

// SchemaVersion returns the version of the catalog's schema.
func (c *Catalog) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := c.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// write runs fn in an immediate transaction, serialized with every other
// write of this catalog, and commits it when fn returns nil.
func (c *Catalog) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("catalog: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("catalog: commit: %w", err)
	}
	return nil
}

// queryer is what reads need; both *sql.DB and *sql.Tx have it.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// exists reports whether query returns a row.
func exists(ctx context.Context, q queryer, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// ValidateName checks that name is a valid name for an object of the given
// kind ("database", "login", ...): it starts with a letter, has only ASCII
// letters, digits, '_' and '-', and is at most MaxNameLen bytes long.
func ValidateName(kind, name string) error {
	hint := fmt.Sprintf("a %s name starts with a letter and has only letters, digits, '_' and '-' (at most %d)", kind, MaxNameLen)
	if name == "" {
		return sqlink.Errorf(sqlink.EINVALID, hint, "%s name is empty", kind)
	}
	if len(name) > MaxNameLen {
		return sqlink.Errorf(sqlink.EINVALID, hint, "%s name is %d characters long", kind, len(name))
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		letter := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z'
		if !(letter || i > 0 && (ch >= '0' && ch <= '9' || ch == '_' || ch == '-')) {
			return sqlink.Errorf(sqlink.EINVALID, hint, "invalid %s name %q", kind, name)
		}
	}
	return nil
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics rather)
	return hex.EncodeToString(b)
}

// ts converts t to the stored form: Unix nanoseconds, 0 for the zero time.
func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromTS is the inverse of ts, in UTC.
func fromTS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nowOr returns t, or the current time when t is zero.
func (c *Catalog) nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return c.now().UTC()
	}
	return t.UTC()
}

func notFound(kind, name, hint string) error {
	return sqlink.Errorf(sqlink.ENOTFOUND, hint, "%s %q not found", kind, name)
}
