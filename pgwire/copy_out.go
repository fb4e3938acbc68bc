package pgwire

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// copyTo runs COPY table|(query) TO STDOUT: one CopyData message per row,
// streamed as SQLite returns them.
func (c *clientConn) copyTo(ctx context.Context, spec *copySpec) error {
	q := spec.query
	if q == "" {
		cols, err := c.copyColumns(ctx, spec)
		if err != nil {
			return err
		}
		q = "SELECT " + strings.Join(cols, ", ") + " FROM " + spec.table
	}
	qp := c.planFor(q)
	switch {
	case qp.kind == planRefuse:
		return qp.err
	case qp.kind != planSQL || !qp.rows:
		return newPgError(codeSyntaxError, "COPY (query) TO needs a query that returns rows (SELECT, VALUES, WITH ... SELECT)")
	case qp.write:
		return unsupportedError("COPY of a query that writes", "Run the statement with RETURNING instead.")
	case qp.nparams > 0:
		return newPgError(codeUndefinedParameter, "there is no parameter $1")
	}
	if err := c.declare(qp); err != nil {
		return err
	}
	var n int64
	err := c.raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot query", dc)
		}
		rows, err := qc.QueryContext(ctx, qp.sql, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		cols := rowsColumns(rows)
		c.send(&pgproto3.CopyOutResponse{OverallFormat: format(spec.binary), ColumnFormatCodes: formatCodes(spec.binary, len(cols))})
		var line []byte
		if spec.binary {
			return c.copyOutBinary(rows, cols, &n)
		}
		if spec.header {
			for i, col := range cols {
				if i > 0 {
					line = append(line, spec.delim)
				}
				line = spec.appendField(line, []byte(col.name))
			}
			line = append(line, '\n')
			c.sendCopyData(line)
		}
		vals := make([]driver.Value, len(cols))
		var text []byte
		for {
			if err := rows.Next(vals); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
			line = line[:0]
			for i, v := range vals {
				if i > 0 {
					line = append(line, spec.delim)
				}
				if v == nil {
					line = append(line, spec.null...)
					continue
				}
				text = appendText(text[:0], v, cols[i].oid)
				line = spec.appendField(line, text)
			}
			line = append(line, '\n')
			if err := c.sendCopyData(line); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return c.refused(err)
	}
	c.send(&pgproto3.CopyDone{})
	c.complete("COPY " + strconv.FormatInt(n, 10))
	return nil
}

// sendCopyData sends one CopyData message, flushing when enough is
// buffered.
func (c *clientConn) sendCopyData(b []byte) error {
	c.send(&pgproto3.CopyData{Data: b})
	c.pending += len(b) + 5
	if c.pending > flushThreshold {
		c.pending = 0
		return c.flush()
	}
	return nil
}

// appendField appends a non-NULL value in the COPY format.
func (spec *copySpec) appendField(b, v []byte) []byte {
	if spec.csv {
		need := spec.forceAll || string(v) == spec.null || string(v) == `\.`
		for _, c := range v {
			if c == spec.delim || c == spec.quote || c == '\n' || c == '\r' {
				need = true
				break
			}
		}
		if !need {
			return append(b, v...)
		}
		b = append(b, spec.quote)
		for _, c := range v {
			if c == spec.quote || c == spec.escape {
				b = append(b, spec.escape)
			}
			b = append(b, c)
		}
		return append(b, spec.quote)
	}
	for _, c := range v {
		switch c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\v':
			b = append(b, '\\', 'v')
		default:
			if c == spec.delim {
				b = append(b, '\\')
			}
			b = append(b, c)
		}
	}
	return b
}

// copyOutBinary streams rows in COPY's binary format.
func (c *clientConn) copyOutBinary(rows driver.Rows, cols []column, n *int64) error {
	b := append(append([]byte{}, copySignature...), 0, 0, 0, 0, 0, 0, 0, 0)
	vals := make([]driver.Value, len(cols))
	for {
		if err := rows.Next(vals); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		var err error
		if b, err = appendBinaryRow(b, vals, cols); err != nil {
			return err
		}
		if err := c.sendCopyData(b); err != nil {
			return err
		}
		b = b[:0]
		*n++
	}
	return c.sendCopyData(append(b, 0xff, 0xff))
}
