package pgwire

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// tExpr is a sqlToken that rewriteCast produced: a whole expression, which a
// following cast takes as its operand.
const tExpr tokKind = 100

// castStop are keywords that never name a function, so "WHERE (x)::int"
// casts only the parenthesis.
var castStop = map[string]bool{
	"SELECT": true, "WHERE": true, "AND": true, "OR": true, "NOT": true, "IN": true, "ON": true, "WHEN": true,
	"THEN": true, "ELSE": true, "VALUES": true, "EXISTS": true, "BY": true, "AS": true, "SET": true, "FROM": true,
	"RETURNING": true, "HAVING": true, "IS": true, "LIKE": true, "CASE": true, "END": true, "DISTINCT": true,
	"ALL": true, "ANY": true, "BETWEEN": true, "USING": true, "LIMIT": true, "OFFSET": true, "JOIN": true,
}

// rewriteCast rewrites "operand::type", the operand being the tail of
// *out and the type the head of rest, into SQLite's form; it returns what
// remains of rest after the type.
func rewriteCast(out *[]sqlToken, rest []sqlToken) ([]sqlToken, *pgError) {
	o := *out
	end := prevNonSpace(o, len(o))
	if end < 0 {
		return nil, newPgError(codeSyntaxError, `syntax error at or near "::"`)
	}
	start := end
	if o[end].is(")") {
		start = openParen(o, end)
		if start < 0 {
			return nil, newPgError(codeSyntaxError, `syntax error at or near "::"`)
		}
		// A function call: name(...)::type.
		if start > 0 && (o[start-1].kind == tWord || o[start-1].kind == tQIdent) && !castStop[strings.ToUpper(o[start-1].text)] {
			start--
		}
	}
	// A qualified name: a.b.c::type, schema.f(x)::type.
	for start >= 2 && o[start-1].is(".") && (o[start-2].kind == tWord || o[start-2].kind == tQIdent) {
		start -= 2
	}
	operand := o[start : end+1]
	typ, n, err := parseTypeName(rest)
	if err != nil {
		return nil, err
	}
	expr, err := castExpr(operand, typ)
	if err != nil {
		return nil, err
	}
	*out = append(o[:start], sqlToken{tExpr, expr})
	return rest[n:], nil
}

// parseTypeName reads a PostgreSQL type name at the head of toks:
// [pg_catalog.]name [varying|precision] [(mods)] [with|without time zone]
// [[]...]. It returns the name in lower case, words separated by one
// space, and how many tokens it took.
func parseTypeName(toks []sqlToken) (string, int, *pgError) {
	i := nextNonSpace(toks, 0)
	if i+2 < len(toks) && strings.EqualFold(identName(toks[i]), "pg_catalog") && toks[i+1].is(".") {
		i += 2
	}
	if i >= len(toks) || toks[i].kind != tWord && toks[i].kind != tQIdent {
		return "", 0, newPgError(codeSyntaxError, `syntax error at or near "::": a type name must follow`)
	}
	name := strings.ToLower(identName(toks[i]))
	i++
	for {
		j := nextNonSpace(toks, i)
		if j >= len(toks) {
			break
		}
		t := toks[j]
		switch {
		case t.is("varying") && (name == "character" || name == "char" || name == "bit"),
			t.is("precision") && name == "double":
			name += " " + strings.ToLower(t.text)
			i = j + 1
			continue
		case (t.is("with") || t.is("without")) && strings.HasPrefix(name, "time"):
			k := nextNonSpace(toks, j+1)
			l := nextNonSpace(toks, k+1)
			if l < len(toks) && toks[k].is("time") && toks[l].is("zone") {
				if t.is("with") {
					name += " with time zone"
				}
				i = l + 1
				continue
			}
		case t.is("(") && !strings.HasSuffix(name, "]"):
			k := matchParenTok(toks, j)
			if k < 0 {
				return "", 0, newPgError(codeSyntaxError, "syntax error in a type modifier: missing )")
			}
			i = k + 1
			continue
		case t.is("["):
			k := nextNonSpace(toks, j+1)
			if k < len(toks) && toks[k].is("]") {
				name += "[]"
				i = k + 1
				continue
			}
		case t.kind == tQIdent && strings.HasPrefix(t.text, "["):
			// SQLite tokenizes "[]" as a quoted identifier.
			if t.text == "[]" {
				name += "[]"
				i = j + 1
				continue
			}
		}
		break
	}
	return name, i, nil
}

// castExpr returns SQLite's expression for the cast of operand to typ.
func castExpr(operand []sqlToken, typ string) (string, *pgError) {
	text := strings.TrimSpace(joinTokens(operand))
	lit := len(operand) == 1 && operand[0].kind == tString
	var val string
	if lit {
		val = stringValue(operand[0])
	}
	if strings.HasSuffix(typ, "[]") {
		return "", unsupportedError("the array type "+typ, "SQLite has no arrays: store the elements in a table, or as JSON text.")
	}
	if fn := typedCasts[typ]; fn != "" {
		// The value stays text, as SQLite stores it; the function (an
		// identity, typedcast.go) tells the result's type to the client.
		return fn + "(" + text + ")", nil
	}
	switch typ {
	case "text", "varchar", "character varying", "char", "character", "bpchar", "name", "citext", "uuid", "json",
		"jsonb", "xml", "inet", "cidr", "macaddr", "interval", "timestamp", "timestamptz", "timestamp with time zone",
		"time", "timetz", "time with time zone", "date", "unknown":
		if lit {
			return text, nil
		}
		return "CAST(" + text + " AS TEXT)", nil
	case "int", "int2", "int4", "int8", "integer", "smallint", "bigint", "oid", "xid":
		if lit {
			if _, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64); err != nil {
				return "", errorf(codeInvalidText, "invalid input syntax for type %s: %q", typ, val)
			}
		}
		return "CAST(" + text + " AS INTEGER)", nil
	case "real", "float", "float4", "float8", "double precision":
		if lit {
			if _, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err != nil {
				return "", errorf(codeInvalidText, "invalid input syntax for type %s: %q", typ, val)
			}
		}
		return "CAST(" + text + " AS REAL)", nil
	case "numeric", "decimal", "money":
		if lit {
			if _, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err != nil {
				return "", errorf(codeInvalidText, "invalid input syntax for type %s: %q", typ, val)
			}
		}
		return "CAST(" + text + " AS NUMERIC)", nil
	case "bool", "boolean":
		if lit {
			switch strings.ToLower(strings.TrimSpace(val)) {
			case "t", "true", "y", "yes", "on", "1":
				return "1", nil
			case "f", "false", "n", "no", "off", "0":
				return "0", nil
			}
			return "", errorf(codeInvalidText, "invalid input syntax for type boolean: %q", val)
		}
		return "CAST(" + text + " AS INTEGER)", nil
	case "bytea":
		if lit && strings.HasPrefix(val, `\x`) {
			h := val[2:]
			if _, err := hex.DecodeString(h); err != nil {
				return "", errorf(codeInvalidText, "invalid hexadecimal data in bytea %q", val)
			}
			return "X'" + h + "'", nil
		}
		return "CAST(" + text + " AS BLOB)", nil
	case "regclass", "regtype", "regproc", "regprocedure", "regnamespace", "regrole", "regoper", "regconfig", "regoperator":
		// Object names stay names: sqlink has no object ids.
		return text, nil
	}
	return "", unsupportedError("a cast to type "+strconv.Quote(typ), "Use CAST(x AS TEXT|INTEGER|REAL|NUMERIC|BLOB), SQLite's types.")
}

// castOIDs are the types a cast gives a parameter ($1::int4) that the
// parameter decoder reads in both formats.
var castOIDs = map[string]uint32{
	"int2": oidInt2, "smallint": oidInt2, "int4": oidInt4, "int": oidInt4, "integer": oidInt4,
	"int8": oidInt8, "bigint": oidInt8, "oid": oidOID,
	"float4": oidFloat4, "real": oidFloat4, "float8": oidFloat8, "double precision": oidFloat8, "float": oidFloat8,
	"bool": oidBool, "boolean": oidBool, "bytea": oidBytea,
	"text": oidText, "varchar": oidVarchar, "character varying": oidVarchar, "bpchar": oidBPChar, "name": oidName,
	"timestamp": oidTimestamp, "timestamptz": oidTimestamptz, "timestamp with time zone": oidTimestamptz,
	"date": oidDate, "uuid": oidUUID, "json": oidJSON, "jsonb": oidJSONB,
}

// paramCastOIDs returns the types that casts in sql give its parameters
// ($1::int4 makes $1 an int4), indexed by parameter number - 1, or nil:
// PostgreSQL infers a parameter's type from such a cast, and clients that
// leave the type unspecified encode the value by the type the server
// reports. The translation turns the casts into CAST(... AS ...), which
// no longer says it.
func paramCastOIDs(sql string) []uint32 {
	if !strings.Contains(sql, "::") {
		return nil
	}
	toks := lexSQL(sql)
	var out []uint32
	for i, t := range toks {
		if t.kind != tParam || len(t.text) < 2 || t.text[0] != '$' {
			continue
		}
		n, err := strconv.Atoi(t.text[1:])
		if err != nil || n < 1 || n > 1<<16 {
			continue
		}
		j := nextNonSpace(toks, i+1)
		if j >= len(toks) || !toks[j].is("::") {
			continue
		}
		typ, _, perr := parseTypeName(toks[j+1:])
		if perr != nil || castOIDs[typ] == 0 {
			continue
		}
		for len(out) < n {
			out = append(out, 0)
		}
		if out[n-1] == 0 {
			out[n-1] = castOIDs[typ]
		}
	}
	return out
}

// fillCastOIDs sets the unspecified (0) parameter types of oids to those
// casts give them.
func fillCastOIDs(oids, casts []uint32) {
	for i := range min(len(oids), len(casts)) {
		if oids[i] == 0 {
			oids[i] = casts[i]
		}
	}
}
