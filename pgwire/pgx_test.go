package pgwire_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sqlink/sqlink/pgwire"
)

func mustConnect(tb testing.TB, dsn string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestPgxBasics(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	ctx := context.Background()
	conn := mustConnect(t, s.dsn("app"))

	if _, err := conn.Exec(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, data BLOB, ok BOOLEAN, at TIMESTAMP)`); err != nil {
		t.Fatal(err)
	}
	tag, err := conn.Exec(ctx, `INSERT INTO t (id, name, score, data, ok, at) VALUES ($1, $2, $3, $4, $5, $6)`, 1, "one", 1.5, []byte{0, 1, 2}, true, time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tag.String(), "INSERT 0 1"; got != want {
		t.Fatalf("tag = %q, want %q", got, want)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO t (id, name) VALUES (2, 'two'), (3, 'three')`); err != nil {
		t.Fatal(err)
	}

	var (
		id    int64
		name  string
		score float64
		data  []byte
		ok    bool
		at    time.Time
	)
	err = conn.QueryRow(ctx, `SELECT id, name, score, data, ok, at FROM t WHERE id = $1`, 1).Scan(&id, &name, &score, &data, &ok, &at)
	if err != nil {
		t.Fatal(err)
	}
	if id != 1 || name != "one" || score != 1.5 || string(data) != "\x00\x01\x02" || !ok || !at.Equal(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)) {
		t.Fatalf("got %v %q %v %v %v %v", id, name, score, data, ok, at)
	}

	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("count = %d", n)
	}
	var one int
	var b bool
	if err := conn.QueryRow(ctx, `SELECT 1, 1=1`).Scan(&one, &b); err != nil {
		t.Fatal(err)
	}
	if one != 1 || !b {
		t.Fatalf("got %d %v", one, b)
	}

	tag, err = conn.Exec(ctx, `UPDATE t SET score = score + $1 WHERE id >= $2`, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tag.String(), "UPDATE 2"; got != want {
		t.Fatalf("tag = %q, want %q", got, want)
	}

	rows, err := conn.Query(ctx, `SELECT id, name FROM t ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(names) != 3 || names[2] != "three" {
		t.Fatalf("names = %v", names)
	}

	// Simple protocol, too.
	var s2 string
	if err := conn.QueryRow(ctx, `SELECT name FROM t WHERE id = 2`, pgx.QueryExecModeSimpleProtocol).Scan(&s2); err != nil {
		t.Fatal(err)
	}
	if s2 != "two" {
		t.Fatalf("got %q", s2)
	}

	// Errors carry SQLSTATEs.
	_, err = conn.Exec(ctx, `INSERT INTO t (id, name) VALUES (1, 'dup')`)
	if got, want := pgCode(err), "23505"; got != want {
		t.Fatalf("dup: code %q, want %q (%v)", got, want, err)
	}
	_, err = conn.Exec(ctx, `INSERT INTO t (id) VALUES (9)`)
	if got, want := pgCode(err), "23502"; got != want {
		t.Fatalf("not null: code %q, want %q (%v)", got, want, err)
	}
	_, err = conn.Exec(ctx, `SELECT * FROM nope`)
	if got, want := pgCode(err), "42P01"; got != want {
		t.Fatalf("no table: code %q, want %q (%v)", got, want, err)
	}
	_, err = conn.Exec(ctx, `SELECT nope FROM t`)
	if got, want := pgCode(err), "42703"; got != want {
		t.Fatalf("no column: code %q, want %q (%v)", got, want, err)
	}
	_, err = conn.Exec(ctx, `SELEC 1`)
	if got, want := pgCode(err), "42601"; got != want {
		t.Fatalf("syntax: code %q, want %q (%v)", got, want, err)
	}
	_, err = conn.Exec(ctx, `SELECT nofunc(1)`)
	if got, want := pgCode(err), "42883"; got != want {
		t.Fatalf("no function: code %q, want %q (%v)", got, want, err)
	}
	// The connection still works; "-- ping" (database/sql) is an empty query.
	if err := conn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "-- ping"); err != nil {
		t.Fatal(err)
	}
	var v, db, user string
	if err := conn.QueryRow(ctx, "select version()").Scan(&v); err != nil || !strings.Contains(v, "PostgreSQL 15.0") {
		t.Fatalf("version() = %q, %v", v, err)
	}
	if err := conn.QueryRow(ctx, "select current_database()").Scan(&db); err != nil || db != "app" {
		t.Fatalf("current_database() = %q, %v", db, err)
	}
	if err := conn.QueryRow(ctx, "select current_user").Scan(&user); err != nil || user != testUser {
		t.Fatalf("current_user = %q, %v", user, err)
	}
	for _, q := range []string{"SET application_name = 'x'", "SET extra_float_digits = 3", "SET datestyle TO 'ISO, MDY'"} {
		if tag, err := conn.Exec(ctx, q); err != nil || tag.String() != "SET" {
			t.Fatalf("%s: %q, %v", q, tag, err)
		}
	}
}

func TestPgxTransactions(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	ctx := context.Background()
	conn := mustConnect(t, s.dsn("app"))
	if _, err := conn.Exec(ctx, `CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO acct VALUES (1, 100)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	tx, err = conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE acct SET bal = 0`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var bal int
	if err := conn.QueryRow(ctx, `SELECT bal FROM acct WHERE id = 1`).Scan(&bal); err != nil {
		t.Fatal(err)
	}
	if bal != 100 {
		t.Fatalf("bal = %d after rollback", bal)
	}

	// A failed statement aborts the transaction: 25P02, and COMMIT rolls back.
	tx, err = conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE acct SET bal = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO acct VALUES (1, 1)`); pgCode(err) != "23505" {
		t.Fatalf("want 23505, got %v", err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1`); pgCode(err) != "25P02" {
		t.Fatalf("want 25P02, got %v", err)
	}
	if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
		t.Fatalf("commit of failed tx: %v", err)
	}
	if err := conn.QueryRow(ctx, `SELECT bal FROM acct WHERE id = 1`).Scan(&bal); err != nil {
		t.Fatal(err)
	}
	if bal != 100 {
		t.Fatalf("bal = %d after failed tx", bal)
	}

	// Read-only transaction.
	tx, err = conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.Serializable})
	if err != nil {
		t.Fatal(err)
	}
	var ro string
	if err := tx.QueryRow(ctx, `SHOW transaction_read_only`).Scan(&ro); err != nil {
		t.Fatal(err)
	}
	if ro != "on" {
		t.Fatalf("transaction_read_only = %q in a read-only tx", ro)
	}
	if _, err := tx.Exec(ctx, `UPDATE acct SET bal = 2`); pgCode(err) != "25006" {
		t.Fatalf("write in read-only tx: %v", err)
	}
	tx.Rollback(ctx)

	// Batch.
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO acct VALUES ($1, $2)`, 2, 200)
	batch.Queue(`INSERT INTO acct VALUES ($1, $2)`, 3, 300)
	batch.Queue(`SELECT sum(bal) FROM acct`)
	br := conn.SendBatch(ctx, batch)
	for range 2 {
		if _, err := br.Exec(); err != nil {
			t.Fatal(err)
		}
	}
	var sum int64
	if err := br.QueryRow().Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	if sum != 600 {
		t.Fatalf("sum = %d", sum)
	}
	if n := s.b.held.Load(); n != 0 {
		t.Fatalf("%d write locks held while idle", n)
	}
}

// A Session's EndWrite may report that the write committed with a
// warning (pgwire.Warning): the client gets a WARNING notice and the
// statement, or the COMMIT, succeeds; any other EndWrite error fails it.
func TestEndWriteWarning(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(s.dsn("app"))
	if err != nil {
		t.Fatal(err)
	}
	var notices []*pgconn.Notice
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n) }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE t (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	var warn error = &pgwire.Warning{Code: "01000", Message: "committed locally, not replicated yet", Hint: "free space"}
	s.b.endErr.Store(&warn)
	if _, err := conn.Exec(ctx, `INSERT INTO t VALUES (1)`); err != nil {
		t.Fatalf("autocommit insert with a warning: %v", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO t VALUES (2)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("COMMIT with a warning: %v", err)
	}
	if len(notices) != 2 || notices[0].Code != "01000" || notices[0].Severity != "WARNING" || notices[1].Hint != "free space" {
		t.Fatalf("notices %+v, want two WARNING 01000", notices)
	}
	var fail error = errors.New("capture failed")
	s.b.endErr.Store(&fail)
	if _, err := conn.Exec(ctx, `INSERT INTO t VALUES (3)`); err == nil || !strings.Contains(err.Error(), "capture failed") {
		t.Fatalf("insert whose EndWrite failed: %v", err)
	}
	s.b.endErr.Store(nil)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rows (%v): the warned and the failed EndWrite's commits are all in the table, want 3", n, err)
	}
}
