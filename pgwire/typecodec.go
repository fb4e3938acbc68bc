package pgwire

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Type mapping. A result column with a declared type is described by that
// type (see oidForDeclType and README "PostgreSQL clients"); a column
// without one (an expression) by the SQLite type of its first non-NULL
// values (valueOID). A parameter that meets a column is decoded and stored
// in the column's type.

// normDecl upper-cases a declared type, drops its (n,m) and folds spaces.
func normDecl(decl string) string {
	d := strings.ToUpper(strings.TrimSpace(decl))
	if i := strings.IndexByte(d, '('); i >= 0 {
		d = strings.TrimSpace(d[:i]) + strings.TrimSpace(d[strings.LastIndexByte(d, ')')+1:])
	}
	return strings.Join(strings.Fields(d), " ")
}

// oidForDeclType maps an SQLite declared column type to the PostgreSQL type
// clients see. Names PostgreSQL uses map to that type; INT and INTEGER are
// int4 like PostgreSQL's integer (a value beyond 32 bits is still sent in
// text format; in binary format it is refused with 22003), BIGINT is int8.
// Other names follow SQLite's affinity rules. An empty declared type (an
// expression) is OID 0: the caller decides from the values.
func oidForDeclType(decl string) uint32 {
	if strings.TrimSpace(decl) == "" {
		return oidUnknown
	}
	d := normDecl(decl)
	switch d {
	case "BOOL", "BOOLEAN":
		return oidBool
	case "SMALLINT", "INT2", "SMALLSERIAL", "SERIAL2":
		return oidInt2
	case "INT", "INTEGER", "INT4", "MEDIUMINT", "TINYINT", "SERIAL", "SERIAL4":
		return oidInt4
	case "BIGINT", "INT8", "BIGSERIAL", "SERIAL8", "UNSIGNED BIG INT":
		return oidInt8
	case "FLOAT4":
		return oidFloat4
	case "REAL", "FLOAT", "FLOAT8", "DOUBLE", "DOUBLE PRECISION":
		return oidFloat8
	case "NUMERIC", "DECIMAL":
		return oidNumeric
	case "DATE":
		return oidDate
	case "TIME", "TIME WITHOUT TIME ZONE":
		return oidTime
	case "DATETIME", "TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE":
		return oidTimestamp
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return oidTimestamptz
	case "UUID":
		return oidUUID
	case "JSON":
		return oidJSON
	case "JSONB":
		return oidJSONB
	case "BYTEA", "BLOB":
		return oidBytea
	case "VARCHAR", "CHARACTER VARYING", "NVARCHAR", "VARYING CHARACTER":
		return oidVarchar
	}
	switch {
	case strings.Contains(d, "INT"):
		return oidInt8
	case strings.Contains(d, "CHAR"), strings.Contains(d, "CLOB"), strings.Contains(d, "TEXT"):
		return oidText
	case strings.Contains(d, "BLOB"):
		return oidBytea
	case strings.Contains(d, "REAL"), strings.Contains(d, "FLOA"), strings.Contains(d, "DOUB"):
		return oidFloat8
	}
	return oidNumeric
}

// paramOIDForDecl is the type reported for a parameter that meets a column
// of the declared type: the column's type, widened where SQLite stores
// more than the PostgreSQL type holds (INTEGER keeps 64 bits), and 0 for
// text, which every client sends as it is.
func paramOIDForDecl(decl string) uint32 {
	switch oid := oidForDeclType(decl); oid {
	case oidInt2, oidInt4:
		return oidInt8
	case oidFloat4:
		return oidFloat8
	case oidText, oidVarchar:
		return oidUnknown
	default:
		return oid
	}
}

// valueOID is the type of a value of a column without a declared type.
func valueOID(v any) uint32 {
	switch v.(type) {
	case int64, int:
		return oidInt8
	case float64:
		return oidFloat8
	case string:
		return oidText
	case []byte:
		return oidBytea
	case time.Time:
		return oidTimestamp
	case bool:
		return oidBool
	}
	return oidUnknown
}

// typeName is PostgreSQL's name of a type OID (format_type).
func typeName(oid uint32) string {
	switch oid {
	case oidBool:
		return "boolean"
	case oidBytea:
		return "bytea"
	case oidInt2:
		return "smallint"
	case oidInt4:
		return "integer"
	case oidInt8:
		return "bigint"
	case oidFloat4:
		return "real"
	case oidFloat8:
		return "double precision"
	case oidNumeric:
		return "numeric"
	case oidDate:
		return "date"
	case oidTime:
		return "time without time zone"
	case oidTimestamp:
		return "timestamp without time zone"
	case oidTimestamptz:
		return "timestamp with time zone"
	case oidUUID:
		return "uuid"
	case oidJSON:
		return "json"
	case oidJSONB:
		return "jsonb"
	case oidVarchar:
		return "character varying"
	case oidName:
		return "name"
	case oidOID:
		return "oid"
	case oidChar:
		return "\"char\""
	case oidUnknown:
		return "unknown"
	}
	return "text"
}

func errIntRange(n int64, typ string) error {
	return &pgError{Severity: "ERROR", Code: "22003", Message: fmt.Sprintf("value %d is out of range for type %s", n, typ),
		Hint: "SQLite keeps 64-bit integers in an INTEGER column, which sqlink describes as integer (int4): declare the column BIGINT, or read it in text format."}
}

// appendTimeText appends PostgreSQL's text form of t for a date, time,
// timestamp or timestamptz column.
func appendTimeText(b []byte, t time.Time, oid uint32) []byte {
	switch oid {
	case oidDate:
		return t.AppendFormat(b, "2006-01-02")
	case oidTime:
		return t.AppendFormat(b, "15:04:05.999999")
	case oidTimestamptz:
		b = t.UTC().AppendFormat(b, timestampFormat)
		return append(b, "+00"...)
	}
	return t.AppendFormat(b, timestampFormat)
}

// formatStoredTime is the text sqlink stores for a date/time parameter:
// SQLite's date and time functions read all of these forms.
func formatStoredTime(t time.Time, oid uint32) string {
	switch oid {
	case oidDate:
		return t.Format("2006-01-02")
	case oidTime:
		return t.Format("15:04:05.999999")
	case oidTimestamptz:
		return t.UTC().Format(timestampFormat) + "+00:00"
	}
	return t.Format(timestampFormat)
}

var timeOfDayLayouts = []string{"15:04:05.999999999", "15:04:05.999999999-07:00", "15:04:05.999999999-07", "15:04"}

// decodeTextMore decodes a text parameter of a date/time, uuid, json or
// numeric type into the form stored.
func decodeTextMore(oid uint32, s string) (any, error) {
	s = strings.TrimSpace(s)
	switch oid {
	case oidTime:
		for _, l := range timeOfDayLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return formatStoredTime(t, oid), nil
			}
		}
		return nil, invalidText("time without time zone", s)
	case oidDate, oidTimestamp, oidTimestamptz:
		t, err := parseTime(s)
		if err != nil {
			return nil, invalidText(typeName(oid), s)
		}
		if oid != oidTimestamptz {
			// Without a time zone the wall clock is kept, as PostgreSQL does.
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		}
		return formatStoredTime(t, oid), nil
	case oidUUID:
		h := strings.ToLower(strings.NewReplacer("-", "", "{", "", "}", "").Replace(s))
		if len(h) != 32 {
			return nil, invalidText("uuid", s)
		}
		if _, err := hex.DecodeString(h); err != nil {
			return nil, invalidText("uuid", s)
		}
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
	case oidJSON, oidJSONB:
		if !json.Valid([]byte(s)) {
			return nil, invalidText(typeName(oid), s)
		}
		return s, nil
	case oidNumeric:
		if strings.EqualFold(s, "NaN") {
			return math.NaN(), nil
		}
		if _, ok := new(big.Float).SetString(s); !ok {
			return nil, invalidText("numeric", s)
		}
		return s, nil
	}
	return s, nil
}

func invalidText(typ, s string) *pgError {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return newPgError(codeInvalidText, fmt.Sprintf("invalid input syntax for type %s: %q", typ, s))
}

// decodeByteaText decodes bytea's hex (\x0001) and escape (\000\\) forms.
func decodeByteaText(s string) (any, error) {
	if strings.HasPrefix(s, `\x`) {
		d, err := hex.DecodeString(s[2:])
		if err != nil {
			return nil, newPgError(codeInvalidText, "invalid hexadecimal data for type bytea")
		}
		return d, nil
	}
	if !strings.Contains(s, `\`) {
		return []byte(s), nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) && s[i+1] <= '3':
			out = append(out, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 3
		default:
			return nil, newPgError(codeInvalidText, "invalid input syntax for type bytea")
		}
	}
	return out, nil
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// appendBinaryMore appends the binary form of date, time, uuid, numeric
// and jsonb values.
func appendBinaryMore(b []byte, v any, oid uint32) ([]byte, error) {
	switch oid {
	case oidDate:
		t, err := toTime(v)
		if err != nil {
			return b, err
		}
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return binary.BigEndian.AppendUint32(b, uint32(int32(d.Sub(pgEpoch).Hours()/24))), nil
	case oidTime:
		var t time.Time
		var err error
		if s, ok := v.(string); ok {
			var x any
			x, err = decodeTextMore(oidTime, s)
			if err == nil {
				t, err = time.Parse("15:04:05.999999", x.(string))
			}
		} else {
			t, err = toTime(v)
		}
		if err != nil {
			return b, fmt.Errorf("value %v is not a time of day", v)
		}
		us := int64(t.Hour())*3600e6 + int64(t.Minute())*60e6 + int64(t.Second())*1e6 + int64(t.Nanosecond()/1000)
		return binary.BigEndian.AppendUint64(b, uint64(us)), nil
	case oidUUID:
		s := fmt.Sprint(v)
		if x, ok := v.([]byte); ok && len(x) == 16 {
			return append(b, x...), nil
		} else if ok {
			s = string(x)
		}
		x, err := decodeTextMore(oidUUID, s)
		if err != nil {
			return b, fmt.Errorf("value %q is not a uuid", s)
		}
		d, _ := hex.DecodeString(strings.ReplaceAll(x.(string), "-", ""))
		return append(b, d...), nil
	case oidJSONB:
		b = append(b, 1)
		return appendText(b, v, oidText), nil
	case oidNumeric:
		var s string
		switch x := v.(type) {
		case int64:
			s = strconv.FormatInt(x, 10)
		case float64:
			if math.IsNaN(x) {
				return append(b, 0, 0, 0, 0, 0xC0, 0, 0, 0), nil
			}
			if math.IsInf(x, 0) {
				return b, fmt.Errorf("value %v is not a number", v)
			}
			s = strconv.FormatFloat(x, 'f', -1, 64)
		case string:
			s = strings.TrimSpace(x)
		case []byte:
			s = strings.TrimSpace(string(x))
		default:
			return b, fmt.Errorf("value %v is not a number", v)
		}
		return appendNumericBinary(b, s)
	}
	return appendText(b, v, oid), nil
}

// appendNumericBinary encodes a decimal string as PostgreSQL's binary
// numeric: base-10000 digits with a weight, a sign and a display scale.
func appendNumericBinary(b []byte, s string) ([]byte, error) {
	bad := fmt.Errorf("value %q is not a number", s)
	if strings.ContainsAny(s, "eE") {
		f, ok := new(big.Float).SetPrec(200).SetString(s)
		if !ok || f.IsInf() || f.MantExp(nil) > 4000 || f.MantExp(nil) < -4000 {
			// PostgreSQL's numeric holds up to 131072 digits before the
			// point and 16383 after; far beyond is not a stored number.
			return b, bad
		}
		s = f.Text('f', -1)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	ip, fp, _ := strings.Cut(s, ".")
	if ip == "" && fp == "" {
		return b, bad
	}
	for _, c := range ip + fp {
		if c < '0' || c > '9' {
			return b, bad
		}
	}
	dscale := len(fp)
	ip = strings.TrimLeft(ip, "0")
	if r := len(ip) % 4; r != 0 {
		ip = strings.Repeat("0", 4-r) + ip
	}
	if r := len(fp) % 4; r != 0 {
		fp += strings.Repeat("0", 4-r)
	}
	all := ip + fp
	var digits []int16
	for i := 0; i < len(all); i += 4 {
		n, _ := strconv.Atoi(all[i : i+4])
		digits = append(digits, int16(n))
	}
	weight := len(ip)/4 - 1
	for len(digits) > 0 && digits[0] == 0 {
		digits = digits[1:]
		weight--
	}
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1]
	}
	sign := uint16(0)
	if neg && len(digits) > 0 {
		sign = 0x4000
	}
	if len(digits) == 0 {
		weight = 0
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(digits)))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(dscale))
	for _, d := range digits {
		b = binary.BigEndian.AppendUint16(b, uint16(d))
	}
	return b, nil
}

// decodeNumericBinary decodes a binary numeric parameter to its decimal
// text, which SQLite's NUMERIC affinity stores as an integer or a real.
func decodeNumericBinary(b []byte) (any, error) {
	bad := newPgError(codeProtocolViolation, "incorrect binary data format in bind parameter of type numeric")
	if len(b) < 8 {
		return nil, bad
	}
	n := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(binary.BigEndian.Uint16(b[6:]))
	if len(b) != 8+2*n {
		return nil, bad
	}
	if sign == 0xC000 {
		return math.NaN(), nil
	}
	var ip, fp strings.Builder
	for i := 0; i < n || i <= weight; i++ {
		d := 0
		if i < n {
			d = int(binary.BigEndian.Uint16(b[8+2*i:]))
		}
		pos := weight - i
		if pos >= 0 {
			fmt.Fprintf(&ip, "%04d", d)
		} else {
			fmt.Fprintf(&fp, "%04d", d)
		}
	}
	// Leading fraction groups before the first digit (weight < -1).
	frac := strings.Repeat("0000", max(0, -weight-1)) + fp.String()
	for len(frac) < dscale {
		frac += "0"
	}
	frac = frac[:min(len(frac), dscale)]
	s := strings.TrimLeft(ip.String(), "0")
	if s == "" {
		s = "0"
	}
	if frac != "" {
		s += "." + frac
	}
	if sign == 0x4000 {
		s = "-" + s
	}
	return s, nil
}
