package e2e_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"
)

func pgErrCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestPgx_Features(t *testing.T) {
	in := MustStartInstance(t, "pgx")
	in.MustCLI("db", "create", "app")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	conn, err := pgx.Connect(ctx, in.ConnString("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	if _, err := conn.Exec(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL, at TIMESTAMP, data BLOB)`); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	tag, err := conn.Exec(ctx, `INSERT INTO t (id, name, score, at, data) VALUES ($1, $2, $3, $4, $5)`, 1, "one", 1.5, at, []byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tag.String(), "INSERT 0 1"; got != want {
		t.Fatalf("tag %q, want %q", got, want)
	}

	// QueryRow with typed scanning.
	var (
		id    int64
		name  string
		score float64
		gotAt time.Time
		data  []byte
	)
	if err := conn.QueryRow(ctx, `SELECT id, name, score, at, data FROM t WHERE id = $1`, 1).Scan(&id, &name, &score, &gotAt, &data); err != nil {
		t.Fatal(err)
	}
	if id != 1 || name != "one" || score != 1.5 || !gotAt.Equal(at) || string(data) != "\x01\x02\x03" {
		t.Fatalf("row = %v %v %v %v %v", id, name, score, gotAt, data)
	}
	var n int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("count = %d, %v", n, err)
	}

	// Prepared statements.
	if _, err := conn.Prepare(ctx, "ins", `INSERT INTO t (id, name) VALUES ($1, $2)`); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 5; i++ {
		if _, err := conn.Exec(ctx, "ins", i, "n"+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
	}

	// Batch.
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO t (id, name) VALUES ($1, $2)`, 6, "six")
	b.Queue(`UPDATE t SET score = $1 WHERE id = $2`, 6.5, 6)
	b.Queue(`SELECT score FROM t WHERE id = $1`, 6)
	br := conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		t.Fatal(err)
	}
	if tag, err := br.Exec(); err != nil || tag.String() != "UPDATE 1" {
		t.Fatalf("batch update: %v %v", tag, err)
	}
	var s6 float64
	if err := br.QueryRow().Scan(&s6); err != nil || s6 != 6.5 {
		t.Fatalf("batch select: %v %v", s6, err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}

	// Commit and rollback.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx.Exec(ctx, `INSERT INTO t (id, name) VALUES (7, 'seven')`)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	tx, _ = conn.Begin(ctx)
	tx.Exec(ctx, `INSERT INTO t (id, name) VALUES (8, 'eight')`)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 7 {
		t.Fatalf("count after commit+rollback = %d, %v", n, err)
	}

	// A failed transaction: unique violation, then 25P02, then COMMIT rolls back.
	tx, _ = conn.Begin(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO t (id, name) VALUES (9, 'nine')`); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO t (id, name) VALUES (10, 'one')`)
	if got := pgErrCode(err); got != "23505" {
		t.Fatalf("unique violation code %q (%v)", got, err)
	}
	_, err = tx.Exec(ctx, `SELECT 1`)
	if got := pgErrCode(err); got != "25P02" {
		t.Fatalf("statement in failed transaction: code %q (%v)", got, err)
	}
	if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
		t.Fatalf("commit of failed transaction: %v", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 7 {
		t.Fatalf("count after failed tx = %d, %v", n, err)
	}

	// SQL errors carry SQLSTATEs.
	for q, code := range map[string]string{
		`SELECT * FROM nope`:              "42P01",
		`SELECT nope FROM t`:              "42703",
		`SELEC 1`:                         "42601",
		`INSERT INTO t (id) VALUES (100)`: "23502",
		`SELECT no_such_function(1)`:      "42883",
	} {
		if _, err := conn.Exec(ctx, q); pgErrCode(err) != code {
			t.Errorf("%s: got %v, want SQLSTATE %s", q, err, code)
		}
	}

	// The primary reports read-write.
	var ro string
	if err := conn.QueryRow(ctx, `SHOW transaction_read_only`).Scan(&ro); err != nil || ro != "off" {
		t.Fatalf("transaction_read_only = %q, %v", ro, err)
	}
	var rec bool
	if err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&rec); err != nil || rec {
		t.Fatalf("pg_is_in_recovery = %v, %v", rec, err)
	}

	// database/sql over pgx stdlib.
	db, err := sql.Open("pgx", in.ConnString("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	rtx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := rtx.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 7 {
		t.Fatalf("database/sql count = %d, %v", n, err)
	}
	rtx.Commit()
	res, err := db.ExecContext(ctx, `UPDATE t SET score = 0 WHERE id > $1`, 3)
	if err != nil {
		t.Fatal(err)
	}
	if ra, _ := res.RowsAffected(); ra != 4 {
		t.Fatalf("rows affected %d, want 4", ra)
	}

	// Wrong password and unknown user: 28P01; unknown database: 3D000.
	bad := "host=" + in.Host() + " port=" + in.Port() + " user=admin password=wrong dbname=app sslmode=disable"
	if _, err := pgx.Connect(ctx, bad); pgErrCode(err) != "28P01" {
		t.Fatalf("wrong password: %v", err)
	}
	bad = "host=" + in.Host() + " port=" + in.Port() + " user=nobody password=x dbname=app sslmode=disable"
	if _, err := pgx.Connect(ctx, bad); pgErrCode(err) != "28P01" {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := pgx.Connect(ctx, in.ConnString("nodb")); pgErrCode(err) != "3D000" {
		t.Fatalf("unknown database: %v", err)
	}
}
