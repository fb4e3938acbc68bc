package pgwire

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// cursorSpec is a parsed DECLARE, FETCH, MOVE or CLOSE.
type cursorSpec struct {
	cmd    string // DECLARE, FETCH, MOVE, CLOSE
	name   string // "" with CLOSE ALL
	binary bool
	hold   bool
	query  string
	count  int64 // rows to FETCH or MOVE; -1: all
}

// cursor is an open cursor: a query whose rows are read as FETCH asks,
// forward only (NO SCROLL). A WITH HOLD cursor is read to the end when
// declared, so that it outlives its transaction.
type cursor struct {
	stmt   driver.Stmt
	rows   driver.Rows
	cols   []column
	binary bool
	hold   bool
	held   [][]driver.Value
	eof    bool // rows are at their end (SQLite would start them again)
}

// formats are the result formats of a cursor's rows: binary for a BINARY
// cursor, text otherwise.
func (cu *cursor) formats() []int16 {
	if cu.binary {
		return []int16{1}
	}
	return nil
}

func (cu *cursor) close() {
	if cu.rows != nil {
		_ = cu.rows.Close()
		cu.rows = nil
	}
	if cu.stmt != nil {
		_ = cu.stmt.Close()
		cu.stmt = nil
	}
	cu.held = nil
}

func cursorError(code, format string, args ...any) *plan {
	return &plan{kind: planRefuse, err: errorf(code, format, args...)}
}

// cursorPlan parses DECLARE name [BINARY] [NO SCROLL] CURSOR [WITH[OUT]
// HOLD] FOR query; FETCH|MOVE [NEXT | FORWARD [n|ALL] | n | ALL] [FROM|IN]
// name; CLOSE name|ALL.
func cursorPlan(s string, w []string) *plan {
	toks := lexSQL(s)
	sig := significant(toks)
	if len(sig) > 0 && sig[len(sig)-1].is(";") {
		sig = sig[:len(sig)-1]
	}
	spec := &cursorSpec{cmd: w[0]}
	p := &plan{kind: planCursor, verb: w[0], x: spec}
	switch w[0] {
	case "DECLARE":
		if len(sig) < 4 {
			return cursorError(codeSyntaxError, "syntax error in DECLARE: DECLARE name CURSOR FOR query")
		}
		spec.name = identName(sig[1])
		i := 2
		for ; i < len(sig) && !sig[i].is("CURSOR"); i++ {
			switch {
			case sig[i].is("BINARY"):
				spec.binary = true
			case sig[i].is("SCROLL") && !sig[i-1].is("NO"):
				return &plan{kind: planRefuse, err: unsupportedError("a SCROLL cursor", "Declare it NO SCROLL and FETCH forward only.")}
			case sig[i].is("NO"), sig[i].is("SCROLL"), sig[i].is("INSENSITIVE"), sig[i].is("ASENSITIVE"):
			default:
				return cursorError(codeSyntaxError, "syntax error in DECLARE at or near %q", sig[i].text)
			}
		}
		i++
		if i+1 < len(sig) && (sig[i].is("WITH") || sig[i].is("WITHOUT")) && sig[i+1].is("HOLD") {
			spec.hold = sig[i].is("WITH")
			i += 2
		}
		if i >= len(sig) || !sig[i].is("FOR") {
			return cursorError(codeSyntaxError, "syntax error in DECLARE: CURSOR ... FOR query expected")
		}
		// The query is the text after that FOR.
		n := 0
		for k, t := range toks {
			if t.kind != tSpace {
				if n == i {
					spec.query = strings.TrimSpace(joinTokens(toks[k+1:]))
					break
				}
				n++
			}
		}
		p.verb = "DECLARE CURSOR"
		p.nparams = maxParam(spec.query)
	case "FETCH", "MOVE":
		spec.count = 1
		i := 1
		if i < len(sig)-1 {
			switch t := sig[i]; {
			case t.is("NEXT"):
				i++
			case t.is("FORWARD"):
				i++
				if i < len(sig)-1 {
					if n, ok := fetchCount(sig[i]); ok {
						spec.count = n
						i++
					}
				}
			case t.is("PRIOR"), t.is("FIRST"), t.is("LAST"), t.is("ABSOLUTE"), t.is("RELATIVE"), t.is("BACKWARD"):
				return cursorError("55000", "cursor can only scan forward")
			default:
				if n, ok := fetchCount(t); ok {
					spec.count = n
					i++
				}
			}
		}
		if spec.count == 0 {
			return &plan{kind: planRefuse, err: unsupportedError(w[0]+" 0", "Fetch forward: FETCH n or FETCH ALL.")}
		}
		if i < len(sig) && (sig[i].is("FROM") || sig[i].is("IN")) {
			i++
		}
		if i != len(sig)-1 {
			return cursorError(codeSyntaxError, "syntax error in %s: %s [NEXT | FORWARD [n|ALL] | n | ALL] [FROM] name", w[0], w[0])
		}
		spec.name = identName(sig[i])
		p.rows = w[0] == "FETCH"
	case "CLOSE":
		if len(sig) != 2 {
			return cursorError(codeSyntaxError, "syntax error in CLOSE: CLOSE name | ALL")
		}
		if !sig[1].is("ALL") {
			spec.name = identName(sig[1])
		}
		p.verb = "CLOSE CURSOR"
		if spec.name == "" {
			p.verb = "CLOSE CURSOR ALL"
		}
	}
	return p
}

func fetchCount(t sqlToken) (int64, bool) {
	if t.is("ALL") {
		return -1, true
	}
	if t.kind == tNumber {
		n, err := strconv.ParseInt(t.text, 10, 64)
		return n, err == nil && n >= 0
	}
	return 0, false
}

// cursorCommand runs a cursor plan.
func (c *clientConn) cursorCommand(ctx context.Context, pt *portal, describe bool, spec *cursorSpec) error {
	switch spec.cmd {
	case "DECLARE":
		return c.declareCursor(ctx, spec, pt.args)
	case "CLOSE":
		if spec.name == "" {
			c.closeCursors(true)
			c.complete("CLOSE CURSOR ALL")
			return nil
		}
		cu := c.cursors[spec.name]
		if cu == nil {
			return errorf("34000", "cursor %q does not exist", spec.name)
		}
		_ = c.raw(func(any) error { cu.close(); return nil })
		delete(c.cursors, spec.name)
		c.complete("CLOSE CURSOR")
		return nil
	}
	cu := c.cursors[spec.name]
	if cu == nil {
		return errorf("34000", "cursor %q does not exist", spec.name)
	}
	fetch := spec.cmd == "FETCH"
	formats := pt.formats
	if cu.binary && len(formats) == 0 {
		formats = []int16{1}
	}
	if fetch && describe {
		c.sendRowDescription(cu.cols, formats)
	}
	var n int64
	err := c.raw(func(any) error {
		vals := make([]driver.Value, len(cu.cols))
		anyVals := make([]any, len(cu.cols))
		for spec.count < 0 || n < spec.count {
			if cu.eof {
				break
			}
			if cu.rows != nil {
				if err := cu.rows.Next(vals); err == io.EOF {
					cu.eof = true
					break
				} else if err != nil {
					return err
				}
			} else if len(cu.held) > 0 {
				copy(vals, cu.held[0])
				cu.held[0] = nil
				cu.held = cu.held[1:]
			} else {
				break
			}
			n++
			if !fetch {
				continue
			}
			for i, v := range vals {
				anyVals[i] = v
			}
			if err := c.sendRow(cu.cols, formats, anyVals); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return c.refused(err)
	}
	c.complete(tagFor(spec.cmd, n))
	return nil
}

// cursorColumns returns the columns FETCH from the cursor of p returns.
func (c *clientConn) cursorColumns(p *plan) []column {
	if spec, ok := p.x.(*cursorSpec); ok && spec.cmd == "FETCH" {
		if cu := c.cursors[spec.name]; cu != nil {
			return cu.cols
		}
	}
	return nil
}

func (c *clientConn) declareCursor(ctx context.Context, spec *cursorSpec, args []driver.NamedValue) error {
	if c.tx == txIdle && !spec.hold {
		return newPgError(codeNoActiveTx, "DECLARE CURSOR can only be used in transaction blocks")
	}
	if c.cursors[spec.name] != nil {
		return errorf("42P03", "cursor %q already exists", spec.name)
	}
	qp := c.planFor(spec.query)
	switch {
	case qp.kind == planRefuse:
		return qp.err
	case qp.kind != planSQL || !qp.rows || qp.write:
		return newPgError(codeSyntaxError, "a cursor's query must be a SELECT or VALUES")
	case qp.nparams > len(args):
		return newPgError(codeUndefinedParameter, fmt.Sprintf("there is no parameter $%d", len(args)+1))
	}
	if err := c.declare(qp); err != nil {
		return err
	}
	cu := &cursor{binary: spec.binary, hold: spec.hold}
	err := c.raw(func(dc any) error {
		pc, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot prepare", dc)
		}
		ds, err := pc.PrepareContext(ctx, qp.sql)
		if err != nil {
			return err
		}
		cu.stmt = ds
		if err := checkOneStatement(ds); err != nil {
			return err
		}
		qc, ok := ds.(driver.StmtQueryContext)
		if !ok {
			return fmt.Errorf("driver statement %T cannot query", ds)
		}
		rows, err := qc.QueryContext(context.WithoutCancel(ctx), args)
		if err != nil {
			return err
		}
		cu.rows = rows
		cu.cols = rowsColumns(rows)
		if !spec.hold {
			return nil
		}
		// WITH HOLD: read it all now, as PostgreSQL does at commit.
		for {
			vals := make([]driver.Value, len(cu.cols))
			if err := rows.Next(vals); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
			cu.held = append(cu.held, vals)
		}
		held := cu.held
		cu.close()
		cu.held = held
		return nil
	})
	if err != nil {
		_ = c.raw(func(any) error { cu.close(); return nil })
		return c.refused(err)
	}
	if c.cursors == nil {
		c.cursors = make(map[string]*cursor)
	}
	c.cursors[spec.name] = cu
	c.complete("DECLARE CURSOR")
	return nil
}

// closeCursors closes the cursors at the end of a transaction (those
// WITH HOLD stay open) or all of them.
func (c *clientConn) closeCursors(all bool) {
	if len(c.cursors) == 0 {
		return
	}
	_ = c.raw(func(any) error {
		for name, cu := range c.cursors {
			if all || !cu.hold {
				cu.close()
				delete(c.cursors, name)
			}
		}
		return nil
	})
}
