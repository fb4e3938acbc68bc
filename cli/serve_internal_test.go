package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/server"
	"github.com/sqlink/sqlink/storage"
)

// resolveServe parses args as `serve` flags with env and returns the
// resolved settings.
func resolveServe(t *testing.T, env map[string]string, args ...string) (serverSettings, error) {
	t.Helper()
	m := &Main{Getenv: func(k string) string { return env[k] }}
	var st serverSettings
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	st.addFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return st, st.resolve(m, fs)
}

func TestServeSettings_Precedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sqlink.yml")
	os.WriteFile(cfg, []byte("data-dir: /from/file\nclient-addr: 127.0.0.1:1111\nadmin-addr: 127.0.0.1:2222\nmax-conns: 7\nsynchronous: normal\n"), 0o600)

	// File only.
	st, err := resolveServe(t, nil, "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.DataDir != "/from/file" || st.ClientAddr != "127.0.0.1:1111" || st.MaxConns != 7 || st.Synchronous != "NORMAL" {
		t.Fatalf("file settings: %+v", st)
	}
	// The environment beats the file.
	env := map[string]string{"SQLINK_CONFIG": cfg, "SQLINK_CLIENT_ADDR": "127.0.0.1:3333", "SQLINK_MAX_CONNS": "9"}
	if st, err = resolveServe(t, env); err != nil {
		t.Fatal(err)
	}
	if st.ClientAddr != "127.0.0.1:3333" || st.MaxConns != 9 || st.AdminAddr != "127.0.0.1:2222" || st.DataDir != "/from/file" {
		t.Fatalf("env over file: %+v", st)
	}
	// A flag beats both.
	if st, err = resolveServe(t, env, "--client-addr", "127.0.0.1:4444", "--data-dir", "/from/flag"); err != nil {
		t.Fatal(err)
	}
	if st.ClientAddr != "127.0.0.1:4444" || st.DataDir != "/from/flag" || st.MaxConns != 9 {
		t.Fatalf("flag over env: %+v", st)
	}
	// Nothing given: defaults, and a clear error for the missing data dir.
	st, err = resolveServe(t, nil)
	if sqlink.ErrorCode(err) != sqlink.EINVALID || sqlink.ErrorHint(err) == "" {
		t.Fatalf("no data dir: %v", err)
	}
	if st.ClientAddr != server.DefaultClientAddr {
		t.Fatalf("default client addr %q", st.ClientAddr)
	}
	// A bad number in the environment is an error, not a silent default.
	if _, err := resolveServe(t, map[string]string{"SQLINK_DATA_DIR": "/x", "SQLINK_MAX_CONNS": "many"}); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("bad SQLINK_MAX_CONNS: %v", err)
	}
}

func TestExitCodes(t *testing.T) {
	seen := map[int]string{}
	for code, exit := range exitCodes {
		if other, ok := seen[exit]; ok {
			t.Fatalf("exit code %d used for %s and %s", exit, code, other)
		}
		seen[exit] = code
		if got := ExitCode(sqlink.Errorf(code, "", "x")); got != exit {
			t.Fatalf("ExitCode(%s) = %d, want %d", code, got, exit)
		}
	}
	if ExitCode(nil) != 0 {
		t.Fatal("nil error must exit 0")
	}
}

func TestServeSettings_LinkHardenDelay(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sqlink.yml")
	os.WriteFile(cfg, []byte("data-dir: /d\nlink-harden-delay: 5ms\n"), 0o600)
	st, err := resolveServe(t, nil, "--data-dir", "/d")
	if err != nil || st.LinkHardenDelay != server.DefaultLinkHardenDelay {
		t.Fatalf("default: %v, %v", st.LinkHardenDelay, err)
	}
	if st, err = resolveServe(t, nil, "--config", cfg); err != nil || st.LinkHardenDelay != 5*time.Millisecond {
		t.Fatalf("file: %v, %v", st.LinkHardenDelay, err)
	}
	if st, err = resolveServe(t, map[string]string{"SQLINK_LINK_HARDEN_DELAY": "0"}, "--config", cfg); err != nil || st.LinkHardenDelay != 0 {
		t.Fatalf("env 0 over file: %v, %v", st.LinkHardenDelay, err)
	}
	c, err := st.config(nil)
	if err != nil || c.LinkHardenDelay >= 0 {
		t.Fatalf("0 (none) must reach the server as negative (its zero is the default): %v, %v", c.LinkHardenDelay, err)
	}
	if _, err = resolveServe(t, map[string]string{"SQLINK_LINK_HARDEN_DELAY": "soon"}, "--data-dir", "/d"); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("bad duration: %v", err)
	}
}

func TestServeSettings_MaxTransactionSize(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sqlink.yml")
	os.WriteFile(cfg, []byte("data-dir: /d\nmax-transaction-size: 64MiB\n"), 0o600)
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want int64
	}{
		{nil, []string{"--data-dir", "/d"}, 0}, // the server's default: storage.MaxRecordBytes
		{nil, []string{"--data-dir", "/d", "--max-transaction-size", "2GiB"}, storage.MaxRecordBytes},
		{nil, []string{"--config", cfg}, 64 << 20},
		{map[string]string{"SQLINK_MAX_TRANSACTION_SIZE": "100MiB"}, []string{"--config", cfg}, 100 << 20},
	} {
		st, err := resolveServe(t, tc.env, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		c, err := st.config(nil)
		if err != nil || c.MaxTransactionBytes != tc.want {
			t.Fatalf("%v %v: %d, %v; want %d", tc.env, tc.args, c.MaxTransactionBytes, err, tc.want)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%v %v: %v", tc.env, tc.args, err)
		}
	}
	// Under the minimum: refused at start, with the range in the hint.
	st, err := resolveServe(t, nil, "--data-dir", "/d", "--max-transaction-size", "1MiB")
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.config(nil)
	if err == nil {
		err = c.Validate()
	}
	if sqlink.ErrorCode(err) != sqlink.EINVALID || !strings.Contains(sqlink.ErrorHint(err), "16 MiB") {
		t.Fatalf("1MiB: %v (hint %q)", err, sqlink.ErrorHint(err))
	}
}
