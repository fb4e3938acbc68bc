package pgwire

import (
	"database/sql/driver"

	"modernc.org/sqlite"
)

// Typed casts. A PostgreSQL cast to a type SQLite stores as text (date,
// timestamp, uuid, json...) keeps the value as it is, but the client must
// still learn the result's type: psycopg2 sends '2026-01-02'::date and
// expects a date back. The translation wraps such a cast's operand in an
// identity function named for the type, and the result column of a call to
// one is described with that type (exprOID).

// typedCasts maps a PostgreSQL type name to its identity function.
var typedCasts = map[string]string{
	"date":                        "sqlink_as_date",
	"timestamp":                   "sqlink_as_timestamp",
	"timestamp without time zone": "sqlink_as_timestamp",
	"timestamptz":                 "sqlink_as_timestamptz",
	"timestamp with time zone":    "sqlink_as_timestamptz",
	"time":                        "sqlink_as_time",
	"time without time zone":      "sqlink_as_time",
	"uuid":                        "sqlink_as_uuid",
	"json":                        "sqlink_as_json",
	"jsonb":                       "sqlink_as_jsonb",
}

// typedCastOIDs is the result type of each identity function.
var typedCastOIDs = map[string]uint32{
	"sqlink_as_date":        oidDate,
	"sqlink_as_timestamp":   oidTimestamp,
	"sqlink_as_timestamptz": oidTimestamptz,
	"sqlink_as_time":        oidTime,
	"sqlink_as_uuid":        oidUUID,
	"sqlink_as_json":        oidJSON,
	"sqlink_as_jsonb":       oidJSONB,
}

func init() {
	for name := range typedCastOIDs {
		mustRegister(sqlite.RegisterDeterministicScalarFunction(name, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			return args[0], nil
		}))
	}
}
