//go:build linux

package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// openPty returns a pseudo-terminal's controller and its terminal.
func openPty(tb testing.TB) (ptmx, tty *os.File) {
	tb.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		tb.Skipf("no pseudo-terminal: %v", err)
	}
	tb.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		tb.Skipf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		tb.Skipf("pseudo-terminal number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		tb.Skipf("open pseudo-terminal: %v", err)
	}
	tb.Cleanup(func() { tty.Close() })
	return ptmx, tty
}

// TestPasswordPromptHasNoEcho types a password at a terminal prompt: it is
// read twice, and what was typed never shows on the terminal.
func TestPasswordPromptHasNoEcho(t *testing.T) {
	ptmx, tty := openPty(t)
	for _, tc := range []struct {
		typed, want string
		ok          bool
	}{
		{"s3cret\ns3cret\n", "s3cret", true},
		{"s3cret\nother\n", "", false},
	} {
		// The person types each line once its prompt shows.
		stderr := &promptWriter{prompted: make(chan string, 2)}
		m := &Main{Stdin: tty, Stdout: &bytes.Buffer{}, Stderr: stderr}
		var pf passwordFlags
		cmd := &cobra.Command{Use: "x"}
		pf.add(cmd)
		type result struct {
			pw  string
			err error
		}
		done := make(chan result, 1)
		go func() {
			pw, err := pf.read(m, cmd, "app")
			done <- result{pw, err}
		}()
		wantPrompts := []string{"Password for SQL login app: ", "Again: "}
		for i, line := range strings.SplitAfter(strings.TrimSuffix(tc.typed, "\n"), "\n") {
			if p := <-stderr.prompted; p != wantPrompts[i] {
				t.Fatalf("prompt %q, want %q", p, wantPrompts[i])
			}
			if !strings.HasSuffix(line, "\n") {
				line += "\n"
			}
			if _, err := ptmx.WriteString(line); err != nil {
				t.Fatal(err)
			}
		}
		r := <-done
		if (r.err == nil) != tc.ok || r.pw != tc.want {
			t.Fatalf("typed %q: %q, %v", tc.typed, r.pw, r.err)
		}
	}
	// The terminal echoes again now (the prompt restored it): type a
	// marker, and read what the terminal echoed up to it. Nothing before
	// it may be the password.
	if _, err := ptmx.WriteString("marker\n"); err != nil {
		t.Fatal(err)
	}
	var echoed []byte
	buf := make([]byte, 256)
	for !bytes.Contains(echoed, []byte("marker")) {
		n, err := ptmx.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		echoed = append(echoed, buf[:n]...)
	}
	if bytes.Contains(echoed, []byte("s3cret")) || bytes.Contains(echoed, []byte("other")) {
		t.Fatalf("the password was echoed: %q", echoed)
	}
}

// promptWriter is a standard error that reports each prompt written to it.
type promptWriter struct {
	prompted chan string
}

func (w *promptWriter) Write(b []byte) (int, error) {
	if s := string(b); strings.HasSuffix(s, ": ") {
		w.prompted <- s
	}
	return len(b), nil
}
