package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/internal/schema"
	"modernc.org/libc"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The SQL sandbox. A client session's SQL runs on a connection of its own
// pool (DB.sessions), never shared with sqlink's own work (the capture, the
// applier, backups, seeding), and SQLite itself enforces what a session may
// do, whatever its statement text looks like:
//
//   - an authorizer (sqlite3_set_authorizer) refuses ATTACH and DETACH, the
//     PRAGMAs that act behind the replication log's back or change the
//     connection's safety settings, functions that touch files, raw page
//     access (sqlite_dbpage), virtual table modules other than full-text
//     search and R-tree, and anything the session's login has no right to
//     (Access); it also refuses a write to the database in a statement the
//     front end did not declare as a write (Conn.Statement), so a write can
//     never run without the write lock and its capture;
//   - SQLITE_DBCONFIG_DEFENSIVE (no writable_schema, no shadow-table or
//     sqlite_dbpage writes);
//   - limits: no attached databases, values of at most SessionMaxValueBytes
//     (zeroblob(9e8) and printf('%.*c', 1e9, 'x') are refused, not
//     allocated), and the instance-wide heap limit (SetHeapLimit);
//   - the connection is discarded when the session ends, so nothing a
//     session set (a PRAGMA, a temp trigger, a temp table) reaches the next.

// SessionMaxValueBytes is the largest string or blob a session may make
// (SQLITE_LIMIT_LENGTH): a bigger one gets "string or blob too big" instead
// of the memory.
const SessionMaxValueBytes = 256 << 20

// ErrRefused is in the chain of a Conn.Refusal: the sandbox refused the
// statement.
var ErrRefused = errors.New("storage: refused by the SQL sandbox")

// sandbox is the authorizer's state for one session connection.
type sandbox struct {
	access  atomic.Int32 // Access
	write   atomic.Bool  // the current statement was declared a write
	vacuum  atomic.Bool  // ... and a VACUUM, which attaches a temporary database
	holds   atomic.Bool  // the session holds the write lock (explicit transaction)
	trusted atomic.Bool  // sqlink's own statement on the session's connection

	mu      sync.Mutex
	refusal *sqlink.Error // why the last refused statement was refused
}

func (s *sandbox) refuse(code, hint, format string, args ...any) sqlite.AuthorizerReturnCode {
	e := sqlink.Errorf(code, hint, format, args...)
	s.mu.Lock()
	s.refusal = e
	s.mu.Unlock()
	return sqlite.AuthorizerDeny
}

// takeRefusal returns and clears the reason of the last refusal.
func (s *sandbox) takeRefusal() *sqlink.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.refusal
	s.refusal = nil
	return e
}

// schemaTables are read by clients to list tables: allowed to a login with
// the connect right only.
var schemaTables = map[string]bool{"sqlite_schema": true, "sqlite_master": true, "sqlite_temp_schema": true, "sqlite_temp_master": true}

// allowedModules are the virtual table modules a session may create.
var allowedModules = map[string]bool{"fts3": true, "fts4": true, "fts5": true, "rtree": true, "rtree_i32": true, "geopoly": true}

// deniedFunctions touch files or the process.
var deniedFunctions = map[string]string{
	"load_extension": "loading extensions runs code in the server",
	"readfile":       "it reads the server's files",
	"writefile":      "it writes the server's files",
	"edit":           "it runs an editor on the server",
	"fts3_tokenizer": "it takes a pointer to code in the server",
}

// authorize is the session connection's authorizer.
func (s *sandbox) authorize(action sqlite.AuthorizerActionCode, arg1, arg2, dbName, trigger string) sqlite.AuthorizerReturnCode {
	if s.trusted.Load() {
		return sqlite.AuthorizerOK
	}
	access := Access(s.access.Load())
	switch action {
	case sqlite.AuthSelect, sqlite.AuthTransaction, sqlite.AuthSavepoint, sqlite.AuthRecursive:
		return sqlite.AuthorizerOK
	case sqlite.AuthAttach, sqlite.AuthDetach:
		if arg1 == "" && s.vacuum.Load() && access >= AccessWrite {
			// VACUUM rebuilds the database through a temporary one it
			// attaches with an empty name (VACUUM INTO names its file:
			// refused here).
			return sqlite.AuthorizerOK
		}
		return s.refuse(sqlink.EFORBIDDEN, "A session sees only the database it connected to; connect to the other database instead.",
			"ATTACH and DETACH are not allowed")
	case sqlite.AuthPragma:
		return s.pragma(strings.ToLower(arg1), arg2, access)
	case sqlite.AuthFunction:
		if why, ok := deniedFunctions[strings.ToLower(arg2)]; ok {
			return s.refuse(sqlink.EFORBIDDEN, "", "function %s is not allowed: %s", arg2, why)
		}
		return sqlite.AuthorizerOK
	case sqlite.AuthRead:
		t := strings.ToLower(arg1)
		switch {
		case t == "sqlite_dbpage":
			return s.refuse(sqlink.EFORBIDDEN, "Use sqlink backup for a copy of the database's pages.", "reading raw pages (sqlite_dbpage) is not allowed")
		case schemaTables[t] || dbName == "temp" || access >= AccessRead:
			return sqlite.AuthorizerOK
		}
		return s.refuse(sqlink.EFORBIDDEN, "Ask an administrator for the read right: sqlink login grant <login> <database> read.",
			"permission denied for table %s: reading it needs the read right on this database; the login has %s", arg1, access)
	case sqlite.AuthCreateVTable, sqlite.AuthDropVTable:
		if !allowedModules[strings.ToLower(arg2)] {
			return s.refuse(sqlink.EFORBIDDEN, "Full-text search (fts3, fts4, fts5) and R-tree modules are available.", "virtual table module %q is not allowed", arg2)
		}
		return s.writeTo(dbName, access)
	case sqlite.AuthCreateTempIndex, sqlite.AuthCreateTempTable, sqlite.AuthCreateTempTrigger, sqlite.AuthCreateTempView,
		sqlite.AuthDropTempIndex, sqlite.AuthDropTempTable, sqlite.AuthDropTempTrigger, sqlite.AuthDropTempView:
		return s.writeTo("temp", access)
	case sqlite.AuthInsert, sqlite.AuthUpdate, sqlite.AuthDelete:
		if strings.EqualFold(arg1, "sqlite_dbpage") {
			return s.refuse(sqlink.EFORBIDDEN, "", "writing raw pages (sqlite_dbpage) is not allowed")
		}
		if dbName == "temp" && strings.HasPrefix(strings.ToLower(arg1), "sqlite_temp_") {
			return s.writeTo("temp", access)
		}
		return s.writeTo(dbName, access)
	case sqlite.AuthCreateIndex, sqlite.AuthCreateTable, sqlite.AuthCreateTrigger, sqlite.AuthCreateView,
		sqlite.AuthDropIndex, sqlite.AuthDropTable, sqlite.AuthDropTrigger, sqlite.AuthDropView,
		sqlite.AuthAlterTable, sqlite.AuthReindex, sqlite.AuthAnalyze:
		return s.writeTo(dbName, access)
	}
	return s.refuse(sqlink.EFORBIDDEN, "", "operation %d is not allowed in a session", int(action))
}

// writeTo decides a write to schema dbName ("main" or "temp").
func (s *sandbox) writeTo(dbName string, access Access) sqlite.AuthorizerReturnCode {
	if dbName == "temp" {
		// Temporary objects are the connection's own, gone with it.
		if access >= AccessRead {
			return sqlite.AuthorizerOK
		}
		return s.refuse(sqlink.EFORBIDDEN, "Ask an administrator for the read right: sqlink login grant <login> <database> read.",
			"permission denied: temporary objects need the read right on this database; the login has %s", access)
	}
	if access < AccessWrite {
		return s.refuse(sqlink.EFORBIDDEN, "Ask an administrator for the write right: sqlink login grant <login> <database> write.",
			"permission denied: this statement changes the database, which needs the write right on it; the login has %s", access)
	}
	if !s.write.Load() && !s.holds.Load() {
		// The front end runs a statement it took for a read without the
		// write lock: its changes would escape the replication log.
		return s.refuse(sqlink.EFORBIDDEN, "Run it on its own, or inside BEGIN IMMEDIATE ... COMMIT (a plain BEGIN takes the write lock only at its first statement known to write).",
			"a statement that writes was sent as one that only reads")
	}
	return sqlite.AuthorizerOK
}

// Session PRAGMAs. Reading is allowed for every PRAGMA in pragmasRead;
// setting (or the function form with an argument) only for those in
// pragmasSet. Everything else is refused: the PRAGMAs that act behind the
// replication log's back (wal_checkpoint, journal_mode, wal_autocheckpoint,
// locking_mode, synchronous, journal_size_limit), change the connection's
// safety (query_only, writable_schema, trusted_schema, ignore_check_constraints,
// cell_size_check), change the process (soft/hard_heap_limit, threads,
// mmap_size, shrink_memory, temp_store_directory, data_store_directory),
// the resources a session may take (cache_size, cache_spill, busy_timeout,
// max_page_count) or reveal the server's paths (database_list).
var (
	pragmasRead = setOf("analysis_limit", "application_id", "auto_vacuum", "automatic_index", "busy_timeout", "cache_size",
		"cache_spill", "case_sensitive_like", "cell_size_check", "collation_list", "compile_options", "data_version", "defer_foreign_keys",
		"encoding", "foreign_key_check", "foreign_key_list", "foreign_keys", "freelist_count", "function_list", "hard_heap_limit",
		"ignore_check_constraints", "incremental_vacuum", "index_info", "index_list", "index_xinfo", "integrity_check", "journal_mode",
		"journal_size_limit", "legacy_alter_table", "locking_mode", "max_page_count", "mmap_size", "module_list", "optimize",
		"page_count", "page_size", "pragma_list", "query_only", "quick_check", "read_uncommitted", "recursive_triggers",
		"reverse_unordered_selects", "schema_version", "secure_delete", "soft_heap_limit", "synchronous", "table_info",
		"table_list", "table_xinfo", "temp_store", "threads", "trusted_schema", "user_version", "wal_autocheckpoint")
	// pragmasSet may be given a value or argument. The informational ones
	// take a table or index name as their argument.
	pragmasSet = setOf("analysis_limit", "application_id", "auto_vacuum", "automatic_index", "case_sensitive_like",
		"defer_foreign_keys", "foreign_key_check", "foreign_key_list", "foreign_keys", "incremental_vacuum", "index_info",
		"index_list", "index_xinfo", "integrity_check", "legacy_alter_table", "optimize", "quick_check", "recursive_triggers",
		"reverse_unordered_selects", "table_info", "table_list", "table_xinfo", "user_version", "temp_store")
	// pragmasWriting write the database when run with a value.
	pragmasWriting = setOf("application_id", "auto_vacuum", "user_version", "incremental_vacuum", "optimize")
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func (s *sandbox) pragma(name, value string, access Access) sqlite.AuthorizerReturnCode {
	switch {
	case value == "" && pragmasRead[name], value != "" && pragmasSet[name]:
	case name == "database_list":
		return s.refuse(sqlink.EFORBIDDEN, "The session's database is named main.", "PRAGMA database_list is not allowed: it shows the server's paths")
	case value != "" && pragmasRead[name]:
		return s.refuse(sqlink.EFORBIDDEN, "Reading its value (PRAGMA "+name+") is allowed.",
			"setting PRAGMA %s is not allowed in a session: %s", name, pragmaWhy(name))
	default:
		return s.refuse(sqlink.EFORBIDDEN, "See the README's SQL sandbox section for the PRAGMAs a session may use.",
			"PRAGMA %s is not allowed in a session", name)
	}
	if access < AccessRead && name != "pragma_list" && name != "compile_options" && name != "function_list" && name != "module_list" && name != "collation_list" {
		return s.refuse(sqlink.EFORBIDDEN, "Ask an administrator for the read right: sqlink login grant <login> <database> read.",
			"permission denied for PRAGMA %s: it needs the read right on this database; the login has %s", name, access)
	}
	if pragmasWriting[name] && (value != "" || name == "incremental_vacuum") && name != "optimize" {
		return s.writeTo("main", access)
	}
	return sqlite.AuthorizerOK
}

func pragmaWhy(name string) string {
	switch name {
	case "journal_mode", "wal_autocheckpoint", "journal_size_limit", "locking_mode", "synchronous":
		return "sqlink owns the WAL and its checkpoints: the replication log must hold every commit first"
	case "query_only":
		return "a session's read-only state follows its transaction and the database's role"
	case "cache_size", "cache_spill", "mmap_size", "max_page_count", "busy_timeout", "threads", "soft_heap_limit", "hard_heap_limit":
		return "the instance sets the resources a session may take (use SET lock_timeout for lock waits)"
	}
	return "it would weaken the database's safety checks"
}

// sessionDSN is the DSN of the session pool: the database's own, in
// defensive mode.
func (db *DB) sessionDSN() string { return db.dsn() + "&_defensive=1" }

// sessionConnector opens session connections: the size guard, the
// authorizer and the limits.
type sessionConnector struct {
	driver.Connector
	db *DB
}

func (g sessionConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := g.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	g.db.guardConn(c)
	sb := &sandbox{}
	sb.access.Store(int32(AccessWrite))
	ar, ok := c.(sqlite.AuthorizerRegisterer)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("storage: driver connection %T has no authorizer: sessions cannot be sandboxed", c)
	}
	if err := ar.RegisterAuthorizer(sb.authorize); err != nil {
		c.Close()
		return nil, fmt.Errorf("storage: install the session authorizer: %w", err)
	}
	g.db.sandboxes.Store(c, sb)
	return c, nil
}

// sessionLimits sets a session connection's limits.
func sessionLimits(sc *sql.Conn) error {
	for _, l := range []struct{ id, v int }{
		{sqlite3.SQLITE_LIMIT_ATTACHED, 0},
		{sqlite3.SQLITE_LIMIT_LENGTH, SessionMaxValueBytes},
		{sqlite3.SQLITE_LIMIT_SQL_LENGTH, 64 << 20},
	} {
		if _, err := sqlite.Limit(sc, l.id, l.v); err != nil {
			return fmt.Errorf("set session limit %d: %w", l.id, err)
		}
	}
	return nil
}

// sandboxOf returns the sandbox of a session connection.
func (db *DB) sandboxOf(sc *sql.Conn) (*sandbox, error) {
	var sb *sandbox
	err := sc.Raw(func(dc any) error {
		v, ok := db.sandboxes.Load(dc)
		if !ok {
			return fmt.Errorf("storage: session connection %T has no sandbox", dc)
		}
		sb = v.(*sandbox)
		return nil
	})
	return sb, err
}

// discard closes a session's connection instead of returning it to the
// pool: what the session set on it goes with it.
func (db *DB) discard(sc *sql.Conn) error {
	_ = sc.Raw(func(dc any) error {
		db.sandboxes.Delete(dc)
		return driver.ErrBadConn // database/sql closes the connection
	})
	err := sc.Close()
	if err == sql.ErrConnDone {
		err = nil
	}
	return err
}

// StatementKind is what a session's statement does, as the front end
// classified it before SQLite prepares it.
type StatementKind int

// Statement kinds.
const (
	StatementRead   StatementKind = iota // reads only: a write in it is refused
	StatementWrite                       // may write the database
	StatementVacuum                      // VACUUM: writes, through a temporary attached database
)

// Statement declares what the statement the session prepares or runs next
// does. A write in a statement declared as a read is refused by SQLite (see
// Refusal), so no write runs without the write lock.
func (c *Conn) Statement(k StatementKind) error {
	c.sb.takeRefusal() // a refusal the front end did not ask about is stale now
	c.sb.write.Store(k != StatementRead)
	c.sb.vacuum.Store(k == StatementVacuum)
	if attach := k == StatementVacuum; attach != c.attach {
		n := 0
		if attach {
			n = 1
		}
		if _, err := sqlite.Limit(c.sc, sqlite3.SQLITE_LIMIT_ATTACHED, n); err != nil {
			return fmt.Errorf("storage: set the attached database limit: %w", err)
		}
		c.attach = attach
	}
	return nil
}

// Refusal returns, once, why the sandbox refused the session's last
// refused statement (code EFORBIDDEN, wrapping ErrRefused), or nil.
func (c *Conn) Refusal() error {
	if e := c.sb.takeRefusal(); e != nil {
		return fmt.Errorf("%w: %w", e, ErrRefused)
	}
	return nil
}

// SetQueryOnly turns the connection's query_only on or off for a read-only
// transaction, as sqlink (sessions may not). It is never turned off on a
// read-only database.
func (c *Conn) SetQueryOnly(ctx context.Context, on bool) error {
	if !on {
		if ro, _ := c.db.ReadOnly(); ro {
			on = true
		}
	}
	return c.trusted(func() error {
		q := "PRAGMA query_only=OFF"
		if on {
			q = "PRAGMA query_only=ON"
		}
		_, err := c.sc.ExecContext(ctx, q)
		return err
	})
}

// trusted runs f with the sandbox open: sqlink's own statements only.
func (c *Conn) trusted(f func() error) error {
	c.sb.trusted.Store(true)
	defer c.sb.trusted.Store(false)
	return f()
}

// init turns SQLite's memory accounting on, which its heap limit needs
// (modernc.org/sqlite builds with SQLITE_DEFAULT_MEMSTATUS=0). It must run
// before SQLite initializes, i.e. before any database is opened; package
// initialization is that early.
func init() {
	tls := libc.NewTLS()
	defer tls.Close()
	va := libc.Xmalloc(tls, 8)
	if va == 0 {
		return
	}
	defer libc.Xfree(tls, va)
	memstatusRC = sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_MEMSTATUS, libc.VaList(va, int32(1)))
}

// memstatusRC is what turning on the memory accounting returned.
var memstatusRC int32

// SetHeapLimit bounds the memory SQLite may take in this process
// (sqlite3_hard_heap_limit64), all databases and sessions together: an
// allocation past it fails the statement with "out of memory" instead of
// taking the machine's memory. n <= 0 leaves it unlimited.
func SetHeapLimit(n int64) error {
	if memstatusRC != sqlite3.SQLITE_OK {
		return fmt.Errorf("storage: SQLite's memory accounting is off (sqlite3_config returned %d): no heap limit", memstatusRC)
	}
	if n < 0 {
		n = 0
	}
	tls := libc.NewTLS()
	defer tls.Close()
	sqlite3.Xsqlite3_hard_heap_limit64(tls, n)
	return nil
}

// TableColumns returns the name and declared type of each column of table
// in the database as committed, read on a connection of sqlink's own (not
// a session's, whose open transaction it leaves alone).
func (db *DB) TableColumns(ctx context.Context, table string) ([][2]string, error) {
	return schema.TableColumns(ctx, db.sqldb, table)
}
