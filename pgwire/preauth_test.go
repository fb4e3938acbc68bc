package pgwire_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sqlink/sqlink/internal/testutil"
	"github.com/sqlink/sqlink/pgwire"
)

// rawConn is a client speaking the protocol by hand, to do what no driver
// does: stop half-way through authentication, or lie about a length.
type rawConn struct {
	nc net.Conn
	fe *pgproto3.Frontend
}

func dialRaw(tb testing.TB, s *testServer) *rawConn {
	tb.Helper()
	nc, err := net.Dial("tcp", net.JoinHostPort(s.host, s.port))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	// A failsafe only: every read below expects an answer at once.
	nc.SetDeadline(time.Now().Add(testutil.DefaultTimeout))
	return &rawConn{nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
}

// startAuth sends a startup message for user and reads the server's
// answer: AuthenticationSASL, or an error.
func (rc *rawConn) startAuth(user string) (pgproto3.BackendMessage, error) {
	rc.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": user, "database": "app"}})
	if err := rc.fe.Flush(); err != nil {
		return nil, err
	}
	return rc.fe.Receive()
}

// mustStartAuth is startAuth that expects AuthenticationSASL.
func (rc *rawConn) mustStartAuth(tb testing.TB, user string) {
	tb.Helper()
	msg, err := rc.startAuth(user)
	if err != nil {
		tb.Fatal(err)
	}
	if _, ok := msg.(*pgproto3.AuthenticationSASL); !ok {
		tb.Fatalf("after the startup message: %#v, want AuthenticationSASL", msg)
	}
}

// serverFirst runs the first SCRAM step for user and returns the salt and
// iteration count the server announced.
func serverFirst(tb testing.TB, s *testServer, user string) (salt []byte, iters int) {
	tb.Helper()
	rc := dialRaw(tb, s)
	defer rc.nc.Close()
	rc.mustStartAuth(tb, user)
	rc.fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=fyko+d2lbbFgONRv9qkxdawL")})
	if err := rc.fe.Flush(); err != nil {
		tb.Fatal(err)
	}
	msg, err := rc.fe.Receive()
	if err != nil {
		tb.Fatal(err)
	}
	cont, ok := msg.(*pgproto3.AuthenticationSASLContinue)
	if !ok {
		tb.Fatalf("after client-first: %#v", msg)
	}
	for _, f := range strings.Split(string(cont.Data), ",") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "s":
			if salt, err = base64.StdEncoding.DecodeString(v); err != nil {
				tb.Fatal(err)
			}
		case "i":
			iters, _ = strconv.Atoi(v)
		}
	}
	return salt, iters
}

// TestUnknownUserSCRAMLooksKnown: an unknown user's server-first message
// has the shape of a known user's (same iteration count, a 16-byte salt),
// its salt is the same at every attempt, and it is not the salt anyone
// could compute from the user name alone (the old SHA-256 of a fixed
// prefix and the name).
func TestUnknownUserSCRAMLooksKnown(t *testing.T) {
	secret := []byte("instance secret")
	s := mustStartServer(t, pgwire.Config{AuthSecret: secret})
	knownSalt, knownIters := serverFirst(t, s, testUser)
	salt1, iters1 := serverFirst(t, s, "mallory")
	salt2, iters2 := serverFirst(t, s, "mallory")
	if iters1 != knownIters || iters2 != knownIters {
		t.Fatalf("iterations: known user %d, unknown user %d and %d", knownIters, iters1, iters2)
	}
	if len(salt1) != len(knownSalt) || string(salt1) != string(salt2) {
		t.Fatalf("unknown user's salt %x then %x; a known user's is %d bytes", salt1, salt2, len(knownSalt))
	}
	old := sha256.Sum256([]byte("sqlink-fake-salt:mallory"))
	if string(salt1) == string(old[:16]) {
		t.Fatal("the fake salt is computable from the user name")
	}
	if other, _ := serverFirst(t, s, "trudy"); string(other) == string(salt1) {
		t.Fatal("two unknown users share a salt")
	}
	// Another instance (another secret) announces another salt.
	s2 := mustStartServer(t, pgwire.Config{AuthSecret: []byte("another secret")})
	if salt, _ := serverFirst(t, s2, "mallory"); string(salt) == string(salt1) {
		t.Fatal("the fake salt does not depend on the instance's secret")
	}
}

// TestStartupMessageLimit: before authentication a message announcing 30
// MB is refused on its header, before the server reads or allocates its
// body.
func TestStartupMessageLimit(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{})
	rc := dialRaw(t, s)
	rc.mustStartAuth(t, testUser)
	var hdr [5]byte
	hdr[0] = 'p'
	binary.BigEndian.PutUint32(hdr[1:], 30<<20)
	if _, err := rc.nc.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	msg, err := rc.fe.Receive()
	if err != nil {
		t.Fatalf("no answer to an oversized SASL message: %v", err)
	}
	er, ok := msg.(*pgproto3.ErrorResponse)
	if !ok || er.Code != "08P01" || !strings.Contains(er.Message, "exceeds the limit") {
		t.Fatalf("answer %#v, want 08P01 naming the limit", msg)
	}
	// An authenticated session still gets the full limit.
	conn := mustConnect(t, s.dsn("app"))
	big := strings.Repeat("x", 1<<20)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT length($1)", big).Scan(&n); err != nil || n != len(big) {
		t.Fatalf("1 MiB parameter after authentication: %d, %v", n, err)
	}
}

// TestStartupConnsCountAgainstMaxConns: connections that have not
// authenticated hold a slot of MaxConns, and give it back when they go.
func TestStartupConnsCountAgainstMaxConns(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{MaxConns: 3})
	ctx := context.Background()
	mustConnect(t, s.dsn("app"))
	var stalled []*rawConn
	for range 2 {
		rc := dialRaw(t, s)
		rc.mustStartAuth(t, testUser) // and then says nothing more
		stalled = append(stalled, rc)
	}
	_, err := pgx.Connect(ctx, s.dsn("app"))
	if got, want := pgCode(err), "53300"; got != want {
		t.Fatalf("with 1 session and 2 connections authenticating of 3: code %q, want %q: %v", got, want, err)
	}
	// A raw connection over the limit is answered 53300 too.
	msg, err := dialRaw(t, s).startAuth(testUser)
	if er, ok := msg.(*pgproto3.ErrorResponse); err != nil || !ok || er.Code != "53300" || er.Hint == "" {
		t.Fatalf("over the limit: %#v, %v", msg, err)
	}
	stalled[0].nc.Close()
	testutil.RetryUntil(t, 0, func() error {
		c, err := pgx.Connect(ctx, s.dsn("app"))
		if err != nil {
			return err
		}
		return c.Close(ctx)
	})
}

// TestLoginThrottle: after LoginFailureLimit wrong passwords from one
// address, that address is refused even with the right password, while
// another address is not.
func TestLoginThrottle(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{LoginFailureLimit: 3})
	ctx := context.Background()
	for i := range 3 {
		_, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=%s password=wrong dbname=app sslmode=disable", s.host, s.port, testUser))
		if got := pgCode(err); got != "28P01" {
			t.Fatalf("wrong password %d: code %q: %v", i, got, err)
		}
	}
	_, err := pgx.Connect(ctx, s.dsn("app"))
	if got := pgCode(err); got != "28000" || !strings.Contains(err.Error(), "too many failed login attempts") {
		t.Fatalf("right password after 3 failures: code %q: %v", got, err)
	}
	// Another source address (127.0.0.2 is loopback too) still signs in.
	cfg, err := pgx.ParseConfig(s.dsn("app"))
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	cfg.DialFunc = d.DialContext
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("from another address: %v", err)
	}
	conn.Close(ctx)
}

// TestStartupTimeoutCoversSlowSenders: a client that keeps sending, but
// too slowly to finish authenticating within StartupTimeout, is cut off
// (the timeout is a deadline, not a per-read timeout).
func TestStartupTimeoutCoversSlowSenders(t *testing.T) {
	s := mustStartServer(t, pgwire.Config{StartupTimeout: 300 * time.Millisecond})
	rc := dialRaw(t, s)
	rc.mustStartAuth(t, testUser)
	var hdr [5]byte
	hdr[0] = 'p'
	binary.BigEndian.PutUint32(hdr[1:], 8<<10)
	if _, err := rc.nc.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		rc.fe.Receive() // returns when the server hangs up
	}()
	// One byte every 10 ms: 8 KiB would take 80 s.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for sent := 0; ; sent++ {
		select {
		case <-closed:
			return
		case <-tick.C:
		}
		if _, err := rc.nc.Write([]byte{'x'}); err != nil {
			return // the server hung up
		}
		if sent == 8<<10 {
			t.Fatal("the server read the whole slow message")
		}
	}
}
