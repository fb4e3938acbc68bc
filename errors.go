package sqlink

import (
	"errors"
	"fmt"
)

// Error codes. Each front end maps these in exactly one table: adminapi to
// HTTP statuses, pgwire to SQLSTATEs and cli to exit codes.
const (
	EINTERNAL       = "internal"        // a bug or an unexpected failure
	EINVALID        = "invalid"         // the request itself is wrong
	ENOTFOUND       = "not_found"       // the named object does not exist
	ECONFLICT       = "conflict"        // the object exists or is in the wrong state
	EUNAUTHORIZED   = "unauthorized"    // no or bad credentials
	EFORBIDDEN      = "forbidden"       // credentials lack a permission
	EREADONLY       = "read_only"       // a write on a read-only replica
	EUNAVAILABLE    = "unavailable"     // a dependency (peer, disk) cannot be reached now
	ETIMEOUT        = "timeout"         // the operation did not finish in time
	ENOTIMPLEMENTED = "not_implemented" // the feature is not supported
)

// Error is an error meant for a person: a stable code, a message saying what
// went wrong, and a hint saying what to do about it.
type Error struct {
	Code    string
	Message string
	Hint    string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Hint == "" {
		return e.Message
	}
	return e.Message + " (try: " + e.Hint + ")"
}

// Errorf returns an *Error with the given code and hint and a formatted
// message.
func Errorf(code, hint, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Hint: hint}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for a nil
// error and EINTERNAL for any other error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or
// err.Error() for any other error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// ErrorHint returns the hint of the first *Error in err's chain, or "".
func ErrorHint(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}
