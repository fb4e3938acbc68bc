package pgwire

import (
	"reflect"

	sqlite3 "modernc.org/sqlite/lib"
)

// interrupter returns a function that interrupts the statement running on
// a modernc.org/sqlite driver connection, or nil if dc is not one.
//
// Statements normally run under a context without a Done channel, and a
// CancelRequest or a terminated session calls the interrupter instead:
// modernc.org/sqlite starts a watcher goroutine for every statement run
// under a cancellable context, which cost about a tenth of the server's CPU
// in a TPC-B transaction. The driver does not export its sqlite3 handle, so
// it is read by reflection; sqlite3_interrupt is safe to call from any
// goroutine and touches only the handle. A statement that has not started
// yet when the interrupt arrives runs to completion, which is what
// PostgreSQL's best-effort cancel promises too.
func interrupter(dc any) func() {
	v := reflect.ValueOf(dc)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Uintptr || f.Uint() == 0 {
		return nil
	}
	db := uintptr(f.Uint())
	return func() { sqlite3.Xsqlite3_interrupt(nil, db) }
}
