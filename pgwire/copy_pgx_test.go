package pgwire_test

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sqlink/sqlink/pgwire"
)

// pgx's CopyFrom (binary COPY) stores values that read back the same;
// COPY TO in text, CSV and binary; cursors over the extended protocol.
func TestPgxCopyAndCursors(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	ctx := context.Background()
	conn := mustConnect(t, s.dsn("app"))
	if _, err := conn.Exec(ctx, `CREATE TABLE c (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB, ok BOOLEAN)`); err != nil {
		t.Fatal(err)
	}
	rows := [][]any{
		{int64(1), "one", 1.5, []byte{0, 1, 0xff}, true},
		{int64(2), "tab\there, \"q\"\nnl", nil, []byte{7}, false},
		{int64(3), nil, -0.25, nil, nil},
	}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"c"}, []string{"id", "name", "score", "data", "ok"}, pgx.CopyFromRows(rows))
	if err != nil || n != 3 {
		t.Fatalf("CopyFrom: %d, %v", n, err)
	}
	got, err := conn.Query(ctx, `SELECT id, name, score, data, ok FROM c ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for got.Next() {
		var (
			id    int64
			name  *string
			score *float64
			data  []byte
			ok    *bool
		)
		if err := got.Scan(&id, &name, &score, &data, &ok); err != nil {
			t.Fatal(err)
		}
		want := rows[i]
		if id != want[0] || (name == nil) != (want[1] == nil) || name != nil && *name != want[1] ||
			(score == nil) != (want[2] == nil) || score != nil && *score != want[2] ||
			want[3] != nil && !bytes.Equal(data, want[3].([]byte)) || (ok == nil) != (want[4] == nil) || ok != nil && *ok != want[4] {
			t.Errorf("row %d: %v %v %v %v %v; want %v", i, id, name, score, data, ok, want)
		}
		i++
	}
	if got.Err() != nil || i != 3 {
		t.Fatalf("%d rows, %v", i, got.Err())
	}

	var buf bytes.Buffer
	if _, err := conn.PgConn().CopyTo(ctx, &buf, `COPY c TO STDOUT`); err != nil {
		t.Fatal(err)
	}
	if want := "1\tone\t1.5\t\\\\x0001ff\tt\n2\ttab\\there, \"q\"\\nnl\t\\N\t\\\\x07\tf\n3\t\\N\t-0.25\t\\N\t\\N\n"; buf.String() != want {
		t.Errorf("COPY TO text:\n%q\nwant\n%q", buf.String(), want)
	}
	// The text COPY FROM decodes by the column types as a Bind does: the
	// same text back in gives the same values.
	if _, err := conn.Exec(ctx, `CREATE TABLE d (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB, ok BOOLEAN)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.PgConn().CopyFrom(ctx, strings.NewReader(buf.String()), `COPY d FROM STDIN`); err != nil {
		t.Fatal(err)
	}
	var same bool
	if err := conn.QueryRow(ctx, `SELECT count(*) = 3 FROM c JOIN d USING (id) WHERE c.name IS d.name AND c.score IS d.score AND c.data IS d.data AND c.ok IS d.ok`).Scan(&same); err != nil || !same {
		t.Fatalf("text COPY round trip differs: %v", err)
	}
	buf.Reset()
	if _, err := conn.PgConn().CopyTo(ctx, &buf, `COPY (SELECT id, data FROM c WHERE id < 3 ORDER BY id) TO STDOUT (FORMAT binary)`); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("PGCOPY\n\xff\r\n\x00")) || !bytes.HasSuffix(buf.Bytes(), []byte{0xff, 0xff}) {
		t.Errorf("COPY TO binary: %q", buf.Bytes())
	}
	if _, err := conn.PgConn().CopyFrom(ctx, strings.NewReader("9\tx\t1\t\\\\x00\tmaybe\n"), `COPY d FROM STDIN`); pgCode(err) != "22P02" {
		t.Errorf("bad boolean: %v", err)
	}

	// A generated column is not copied, either way.
	if _, err := conn.Exec(ctx, `CREATE TABLE g (a int, b int GENERATED ALWAYS AS (a * 2))`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.PgConn().CopyFrom(ctx, strings.NewReader("1\n2\n"), `COPY g FROM STDIN`); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if _, err := conn.PgConn().CopyTo(ctx, &buf, `COPY g TO STDOUT`); err != nil || buf.String() != "1\n2\n" {
		t.Fatalf("COPY g TO: %q, %v", buf.String(), err)
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `DECLARE cur CURSOR FOR SELECT id, name FROM c WHERE id >= $1 ORDER BY id`, 1); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for range 2 {
		r, err := tx.Query(ctx, `FETCH 2 FROM cur`)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var id int64
			var name *string
			if err := r.Scan(&id, &name); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
	}
	if len(ids) != 3 || ids[0] != 1 || ids[2] != 3 {
		t.Fatalf("fetched %v", ids)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// A COPY FROM whose client stops sending data ends at statement_timeout,
// with the connection (the client is somewhere in a message), and its
// write lock goes with it.
func TestPgxCopyStalledClientTimesOut(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	ctx := context.Background()
	conn := mustConnect(t, s.dsn("app"))
	if _, err := conn.Exec(ctx, `CREATE TABLE s (a int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SET statement_timeout = '300ms'`); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("1\n2\n")) // then nothing more
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err := conn.PgConn().CopyFrom(cctx, pr, `COPY s FROM STDIN`)
	if code := pgCode(err); code != "57014" {
		t.Fatalf("stalled COPY: %v (code %q)", err, code)
	}
	other := mustConnect(t, s.dsn("app"))
	if _, err := other.Exec(ctx, `INSERT INTO s VALUES (3)`); err != nil {
		t.Fatalf("write after the stalled COPY: %v", err)
	}
	var n int
	if err := other.QueryRow(ctx, `SELECT count(*) FROM s`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("count %d, %v", n, err)
	}
}

// A COPY FROM that runs long enough for the disconnect watch to start
// (watch.go) reads all its data intact, over plain TCP and over TLS.
func TestPgxCopyLongerThanTheWatchDelay(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "tls"}[useTLS], func(t *testing.T) {
			cfg, ssl := pgwire.Config{}, "sslmode=disable"
			if useTLS {
				cfg.TLS, _ = mustTLSConfig(t)
				ssl = "sslmode=require"
			}
			s := mustStartServer(t, cfg)
			ctx := context.Background()
			conn := mustConnect(t, s.dsn("app", ssl))
			if _, err := conn.Exec(ctx, `CREATE TABLE big (a int, b text)`); err != nil {
				t.Fatal(err)
			}
			const n = 200000
			var data bytes.Buffer
			for i := range n {
				data.WriteString(strconv.Itoa(i) + "\tsome text to make the row longer than a few bytes\n")
			}
			tag, err := conn.PgConn().CopyFrom(ctx, &data, `COPY big FROM STDIN`)
			if err != nil || tag.RowsAffected() != n {
				t.Fatalf("COPY: %v, %v", tag, err)
			}
			var sum int64
			if err := conn.QueryRow(ctx, `SELECT sum(a) FROM big WHERE b = 'some text to make the row longer than a few bytes'`).Scan(&sum); err != nil || sum != int64(n)*(n-1)/2 {
				t.Fatalf("sum %d, %v", sum, err)
			}
		})
	}
}
