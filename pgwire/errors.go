package pgwire

import (
	"context"
	"errors"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sqlink/sqlink"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLSTATE codes this package sends. See doc.go for the mapping table.
const (
	codeSuccessful        = "00000"
	codeReadOnlyTx        = "25006"
	codeInFailedTx        = "25P02"
	codeActiveTx          = "25001"
	codeNoActiveTx        = "25P01"
	codeUniqueViolation   = "23505"
	codeNotNullViolation  = "23502"
	codeFKViolation       = "23503"
	codeCheckViolation    = "23514"
	codeIntegrity         = "23000"
	codeUndefinedTable    = "42P01"
	codeUndefinedColumn   = "42703"
	codeUndefinedFunction = "42883"
	codeUndefinedObject   = "42704"
	codeDuplicateTable    = "42P07"
	codeSyntaxError       = "42601"
	codeDatatypeMismatch  = "42804"
	codeSerialization     = "40001"
	codeLockNotAvailable  = "55P03"
	codeQueryCanceled     = "57014"
	codeProtocolViolation = "08P01"
	codeNotSupported      = "0A000"
	codeInvalidStatement  = "26000"
	codeInvalidPortal     = "34000"
	codeDuplicateStmt     = "42P05"
	codeInvalidPassword   = "28P01"
	codeInvalidAuthSpec   = "28000"
	codeInsufficientPriv  = "42501"
	codeUnknownDatabase   = "3D000"
	codeTooManyConns      = "53300"
	codeAdminShutdown     = "57P01"
	codeCannotConnectNow  = "57P03"
	codeInvalidParameter  = "22023"
	codeInvalidText       = "22P02"
	codeDiskFull          = "53100"
	codeProgramLimit      = "54000"
	codeOutOfMemory       = "53200"
	codeIOError           = "58030"
	codeInternal          = "XX000"
	codeDataCorrupted     = "XX001"
	codeQueryTimeout      = "57014"
)

// pgError is an error to send as an ErrorResponse.
type pgError struct {
	Severity string // ERROR or FATAL
	Code     string
	Message  string
	Detail   string
	Hint     string
}

func (e *pgError) Error() string { return e.Message }

func newPgError(code, msg string) *pgError {
	return &pgError{Severity: "ERROR", Code: code, Message: msg}
}

func fatal(e *pgError) *pgError {
	c := *e
	c.Severity = "FATAL"
	return &c
}

var (
	errShutdown     = newPgError(codeAdminShutdown, "the database system is shutting down")
	errTooManyConns = newPgError(codeTooManyConns, "sorry, too many clients already")
	errInFailedTx   = newPgError(codeInFailedTx, "current transaction is aborted, commands ignored until end of transaction block")
)

func (e *pgError) response() *pgproto3.ErrorResponse {
	sev := e.Severity
	if sev == "" {
		sev = "ERROR"
	}
	return &pgproto3.ErrorResponse{
		Severity:            sev,
		SeverityUnlocalized: sev,
		Code:                e.Code,
		Message:             e.Message,
		Detail:              e.Detail,
		Hint:                e.Hint,
	}
}

// sqlinkCodes maps sqlink error codes to SQLSTATEs. Together with
// toPgError's handling of SQLite result codes it is the one mapping table
// documented in doc.go.
var sqlinkCodes = map[string]string{
	sqlink.EINVALID:        codeInvalidParameter,
	sqlink.ENOTFOUND:       codeUndefinedObject,
	sqlink.ECONFLICT:       codeLockNotAvailable,
	sqlink.EUNAUTHORIZED:   codeInvalidAuthSpec,
	sqlink.EFORBIDDEN:      codeInsufficientPriv,
	sqlink.EREADONLY:       codeReadOnlyTx,
	sqlink.EUNAVAILABLE:    codeCannotConnectNow,
	sqlink.ETIMEOUT:        codeQueryTimeout,
	sqlink.ENOTIMPLEMENTED: codeNotSupported,
	sqlink.EINTERNAL:       codeInternal,
}

// toPgError converts any error from a Session, the backend or SQLite into a
// pgError.
func toPgError(err error) *pgError {
	var pe *pgError
	if errors.As(err, &pe) {
		return pe
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return newPgError(codeQueryCanceled, "canceling statement due to user request")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return sqliteError(se)
	}
	var e *sqlink.Error
	if errors.As(err, &e) {
		code, ok := sqlinkCodes[e.Code]
		switch {
		case errors.Is(err, syscall.ENOSPC):
			code = codeDiskFull
		case !ok:
			code = codeInternal
		}
		return &pgError{Severity: "ERROR", Code: code, Message: e.Message, Hint: e.Hint}
	}
	return newPgError(codeInternal, err.Error())
}

// sqliteError maps an SQLite result code (and, for the generic SQLITE_ERROR,
// its message) to a SQLSTATE.
func sqliteError(se *sqlite.Error) *pgError {
	msg := cleanSQLiteMessage(se.Error())
	code := codeInternal
	switch rc := se.Code(); rc {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_ROWID:
		code = codeUniqueViolation
	case sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		code = codeNotNullViolation
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		code = codeFKViolation
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		code = codeCheckViolation
	case sqlite3.SQLITE_BUSY_SNAPSHOT:
		// A transaction that read first, then wrote after another
		// session's commit: its snapshot cannot become a write.
		e := newPgError(codeSerialization, "could not serialize access due to concurrent update")
		e.Detail = "Another transaction committed after this transaction's first read, so this transaction cannot write from its snapshot."
		e.Hint = "Roll back and retry the whole transaction; a transaction that must not fail this way can start with BEGIN IMMEDIATE, which waits for the write lock at BEGIN."
		return e
	case sqlite3.SQLITE_CONSTRAINT_COMMITHOOK:
		// The only commit hook is the storage's transaction size guard.
		code = codeProgramLimit
		msg = "transaction too large: it changed more pages than one replication record holds"
	default:
		switch rc & 0xff {
		case sqlite3.SQLITE_CONSTRAINT:
			code = codeIntegrity
		case sqlite3.SQLITE_BUSY:
			code = codeSerialization
			msg = "could not serialize access: " + msg
		case sqlite3.SQLITE_LOCKED:
			code = codeLockNotAvailable
		case sqlite3.SQLITE_INTERRUPT:
			code = codeQueryCanceled
			msg = "canceling statement due to user request"
		case sqlite3.SQLITE_READONLY:
			code = codeReadOnlyTx
		case sqlite3.SQLITE_MISMATCH:
			code = codeDatatypeMismatch
		case sqlite3.SQLITE_FULL:
			code = codeDiskFull
		case sqlite3.SQLITE_IOERR:
			code = codeIOError
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			code = codeDataCorrupted
		case sqlite3.SQLITE_TOOBIG:
			code = codeProgramLimit
			msg = "string or blob too big: a value may hold at most 256 MiB here"
		case sqlite3.SQLITE_RANGE:
			code = codeInvalidParameter
		case sqlite3.SQLITE_NOMEM:
			code = codeOutOfMemory
			msg = "out of memory: the instance's SQLite heap limit was reached"
		case sqlite3.SQLITE_AUTH, sqlite3.SQLITE_PERM:
			code = codeInsufficientPriv
		case sqlite3.SQLITE_ERROR:
			code = classifySQLiteMessage(msg)
		}
	}
	e := newPgError(code, msg)
	switch code {
	case codeDiskFull:
		e.Hint = "Free space on the volume that holds the instance's data directory, then retry: the statement did not commit."
	case codeIOError:
		e.Hint = "Check the disk that holds the instance's data directory and the instance's log."
	case codeOutOfMemory:
		e.Hint = "The statement was rolled back. Make it read or build less at once, or raise the instance's --sqlite-heap-limit."
	case codeProgramLimit:
		if code == codeProgramLimit && strings.HasPrefix(msg, "string or blob too big") {
			e.Hint = "Store large values in pieces of at most 256 MiB."
			break
		}
		e.Hint = "Nothing of it was committed. Split it into smaller transactions, or raise the instance's --max-transaction-size (at most 2GiB)."
	}
	return e
}

func classifySQLiteMessage(msg string) string {
	switch {
	case strings.HasPrefix(msg, "no such table"), strings.HasPrefix(msg, "no such view"):
		return codeUndefinedTable
	case strings.HasPrefix(msg, "no such column"), strings.Contains(msg, "has no column named"):
		return codeUndefinedColumn
	case strings.HasPrefix(msg, "no such function"), strings.Contains(msg, "wrong number of arguments to function"):
		return codeUndefinedFunction
	case strings.Contains(msg, "syntax error"), strings.HasPrefix(msg, "incomplete input"), strings.HasPrefix(msg, "unrecognized token"):
		return codeSyntaxError
	case strings.Contains(msg, "already exists"):
		return codeDuplicateTable
	case strings.HasPrefix(msg, "no such index"), strings.HasPrefix(msg, "no such trigger"), strings.HasPrefix(msg, "no such savepoint"):
		return codeUndefinedObject
	case strings.Contains(msg, "cannot start a transaction within a transaction"):
		return codeActiveTx
	case strings.Contains(msg, "no transaction is active"):
		return codeNoActiveTx
	}
	return codeSyntaxError
}

// cleanSQLiteMessage turns "SQL logic error: no such table: t (1)" into
// "no such table: t".
func cleanSQLiteMessage(s string) string {
	s = strings.TrimSuffix(s, " (SQLITE_BUSY)")
	if i := strings.LastIndex(s, " ("); i >= 0 && strings.HasSuffix(s, ")") {
		if isDigits(s[i+2 : len(s)-1]) {
			s = s[:i]
		}
	}
	for _, p := range []string{"SQL logic error: ", "constraint failed: ", "database is locked: ", "attempt to write a readonly database: ", "datatype mismatch: ", "interrupted: "} {
		if strings.HasPrefix(s, p) {
			return s[len(p):]
		}
	}
	return s
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Warning is what a Session returns when the statement succeeded but the
// client is to be warned: it is sent as a WARNING notice and the statement
// completes. (PostgreSQL's precedent: a commit whose synchronous
// replication wait was cancelled has committed locally, with a warning.)
type Warning struct {
	Code, Message, Hint string
}

func (w *Warning) Error() string { return w.Message }

// endWriteError returns what EndWrite's error e means for a statement that
// otherwise ended with err: a Warning is sent as a notice and changes
// nothing; another error replaces a nil err.
func (c *clientConn) endWriteError(err, e error) error {
	var w *Warning
	switch {
	case e == nil:
	case errors.As(e, &w):
		c.send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: w.Code, Message: w.Message, Hint: w.Hint})
	case err == nil:
		return e
	}
	return err
}
