package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/sqlink/sqlink/server"
)

// testInstance is a real instance served in-process on loopback.
type testInstance struct {
	url, token, fp string
}

// startTestInstance initialises and starts an instance in a temporary
// directory; it stops when the test ends.
func startTestInstance(t *testing.T) testInstance {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	res, err := server.Init(ctx, server.InitOptions{DataDir: dir, Name: "hints"})
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := server.Open(ctx, server.Config{DataDir: dir, ClientAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", EndpointAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		s.Close(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return testInstance{url: s.AdminURL(), token: res.Token, fp: res.TLSFingerprint}
}

// cli runs the command line against the instance (--server, --token).
func (in testInstance) cli(args ...string) (stdout, stderr string, code int) {
	return runCLI(append(args, "--server", in.url, "--token", in.token, "--fingerprint", in.fp)...)
}

// runCLIEnv is runCLI with an environment.
func runCLIEnv(env map[string]string, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	err := m.Run(context.Background(), args)
	return out.String(), errb.String(), ExitCode(err)
}
