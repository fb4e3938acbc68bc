package pgwire

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sqlink/sqlink"
)

// prepared is a named or unnamed prepared statement.
type prepared struct {
	name      string
	plan      *plan
	paramOIDs []uint32
	ds        driver.Stmt // SQLite statement, for planSQL; used only inside Conn.Raw
	cols      []column    // result columns; nil until described
	described bool
	// targets are the columns parameters meet (zero when unknown);
	// untyped[i] says the client sent OID 0, text or varchar for
	// parameter i+1.
	targets []paramTarget
	untyped []bool
	query   string // the text as parsed, for pg_stat_activity
}

func (ps *prepared) close() {
	if ps.ds != nil {
		_ = ps.ds.Close()
		ps.ds = nil
	}
}

// portal is a bound statement.
type portal struct {
	stmt    *prepared
	args    []driver.NamedValue
	formats []int16
	rows    driver.Rows // open after a PortalSuspended
	cols    []column
	sent    int
	done    bool
	// peeked holds rows read ahead to type expression columns; eof says
	// rows ended while peeking. described says Describe sent pt.cols.
	peeked    [][]driver.Value
	eof       bool
	described bool
}

func (pt *portal) close() {
	if pt.rows != nil {
		_ = pt.rows.Close()
		pt.rows = nil
	}
}

// raw runs f with the session's driver connection.
func (c *clientConn) raw(f func(dc any) error) error {
	return c.sess.Conn().Raw(f)
}

// execDirect runs a statement that returns no rows, such as BEGIN. The
// transaction-control statements are prepared once per session (ctlStmts):
// preparing BEGIN and COMMIT anew each transaction cost 3 % of the
// server's CPU in a pgbench run.
func (c *clientConn) execDirect(ctx context.Context, q string) error {
	return c.raw(func(dc any) error {
		if ctlStatement(q) {
			s, err := c.ctlStmt(ctx, dc, q)
			if err != nil {
				return err
			}
			ec, ok := s.(driver.StmtExecContext)
			if !ok {
				return fmt.Errorf("driver statement %T cannot exec", s)
			}
			_, err = ec.ExecContext(ctx, nil)
			return err
		}
		ec, ok := dc.(driver.ExecerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot exec", dc)
		}
		_, err := ec.ExecContext(ctx, q, nil)
		return err
	})
}

func (c *clientConn) simpleQuery(q string) {
	if err := checkNoNUL(q); err != nil {
		c.sendError(err)
		c.failTx()
		return
	}
	stmts := splitStatements(q)
	if len(stmts) == 0 {
		c.send(&pgproto3.EmptyQueryResponse{})
		return
	}
	for _, s := range stmts {
		p := c.planFor(s)
		if p.nparams > 0 && p.kind == planSQL {
			c.sendError(newPgError(codeUndefinedParameter, fmt.Sprintf("there is no parameter $%d", 1)))
			c.failTx()
			return
		}
		ps := &prepared{plan: p}
		pt := &portal{stmt: ps}
		err := c.execute(pt, true, 0)
		pt.close()
		ps.close()
		if err != nil {
			c.sendError(err)
			c.failTx()
			return
		}
	}
}

const codeUndefinedParameter = "42P02"

func (c *clientConn) failTx() {
	if c.tx == txActive {
		c.tx = txFailed
	}
}

// extended handles one message of the extended query protocol.
func (c *clientConn) extended(msg pgproto3.FrontendMessage) error {
	switch m := msg.(type) {
	case *pgproto3.Parse:
		return c.parse(m)
	case *pgproto3.Bind:
		return c.bind(m)
	case *pgproto3.Describe:
		return c.describe(m)
	case *pgproto3.Execute:
		pt := c.portals[m.Portal]
		if pt == nil {
			return newPgError(codeInvalidPortal, fmt.Sprintf("portal %q does not exist", m.Portal))
		}
		err := c.execute(pt, false, int(m.MaxRows))
		if pt.rows == nil && m.Portal == "" {
			// An unnamed portal runs once.
			pt.done = true
		}
		return err
	case *pgproto3.Close:
		switch m.ObjectType {
		case 'S':
			if ps := c.stmts[m.Name]; ps != nil {
				delete(c.stmts, m.Name)
				_ = c.raw(func(any) error { ps.close(); return nil })
			}
		case 'P':
			if pt := c.portals[m.Name]; pt != nil {
				pt.close()
				delete(c.portals, m.Name)
			}
		default:
			return newPgError(codeProtocolViolation, "invalid CLOSE message subtype")
		}
		c.send(&pgproto3.CloseComplete{})
	}
	return nil
}

func (c *clientConn) parse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, ok := c.stmts[m.Name]; ok {
			return newPgError(codeDuplicateStmt, fmt.Sprintf("prepared statement %q already exists", m.Name))
		}
	}
	if err := checkNoNUL(m.Query); err != nil {
		return err
	}
	stmts := splitStatements(m.Query)
	if len(stmts) > 1 {
		return newPgError(codeSyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	q := ""
	if len(stmts) == 1 {
		q = stmts[0]
	}
	p := c.planFor(q)
	ps := &prepared{name: m.Name, plan: p, query: m.Query}
	n := max(len(m.ParameterOIDs), p.nparams)
	ps.paramOIDs = make([]uint32, n)
	copy(ps.paramOIDs, m.ParameterOIDs)
	fillCastOIDs(ps.paramOIDs, p.castOIDs)
	if p.kind == planSQL {
		ctx := c.startQuery()
		c.inferParams(ctx, ps)
		err := c.declare(p)
		if err == nil {
			err = c.raw(func(dc any) error {
				pc, ok := dc.(driver.ConnPrepareContext)
				if !ok {
					return fmt.Errorf("driver connection %T cannot prepare", dc)
				}
				ds, err := pc.PrepareContext(ctx, p.sql)
				if err != nil {
					return err
				}
				if err := checkOneStatement(ds); err != nil {
					ds.Close()
					return err
				}
				ps.ds = ds
				return nil
			})
		}
		c.endQuery()
		if err != nil {
			return c.refused(err)
		}
	}
	if old := c.stmts[m.Name]; old != nil {
		_ = c.raw(func(any) error { old.close(); return nil })
	}
	c.stmts[m.Name] = ps
	c.send(&pgproto3.ParseComplete{})
	return nil
}

func (c *clientConn) bind(m *pgproto3.Bind) error {
	ps := c.stmts[m.PreparedStatement]
	if ps == nil {
		return newPgError(codeInvalidStatement, fmt.Sprintf("prepared statement %q does not exist", m.PreparedStatement))
	}
	if m.DestinationPortal != "" {
		if _, ok := c.portals[m.DestinationPortal]; ok {
			return newPgError("42P03", fmt.Sprintf("cursor %q already exists", m.DestinationPortal))
		}
	}
	if len(m.Parameters) != len(ps.paramOIDs) {
		return newPgError(codeProtocolViolation, fmt.Sprintf("bind message supplies %d parameters, but prepared statement %q requires %d", len(m.Parameters), ps.name, len(ps.paramOIDs)))
	}
	nf := len(m.ParameterFormatCodes)
	if nf > 1 && nf != len(m.Parameters) {
		return newPgError(codeProtocolViolation, fmt.Sprintf("bind message has %d parameter formats but %d parameters", nf, len(m.Parameters)))
	}
	if c.tx == txFailed && !ps.plan.endsTx() {
		return errInFailedTx
	}
	args := make([]driver.NamedValue, len(m.Parameters))
	for i, b := range m.Parameters {
		var f int16
		switch nf {
		case 0:
		case 1:
			f = m.ParameterFormatCodes[0]
		default:
			f = m.ParameterFormatCodes[i]
		}
		v, err := ps.decodeParam(i, f, b)
		if err != nil {
			return err
		}
		args[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	if old := c.portals[m.DestinationPortal]; old != nil {
		old.close()
	}
	c.portals[m.DestinationPortal] = &portal{
		stmt:    ps,
		args:    args,
		formats: append([]int16(nil), m.ResultFormatCodes...),
	}
	c.send(&pgproto3.BindComplete{})
	return nil
}

func (p *plan) endsTx() bool {
	return p.kind == planCommit || p.kind == planRollback || p.rollTo
}

// execute runs a portal's statement. describe says whether to send a
// RowDescription first (simple protocol). maxRows > 0 may suspend the
// portal.
func (c *clientConn) execute(pt *portal, describe bool, maxRows int) error {
	p := pt.stmt.plan
	if pt.done {
		return newPgError(codeInvalidPortal, "portal has already been run")
	}
	if c.tx == txFailed && !p.endsTx() {
		return errInFailedTx
	}
	ctx := c.startQuery()
	defer c.endQuery()
	if err := c.cancelledAtStart(p); err != nil {
		return err
	}
	switch p.kind {
	case planEmpty:
		c.send(&pgproto3.EmptyQueryResponse{})
	case planRefuse:
		return p.err
	case planBegin:
		if err := c.begin(ctx, p.readOnly, p.immediate); err != nil {
			return err
		}
		c.complete("BEGIN")
	case planCommit, planRollback:
		if c.tx == txIdle {
			c.send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: codeNoActiveTx, Message: "there is no transaction in progress"})
			c.complete(p.verb)
			return nil
		}
		tag := p.verb
		commit := p.kind == planCommit && c.tx == txActive
		if !commit {
			tag = "ROLLBACK"
		}
		if err := c.finishTx(ctx, commit); err != nil {
			return err
		}
		c.complete(tag)
	case planSet:
		if p.name != "" {
			v, err := c.checkSetting(p.name, p.value)
			if err != nil {
				return err
			}
			if v == "\x00reset" {
				delete(c.params, p.name)
			} else {
				c.params[p.name] = v
			}
			if name, ok := reported[p.name]; ok {
				c.send(&pgproto3.ParameterStatus{Name: name, Value: c.setting(p.name)})
			}
		}
		c.complete(p.verb)
	case planShow:
		v, err := c.show(p.name)
		if err != nil {
			return err
		}
		return c.sendRows(pt, describe, []column{{name: p.name, oid: oidText}}, [][]any{{v}})
	case planSynthetic:
		cols, rows, err := p.synth.result(ctx, c, pt.args)
		if err != nil {
			return err
		}
		return c.sendRows(pt, describe, cols, rows)
	case planDeallocate:
		if p.verb == "DISCARD ALL" {
			c.closeCursors(true)
		}
		if p.name == "" {
			for name, ps := range c.stmts {
				if name != "" {
					_ = c.raw(func(any) error { ps.close(); return nil })
					delete(c.stmts, name)
				}
			}
		} else if ps := c.stmts[p.name]; ps != nil {
			_ = c.raw(func(any) error { ps.close(); return nil })
			delete(c.stmts, p.name)
		} else {
			return newPgError(codeInvalidStatement, fmt.Sprintf("prepared statement %q does not exist", p.name))
		}
		c.complete(p.verb)
	case planNoop:
		c.complete(p.verb)
	case planSQL:
		return c.executeSQL(ctx, pt, describe, maxRows)
	case planMulti, planAddPK, planCopy, planCursor:
		return c.executeExt(ctx, pt, describe)
	}
	return nil
}

// reported are the settings PostgreSQL reports with ParameterStatus when
// they change.
var reported = map[string]string{
	"application_name":            "application_name",
	"client_encoding":             "client_encoding",
	"datestyle":                   "DateStyle",
	"timezone":                    "TimeZone",
	"intervalstyle":               "IntervalStyle",
	"standard_conforming_strings": "standard_conforming_strings",
}

func (c *clientConn) complete(tag string) {
	c.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
}

// sendRows answers with a fixed result.
func (c *clientConn) sendRows(pt *portal, describe bool, cols []column, rows [][]any) error {
	if describe {
		c.sendRowDescription(cols, nil)
	}
	for _, r := range rows {
		if err := c.sendRow(cols, pt.formats, r); err != nil {
			return err
		}
	}
	c.complete("SELECT " + strconv.Itoa(len(rows)))
	return nil
}

func (c *clientConn) sendRow(cols []column, formats []int16, r []any) error {
	if cap(c.row) < len(r) {
		c.row = make([][]byte, len(r))
	}
	row := c.row[:len(r)]
	buf := c.rowBuf[:0]
	offs := make([]int, 0, 16)
	for i, v := range r {
		offs = append(offs, len(buf))
		if v == nil {
			continue
		}
		var err error
		if formatFor(formats, i) == 1 {
			buf, err = appendBinary(buf, v, cols[i].oid)
			if err != nil {
				if pe, ok := err.(*pgError); ok {
					pe.Message = fmt.Sprintf("column %q: %s", cols[i].name, pe.Message)
					return pe
				}
				return newPgError(codeInvalidText, fmt.Sprintf("column %q: %v", cols[i].name, err))
			}
		} else {
			buf = appendText(buf, v, cols[i].oid)
		}
	}
	for i, v := range r {
		if v == nil {
			row[i] = nil
			continue
		}
		end := len(buf)
		if i+1 < len(r) {
			end = offs[i+1]
		}
		row[i] = buf[offs[i]:end:end]
		if len(row[i]) == 0 {
			row[i] = []byte{}
		}
	}
	c.rowBuf = buf
	c.send(&pgproto3.DataRow{Values: row})
	c.pending += len(buf) + 4*len(r) + 7
	if c.pending > flushThreshold {
		return c.flush()
	}
	return nil
}

// executeSQL runs a statement on SQLite, bracketing an autocommit write
// with BeginWrite/EndWrite.
func (c *clientConn) executeSQL(ctx context.Context, pt *portal, describe bool, maxRows int) (err error) {
	ps, p := pt.stmt, pt.stmt.plan
	if pt.rows != nil {
		return c.raw(func(any) error { return c.stream(pt, maxRows) })
	}
	if (p.verb == "SAVEPOINT" || p.verb == "RELEASE" || p.rollTo) && c.tx == txIdle {
		return newPgError(codeNoActiveTx, p.verb+" can only be used in transaction blocks")
	}
	if err := c.declare(p); err != nil {
		return err
	}
	switch {
	case p.write && c.tx == txIdle:
		if err := c.beginWrite(); err != nil {
			return c.readOnlyError(p.verb, err)
		}
		defer func() {
			err = c.endWriteError(err, c.endWrite(context.WithoutCancel(ctx)))
		}()
	case p.write:
		if err := c.txFirstWrite(p.verb); err != nil {
			return err
		}
	}
	err = c.raw(func(dc any) error {
		ds := ps.ds
		if ds == nil {
			pc, ok := dc.(driver.ConnPrepareContext)
			if !ok {
				return fmt.Errorf("driver connection %T cannot prepare", dc)
			}
			s, err := pc.PrepareContext(ctx, p.sql)
			if err != nil {
				return err
			}
			if err := checkOneStatement(s); err != nil {
				s.Close()
				return err
			}
			if ps.name == "" && !describe {
				defer s.Close()
			} else {
				ps.ds = s
			}
			ds = s
		}
		if !p.rows {
			ec, ok := ds.(driver.StmtExecContext)
			if !ok {
				return fmt.Errorf("driver statement %T cannot exec", ds)
			}
			res, err := ec.ExecContext(ctx, pt.args)
			if err != nil {
				return err
			}
			var n int64
			if res != nil {
				n, _ = res.RowsAffected()
			}
			c.complete(tagFor(p.verb, n))
			return nil
		}
		qc, ok := ds.(driver.StmtQueryContext)
		if !ok {
			return fmt.Errorf("driver statement %T cannot query", ds)
		}
		rows, err := qc.QueryContext(ctx, pt.args)
		if err != nil {
			return err
		}
		pt.rows = rows
		pt.cols = ps.cols
		if !ps.described {
			pt.cols = rowsColumns(rows)
			staticTypes(p.sql, pt.cols)
		}
		if describe {
			if err := c.resolveColumns(pt); err != nil {
				pt.close()
				return err
			}
			c.sendRowDescription(pt.cols, nil)
		}
		return c.stream(pt, maxRows)
	})
	if ps.name == "" && describe {
		ps.close()
	}
	if err != nil {
		pe := toPgError(c.refused(err))
		if pe.Code == codeReadOnlyTx {
			return c.readOnlyError(p.verb, err)
		}
		if pe.Code == codeSerialization && c.tx == txActive && pe.Hint == "" {
			pe.Hint = "the transaction must be retried"
		}
		return pe
	}
	return nil
}

func rowsColumns(rows driver.Rows) []column {
	names := rows.Columns()
	if len(names) == 0 {
		return nil
	}
	dt, _ := rows.(driver.RowsColumnTypeDatabaseTypeName)
	cols := make([]column, len(names))
	for i, n := range names {
		cols[i].name = pgColumnName(n)
		if dt != nil {
			cols[i].oid = oidForDeclType(dt.ColumnTypeDatabaseTypeName(i))
		}
	}
	return cols
}

// stream sends the rows of an open portal, up to maxRows when positive.
func (c *clientConn) stream(pt *portal, maxRows int) error {
	cols := pt.cols
	if cap(c.vals) < len(cols) {
		c.vals = make([]driver.Value, len(cols))
	}
	vals := c.vals[:len(cols)]
	anyVals := make([]any, len(cols))
	n := 0
	for {
		if maxRows > 0 && n >= maxRows {
			c.send(&pgproto3.PortalSuspended{})
			return nil
		}
		var err error
		switch {
		case len(pt.peeked) > 0:
			copy(vals, pt.peeked[0])
			pt.peeked = pt.peeked[1:]
		case pt.eof:
			err = io.EOF
		default:
			err = pt.rows.Next(vals)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			pt.close()
			return err
		}
		for i, v := range vals {
			anyVals[i] = v
		}
		if err := c.sendRow(cols, pt.formats, anyVals); err != nil {
			pt.close()
			return err
		}
		n++
		pt.sent++
	}
	pt.close()
	verb := pt.stmt.plan.verb
	if verb == "PRAGMA" {
		verb = "SELECT"
	}
	c.complete(tagFor(verb, int64(pt.sent)))
	return nil
}

func tagFor(verb string, n int64) string {
	switch verb {
	case "INSERT":
		return "INSERT 0 " + strconv.FormatInt(n, 10)
	case "UPDATE", "DELETE", "SELECT", "MERGE", "FETCH", "MOVE", "COPY":
		return verb + " " + strconv.FormatInt(n, 10)
	}
	return verb
}

// readOnlyError turns a write refused on a read-only database or in a
// read-only transaction into PostgreSQL's 25006 error, naming the primary
// instance when there is one.
func (c *clientConn) readOnlyError(verb string, err error) error {
	if sqlink.ErrorCode(err) != sqlink.EREADONLY && toPgError(err).Code != codeReadOnlyTx {
		return err
	}
	if verb == "" || strings.Contains(verb, " ") && !strings.HasPrefix(verb, "CREATE") && !strings.HasPrefix(verb, "DROP") && !strings.HasPrefix(verb, "ALTER") {
		verb = "statement"
	}
	pe := &pgError{Severity: "ERROR", Code: codeReadOnlyTx, Message: fmt.Sprintf("cannot execute %s in a read-only transaction", verb)}
	ro, primary := c.sess.ReadOnly()
	src := err
	if c.txROErr != nil && sqlink.ErrorCode(err) != sqlink.EREADONLY {
		src = c.txROErr
	}
	var se *sqlink.Error
	if errors.As(src, &se) {
		pe.Detail = se.Message
		pe.Hint = se.Hint
	}
	if ro && primary != "" {
		if !strings.Contains(pe.Detail, primary) {
			pe.Detail = strings.TrimSpace(pe.Detail + fmt.Sprintf(" The database is a read-only secondary; its primary is instance %q.", primary))
		}
		if pe.Hint == "" {
			pe.Hint = fmt.Sprintf("Connect to the primary instance %q, or use target_session_attrs=read-write with both hosts.", primary)
		}
		pe.Message += fmt.Sprintf(" (the primary is instance %q)", primary)
	}
	return pe
}

func (c *clientConn) closePortals() {
	for name, pt := range c.portals {
		pt.close()
		delete(c.portals, name)
	}
}
