package pgwire

import (
	"crypto/rand"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
)

// PostgreSQL functions that need nothing from the session are registered
// as SQLite functions, which is cleaner than rewriting their calls: now()
// and its kin, gen_random_uuid(), current_schemas(), and set_config() for
// the settings that mean nothing to SQLite (pg_dump's search_path). The
// driver applies registrations to the connections it opens afterwards, so
// this is done in init, before storage opens any: a connection opened
// without them would fail a statement (or a DEFAULT (now())) that uses one.
func init() {
	ts := func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		return time.Now().UTC().Format("2006-01-02 15:04:05.000000+00"), nil
	}
	for _, name := range []string{"now", "transaction_timestamp", "statement_timestamp", "clock_timestamp"} {
		mustRegister(sqlite.RegisterScalarFunction(name, 0, ts))
	}
	mustRegister(sqlite.RegisterScalarFunction("gen_random_uuid", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		var b [16]byte
		_, _ = rand.Read(b[:])
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
	}))
	mustRegister(sqlite.RegisterDeterministicScalarFunction("current_schemas", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		if v, ok := args[0].(int64); ok && v != 0 {
			return "{pg_catalog,public}", nil
		}
		return "{public}", nil
	}))
	mustRegister(sqlite.RegisterScalarFunction("set_config", 3, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		name, _ := args[0].(string)
		if !ignorableSetting[strings.ToLower(name)] {
			return nil, fmt.Errorf("set_config(%q) is not supported: use SET %s = value", name, name)
		}
		switch v := args[1].(type) {
		case string:
			return v, nil
		case []byte:
			return string(v), nil
		case nil:
			return "", nil
		default:
			return fmt.Sprint(v), nil
		}
	}))
}

// ignorableSetting are settings that set_config accepts and that have no
// effect on SQLite: sqlink has one schema.
var ignorableSetting = map[string]bool{"search_path": true, "row_security": true, "client_min_messages": true, "check_function_bodies": true, "xmloption": true}

func mustRegister(err error) {
	if err != nil {
		panic("pgwire: registering SQLite functions: " + err.Error())
	}
}
