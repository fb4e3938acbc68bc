package pgwire

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// copySignature starts COPY's binary format.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

func format(binary bool) byte {
	if binary {
		return 1
	}
	return 0
}

func formatCodes(binary bool, n int) []uint16 {
	codes := make([]uint16, n)
	if binary {
		for i := range codes {
			codes[i] = 1
		}
	}
	return codes
}

// columnOIDs returns the PostgreSQL types of the result columns of q, as
// a Describe reports them.
func (c *clientConn) columnOIDs(ctx context.Context, q string) ([]uint32, error) {
	var oids []uint32
	err := c.raw(func(dc any) error {
		ci := findColumnInfoer(dc)
		if ci == nil {
			return fmt.Errorf("driver connection %T cannot describe columns", dc)
		}
		info, err := ci.ColumnInfo(q)
		if err != nil {
			return err
		}
		for _, col := range info {
			oids = append(oids, oidForDeclType(col.DeclType))
		}
		return nil
	})
	return oids, c.refused(err)
}

// nextBinary reads the next tuple of binary COPY data into args, or
// returns io.EOF at the trailer.
func (p *copyParser) nextBinary(args []driver.NamedValue) error {
	bad := func(format string, a ...any) error {
		return &pgError{Severity: "ERROR", Code: "22P04",
			Message: fmt.Sprintf("%s (COPY %s, tuple %d)", fmt.Sprintf(format, a...), p.spec.tableName, p.line+1),
			Hint:    "Send COPY's binary format: the PGCOPY signature, then one tuple per row; nothing of this COPY was written."}
	}
	short := func(err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return bad("unexpected end of binary COPY data")
		}
		return err
	}
	if !p.header {
		var h [19]byte
		if _, err := io.ReadFull(p.r, h[:]); err != nil {
			return short(err)
		}
		if !bytes.Equal(h[:11], copySignature) {
			return bad("COPY file signature not recognized")
		}
		if flags := binary.BigEndian.Uint32(h[11:15]); flags&0xffff0000 != 0 {
			return bad("unrecognized critical flags in COPY file header")
		}
		if _, err := io.CopyN(io.Discard, p.r, int64(binary.BigEndian.Uint32(h[15:19]))); err != nil {
			return short(err)
		}
		p.header = true
	}
	var b2 [2]byte
	if _, err := io.ReadFull(p.r, b2[:]); err == io.EOF {
		return io.EOF // the end of the data without a trailer, as PostgreSQL accepts
	} else if err != nil {
		return short(err)
	}
	n := int16(binary.BigEndian.Uint16(b2[:]))
	if n == -1 {
		// The trailer: whatever follows is ignored until CopyDone.
		if _, err := io.Copy(io.Discard, p.r); err != nil {
			return err
		}
		return io.EOF
	}
	if int(n) != p.ncols {
		return bad("row field count is %d, expected %d", n, p.ncols)
	}
	var b4 [4]byte
	for i := range args {
		if _, err := io.ReadFull(p.r, b4[:]); err != nil {
			return short(err)
		}
		size := int32(binary.BigEndian.Uint32(b4[:]))
		if size == -1 {
			args[i].Value = nil
			continue
		}
		if size < 0 {
			return bad("invalid field size %d", size)
		}
		if int(size) > maxCopyLine {
			e := bad("a field of %d bytes is larger than %d MiB", size, maxCopyLine>>20).(*pgError)
			e.Code = codeProgramLimit
			return e
		}
		// Grown as the data arrives: a size alone allocates nothing.
		var fb bytes.Buffer
		if _, err := io.CopyN(&fb, p.r, int64(size)); err != nil {
			return short(err)
		}
		data := fb.Bytes()
		if data == nil {
			data = []byte{}
		}
		v, err := decodeParam(p.oids[i], 1, data)
		if err != nil {
			return bad("column %s: %s", p.names[i], toPgError(err).Message)
		}
		args[i].Value = v
	}
	p.line++
	return nil
}

// appendBinaryRow appends one tuple of binary COPY data.
func appendBinaryRow(b []byte, vals []driver.Value, cols []column) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, uint16(len(vals)))
	for i, v := range vals {
		if v == nil {
			b = binary.BigEndian.AppendUint32(b, 0xffffffff)
			continue
		}
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		var err error
		b, err = appendBinary(b, v, cols[i].oid)
		if err != nil {
			return nil, newPgError(codeInvalidText, fmt.Sprintf("column %q: %v", cols[i].name, err))
		}
		binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	}
	return b, nil
}
