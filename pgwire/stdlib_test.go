package pgwire_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/sqlink/sqlink/pgwire"
)

func TestDatabaseSQL(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	db, err := sql.Open("pgx", s.dsn("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	res, err := db.ExecContext(ctx, `INSERT INTO kv VALUES ($1, $2), ($3, $4)`, "a", 1, "b", 2)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("rows affected %d", n)
	}
	stmt, err := db.PrepareContext(ctx, `SELECT v FROM kv WHERE k = $1`)
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	var v int
	if err := stmt.QueryRowContext(ctx, "b").Scan(&v); err != nil || v != 2 {
		t.Fatalf("got %d, %v", v, err)
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM kv`).Scan(&v); err != nil || v != 2 {
		t.Fatalf("count %d, %v", v, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM kv`); pgCode(err) != "25006" {
		t.Fatalf("delete in read-only tx: %v", err)
	}
	tx.Rollback()
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE kv SET v = v + 10`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT sum(v) FROM kv`).Scan(&v); err != nil || v != 23 {
		t.Fatalf("sum %d, %v", v, err)
	}
}
