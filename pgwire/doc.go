// Package pgwire serves sqlink's SQLite databases to ordinary PostgreSQL
// clients (psql, pgbench, pgx, database/sql, libpq) over the PostgreSQL
// wire protocol 3.0.
//
// # Sessions
//
// Server accepts connections and runs one goroutine per connection. That
// goroutine owns the socket and, once the client has authenticated with
// SCRAM-SHA-256 (credentials from Backend.LookupLogin, looked up by the
// StartupMessage user), a Session from Backend.OpenSession: a pinned SQLite
// connection on which every statement of the session runs. SSLRequest and
// GSSENCRequest are answered 'N'; a 3.2 StartupMessage gets
// NegotiateProtocolVersion 3.0. Each session has BackendKeyData; a
// CancelRequest with the right key interrupts the running statement
// (57014). Startup reports server_version, encodings, DateStyle, TimeZone,
// and default_transaction_read_only / in_hot_standby from
// Session.ReadOnly, so libpq's target_session_attrs=read-write skips a
// read-only secondary; SHOW transaction_read_only and pg_is_in_recovery()
// are answered from Session.ReadOnly too, for pgx. Server.EndSessions ends
// the sessions of a database with a FATAL error so that pools reconnect
// after a role change; new sessions read the new role. Server.Close ends
// every session with 57P01. A session ending in any way rolls back and
// releases the write lock before Session.Close.
//
// # Timeouts and session management
//
// statement_timeout, lock_timeout and idle_in_transaction_session_timeout
// start at Config's values and are set per session (timeouts.go). A
// statement is cancelled by sqlite3_interrupt (interrupt.go), repeated
// until it ends; a wait for the write lock is a Session.BeginWrite under a
// context that the same cancellations end. A statement that runs for more
// than 100ms has its socket read ahead (watch.go), so a client that
// disconnects has its statement interrupted and its session ended at
// once. pg_stat_activity is answered by SQLite over a CTE of the
// sessions' rows (activity_sql.go); pg_cancel_backend and
// pg_terminate_backend act on sessions as the optional Superuser
// capability allows. Server.Sessions, CancelSession and TerminateSession
// are the same for the admin API.
//
// A session that is active (pg_stat_activity shows its Query or Execute)
// keeps a cancel until it sends ReadyForQuery, as PostgreSQL keeps a
// cancel pending: a statement that starts meanwhile fails with 57014
// before it runs (COMMIT and ROLLBACK excepted), so a cancel that comes
// before the statement starts, or between two statements of one Query,
// is not lost. A cancel that comes while the session is idle does
// nothing.
//
// # Statements
//
// Simple Query messages are split into statements at semicolons outside
// quotes, comments and trigger bodies. The extended protocol (Parse, Bind,
// Describe, Execute, Close, Sync, Flush) keeps named and unnamed statements
// as prepared SQLite statements for the life of the statement, and
// describes result columns from the declared column types
// (sqlite3_column_decltype, through modernc's ColumnInfo; typeinfer.go,
// typecodec.go and README "PostgreSQL clients"): INTEGER is int4, BIGINT
// int8, BOOLEAN bool, NUMERIC numeric, DATE date, TIMESTAMPTZ timestamptz,
// UUID uuid... Expression columns are typed from the expression (count(*)
// int8, comparisons bool) or, when a portal is described or a simple query
// runs, from their first values; otherwise OID 0 (unknown), which pgx
// decodes by its scan target. Every advertised type has a binary encoder.
// Parameters are $N, which SQLite takes as is; a parameter that meets a
// column (paraminfer.go) is reported with its type, and a text parameter
// the client left untyped is decoded as that type. Rows stream to the
// client as they are stepped; output is buffered and flushed at each
// ReadyForQuery (and every 64 KiB of a long result).
//
// Some statements never reach SQLite: transaction control, SET/RESET/SHOW
// of settings, DEALLOCATE/DISCARD, version(), current_database(),
// current_user, pg_is_in_recovery(), and queries on pg_catalog and
// information_schema, which run on SQLite over views of sqlite_schema and
// the table_info/index_list/foreign_key_list pragmas (pgcatalog*.go); a
// catalog relation or function not emulated is refused with 0A000.
// ATTACH, DETACH and VACUUM INTO are refused: a session sees only its own
// database. So are the PRAGMAs
// that would act behind the replication log's back or weaken durability
// (wal_checkpoint; setting journal_mode, wal_autocheckpoint, synchronous,
// locking_mode, query_only and a few more: pragma.go); reading them is not.
//
// # Transactions
//
// BEGIN / START TRANSACTION (any isolation level) calls Session.BeginWrite
// and runs BEGIN IMMEDIATE, so writers queue on the write lock instead of
// failing with SQLITE_BUSY. BEGIN READ ONLY, and any BEGIN on a read-only
// secondary (BeginWrite fails with EREADONLY), runs a deferred BEGIN with
// PRAGMA query_only, so reads work and writes fail with 25006. COMMIT/END,
// ROLLBACK/ABORT end the transaction, then Session.EndWrite is called.
// Outside a transaction a statement that may write (anything but
// SELECT/VALUES/SHOW/EXPLAIN/PRAGMA reads and WITH ... SELECT) is bracketed by
// BeginWrite and EndWrite. A failed statement inside a transaction puts it
// in state E: further statements get 25P02 and COMMIT answers ROLLBACK.
// ReadyForQuery always carries the true status I, T or E.
//
// # SQLSTATEs
//
// All errors map to SQLSTATEs in one place (errors.go):
//
//	25006 read_only_sql_transaction   sqlink EREADONLY; SQLITE_READONLY (query_only, secondary)
//	25P02 in_failed_sql_transaction   statement in a failed transaction
//	25001 / 25P01                     BEGIN in a transaction / SAVEPOINT outside one
//	23505 unique_violation            SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY, _ROWID
//	23502 not_null_violation          SQLITE_CONSTRAINT_NOTNULL
//	23503 foreign_key_violation       SQLITE_CONSTRAINT_FOREIGNKEY
//	23514 check_violation             SQLITE_CONSTRAINT_CHECK
//	23000 integrity_constraint        other SQLITE_CONSTRAINT
//	42P01 undefined_table             "no such table"
//	42703 undefined_column            "no such column", "has no column named"
//	42883 undefined_function          "no such function", wrong argument count
//	42P07 duplicate_table             "already exists"
//	42601 syntax_error                syntax errors and any other SQLITE_ERROR
//	42804 datatype_mismatch           SQLITE_MISMATCH
//	40001 serialization_failure       SQLITE_BUSY (pgbench --max-tries retries it)
//	55P03 lock_not_available          SQLITE_LOCKED; sqlink ECONFLICT; lock_timeout
//	57014 query_canceled              SQLITE_INTERRUPT, CancelRequest, pg_cancel_backend, statement_timeout, sqlink ETIMEOUT
//	08P01 protocol_violation          bad or oversized messages (FATAL for framing errors)
//	0A000 feature_not_supported       function calls, replication, PostgreSQL-only SQL (translate.go), sqlink ENOTIMPLEMENTED
//	22P04 bad_copy_file_format        a malformed COPY row (naming its line); nothing of the COPY is written
//	26000 / 34000                     unknown prepared statement / portal
//	28P01 invalid_password            bad password or unknown user (SCRAM)
//	28000 invalid_authorization       sqlink EUNAUTHORIZED, no user name, too many failed sign-ins from the address
//	42501 insufficient_privilege      sqlink EFORBIDDEN; ATTACH, VACUUM INTO, PRAGMA wal_checkpoint...
//	54000 program_limit_exceeded      a transaction larger than --max-transaction-size (at COMMIT)
//	3D000 invalid_catalog_name        OpenSession ENOTFOUND
//	53300 too_many_connections        more than Config.MaxConns connections (sessions and those authenticating)
//	57P01 admin_shutdown              Server.Close, default for EndSessions, pg_terminate_backend
//	25P03 idle_in_transaction_timeout idle_in_transaction_session_timeout (FATAL)
//	57P03 cannot_connect_now          OpenSession EUNAVAILABLE (database RESTORING)
//	22023 invalid_parameter_value     sqlink EINVALID
//	22P02 invalid_text_representation bad parameter text, value not of its column's type
//	53100 / 58030 / XX001             SQLITE_FULL / SQLITE_IOERR / SQLITE_CORRUPT
//	XX000 internal_error              anything else (sqlink EINTERNAL)
//
// The message is sqlink.Error's message and the hint its hint. A write
// refused on a read-only secondary says "cannot execute UPDATE in a
// read-only transaction", names the primary instance and carries the
// backend's message as detail.
package pgwire
