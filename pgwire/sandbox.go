package pgwire

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"

	"github.com/sqlink/sqlink"
)

// Sandboxed is an optional Session capability: a session whose SQLite
// connection runs under an authorizer (sqlink's storage.Conn). The front
// end declares what each statement does before SQLite prepares or runs it,
// and asks why SQLite refused one.
type Sandboxed interface {
	// Statement declares that the next statement prepared or run writes
	// the database (write), and whether it is a VACUUM. A write in a
	// statement declared as a read is refused.
	Statement(write, vacuum bool) error
	// Refusal returns, once, why the authorizer refused the last refused
	// statement (a *sqlink.Error), or nil.
	Refusal() error
	// SetQueryOnly turns PRAGMA query_only on or off as sqlink itself
	// (sessions may not), for READ ONLY transactions.
	SetQueryOnly(ctx context.Context, on bool) error
}

// declare tells a sandboxed session what the statement of p does.
func (c *clientConn) declare(p *plan) error {
	if sb, ok := c.sess.(Sandboxed); ok {
		return sb.Statement(p.write, p.verb == "VACUUM")
	}
	return nil
}

// refused turns SQLite's "not authorized" into the sandbox's reason
// (42501, naming what is missing), or returns err as it is.
func (c *clientConn) refused(err error) error {
	sb, ok := c.sess.(Sandboxed)
	if !ok || err == nil {
		return err
	}
	r := sb.Refusal()
	if r == nil {
		return err
	}
	pe := &pgError{Severity: "ERROR", Code: codeInsufficientPriv, Message: sqlink.ErrorMessage(r), Hint: sqlink.ErrorHint(r)}
	var se *sqlink.Error
	if errors.As(r, &se) && se.Hint != "" {
		pe.Hint = se.Hint
	}
	return pe
}

// setQueryOnly turns the session's query_only on or off.
func (c *clientConn) setQueryOnly(ctx context.Context, on bool) error {
	if sb, ok := c.sess.(Sandboxed); ok {
		return sb.SetQueryOnly(ctx, on)
	}
	q := "PRAGMA query_only=0"
	if on {
		q = "PRAGMA query_only=1"
	}
	return c.execDirect(ctx, q)
}

// errMultipleStatements is sent when SQLite finds more than one statement
// in text the front end took for one.
var errMultipleStatements = &pgError{Severity: "ERROR", Code: codeSyntaxError,
	Message: "cannot run more than one statement here: SQLite reads this text as several statements",
	Hint:    "Send each statement on its own, or separate them with semicolons in a simple query."}

// multipleStatements reports whether ds, a statement modernc.org/sqlite
// prepared from non-blank text, holds more than one statement. The driver
// keeps the prepared handle (its pstmt field) only when SQLite's prepare
// consumed the whole text, i.e. left no tail (sqlite3_prepare's pzTail);
// with a tail it keeps none and runs every statement of the text one after
// the other. The field is not exported, so it is read by reflection (as
// interrupter reads the connection's handle); a driver without it fails
// closed: known is false.
func multipleStatements(ds driver.Stmt) (multiple, known bool) {
	v := reflect.ValueOf(ds)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false, false
	}
	f := v.Elem().FieldByName("pstmt")
	if !f.IsValid() || f.Kind() != reflect.Uintptr {
		return false, false
	}
	return f.Uint() == 0, true
}

// checkOneStatement refuses a prepared statement that SQLite reads as
// several.
func checkOneStatement(ds driver.Stmt) error {
	multiple, known := multipleStatements(ds)
	if !known {
		return &pgError{Severity: "ERROR", Code: codeInternal, Message: "cannot tell whether SQLite reads one statement here (unexpected driver statement type)"}
	}
	if multiple {
		return errMultipleStatements
	}
	return nil
}

// checkNoNUL refuses text with a NUL byte: SQLite's C strings end there.
func checkNoNUL(q string) error {
	for i := 0; i < len(q); i++ {
		if q[i] == 0 {
			return &pgError{Severity: "ERROR", Code: "22021", Message: "invalid byte sequence: the statement text contains a zero byte",
				Hint: "Pass binary data as a bound parameter."}
		}
	}
	return nil
}
