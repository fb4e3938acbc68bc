package pgwire

import (
	"bufio"
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"
)

// copyInReader reads the CopyData messages of a COPY FROM STDIN as a
// stream, until CopyDone (io.EOF) or CopyFail (an error).
type copyInReader struct {
	c       *clientConn
	pending []byte
	err     error
}

func (r *copyInReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		c := r.c
		c.mu.Lock()
		if dl := c.stmtDeadline; !dl.IsZero() {
			// statement_timeout holds while the COPY waits for data too.
			_ = c.nc.SetReadDeadline(dl)
		}
		c.mu.Unlock()
		msg, err := c.be.Receive()
		if err != nil {
			r.err = c.copyReceiveError(err)
			continue
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			r.pending = m.Data
		case *pgproto3.CopyDone:
			r.err = io.EOF
		case *pgproto3.CopyFail:
			r.err = errorf(codeQueryCanceled, "COPY from stdin failed: %s", m.Message)
		case *pgproto3.Flush, *pgproto3.Sync:
			// Ignored in copy-in mode, as PostgreSQL does.
		default:
			r.err = errorf(codeProtocolViolation, "unexpected message type 0x%02X during COPY from stdin", msgType(msg))
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// copyColumns returns the columns COPY of a table moves: those named,
// or all but the generated ones, as PostgreSQL does.
func (c *clientConn) copyColumns(ctx context.Context, spec *copySpec) ([]string, error) {
	if spec.cols != nil {
		return spec.cols, nil
	}
	rows, err := c.queryAll(ctx, "SELECT name FROM pragma_table_info(?)", spec.tableName)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, newPgError(codeUndefinedTable, fmt.Sprintf("relation %q does not exist", spec.tableName))
	}
	cols := make([]string, len(rows))
	for i, r := range rows {
		cols[i] = quoteIdent(asString(r[0]))
	}
	return cols, nil
}

// copyReceiveError says why reading COPY data failed: the session was
// terminated, the statement timed out waiting for data (the connection
// ends: the client is somewhere in a message), or the connection broke.
func (c *clientConn) copyReceiveError(err error) error {
	c.mu.Lock()
	terminated := c.fatal != nil
	timedOut := !c.stmtDeadline.IsZero() && !time.Now().Before(c.stmtDeadline)
	c.mu.Unlock()
	switch {
	case terminated:
		return newPgError(codeQueryCanceled, "canceling statement: the session was terminated")
	case isTimeout(err) && timedOut:
		c.terminate(newPgError(codeQueryCanceled, "terminating connection: COPY data stopped arriving before statement_timeout"))
		return newPgError(codeQueryCanceled, "canceling statement due to statement timeout")
	}
	return &copyConnError{err}
}

// copyConnError is a connection failure while reading COPY data.
type copyConnError struct{ err error }

func (e *copyConnError) Error() string { return "COPY from stdin: connection lost: " + e.err.Error() }

func msgType(m pgproto3.FrontendMessage) byte {
	if b, err := m.Encode(nil); err == nil && len(b) > 0 {
		return b[0]
	}
	return 0
}

// copyFrom runs COPY ... FROM STDIN: the rows are parsed as they arrive
// and inserted, one prepared INSERT per row, in one transaction (the
// session's, or one of its own holding the write lock); a malformed row
// fails the COPY with 22P04 naming its line, and nothing of it is
// committed. Memory stays bounded by the longest row.
func (c *clientConn) copyFrom(ctx context.Context, spec *copySpec) error {
	cols, err := c.copyColumns(ctx, spec)
	if err != nil {
		return err
	}
	ins := "INSERT INTO " + spec.table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = identName(lexSQL(col)[0])
	}
	oids, err := c.columnOIDs(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+spec.table)
	if err != nil {
		return err
	}
	in := &copyInReader{c: c}
	var n int64
	err = c.inWriteTx(ctx, "COPY", func() error {
		if err := c.declare(&plan{write: true}); err != nil {
			return err
		}
		return c.raw(func(dc any) error {
			pc, ok := dc.(driver.ConnPrepareContext)
			if !ok {
				return fmt.Errorf("driver connection %T cannot prepare", dc)
			}
			ds, err := pc.PrepareContext(ctx, ins)
			if err != nil {
				return c.refused(err) // the sandbox's reason, not SQLite's "not authorized"
			}
			defer ds.Close()
			ec, ok := ds.(driver.StmtExecContext)
			if !ok {
				return fmt.Errorf("driver statement %T cannot exec", ds)
			}
			c.holdSocketWatch()
			c.send(&pgproto3.CopyInResponse{OverallFormat: format(spec.binary), ColumnFormatCodes: formatCodes(spec.binary, len(cols))})
			if err := c.flush(); err != nil {
				return err
			}
			p := &copyParser{spec: spec, r: bufio.NewReaderSize(in, 64<<10), ncols: len(cols), names: names, oids: oids}
			args := make([]driver.NamedValue, len(cols))
			for i := range args {
				args[i].Ordinal = i + 1
			}
			for {
				if err := p.nextValues(args); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				if _, err := ec.ExecContext(ctx, args); err != nil {
					pe := toPgError(c.refused(err))
					pe.Message = fmt.Sprintf("%s (COPY %s, line %d)", pe.Message, spec.tableName, p.recLine)
					return pe
				}
				n++
			}
		})
	})
	if err != nil {
		// Drain nothing: the messages that follow are dropped by the main
		// loop until the client is back in normal mode.
		var ce *copyConnError
		if errors.As(err, &ce) {
			return fatal(newPgError(codeProtocolViolation, ce.Error()))
		}
		return err
	}
	c.complete("COPY " + strconv.FormatInt(n, 10))
	return nil
}

// copyParser reads the records of COPY text or CSV data.
type copyParser struct {
	spec    *copySpec
	r       *bufio.Reader
	ncols   int
	names   []string
	line    int // lines read
	recLine int // the line the last record started on
	header  bool
	done    bool
	buf     []byte
	oids    []uint32 // the columns' types, to decode values as a Bind does
	long    []byte   // a line longer than the reader's buffer
	fields  []copyField
}

// copyField is one field of a record.
type copyField struct {
	s    string
	null bool
}

// nextValues reads the next record into args, each value decoded by its
// column's type (a bytea column's \x... text is a blob, a boolean's t is
// 1), or returns io.EOF.
func (p *copyParser) nextValues(args []driver.NamedValue) error {
	if p.spec.binary {
		return p.nextBinary(args)
	}
	rec, err := p.next()
	if err != nil {
		return err
	}
	for i, f := range rec {
		if f.null {
			args[i].Value = nil
			continue
		}
		oid := uint32(0)
		if i < len(p.oids) {
			oid = p.oids[i]
		}
		switch oid {
		case oidInt2, oidInt4, oidInt8:
			if n, err := strconv.ParseInt(f.s, 10, 64); err == nil {
				args[i].Value = n
				continue
			}
		case oidText, oidUnknown:
			args[i].Value = f.s
			continue
		}
		v, err := decodeParam(oid, 0, []byte(f.s))
		if err != nil {
			pe := toPgError(err)
			pe.Message = fmt.Sprintf("%s (COPY %s, line %d, column %s)", pe.Message, p.spec.tableName, p.recLine, p.names[i])
			return pe
		}
		args[i].Value = v
	}
	return nil
}

func (p *copyParser) fail(format string, args ...any) error {
	return &pgError{Severity: "ERROR", Code: "22P04",
		Message: fmt.Sprintf("%s (COPY %s, line %d)", fmt.Sprintf(format, args...), p.spec.tableName, p.recLine),
		Hint:    "Fix the row at that line; nothing of this COPY was written."}
}

// maxCopyLine bounds a COPY record (a line, or a CSV record over several),
// so that a client cannot make the server hold an endless one: no value
// may be larger anyway (SQLITE_LIMIT_LENGTH of a session, 256 MiB).
var maxCopyLine = 256 << 20 // a variable for tests

func (p *copyParser) tooLong() error {
	p.recLine = p.line + 1
	e := p.fail("a record is longer than %d MiB", maxCopyLine>>20).(*pgError)
	e.Code = codeProgramLimit
	return e
}

// readRaw returns the next physical line with its line ending, io.EOF
// at the end of the data.
// The line is valid until the next read.
func (p *copyParser) readRaw() ([]byte, error) {
	line, err := p.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		p.long = append(p.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(p.long) > maxCopyLine {
				return nil, p.tooLong()
			}
			line, err = p.r.ReadSlice('\n')
			p.long = append(p.long, line...)
		}
		if len(p.long) > maxCopyLine {
			return nil, p.tooLong()
		}
		line = p.long
	}
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	p.line++
	return line, nil
}

// stripEOL drops a line ending (\n or \r\n).
func stripEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	return bytes.TrimSuffix(line, []byte{'\r'})
}

// next returns the next record's fields, or io.EOF. The slice is reused
// by the next call.
func (p *copyParser) next() ([]copyField, error) {
	for {
		if p.done {
			// Data after the end marker is ignored, as PostgreSQL does.
			if _, err := io.Copy(io.Discard, p.r); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
		line, err := p.readRaw()
		if err != nil {
			return nil, err
		}
		p.recLine = p.line
		if string(stripEOL(line)) == `\.` {
			p.done = true
			continue
		}
		if p.spec.csv && csvQuoteState(line, false, p.spec) {
			// A quoted field goes on, line endings and all. Each line is
			// scanned once, carrying the quote state over.
			rec := append(p.buf[:0], line...)
			for in := true; in; {
				more, err := p.readRaw()
				if err == io.EOF {
					return nil, p.fail("unterminated CSV quoted field")
				}
				if err != nil {
					return nil, err
				}
				in = csvQuoteState(more, true, p.spec)
				rec = append(rec, more...)
				if len(rec) > maxCopyLine {
					return nil, p.tooLong()
				}
			}
			p.buf = rec
			line = rec
		}
		line = stripEOL(line)
		if p.spec.header && !p.header {
			p.header = true
			continue
		}
		var fields []copyField
		if p.spec.csv {
			fields = p.csvFields(line)
		} else {
			fields, err = p.textFields(line)
			if err != nil {
				return nil, err
			}
		}
		if len(fields) < p.ncols {
			if len(line) == 0 && p.ncols > 1 {
				return nil, p.fail("missing data for column %q", p.names[0])
			}
			return nil, p.fail("missing data for column %q", p.names[len(fields)])
		}
		if len(fields) > p.ncols {
			return nil, p.fail("extra data after last expected column")
		}
		for _, f := range fields {
			if !f.null && !utf8.ValidString(f.s) {
				e := p.fail("invalid byte sequence for encoding \"UTF8\"").(*pgError)
				e.Code = "22021"
				return nil, e
			}
		}
		return fields, nil
	}
}

// csvQuoteState returns whether a CSV record is inside a quoted field
// after b, given whether it was before b.
func csvQuoteState(b []byte, in bool, spec *copySpec) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case in && c == spec.escape && spec.escape != spec.quote && i+1 < len(b) && (b[i+1] == spec.quote || b[i+1] == spec.escape):
			i++
		case c == spec.quote:
			in = !in
		}
	}
	return in
}

// csvFields splits a CSV record; an unquoted field equal to the NULL
// string is NULL, a quoted one never is.
func (p *copyParser) csvFields(rec []byte) []copyField {
	spec := p.spec
	out := p.fields[:0]
	var b []byte
	i := 0
	for {
		b = b[:0]
		quoted := false
		raw := i
		for i < len(rec) && rec[i] != spec.delim {
			if rec[i] != spec.quote {
				b = append(b, rec[i])
				i++
				continue
			}
			quoted = true
			i++
			for i < len(rec) {
				c := rec[i]
				if c == spec.escape && i+1 < len(rec) && (rec[i+1] == spec.quote || rec[i+1] == spec.escape) && (spec.escape != spec.quote || rec[i+1] == spec.quote) {
					b = append(b, rec[i+1])
					i += 2
					continue
				}
				if c == spec.quote {
					i++
					break
				}
				b = append(b, c)
				i++
			}
		}
		if !quoted && string(rec[raw:i]) == spec.null {
			out = append(out, copyField{null: true})
		} else {
			out = append(out, copyField{s: string(b)})
		}
		if i >= len(rec) {
			p.fields = out
			return out
		}
		i++ // the delimiter
	}
}

// textFields splits a text-format record and decodes its backslash
// escapes; a field whose raw text is the NULL string (\N) is NULL.
func (p *copyParser) textFields(rec []byte) ([]copyField, error) {
	out := p.fields[:0]
	start := 0
	for i := 0; i <= len(rec); i++ {
		if i < len(rec) && rec[i] == '\\' {
			i++
			continue
		}
		if i < len(rec) && rec[i] != p.spec.delim {
			continue
		}
		end := min(i, len(rec))
		raw := rec[start:end]
		if string(raw) == p.spec.null {
			out = append(out, copyField{null: true})
		} else {
			s, err := p.unescape(raw)
			if err != nil {
				return nil, err
			}
			out = append(out, copyField{s: s})
		}
		start = i + 1
	}
	p.fields = out
	return out, nil
}

func (p *copyParser) unescape(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), nil
	}
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		if i+1 >= len(raw) {
			return "", p.fail("unexpected end of line after a backslash")
		}
		i++
		switch c = raw[i]; c {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'v':
			b = append(b, '\v')
		case 'x':
			j := i + 1
			for j < len(raw) && j < i+3 && isHex(raw[j]) {
				j++
			}
			if j == i+1 {
				b = append(b, 'x')
				continue
			}
			v, _ := strconv.ParseUint(string(raw[i+1:j]), 16, 8)
			b = append(b, byte(v))
			i = j - 1
		default:
			if c >= '0' && c <= '7' {
				j := i
				for j < len(raw) && j < i+3 && raw[j] >= '0' && raw[j] <= '7' {
					j++
				}
				v, _ := strconv.ParseUint(string(raw[i:j]), 8, 16)
				b = append(b, byte(v))
				i = j - 1
				continue
			}
			b = append(b, c)
		}
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return "", p.fail("a field holds a zero byte, which text cannot")
	}
	return string(b), nil
}

// closedWatch stands for a socket watch that is not to start.
var closedWatch = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// holdSocketWatch keeps the socket watch (watch.go) off for the rest of
// the statement: COPY FROM reads the socket itself, and a watch reading
// it too would take bytes of the COPY data. A watch already running is
// stopped first (what it read ahead is read before the socket); the
// statement's end clears the hold as it stops a watch.
func (c *clientConn) holdSocketWatch() {
	if c.watchTimer != nil {
		c.watchTimer.Stop()
	}
	for {
		c.stopWatch()
		c.mu.Lock()
		if c.watchDone == nil {
			c.watchDone = closedWatch
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}
