package pgwire

import (
	"database/sql/driver"
	"io"
	"strings"
)

// Result column types. A column with a declared type is described by it
// (oidForDeclType). A column without one (count(*), 1+1, upper(x)) is
// described by the SQLite type of its first non-NULL value: the statement
// is run when it is described, up to peekRows rows are read ahead, and
// the same rows and description serve the Execute that follows, so
// Describe and Execute always agree. A column whose first rows are all
// NULL is text. A Describe of a statement (not a portal: pgx's prepare)
// does not run it: its expression columns stay OID 0 there and in the
// Executes that follow, and clients decode them by their scan target.

const peekRows = 64

// resolveColumns types pt.cols that have no type from the first rows of
// pt.rows, keeping the rows read in pt.peeked.
func (c *clientConn) resolveColumns(pt *portal) error {
	if pt.rows == nil {
		return nil
	}
	var untyped []int
	for i, col := range pt.cols {
		if col.oid == oidUnknown {
			untyped = append(untyped, i)
		}
	}
	if len(untyped) == 0 {
		return nil
	}
	cols := append([]column(nil), pt.cols...)
	for len(untyped) > 0 && len(pt.peeked) < peekRows && !pt.eof {
		vals := make([]driver.Value, len(cols))
		err := pt.rows.Next(vals)
		if err == io.EOF {
			pt.eof = true
			break
		}
		if err != nil {
			return err
		}
		pt.peeked = append(pt.peeked, vals)
		rest := untyped[:0]
		for _, i := range untyped {
			if oid := valueOID(vals[i]); oid != oidUnknown {
				cols[i].oid = oid
			} else {
				rest = append(rest, i)
			}
		}
		untyped = rest
	}
	for _, i := range untyped {
		cols[i].oid = oidText
	}
	pt.cols = cols
	return nil
}

// describePortal runs a reading portal's statement to describe its rows
// (see resolveColumns); the rows opened serve its Execute. ok is false
// when the portal is not one that can be described so.
func (c *clientConn) describePortal(pt *portal) (ok bool, err error) {
	ps, p := pt.stmt, pt.stmt.plan
	if p.kind != planSQL || !p.rows || p.write || ps.ds == nil || pt.rows != nil || pt.done || c.tx == txFailed {
		return false, nil
	}
	if _, err := c.columns(ps); err != nil {
		return false, err
	}
	if !hasUntyped(ps.cols) {
		return false, nil
	}
	ctx := c.startQuery()
	defer c.endQuery()
	if err := c.declare(p); err != nil {
		return false, err
	}
	err = c.raw(func(any) error {
		qc, ok := ps.ds.(driver.StmtQueryContext)
		if !ok {
			return nil
		}
		rows, err := qc.QueryContext(ctx, pt.args)
		if err != nil {
			return err
		}
		pt.rows, pt.cols, pt.described = rows, ps.cols, true
		return c.resolveColumns(pt)
	})
	if err != nil {
		pt.close()
		pt.peeked, pt.eof, pt.described = nil, false, false
		return false, toPgError(c.refused(err))
	}
	return pt.described, nil
}

func hasUntyped(cols []column) bool {
	for _, col := range cols {
		if col.oid == oidUnknown {
			return true
		}
	}
	return false
}

// pgColumnName is the name PostgreSQL gives a result column SQLite names
// after its expression: a function call is named after the function
// (count(*) is count); other names stay as SQLite gives them.
func pgColumnName(name string) string {
	i := strings.IndexByte(name, '(')
	if i <= 0 || !strings.HasSuffix(name, ")") {
		return name
	}
	fn := strings.TrimSpace(name[:i])
	if j := strings.LastIndexByte(fn, '.'); j >= 0 {
		fn = fn[j+1:]
	}
	for k := 0; k < len(fn); k++ {
		if !isIdentChar(fn[k]) {
			return name
		}
	}
	return strings.ToLower(fn)
}
