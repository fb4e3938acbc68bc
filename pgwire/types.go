package pgwire

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// PostgreSQL type OIDs this package advertises or accepts.
const (
	oidUnknown     = 0
	oidBool        = 16
	oidBytea       = 17
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
	oidTextArray   = 1009
	oidChar        = 18
	oidTime        = 1083
)

// column describes one result column.
type column struct {
	name string
	oid  uint32
}

// typeSize returns pg_type.typlen for the OIDs this package advertises.
func typeSize(oid uint32) int16 {
	switch oid {
	case oidBool:
		return 1
	case oidInt2:
		return 2
	case oidInt4, oidFloat4, oidOID:
		return 4
	case oidInt8, oidFloat8, oidTimestamp, oidTimestamptz, oidTime:
		return 8
	case oidDate:
		return 4
	case oidUUID:
		return 16
	}
	return -1
}

// pgEpoch is the origin of PostgreSQL's binary timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const timestampFormat = "2006-01-02 15:04:05.999999"

// appendText appends the text form of v, a value from the SQLite driver or a
// synthetic result, for a column of type oid. A value that does not fit
// the column's type (SQLite columns are dynamically typed) is sent as it
// is stored.
func appendText(b []byte, v any, oid uint32) []byte {
	switch oid {
	case oidBool:
		if t, err := toBool(v); err == nil {
			if t {
				return append(b, 't')
			}
			return append(b, 'f')
		}
	case oidBytea:
		switch x := v.(type) {
		case []byte:
			b = append(b, '\\', 'x')
			return hex.AppendEncode(b, x)
		case string:
			b = append(b, '\\', 'x')
			return hex.AppendEncode(b, []byte(x))
		}
	case oidDate, oidTimestamp, oidTimestamptz, oidTime:
		// Text and time values are reformatted; numbers (Unix or Julian
		// times) are sent as stored.
		switch v.(type) {
		case time.Time, string, []byte:
			if oid == oidTime {
				if s, ok := v.(string); ok {
					if x, err := decodeTextMore(oidTime, s); err == nil {
						return append(b, x.(string)...)
					}
					break
				}
			}
			if t, err := toTime(v); err == nil {
				return appendTimeText(b, t, oid)
			}
		}
	}
	switch x := v.(type) {
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return appendFloat(b, x)
	case string:
		return append(b, x...)
	case []byte:
		return append(b, x...)
	case bool:
		if x {
			return append(b, 't')
		}
		return append(b, 'f')
	case time.Time:
		return x.UTC().AppendFormat(b, timestampFormat)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	}
	return fmt.Append(b, v)
}

func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendBinary appends the binary form of v for a column of type oid. It
// fails when the stored value does not fit the advertised type (SQLite
// columns are dynamically typed).
func appendBinary(b []byte, v any, oid uint32) ([]byte, error) {
	if oid == oidUnknown {
		// A column described as unknown (a Describe of a statement that
		// could not type it) that the client reads in binary: the client
		// took its type from an earlier description of the same query,
		// made from its values (typeinfer.go), so encode by the value.
		oid = valueOID(v)
	}
	switch oid {
	case oidInt8, oidInt4, oidInt2:
		n, err := toInt64(v)
		if err != nil {
			return b, err
		}
		switch oid {
		case oidInt4:
			if n != int64(int32(n)) {
				return b, errIntRange(n, "integer")
			}
			return binary.BigEndian.AppendUint32(b, uint32(int32(n))), nil
		case oidInt2:
			if n != int64(int16(n)) {
				return b, errIntRange(n, "smallint")
			}
			return binary.BigEndian.AppendUint16(b, uint16(int16(n))), nil
		}
		return binary.BigEndian.AppendUint64(b, uint64(n)), nil
	case oidFloat8, oidFloat4:
		f, err := toFloat64(v)
		if err != nil {
			return b, err
		}
		if oid == oidFloat4 {
			return binary.BigEndian.AppendUint32(b, math.Float32bits(float32(f))), nil
		}
		return binary.BigEndian.AppendUint64(b, math.Float64bits(f)), nil
	case oidBool:
		t, err := toBool(v)
		if err != nil {
			return b, err
		}
		if t {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case oidDate, oidTime, oidUUID, oidNumeric, oidJSONB:
		return appendBinaryMore(b, v, oid)
	case oidTimestamp, oidTimestamptz:
		t, err := toTime(v)
		if err != nil {
			return b, err
		}
		if oid == oidTimestamp {
			// A timestamp without time zone is its wall clock.
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		}
		us := t.Sub(pgEpoch).Microseconds()
		if d := t.Sub(pgEpoch); d == math.MaxInt64 || d == math.MinInt64 {
			us = t.Unix()*1e6 + int64(t.Nanosecond()/1000) - pgEpoch.Unix()*1e6
		}
		return binary.BigEndian.AppendUint64(b, uint64(us)), nil
	case oidBytea:
		switch x := v.(type) {
		case []byte:
			return append(b, x...), nil
		case string:
			return append(b, x...), nil
		}
	}
	// text, varchar, name, unknown and anything else: the text form is also
	// the binary form.
	return appendText(b, v, oid), nil
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int64(x), nil
		}
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, nil
		}
	case []byte:
		if n, err := strconv.ParseInt(strings.TrimSpace(string(x)), 10, 64); err == nil {
			return n, nil
		}
	case time.Time:
		return x.Unix(), nil
	}
	return 0, fmt.Errorf("value %v is not an integer", v)
}

func toFloat64(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f, nil
		}
	case []byte:
		if f, err := strconv.ParseFloat(strings.TrimSpace(string(x)), 64); err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("value %v is not a number", v)
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int64:
		return x != 0, nil
	case float64:
		return x != 0, nil
	case string:
		return parseBool(x)
	case []byte:
		return parseBool(string(x))
	}
	return false, fmt.Errorf("value %v is not a boolean", v)
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "t", "true", "1", "on", "yes", "y":
		return true, nil
	case "f", "false", "0", "off", "no", "n":
		return false, nil
	}
	return false, fmt.Errorf("value %q is not a boolean", s)
}

var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

func toTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case int64:
		return time.Unix(x, 0).UTC(), nil
	case float64:
		sec, frac := math.Modf(x)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	case string:
		return parseTime(x)
	case []byte:
		return parseTime(string(x))
	}
	return time.Time{}, fmt.Errorf("value %v is not a timestamp", v)
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("value %q is not a timestamp", s)
}

// decodeParam turns a Bind parameter into a value for the SQLite driver.
// Text parameters of unknown or textual type are bound as text: SQLite's
// column affinity converts them where the column is numeric.
func decodeParam(oid uint32, format int16, b []byte) (any, error) {
	if b == nil {
		return nil, nil
	}
	if format == 0 {
		s := string(b)
		switch oid {
		case oidInt2, oidInt4, oidInt8, oidOID:
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return nil, newPgError(codeInvalidText, fmt.Sprintf("invalid input syntax for type integer: %q", s))
			}
			return n, nil
		case oidFloat4, oidFloat8:
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, newPgError(codeInvalidText, fmt.Sprintf("invalid input syntax for type double precision: %q", s))
			}
			return f, nil
		case oidBool:
			t, err := parseBool(s)
			if err != nil {
				return nil, newPgError(codeInvalidText, fmt.Sprintf("invalid input syntax for type boolean: %q", s))
			}
			if t {
				return int64(1), nil
			}
			return int64(0), nil
		case oidBytea:
			return decodeByteaText(s)
		case oidDate, oidTime, oidTimestamp, oidTimestamptz, oidUUID, oidJSON, oidJSONB, oidNumeric:
			return decodeTextMore(oid, s)
		}
		return s, nil
	}
	if format != 1 {
		return nil, newPgError(codeProtocolViolation, fmt.Sprintf("unsupported format code: %d", format))
	}
	bad := func(t string) error {
		return newPgError(codeProtocolViolation, fmt.Sprintf("incorrect binary data format in bind parameter of type %s", t))
	}
	switch oid {
	case oidInt8:
		if len(b) != 8 {
			return nil, bad("bigint")
		}
		return int64(binary.BigEndian.Uint64(b)), nil
	case oidInt4:
		if len(b) != 4 {
			return nil, bad("integer")
		}
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	case oidInt2:
		if len(b) != 2 {
			return nil, bad("smallint")
		}
		return int64(int16(binary.BigEndian.Uint16(b))), nil
	case oidOID:
		if len(b) != 4 {
			return nil, bad("oid")
		}
		return int64(binary.BigEndian.Uint32(b)), nil
	case oidFloat8:
		if len(b) != 8 {
			return nil, bad("double precision")
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case oidFloat4:
		if len(b) != 4 {
			return nil, bad("real")
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
	case oidBool:
		if len(b) != 1 {
			return nil, bad("boolean")
		}
		return int64(b[0] & 1), nil
	case oidBytea:
		return append([]byte(nil), b...), nil
	case oidTimestamp, oidTimestamptz:
		if len(b) != 8 {
			return nil, bad("timestamp")
		}
		us := int64(binary.BigEndian.Uint64(b))
		t := pgEpoch.Add(time.Duration(us) * time.Microsecond)
		return formatStoredTime(t, oid), nil
	case oidTime:
		if len(b) != 8 {
			return nil, bad("time")
		}
		us := int64(binary.BigEndian.Uint64(b))
		return formatStoredTime(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(us)*time.Microsecond), oid), nil
	case oidNumeric:
		return decodeNumericBinary(b)
	case oidDate:
		if len(b) != 4 {
			return nil, bad("date")
		}
		d := int32(binary.BigEndian.Uint32(b))
		return pgEpoch.AddDate(0, 0, int(d)).Format("2006-01-02"), nil
	case oidUUID:
		if len(b) != 16 {
			return nil, bad("uuid")
		}
		h := hex.EncodeToString(b)
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
	case oidUnknown, oidText, oidVarchar, oidBPChar, oidName, oidJSON, oidChar:
		return string(b), nil
	case oidJSONB:
		if len(b) > 0 && b[0] == 1 {
			return string(b[1:]), nil
		}
		return nil, bad("jsonb")
	}
	return nil, newPgError(codeNotSupported, fmt.Sprintf("binary format for parameter type %d is not supported", oid))
}
