package pgwire

import (
	"context"
	"strings"
)

// copySpec is a parsed COPY statement.
type copySpec struct {
	table     string   // the table as SQL text ("" with a query)
	tableName string   // the table's name, for messages and pragma_table_info
	cols      []string // the column list as SQL texts; nil: all
	query     string   // COPY (query) TO
	from      bool
	csv       bool
	binary    bool
	header    bool
	forceAll  bool // FORCE_QUOTE *
	delim     byte
	null      string
	quote     byte
	escape    byte
	delimSet  bool // DELIMITER given
	nullSet   bool // NULL given
}

var copyHint = "sqlink supports COPY table [(columns)] FROM STDIN and COPY table|(query) TO STDOUT, in text, CSV or binary format; use psql's \\copy for client-side files."

func copyRefuse(code, format string, args ...any) *plan {
	e := errorf(code, format, args...)
	e.Hint = copyHint
	return &plan{kind: planRefuse, err: e}
}

// copyPlan parses COPY table [(cols)] FROM STDIN | COPY table [(cols)] |
// (query) TO STDOUT, with options as [WITH] (FORMAT csv, HEADER, ...) or
// in the old syntax psql's \copy passes on ([WITH] CSV HEADER DELIMITER
// ',' NULL ” QUOTE '"' ESCAPE '"').
func copyPlan(s string) *plan {
	toks := lexSQL(s)
	sig := significant(toks)
	if len(sig) > 0 && sig[len(sig)-1].is(";") {
		sig = sig[:len(sig)-1]
	}
	spec := &copySpec{null: `\N`, delim: '\t', quote: '"'}
	i := 1
	if i < len(sig) && sig[i].is("(") {
		// The query is the text between the parentheses.
		open := -1
		for k, n := 0, 0; k < len(toks); k++ {
			if toks[k].kind != tSpace {
				if n == i {
					open = k
					break
				}
				n++
			}
		}
		end := matchParenTok(toks, open)
		if end < 0 {
			return copyRefuse(codeSyntaxError, "syntax error in COPY: unbalanced parentheses")
		}
		spec.query = strings.TrimSpace(joinTokens(toks[open+1 : end]))
		i += len(significant(toks[open : end+1]))
	} else {
		start := i
		for i+2 < len(sig) && sig[i+1].is(".") {
			i += 2 // schema.table: sqlink has one schema
		}
		if i >= len(sig) || sig[i].kind != tWord && sig[i].kind != tQIdent {
			return copyRefuse(codeSyntaxError, "syntax error in COPY: a table name or (query) must follow COPY")
		}
		if i > start && !strings.EqualFold(identName(sig[start]), "public") {
			return copyRefuse(codeUndefinedTable, "schema %q does not exist", identName(sig[start]))
		}
		spec.table, spec.tableName = sig[i].text, identName(sig[i])
		i++
		if i < len(sig) && sig[i].is("(") {
			j := i + 1
			for ; j < len(sig) && !sig[j].is(")"); j++ {
				if sig[j].is(",") {
					continue
				}
				if sig[j].kind != tWord && sig[j].kind != tQIdent {
					return copyRefuse(codeSyntaxError, "syntax error in COPY's column list at %q", sig[j].text)
				}
				spec.cols = append(spec.cols, sig[j].text)
			}
			i = j + 1
		}
	}
	if i+1 >= len(sig) {
		return copyRefuse(codeSyntaxError, "syntax error in COPY: FROM STDIN or TO STDOUT expected")
	}
	switch {
	case sig[i].is("FROM"):
		spec.from = true
		if spec.query != "" {
			return copyRefuse(codeSyntaxError, "COPY (query) FROM is not possible: copy into a table")
		}
		if !sig[i+1].is("STDIN") {
			return copyFileRefusal(sig[i+1])
		}
	case sig[i].is("TO"):
		if !sig[i+1].is("STDOUT") {
			return copyFileRefusal(sig[i+1])
		}
	default:
		return copyRefuse(codeSyntaxError, "syntax error in COPY at %q: FROM STDIN or TO STDOUT expected", sig[i].text)
	}
	if err := spec.options(sig[i+2:]); err != nil {
		err.Hint = copyHint
		return &plan{kind: planRefuse, err: err}
	}
	p := &plan{kind: planCopy, verb: "COPY", x: spec, write: spec.from}
	return p
}

func copyFileRefusal(t sqlToken) *plan {
	if t.is("PROGRAM") {
		return &plan{kind: planRefuse, err: &pgError{Severity: "ERROR", Code: codeInsufficientPriv, Message: "COPY to or from a program is not allowed", Hint: copyHint}}
	}
	return &plan{kind: planRefuse, err: &pgError{Severity: "ERROR", Code: codeInsufficientPriv, Message: "COPY to or from a file on the server is not allowed", Hint: copyHint}}
}

// options parses COPY's options, in either syntax.
func (spec *copySpec) options(sig []sqlToken) *pgError {
	if len(sig) > 0 && sig[0].is("WITH") {
		sig = sig[1:]
	}
	if len(sig) > 0 && sig[0].is("(") {
		if !sig[len(sig)-1].is(")") {
			return newPgError(codeSyntaxError, "syntax error in COPY options: missing )")
		}
		for _, o := range splitOnCommas(sig[1 : len(sig)-1]) {
			if len(o) == 0 {
				return newPgError(codeSyntaxError, "syntax error in COPY options")
			}
			name := strings.ToLower(o[0].text)
			var val string
			if len(o) > 1 {
				val = strings.ToLower(identName(o[1]))
				if o[1].kind == tString {
					val = stringValue(o[1])
				}
			}
			if err := spec.option(name, val, o[1:]); err != nil {
				return err
			}
		}
		return spec.check()
	}
	// The old syntax: keywords with values.
	for k := 0; k < len(sig); k++ {
		name := strings.ToLower(sig[k].text)
		val := func() (string, *pgError) {
			if k+1 < len(sig) && sig[k+1].is("AS") {
				k++
			}
			if k+1 >= len(sig) || sig[k+1].kind != tString {
				return "", errorf(codeSyntaxError, "syntax error in COPY: a quoted string must follow %s", strings.ToUpper(name))
			}
			k++
			return stringValue(sig[k]), nil
		}
		switch name {
		case "binary":
			spec.binary = true
		case "csv":
			spec.csv = true
		case "header":
			spec.header = true
		case "freeze", "oids":
		case "delimiter", "null", "quote", "escape", "encoding":
			v, err := val()
			if err != nil {
				return err
			}
			if err := spec.option(name, v, nil); err != nil {
				return err
			}
		case "force":
			if k+2 < len(sig) && sig[k+1].is("QUOTE") && sig[k+2].is("*") {
				spec.forceAll = true
				k += 2
				continue
			}
			return unsupportedError("COPY ... FORCE with a column list", "Use FORCE QUOTE * or no FORCE option.")
		default:
			return errorf(codeSyntaxError, "syntax error in COPY at or near %q", sig[k].text)
		}
	}
	return spec.check()
}

func (spec *copySpec) option(name, val string, rest []sqlToken) *pgError {
	one := func() (byte, *pgError) {
		if len(val) != 1 {
			return 0, errorf("0A000", "COPY %s must be a single one-byte character", name)
		}
		return val[0], nil
	}
	var err *pgError
	switch name {
	case "format":
		switch val {
		case "csv":
			spec.csv, spec.binary = true, false
		case "text":
			spec.csv, spec.binary = false, false
		case "binary":
			spec.binary = true
		default:
			return errorf(codeInvalidParameter, "COPY format %q not recognized", val)
		}
	case "header":
		switch val {
		case "", "true", "on", "1":
			spec.header = true
		case "false", "off", "0":
			spec.header = false
		default:
			return unsupportedError("COPY HEADER "+val, "Use HEADER true or false.")
		}
	case "delimiter":
		spec.delim, err = one()
		spec.delimSet = true
	case "quote":
		spec.quote, err = one()
	case "escape":
		spec.escape, err = one()
	case "null":
		spec.null, spec.nullSet = val, true
	case "freeze":
	case "encoding":
		if v := strings.ToLower(strings.ReplaceAll(val, "-", "")); v != "utf8" && v != "unicode" {
			return unsupportedError("COPY ENCODING "+val, "sqlink reads and writes UTF8.")
		}
	case "force_quote":
		if len(rest) == 1 && rest[0].is("*") {
			spec.forceAll = true
			return nil
		}
		return unsupportedError("COPY FORCE_QUOTE with a column list", "Use FORCE_QUOTE *.")
	default:
		return unsupportedError("the COPY option "+strings.ToUpper(name), copyHint)
	}
	return err
}

// check applies the CSV defaults and checks the options agree.
func (spec *copySpec) check() *pgError {
	if spec.binary && (spec.csv || spec.header || spec.delimSet || spec.nullSet || spec.forceAll) {
		return newPgError(codeSyntaxError, "cannot specify CSV, HEADER, DELIMITER, NULL or FORCE_QUOTE in BINARY mode")
	}
	if spec.csv {
		if !spec.delimSet {
			spec.delim = ','
		}
		if !spec.nullSet {
			spec.null = ""
		}
		if spec.escape == 0 {
			spec.escape = spec.quote
		}
		if spec.delim == spec.quote {
			return newPgError(codeInvalidParameter, "COPY delimiter and quote must be different")
		}
	}
	if spec.delim == '\n' || spec.delim == '\r' || !spec.csv && spec.delim == '\\' {
		return newPgError(codeInvalidParameter, "COPY delimiter cannot be a newline, a carriage return or a backslash")
	}
	if strings.ContainsAny(spec.null, "\r\n") {
		return newPgError(codeInvalidParameter, "COPY null representation cannot use a newline or carriage return")
	}
	return nil
}

// executes COPY.
func (c *clientConn) copy(ctx context.Context, spec *copySpec) error {
	if spec.from {
		return c.copyFrom(ctx, spec)
	}
	return c.copyTo(ctx, spec)
}
