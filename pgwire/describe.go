package pgwire

import (
	"database/sql/driver"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
	"modernc.org/sqlite"
)

// describe answers a Describe message: a statement's parameter types and
// result columns, or a portal's result columns, without running the
// statement where that can be avoided.
func (c *clientConn) describe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		ps := c.stmts[m.Name]
		if ps == nil {
			return newPgError(codeInvalidStatement, fmt.Sprintf("prepared statement %q does not exist", m.Name))
		}
		c.send(&pgproto3.ParameterDescription{ParameterOIDs: ps.paramOIDs})
		if _, err := c.columns(ps); err != nil {
			return err
		}
		c.sendRowDescription(ps.cols, nil)
	case 'P':
		pt := c.portals[m.Name]
		if pt == nil {
			// A cursor made with DECLARE is a portal too: psycopg 3
			// describes its named cursors so.
			if cu := c.cursors[m.Name]; cu != nil {
				c.sendRowDescription(cu.cols, cu.formats())
				return nil
			}
			return newPgError(codeInvalidPortal, fmt.Sprintf("portal %q does not exist", m.Name))
		}
		if ok, err := c.describePortal(pt); ok || err != nil {
			if err != nil {
				return err
			}
			c.sendRowDescription(pt.cols, pt.formats)
			return nil
		}
		cols, err := c.columns(pt.stmt)
		if err != nil {
			return err
		}
		c.sendRowDescription(cols, pt.formats)
	default:
		return newPgError(codeProtocolViolation, "invalid DESCRIBE message subtype")
	}
	return nil
}

// columnInfoer is modernc.org/sqlite's way to describe a statement's result
// columns without running it.
type columnInfoer interface {
	ColumnInfo(query string) ([]sqlite.ColumnInfo, error)
}

// columns returns the result columns of ps without running it.
func (c *clientConn) columns(ps *prepared) ([]column, error) {
	if ps.plan.kind == planCursor {
		return c.cursorColumns(ps.plan), nil
	}
	if ps.described {
		return ps.cols, nil
	}
	p := ps.plan
	switch {
	case p.kind == planSynthetic:
		cols, err := p.synth.columns(c.ctx, c)
		if err != nil {
			return nil, err
		}
		ps.cols = cols
	case p.kind == planShow:
		ps.cols = []column{{name: p.name, oid: oidText}}
	case p.kind == planSQL && p.rows:
		if err := c.declare(p); err != nil {
			return nil, err
		}
		err := c.raw(func(dc any) error {
			ci := findColumnInfoer(dc)
			if ci == nil {
				return fmt.Errorf("driver connection %T cannot describe columns", dc)
			}
			info, err := ci.ColumnInfo(p.sql)
			if err != nil {
				return err
			}
			if len(info) > 0 {
				ps.cols = make([]column, len(info))
				for i, col := range info {
					ps.cols[i] = column{name: pgColumnName(col.Name), oid: oidForDeclType(col.DeclType)}
				}
				staticTypes(p.sql, ps.cols)
			}
			return nil
		})
		if err != nil {
			return nil, c.refused(err)
		}
	}
	ps.described = true
	return ps.cols, nil
}

func findColumnInfoer(v any) columnInfoer {
	for range 8 {
		if ci, ok := v.(columnInfoer); ok {
			return ci
		}
		u, ok := v.(interface{ Unwrap() driver.Conn })
		if !ok {
			return nil
		}
		v = u.Unwrap()
	}
	return nil
}

func formatFor(formats []int16, i int) int16 {
	switch len(formats) {
	case 0:
		return 0
	case 1:
		return formats[0]
	}
	if i < len(formats) {
		return formats[i]
	}
	return 0
}

func (c *clientConn) sendRowDescription(cols []column, formats []int16) {
	if cols == nil {
		c.send(&pgproto3.NoData{})
		return
	}
	fields := make([]pgproto3.FieldDescription, len(cols))
	for i, col := range cols {
		fields[i] = pgproto3.FieldDescription{
			Name:         []byte(col.name),
			DataTypeOID:  col.oid,
			DataTypeSize: typeSize(col.oid),
			TypeModifier: -1,
			Format:       formatFor(formats, i),
		}
	}
	c.send(&pgproto3.RowDescription{Fields: fields})
}
