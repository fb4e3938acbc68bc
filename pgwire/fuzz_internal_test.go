package pgwire

import (
	"context"
	"database/sql"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/xdg-go/scram"
	_ "modernc.org/sqlite"
)

// fuzzBackend has no logins and one in-memory database.
type fuzzBackend struct{ db *sql.DB }

func (b *fuzzBackend) LookupLogin(context.Context, string) (scram.StoredCredentials, error) {
	return scram.StoredCredentials{}, sqlink.Errorf(sqlink.ENOTFOUND, "", "no login")
}

func (b *fuzzBackend) OpenSession(ctx context.Context, user, database string) (Session, error) {
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return &fuzzSession{conn: conn}, nil
}

type fuzzSession struct{ conn *sql.Conn }

func (s *fuzzSession) Conn() *sql.Conn                  { return s.conn }
func (s *fuzzSession) BeginWrite(context.Context) error { return nil }
func (s *fuzzSession) EndWrite(context.Context) error   { return nil }
func (s *fuzzSession) ReadOnly() (bool, string)         { return false, "" }
func (s *fuzzSession) Close() error {
	_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
	return s.conn.Close()
}

func newFuzzServer(tb testing.TB) (*Server, *fuzzBackend) {
	db, err := sql.Open("sqlite", "file:"+tb.TempDir()+"/f.db?_pragma=busy_timeout(1000)")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	tb.Cleanup(func() { db.Close() })
	b := &fuzzBackend{db: db}
	return NewServer(Config{MaxMessageSize: 1 << 16, StartupTimeout: 2 * time.Second}, b), b
}

// drive feeds input to run over a pipe, drains the output and fails if run
// does not return in time.
func drive(tb testing.TB, input []byte, run func(server net.Conn)) {
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(server)
	}()
	go func() { _, _ = io.Copy(io.Discard, client) }()
	go func() {
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = client.Write(input)
		client.Close()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		tb.Fatalf("connection handler hung on input %q", input)
	}
}

func startupPacket(params ...string) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0)
	b = binary.BigEndian.AppendUint32(b, 196608)
	for _, p := range params {
		b = append(b, p...)
		b = append(b, 0)
	}
	b = append(b, 0)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

func FuzzStartup(f *testing.F) {
	f.Add(startupPacket("user", "alice", "database", "app"))
	f.Add([]byte{0, 0, 0, 8, 4, 210, 22, 47})                                        // SSLRequest
	f.Add(append([]byte{0, 0, 0, 8, 4, 210, 22, 47}, startupPacket("user", "x")...)) // SSL then startup
	f.Add([]byte{0, 0, 0, 16, 4, 210, 22, 46, 0, 0, 0, 1, 0, 0, 0, 2})               // CancelRequest
	f.Add(append(startupPacket("user", "bob"), 'p', 0, 0, 0, 8, 'a', 'b', 'c', 'd'))
	f.Add([]byte("garbage"))
	srv, _ := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		drive(t, in, func(server net.Conn) {
			c := newClientConn(srv, server)
			c.serve()
		})
	})
}

func msg(typ byte, body []byte) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(body)+4))
	return append(b, body...)
}

func FuzzMessages(f *testing.F) {
	q := func(s string) []byte { return msg('Q', append([]byte(s), 0)) }
	f.Add(q("CREATE TABLE IF NOT EXISTS t (a INTEGER)"))
	f.Add(append(q("BEGIN"), q("INSERT INTO t VALUES (1); SELECT * FROM t")...))
	f.Add(append(msg('P', []byte("s\x00SELECT $1\x00\x00\x00")), msg('B', []byte("\x00s\x00\x00\x00\x00\x01\x00\x00\x00\x011\x00\x00"))...))
	f.Add(append(msg('D', []byte("Sx\x00")), msg('S', nil)...))
	f.Add(msg('E', []byte("\x00\x00\x00\x00\x00")))
	f.Add([]byte{'Z', 0xff, 0xff, 0xff, 0xff})
	f.Add(q("-- ping"))
	f.Add(q("select * from pg_catalog.pg_class c where c.oid = '1'"))
	srv, b := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		drive(t, in, func(server net.Conn) {
			c := newClientConn(srv, server)
			sess, err := b.OpenSession(context.Background(), "u", "d")
			if err != nil {
				t.Fatal(err)
			}
			c.sess, c.user, c.database = sess, "u", "d"
			if err := srv.register(c); err != nil {
				t.Fatal(err)
			}
			defer server.Close()
			defer c.cleanup()
			c.loop()
		})
	})
}

func TestSplitStatements(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"select 1; select 2", 2},
		{"select ';'; select \"a;b\" -- x;\n; /* ; */ select 3;", 3},
		{"-- ping", 0},
		{"", 0},
		{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE x SET a=1; DELETE FROM y; END; SELECT 1", 2},
		// SQLite has no dollar quotes: $t$ is an identifier, and these
		// are the statement-smuggling texts of issue 17.
		{"select $$a;b$$", 2},
		{"SELECT 1 AS a$t$; ATTACH 'x' AS c; SELECT 2 AS b$t$", 3},
		{"CREATE TABLE trigger(x); ATTACH 'x' AS c; SELECT 1 AS end;", 3},
		{"CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; ATTACH 'x' AS c", 2},
		{"select [a;b] from t; select 2", 2},
		{"select 'it''s;'; select 2", 2},
	} {
		if got := splitStatements(tc.in); len(got) != tc.want {
			t.Errorf("splitStatements(%q) = %q, want %d statements", tc.in, got, tc.want)
		}
	}
}

func TestBuildPlan(t *testing.T) {
	for _, tc := range []struct {
		in       string
		kind     planKind
		verb     string
		readOnly bool
	}{
		{"begin isolation level serializable read only", planBegin, "BEGIN", true},
		{"BEGIN READ ONLY", planBegin, "BEGIN", true},
		{"START TRANSACTION ISOLATION LEVEL REPEATABLE READ", planBegin, "BEGIN", false},
		{"END", planCommit, "COMMIT", false},
		{"ABORT", planRollback, "ROLLBACK", false},
		{"ROLLBACK TO SAVEPOINT a", planSQL, "ROLLBACK", false},
		{"SET extra_float_digits = 3", planSet, "SET", false},
		{"SET SESSION datestyle TO 'ISO'", planSet, "SET", false},
		{"show transaction_read_only", planShow, "SHOW", false},
		{"select pg_catalog.pg_is_in_recovery()", planSynthetic, "SELECT", false},
		{"CREATE UNIQUE INDEX i ON t(a)", planSQL, "CREATE INDEX", false},
		{"DROP TABLE IF EXISTS t", planSQL, "DROP TABLE", false},
		{"ATTACH 'x' AS y", planRefuse, "", false},
		{"COPY t FROM STDIN", planCopy, "COPY", false},
		{"copy (select 1) to stdout", planCopy, "COPY", false},
	} {
		p := buildPlan(tc.in)
		if p.kind != tc.kind || p.verb != tc.verb || p.readOnly != tc.readOnly {
			t.Errorf("buildPlan(%q) = kind %d verb %q ro %v, want %d %q %v", tc.in, p.kind, p.verb, p.readOnly, tc.kind, tc.verb, tc.readOnly)
		}
	}
}
