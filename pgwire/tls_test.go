package pgwire_test

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sqlink/sqlink/pgwire"
	"github.com/sqlink/sqlink/transport"
)

// mustTLSConfig returns a server TLS configuration with a self-signed
// certificate for 127.0.0.1, and the certificate's PEM file.
func mustTLSConfig(tb testing.TB) (*tls.Config, string) {
	tb.Helper()
	certPEM, keyPEM, err := transport.NewCertificate("pgwire-test", []string{"localhost", "127.0.0.1"}, time.Hour, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(tb.TempDir(), "cert.pem")
	if err := os.WriteFile(file, certPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}, file
}

func TestTLS_SessionsAndPgStatSSL(t *testing.T) {
	cfg, certFile := mustTLSConfig(t)
	s := mustStartServer(t, pgwire.Config{TLS: cfg})
	ctx := context.Background()

	secure := mustConnect(t, s.dsn("app", "sslmode=verify-full", "sslrootcert="+certFile))
	if _, ok := secure.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("sslmode=verify-full: the connection is %T, not TLS", secure.PgConn().Conn())
	}
	var ssl bool
	var version, cipher string
	var bits int
	if err := secure.QueryRow(ctx, "SELECT ssl, version, cipher, bits FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &version, &cipher, &bits); err != nil {
		t.Fatal(err)
	}
	if !ssl || version != "TLSv1.3" || !strings.HasPrefix(cipher, "TLS_") || bits < 128 {
		t.Fatalf("pg_stat_ssl of a TLS session: %v %q %q %d", ssl, version, cipher, bits)
	}

	plain := mustConnect(t, s.dsn("app"))
	if err := plain.QueryRow(ctx, "select ssl from pg_catalog.pg_stat_ssl where pid=pg_backend_pid();").Scan(&ssl); err != nil || ssl {
		t.Fatalf("pg_stat_ssl of a plain session: ssl %v, %v", ssl, err)
	}
	// Every session has a row; a pid that is no session has none.
	var n int
	rows, err := plain.Query(ctx, "SELECT * FROM pg_stat_ssl s")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		n++
	}
	if rows.Err() != nil || n != 2 || len(rows.FieldDescriptions()) != 8 {
		t.Fatalf("SELECT * FROM pg_stat_ssl: %d rows of %d columns, %v; want 2 of 8", n, len(rows.FieldDescriptions()), rows.Err())
	}
	if err := plain.QueryRow(ctx, "SELECT s.ssl FROM pg_stat_ssl s WHERE s.pid = 0").Scan(&ssl); err != pgx.ErrNoRows {
		t.Fatalf("pg_stat_ssl of pid 0: %v, want no rows", err)
	}
	// A query of another shape fails clearly rather than answering wrong.
	_, err = plain.Exec(ctx, "SELECT a.ssl FROM pg_stat_ssl a JOIN pg_stat_activity b USING (pid)")
	if pgCode(err) != "0A000" {
		t.Fatalf("join on pg_stat_ssl: %v, want 0A000", err)
	}
}

func TestTLS_Required(t *testing.T) {
	cfg, _ := mustTLSConfig(t)
	s := mustStartServer(t, pgwire.Config{TLS: cfg, RequireTLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := pgx.Connect(ctx, s.dsn("app"))
	var pe *pgconn.PgError
	if pgCode(err) != "28000" || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("plain connection to a server requiring TLS: %v, want 28000", err)
	}
	if ok := asPgError(err, &pe); !ok || !strings.Contains(pe.Hint, "sslmode=require") {
		t.Fatalf("hint: %+v, want one naming sslmode=require", pe)
	}
	conn := mustConnect(t, s.dsn("app", "sslmode=require"))
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
}

func TestTLS_NotConfigured(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := pgx.Connect(ctx, s.dsn("app", "sslmode=require")); err == nil || !strings.Contains(err.Error(), "refused TLS") {
		t.Fatalf("sslmode=require without a certificate: %v, want the server to refuse SSL", err)
	}
	conn := mustConnect(t, s.dsn("app", "sslmode=prefer"))
	if _, ok := conn.PgConn().Conn().(*tls.Conn); ok {
		t.Fatal("sslmode=prefer without a certificate: TLS")
	}
}

func asPgError(err error, pe **pgconn.PgError) bool { return errors.As(err, pe) }
