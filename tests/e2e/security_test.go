package e2e_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sqlink/sqlink/internal/testutil"
)

// procStatusKiB returns a field of /proc/<pid>/status in KiB (VmRSS,
// VmHWM).
func procStatusKiB(tb testing.TB, pid int, field string) int {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				tb.Fatalf("%s: %q", field, line)
			}
			return n
		}
	}
	tb.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

func (in *Instance) pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cmd.Process.Pid
}

// preauthConn connects and sends a startup message for the admin login;
// it returns the connection and whether the server asked for SASL
// authentication (it may refuse instead, with 53300).
func preauthConn(tb testing.TB, in *Instance) (net.Conn, *pgproto3.Frontend, bool) {
	tb.Helper()
	nc, err := net.Dial("tcp", in.ClientAddr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(testutil.DefaultTimeout)) // a failsafe
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "admin", "database": "postgres"}})
	if err := fe.Flush(); err != nil {
		return nc, fe, false
	}
	msg, err := fe.Receive()
	if err != nil {
		return nc, fe, false
	}
	_, ok := msg.(*pgproto3.AuthenticationSASL)
	return nc, fe, ok
}

// TestPreauthMemoryAndSlots: 30 connections that each send most of a 30 MB
// SASL message before authenticating leave the server's memory where it
// was (the message is refused on its header), and connections still
// authenticating count against --max-conns.
func TestPreauthMemoryAndSlots(t *testing.T) {
	in := MustStartInstance(t, "preauth", "--max-conns", "8")
	in.MustCLI("db", "create", "app")
	pid := in.pid()
	before := procStatusKiB(t, pid, "VmHWM")

	const conns, size = 30, 30 << 20
	var asked atomic.Int32
	var wg sync.WaitGroup
	chunk := make([]byte, 64<<10)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, _, ok := preauthConn(t, in)
			if !ok {
				return // refused: too many connections
			}
			asked.Add(1)
			var hdr [5]byte
			hdr[0] = 'p'
			binary.BigEndian.PutUint32(hdr[1:], size+4)
			if _, err := nc.Write(hdr[:]); err != nil {
				return
			}
			for sent := 0; sent < size-len(chunk); sent += len(chunk) {
				if _, err := nc.Write(chunk); err != nil {
					return // the server refused the message and hung up
				}
			}
			io.Copy(io.Discard, nc)
		}()
	}
	wg.Wait()
	if asked.Load() == 0 {
		t.Fatal("no connection got as far as authentication")
	}
	after := procStatusKiB(t, pid, "VmHWM")
	t.Logf("peak RSS %d MiB before, %d MiB after %d connections sent 30 MB messages (%d reached authentication)",
		before>>10, after>>10, conns, asked.Load())
	if grown := (after - before) >> 10; grown > 48 {
		t.Fatalf("peak RSS grew by %d MiB, want at most tens of MiB", grown)
	}

	// 2 sessions and 6 connections in the middle of authentication fill
	// the 8 slots: the next connection is refused with 53300.
	ctx := context.Background()
	var sessions []*pgx.Conn
	testutil.RetryUntil(t, 0, func() error { // the attack's slots are given back
		for len(sessions) < 2 {
			c, err := pgx.Connect(ctx, in.ConnString("app"))
			if err != nil {
				return err
			}
			sessions = append(sessions, c)
		}
		return nil
	})
	for _, c := range sessions {
		defer c.Close(ctx)
	}
	for i := range 6 {
		if _, _, ok := preauthConn(t, in); !ok {
			t.Fatalf("stalled connection %d was refused", i)
		}
	}
	_, err := pgx.Connect(ctx, in.ConnString("app"))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53300" || pe.Hint == "" {
		t.Fatalf("9th connection with --max-conns 8: %v, want 53300 with a hint", err)
	}
}

// TestDataDirModes: init into an existing 0755 directory makes it 0700 and
// catalog.db 0600; a start fixes modes loosened since.
func TestDataDirModes(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // whatever the umask
	tokenFile := writeFile(t, "token", "sqlk_test_token_modes\n")
	pwFile := writeFile(t, "pw", "pw-modes\n")
	if r := runBinary(t, nil, "init", "--data-dir", dir, "--name", "modes", "--admin-token-file", tokenFile, "--sql-password-file", pwFile); r.Code != 0 {
		t.Fatalf("init: %d\n%s", r.Code, r.Stderr)
	}
	checkModes := func(when string) {
		t.Helper()
		n := 0
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			want := os.FileMode(0o600)
			if fi.IsDir() {
				want = 0o700
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s: %s has mode %o, want %o", when, p, fi.Mode().Perm(), want)
			}
			n++
			return nil
		})
		if n < 4 {
			t.Fatalf("%s: only %d files", when, n)
		}
	}
	checkModes("after init")
	if fi, err := os.Stat(filepath.Join(dir, "catalog.db")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("catalog.db: %v, %v", fi, err)
	}

	in := &Instance{t: t, Name: "modes", Dir: dir, Token: "sqlk_test_token_modes", Password: "pw-modes",
		ClientAddr: testutil.FreeAddr(t), AdminAddr: testutil.FreeAddr(t), EndpointAddr: testutil.FreeAddr(t)}
	in.startFresh()
	in.MustCLI("db", "create", "shop")
	in.MustPsql("shop", "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);")
	checkModes("after serving")
	// A file put there by someone else is made private at the next start.
	in.MustCLI("backup", "shop", "--to", filepath.Join(dir, "shop.bak"))
	os.Chmod(filepath.Join(dir, "shop.bak"), 0o644)
	in.Stop()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Join(dir, "catalog.db"), 0o644)
	os.Chmod(filepath.Join(dir, "databases"), 0o755)
	in.Start()
	defer in.Stop()
	checkModes("after a start")
}

// TestAdminHTTPTimeouts: an idle keep-alive connection and a request whose
// body never comes are closed by the server.
func TestAdminHTTPTimeouts(t *testing.T) {
	in := MustStartInstance(t, "httpto", "--admin-read-timeout", "300ms", "--admin-idle-timeout", "300ms")
	dial := func() (net.Conn, *bufio.Reader) {
		raw, err := net.Dial("tcp", in.AdminAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		raw.SetDeadline(time.Now().Add(testutil.DefaultTimeout))     // a failsafe
		nc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true}) // HTTPS; who it is does not matter here
		if err := nc.Handshake(); err != nil {
			t.Fatal(err)
		}
		return nc, bufio.NewReader(nc)
	}
	// waitClosed reads until the server closes the connection.
	waitClosed := func(what string, br *bufio.Reader) {
		t.Helper()
		_, err := io.Copy(io.Discard, br)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: the server never closed the connection", what)
		}
	}

	idle, br := dial()
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: sqlink\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v, %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	waitClosed("idle keep-alive connection", br)

	slow, br := dial()
	fmt.Fprintf(slow, "POST /v1/databases HTTP/1.1\r\nHost: sqlink\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\":", in.Token)
	waitClosed("request with a slow body", br)

	half, br := dial()
	fmt.Fprintf(half, "GET /healthz HTTP/1.1\r\nHost: sqlink\r\n")
	waitClosed("request with unfinished headers", br)
}

// TestRBACNoEscalation: a principal allowed to manage principals (it holds
// instance/write) cannot make itself sysadmin, create a role with more
// than it holds, mint a token for the sysadmin or revoke the sysadmin's
// token; and the last sysadmin token cannot be revoked.
func TestRBACNoEscalation(t *testing.T) {
	in := MustStartInstance(t, "escal")
	in.MustCLI("role", "create", "writer", "--permissions", "instance/write,instance/read")
	in.MustCLI("principal", "create", "eve", "--roles", "writer")
	var tok struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(in.MustCLI("token", "create", "--principal", "eve", "--json")), &tok); err != nil || tok.Secret == "" {
		t.Fatalf("token create: %v", err)
	}
	var toks []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(in.MustCLI("token", "list", "--principal", "sysadmin", "--json")), &toks); err != nil || len(toks) != 1 {
		t.Fatalf("token list: %v %+v", err, toks)
	}
	for _, args := range [][]string{
		{"principal", "set-roles", "eve", "--roles", "sysadmin"},
		{"role", "create", "all", "--permissions", "instance/write,databases/write"},
		{"token", "create", "--principal", "sysadmin"},
		{"token", "revoke", toks[0].ID},
		{"principal", "drop", "sysadmin"},
	} {
		r := in.CLIWithToken(tok.Secret, args...)
		if r.Code != 4 || !strings.Contains(r.Stderr, "permission denied") || !strings.Contains(r.Stderr, "Try:") {
			t.Fatalf("eve: sqlink %s: exit %d, want 4 with a hint\n%s", strings.Join(args, " "), r.Code, r.Stderr)
		}
	}
	r := in.CLI("token", "revoke", toks[0].ID)
	if r.Code != 4 || !strings.Contains(r.Stderr, "last valid token") {
		t.Fatalf("revoke the last sysadmin token: exit %d\n%s", r.Code, r.Stderr)
	}
	in.MustCLI("instance", "show")
}

// TestFailedAuthIsThrottledAndSummarised: a flood of bad admin tokens
// writes one audit row and, at shutdown, one summary counting the rest;
// repeated wrong SQL passwords refuse the address for a while and are
// audited the same way.
func TestFailedAuthIsThrottledAndSummarised(t *testing.T) {
	in := MustStartInstance(t, "authflood")
	const n = 500
	client := in.HTTPClient(t)
	for i := range n {
		req, _ := http.NewRequest("GET", in.AdminURL()+"/v1/databases", nil)
		req.Header.Set("Authorization", fmt.Sprintf("Bearer sqlk_bogus_%d", i))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	ctx := context.Background()
	for range 10 {
		_, err := pgx.Connect(ctx, strings.Replace(in.ConnString("postgres"), "password="+in.Password, "password=wrong", 1))
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28P01" {
			t.Fatalf("wrong password: %v", err)
		}
	}
	_, err := pgx.Connect(ctx, in.ConnString("postgres"))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28000" || !strings.Contains(pe.Message, "too many failed login attempts") {
		t.Fatalf("right password after 10 failures: %v", err)
	}
	if !strings.Contains(in.Output(), "too many failed logins") {
		t.Fatalf("no log line for the throttled address:\n%s", in.Output())
	}

	type entry struct {
		Action, Target, Result, Detail string
	}
	audit := func() []entry {
		var es []entry
		if err := json.Unmarshal([]byte(in.MustCLI("audit", "--limit", "1000", "--json")), &es); err != nil {
			t.Fatal(err)
		}
		return es
	}
	count := func(es []entry, action string) int {
		k := 0
		for _, e := range es {
			if e.Action == action {
				k++
			}
		}
		return k
	}
	es := audit()
	if count(es, "databases.list") != 1 || count(es, "sql.login") != 1 {
		t.Fatalf("audit after %d bad tokens and 10 wrong passwords: %+v", n, es)
	}
	in.Stop() // writes the summaries
	in.Start()
	es = audit()
	var summaries []string
	for _, e := range es {
		if e.Action == "auth.failures" {
			summaries = append(summaries, e.Detail)
		}
	}
	joined := strings.Join(summaries, "\n")
	if len(summaries) != 2 || !strings.Contains(joined, fmt.Sprintf("%d more failed attempts (databases.list)", n-1)) ||
		!strings.Contains(joined, "9 more failed attempts (sql.login)") {
		t.Fatalf("summaries:\n%s", joined)
	}
}

// scramServerFirst returns the server-first SCRAM message for user.
func scramServerFirst(tb testing.TB, in *Instance, user string) string {
	tb.Helper()
	nc, err := net.Dial("tcp", in.ClientAddr)
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(testutil.DefaultTimeout)) // a failsafe
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": user, "database": "postgres"}})
	fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=clientnonce")})
	if err := fe.Flush(); err != nil {
		tb.Fatal(err)
	}
	for {
		msg, err := fe.Receive()
		if err != nil {
			tb.Fatal(err)
		}
		if m, ok := msg.(*pgproto3.AuthenticationSASLContinue); ok {
			return string(m.Data)
		}
	}
}

// TestUnknownUserSaltStableAcrossRestarts: the fake salt of an unknown user
// is keyed by the instance's auth.key (0600), so it stays the same across
// restarts, with the iteration count of real logins.
func TestUnknownUserSaltStableAcrossRestarts(t *testing.T) {
	in := MustStartInstance(t, "fakesalt")
	saltIters := func(serverFirst string) string {
		_, rest, _ := strings.Cut(serverFirst, ",s=") // r=...,s=SALT,i=N
		return rest
	}
	known := saltIters(scramServerFirst(t, in, "admin"))
	first := saltIters(scramServerFirst(t, in, "mallory"))
	_, knownIters, _ := strings.Cut(known, ",i=")
	_, fakeIters, _ := strings.Cut(first, ",i=")
	if knownIters != fakeIters || len(known) != len(first) {
		t.Fatalf("known user: s=%s, unknown user: s=%s", known, first)
	}
	in.Stop()
	in.Start()
	if again := saltIters(scramServerFirst(t, in, "mallory")); again != first {
		t.Fatalf("after a restart: s=%s, before: s=%s", again, first)
	}
	if fi, err := os.Stat(filepath.Join(in.Dir, "auth.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("auth.key: %v, %v", fi, err)
	}
}
