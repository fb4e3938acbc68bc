package pgwire

import (
	"context"
	"crypto/tls"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// TLS on the client listener. A client asks for it with an SSLRequest
// before its StartupMessage (libpq's sslmode=prefer, require, verify-ca,
// verify-full); the server answers 'S' and the TLS handshake follows on the
// same socket, or 'N' when it has no certificate. The startup exchange then
// starts again inside TLS. With Config.RequireTLS a StartupMessage that
// arrives in clear is refused with FATAL 28000.

// startTLS answers an SSLRequest. It returns a *pgError for a client that
// asks twice, and other errors when the handshake fails (the connection
// is then simply closed).
func (c *clientConn) startTLS() error {
	if c.tlsState != nil {
		return newPgError(codeProtocolViolation, "SSLRequest received inside TLS")
	}
	if c.srv.cfg.TLS == nil {
		_, err := c.nc.Write([]byte{'N'})
		return err
	}
	if _, err := c.nc.Write([]byte{'S'}); err != nil {
		return err
	}
	// Bytes the client sent after the SSLRequest and before the handshake
	// stay in the old Backend's buffer and are dropped with it: nothing
	// sent in clear is ever read as if it had come through TLS.
	tc := tls.Server(c.nc, c.srv.cfg.TLS)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	st := tc.ConnectionState()
	c.mu.Lock()
	c.nc = tc
	c.mu.Unlock()
	c.tlsState = &st
	// The backend reads through a sockReader over the TLS connection, as
	// over a plain one, so a statement's disconnect watch works for TLS
	// sessions too (watch.go).
	c.sock = &sockReader{nc: tc}
	c.be = pgproto3.NewBackend(c.sock, tc)
	c.be.SetMaxBodyLen(MaxStartupMessageSize)
	return nil
}

// checkTLS refuses a session that did not start TLS when TLS is required.
func (c *clientConn) checkTLS() error {
	if !c.srv.cfg.RequireTLS || c.tlsState != nil {
		return nil
	}
	return &pgError{Code: codeInvalidAuthSpec,
		Message: "this instance accepts only TLS connections, and this one did not start TLS",
		Hint:    "connect with sslmode=require (or sslmode=verify-full with sslrootcert set to the instance's CA or certificate)"}
}

// tlsVersionName is pg_stat_ssl.version's spelling of a TLS version.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return tls.VersionName(v)
}

// statSSLColumns are pg_stat_ssl's columns, in PostgreSQL's order.
var statSSLColumns = []column{
	{name: "pid", oid: oidInt4},
	{name: "ssl", oid: oidBool},
	{name: "version", oid: oidText},
	{name: "cipher", oid: oidText},
	{name: "bits", oid: oidInt4},
	{name: "client_dn", oid: oidText},
	{name: "client_serial", oid: oidText},
	{name: "issuer_dn", oid: oidText},
}

// statSSLRow is one session's pg_stat_ssl row, by column name.
func statSSLRow(c *clientConn) map[string]any {
	row := map[string]any{"pid": int64(c.pid), "ssl": c.tlsState != nil}
	if st := c.tlsState; st != nil {
		row["version"] = tlsVersionName(st.Version)
		row["cipher"] = tls.CipherSuiteName(st.CipherSuite)
		row["bits"] = int64(cipherBits(st.CipherSuite))
	}
	return row
}

// cipherBits is the symmetric key size of a cipher suite.
func cipherBits(id uint16) int {
	name := tls.CipherSuiteName(id)
	switch {
	case strings.Contains(name, "AES_128"):
		return 128
	case strings.Contains(name, "AES_256"), strings.Contains(name, "CHACHA20"):
		return 256
	}
	return 0
}

var reStatSSL = regexp.MustCompile(`^select (.+?) from (?:pg_catalog\.)?pg_stat_ssl(?: (?:as )?([a-z_][a-z0-9_]*))?(?: where (.+?))?;?$`)

// lookupStatSSL answers a query of pg_stat_ssl: SELECT * or a list of its
// columns, for every session or, with WHERE pid = pg_backend_pid() (or a
// number), one. It returns nil for a query that does not read pg_stat_ssl,
// and an answer that fails with a clear error for one of another shape.
func lookupStatSSL(n string) *synthetic {
	if !strings.Contains(n, "pg_stat_ssl") {
		return nil
	}
	m := reStatSSL.FindStringSubmatch(n)
	if m == nil || m[2] == "where" {
		return unsupportedStatSSL()
	}
	alias := m[2]
	strip := func(s string) string {
		s = strings.TrimSpace(s)
		if alias != "" {
			s = strings.TrimPrefix(s, alias+".")
		}
		return strings.TrimPrefix(s, "pg_stat_ssl.")
	}
	var cols []column
	for _, item := range strings.Split(m[1], ",") {
		item = strip(item)
		if item == "*" {
			cols = append(cols, statSSLColumns...)
			continue
		}
		found := false
		for _, col := range statSSLColumns {
			if col.name == item {
				cols, found = append(cols, col), true
			}
		}
		if !found {
			return unsupportedStatSSL()
		}
	}
	var pidFilter func(c *clientConn) int64
	if m[3] != "" {
		lhs, rhs, ok := strings.Cut(m[3], "=")
		if !ok || strip(lhs) != "pid" {
			return unsupportedStatSSL()
		}
		switch rhs = strings.TrimSpace(rhs); rhs {
		case "pg_backend_pid()", "pg_catalog.pg_backend_pid()":
			pidFilter = func(c *clientConn) int64 { return int64(c.pid) }
		default:
			pid, err := strconv.ParseInt(rhs, 10, 64)
			if err != nil {
				return unsupportedStatSSL()
			}
			pidFilter = func(*clientConn) int64 { return pid }
		}
	}
	return &synthetic{
		cols: cols,
		run: func(_ context.Context, c *clientConn) ([][]any, error) {
			var out [][]any
			for _, sc := range c.srv.sessionConns() {
				if pidFilter != nil && int64(sc.pid) != pidFilter(c) {
					continue
				}
				row := statSSLRow(sc)
				r := make([]any, len(cols))
				for i, col := range cols {
					r[i] = row[col.name]
				}
				out = append(out, r)
			}
			return out, nil
		},
	}
}

func unsupportedStatSSL() *synthetic {
	return &synthetic{run: func(context.Context, *clientConn) ([][]any, error) {
		return nil, &pgError{Code: codeNotSupported, Message: "this form of query on pg_stat_ssl is not supported",
			Hint: "use SELECT * (or some of pid, ssl, version, cipher, bits) FROM pg_stat_ssl [WHERE pid = pg_backend_pid()]"}
	}}
}

// sessionConns returns the registered sessions, by pid.
func (s *Server) sessionConns() []*clientConn {
	s.mu.Lock()
	out := make([]*clientConn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}
