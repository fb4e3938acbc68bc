package pgwire_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/sqlink/sqlink/pgwire"
)

// Casts of parameters ($1::bytea, $1::int4) run on SQLite and give the
// parameters their types, as PostgreSQL infers them: pgx encodes by them.
func TestPgxParameterCasts(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	ctx := context.Background()
	conn := mustConnect(t, s.dsn("app"))
	var (
		b    []byte
		kind string
		n    int64
		ok   bool
	)
	if err := conn.QueryRow(ctx, `SELECT $1::bytea, typeof($1::bytea), $2::int4 + 1, $3::boolean`, []byte{0, 1, 0xff}, 41, true).Scan(&b, &kind, &n, &ok); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, []byte{0, 1, 0xff}) || kind != "blob" || n != 42 || !ok {
		t.Fatalf("got %v %q %d %v", b, kind, n, ok)
	}
	// The literal forms psycopg2 sends.
	if err := conn.QueryRow(ctx, `SELECT typeof('\x0001ff'::bytea), length('\x0001ff'::bytea), '2026-01-02 03:04:05'::timestamp IS NOT NULL`).Scan(&kind, &n, &ok); err != nil {
		t.Fatal(err)
	}
	if kind != "blob" || n != 3 || !ok {
		t.Fatalf("got %q %d %v", kind, n, ok)
	}
}
