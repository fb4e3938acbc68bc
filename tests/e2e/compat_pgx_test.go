package e2e_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestCompat_PgxTypes stores and reads back every type sqlink maps with
// pgx (binary parameters and results where pgx chooses them), in both
// query execution modes pgx has for a statement it prepares and for one
// it does not.
func TestCompat_PgxTypes(t *testing.T) {
	in := startCompatInstance(t, "compat-pgx")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg, err := pgx.ParseConfig(in.ConnString("app"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.DefaultQueryExecMode = mode
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			tbl := fmt.Sprintf("types_%d", mode)
			if _, err := conn.Exec(ctx, `CREATE TABLE `+tbl+` (id BIGINT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INTEGER, i8 BIGINT,
				f8 DOUBLE PRECISION, n NUMERIC, t TEXT, by BYTEA, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, u UUID, j JSONB)`); err != nil {
				t.Fatal(err)
			}
			d := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
			ts := time.Date(2026, 12, 5, 12, 34, 56, 123456000, time.UTC)
			tz := time.Date(2026, 12, 5, 12, 34, 56, 123456000, time.FixedZone("x", 7200))
			u := [16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}
			blob := []byte{0, 1, 0xff, 0xfe, 0}
			// Without a prepared statement pgx cannot encode a map for a
			// parameter of unknown type: send the JSON text.
			var jv any = map[string]any{"a": []int{1, 2}}
			if mode != pgx.QueryExecModeCacheStatement {
				jv = `{"a": [1, 2]}`
			}
			if _, err := conn.Exec(ctx, `INSERT INTO `+tbl+` (id, b, i2, i4, i8, f8, n, t, by, d, ts, tz, u, j)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
				1, true, int16(math.MinInt16), int32(math.MaxInt32), int64(math.MinInt64), -1.5e300, 12345.5, "héllo ✓ 世界",
				blob, d, ts, tz, pgtype.UUID{Bytes: u, Valid: true}, jv); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `INSERT INTO `+tbl+` (id, i8) VALUES ($1, $2)`, 2, int64(math.MaxInt64)); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `INSERT INTO `+tbl+` (id) VALUES ($1)`, 3); err != nil {
				t.Fatal(err)
			}
			var (
				b      bool
				i2     int16
				i4     int32
				i8     int64
				f8     float64
				n      pgtype.Numeric
				s      string
				by     []byte
				gd     time.Time
				gts    time.Time
				gtz    time.Time
				gu     pgtype.UUID
				j      map[string]any
				maxI8  int64
				nullB  *bool
				nullBy []byte
				nullTs *time.Time
			)
			err = conn.QueryRow(ctx, `SELECT b, i2, i4, i8, f8, n, t, by, d, ts, tz, u, j FROM `+tbl+` WHERE id = $1`, 1).
				Scan(&b, &i2, &i4, &i8, &f8, &n, &s, &by, &gd, &gts, &gtz, &gu, &j)
			if err != nil {
				t.Fatal(err)
			}
			nf, _ := n.Float64Value()
			if mode == pgx.QueryExecModeSimpleProtocol {
				// pgx's simple protocol writes bytes as a '\x...' text
				// literal, stored as that text: reading SQL literals as
				// bytea is not done (see README "PostgreSQL clients").
				by = blob
			}
			if !b || i2 != math.MinInt16 || i4 != math.MaxInt32 || i8 != math.MinInt64 || f8 != -1.5e300 || nf.Float64 != 12345.5 ||
				s != "héllo ✓ 世界" || !bytes.Equal(by, blob) || !gd.Equal(d) || !gts.Equal(ts) || !gtz.Equal(tz) || gu.Bytes != u ||
				fmt.Sprint(j) != "map[a:[1 2]]" {
				t.Fatalf("read back %v %v %v %v %v %v %q %v %v %v %v %v %v", b, i2, i4, i8, f8, nf, s, by, gd, gts, gtz, gu, j)
			}
			if err := conn.QueryRow(ctx, `SELECT i8 FROM `+tbl+` WHERE id = 2`).Scan(&maxI8); err != nil || maxI8 != math.MaxInt64 {
				t.Fatalf("max int8 %d, %v", maxI8, err)
			}
			if err := conn.QueryRow(ctx, `SELECT b, by, ts FROM `+tbl+` WHERE id = 3`).Scan(&nullB, &nullBy, &nullTs); err != nil || nullB != nil || nullBy != nil || nullTs != nil {
				t.Fatalf("NULLs %v %v %v, %v", nullB, nullBy, nullTs, err)
			}
			var id int64
			byArg := any(blob)
			if mode == pgx.QueryExecModeSimpleProtocol {
				byArg = string(`\x0001fffe00`)
			}
			if err := conn.QueryRow(ctx, `SELECT id FROM `+tbl+` WHERE b = $1 AND by = $2 AND d = $3 AND ts = $4`, true, byArg, d, ts).Scan(&id); err != nil || id != 1 {
				t.Fatalf("WHERE on typed parameters: %d, %v", id, err)
			}
			var cnt int64
			// pgx's simple protocol writes true as the text literal 't',
			// which SQLite stores as text: only parameters are typed.
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+tbl+` WHERE b`).Scan(&cnt); mode != pgx.QueryExecModeSimpleProtocol && (err != nil || cnt != 1) {
				t.Fatalf("WHERE b: %d, %v", cnt, err)
			}
			// A text that is not a boolean is refused naming the column.
			_, err = conn.Exec(ctx, `INSERT INTO `+tbl+` (id, b) VALUES ($1, $2)`, 4, "maybe")
			if mode != pgx.QueryExecModeSimpleProtocol && pgErrCode(err) != "22P02" {
				t.Fatalf("bad boolean: %v", err)
			}
		})
	}
}

// TestCompat_DatabaseSQLTypes reads each type through database/sql with
// the pgx driver: the driver.Value types a Go program gets.
func TestCompat_DatabaseSQLTypes(t *testing.T) {
	in := startCompatInstance(t, "compat-stdlib")
	db, err := sql.Open("pgx", in.ConnString("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, b BOOLEAN, i8 BIGINT, f8 REAL, s TEXT, by BLOB, ts TIMESTAMP)`); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7)`, 1, false, int64(math.MinInt64), 0.25, "x", []byte{0xff, 0}, ts); err != nil {
		t.Fatal(err)
	}
	row := make([]any, 7)
	ptrs := make([]any, 7)
	for i := range row {
		ptrs[i] = &row[i]
	}
	if err := db.QueryRowContext(ctx, `SELECT id, b, i8, f8, s, by, ts FROM t`).Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	want := []any{int64(1), false, int64(math.MinInt64), 0.25, "x", []byte{0xff, 0}, ts}
	for i := range want {
		if fmt.Sprintf("%T %v", row[i], row[i]) != fmt.Sprintf("%T %v", want[i], want[i]) {
			t.Errorf("column %d: %T %v, want %T %v", i, row[i], row[i], want[i], want[i])
		}
	}
	// Expression columns: count(*) is an int64 in every protocol.
	var n any
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if _, ok := n.(int64); !ok {
		t.Fatalf("count(*) is %T %v", n, n)
	}
}

// TestCompat_IntegerBeyond32Bits: an INTEGER column is described as int4
// (README "PostgreSQL clients"). A parameter for it is 64 bits; a value
// beyond 32 bits reads in text format and is refused, naming the column
// and what to do, in binary format.
func TestCompat_IntegerBeyond32Bits(t *testing.T) {
	in := startCompatInstance(t, "compat-int4")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, in.ConnString("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, big BIGINT)`); err != nil {
		t.Fatal(err)
	}
	const v = int64(1) << 40
	if _, err := conn.Exec(ctx, `INSERT INTO t (id, big) VALUES ($1, $2)`, v, v); err != nil {
		t.Fatal(err)
	}
	var got int64
	if err := conn.QueryRow(ctx, `SELECT big FROM t WHERE id = $1`, v).Scan(&got); err != nil || got != v {
		t.Fatalf("bigint: %d, %v", got, err)
	}
	err = conn.QueryRow(ctx, `SELECT id FROM t`).Scan(&got)
	if pgErrCode(err) != "22003" {
		t.Fatalf("int4 beyond 32 bits in binary format: %v", err)
	}
	if err := conn.QueryRow(ctx, `SELECT id FROM t`, pgx.QueryExecModeSimpleProtocol).Scan(&got); err != nil || got != v {
		t.Fatalf("int4 beyond 32 bits in text format: %d, %v", got, err)
	}
}

// TestCompat_Pgx100kRows writes 100k rows with prepared statements in a
// batch inside a transaction and reads them back with pgx and with
// database/sql. (Transactions and errors inside them: TestPgx_Features.)
func TestCompat_Pgx100kRows(t *testing.T) {
	in := startCompatInstance(t, "compat-pgx100k")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, in.ConnString("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE bulk (id BIGINT PRIMARY KEY, v TEXT, b BOOLEAN, by BYTEA)`); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100000
	for start := 0; start < n; start += 5000 {
		b := &pgx.Batch{}
		for i := start; i < start+5000; i++ {
			b.Queue(`INSERT INTO bulk (id, v, b, by) VALUES ($1, $2, $3, $4)`, i, fmt.Sprint("v", i), i%2 == 0, []byte{byte(i), 0xff})
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT id, v, b, by FROM bulk ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for rows.Next() {
		var id int64
		var v string
		var b bool
		var by []byte
		if err := rows.Scan(&id, &v, &b, &by); err != nil {
			t.Fatal(err)
		}
		if id != int64(count) || v != fmt.Sprint("v", id) || b != (id%2 == 0) || !bytes.Equal(by, []byte{byte(id), 0xff}) {
			t.Fatalf("row %d: %d %q %v %v", count, id, v, b, by)
		}
		count++
	}
	if rows.Err() != nil || count != n {
		t.Fatalf("%d rows, %v", count, rows.Err())
	}
	db, err := sql.Open("pgx", in.ConnString("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var trues int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM bulk WHERE b`).Scan(&trues); err != nil || trues != n/2 {
		t.Fatalf("WHERE b: %d, %v", trues, err)
	}
}
