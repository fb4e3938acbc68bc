package e2e_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// sendRaw opens a TCP connection, writes b and reads until the server
// closes or a deadline passes; it returns what the server answered.
func sendRaw(t *testing.T, addr string, b []byte) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c.Write(b)
	out, _ := io.ReadAll(c)
	return out
}

func TestBadInput_InstanceStaysUp(t *testing.T) {
	in := MustStartInstance(t, "bad")
	in.MustCLI("db", "create", "app")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Garbage instead of a startup message: the server closes the
	// connection (with an error if it can say one), without hanging.
	sendRaw(t, in.ClientAddr, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	sendRaw(t, in.ClientAddr, []byte{0, 0, 0, 3})

	// An oversized message length: refused, not allocated.
	huge := make([]byte, 8)
	binary.BigEndian.PutUint32(huge[0:], 0x7fffffff)
	binary.BigEndian.PutUint32(huge[4:], 196608)
	sendRaw(t, in.ClientAddr, huge)

	// A proper session that then sends an oversized query message.
	conn, err := pgx.Connect(ctx, in.ConnString("app"))
	if err != nil {
		t.Fatal(err)
	}
	raw := conn.PgConn().Conn()
	msg := []byte{'Q', 0x7f, 0xff, 0xff, 0xff}
	raw.Write(msg)
	raw.SetReadDeadline(time.Now().Add(30 * time.Second))
	io.ReadAll(raw) // the server answers 08P01 and closes
	conn.Close(ctx)

	// A session dropped in the middle of a write transaction: its
	// transaction is rolled back and the write lock is released.
	c1, err := pgx.Connect(ctx, in.ConnString("app"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Exec(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Exec(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Exec(ctx, `INSERT INTO t VALUES (1, 'lost')`); err != nil {
		t.Fatal(err)
	}
	c1.PgConn().Conn().Close() // drop the TCP connection under it

	c2, err := pgx.Connect(ctx, in.ConnString("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	if _, err := c2.Exec(ctx, `INSERT INTO t VALUES (2, 'kept')`); err != nil {
		t.Fatalf("write after a dropped session: %v", err)
	}
	var n int
	if err := c2.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows = %d, %v (the dropped transaction must be rolled back)", n, err)
	}

	// SQL errors leave the session usable.
	if _, err := c2.Exec(ctx, `SELECT * FROM missing`); pgErrCode(err) != "42P01" {
		t.Fatalf("missing table: %v", err)
	}
	if err := c2.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatalf("session after an error: %v", err)
	}

	// Unknown database and user are clear errors.
	if _, err := pgx.Connect(ctx, in.ConnString("missing")); pgErrCode(err) != "3D000" {
		t.Fatalf("unknown database: %v", err)
	}

	// Still up, nothing corrupted.
	if got := in.MustPsql("app", `PRAGMA integrity_check;`); got != "ok" {
		t.Fatalf("integrity_check: %s", got)
	}
}

func TestShutdown_SIGTERMRollsBackOpenTransactions(t *testing.T) {
	in := MustStartInstance(t, "term")
	in.MustCLI("db", "create", "app")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, in.ConnString("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}

	in.Stop() // SIGTERM; Stop fails the test unless the process exits 0

	// The session was ended with an error, not left hanging.
	if _, err := conn.Exec(ctx, `COMMIT`); err == nil {
		t.Fatalf("COMMIT after shutdown succeeded")
	}
	in.Start()
	if got := in.MustPsql("app", `SELECT count(*) FROM t;`); got != "0" {
		t.Fatalf("rows after shutdown with an open transaction = %s, want 0", got)
	}
	if got := in.MustPsql("app", `PRAGMA integrity_check;`); got != "ok" {
		t.Fatalf("integrity_check: %s", got)
	}
}
