package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The demo's sqlink command lines run as printed: the binary that printed
// them, by a path that works from any directory (not "sqlink", which need
// not be on the PATH).
func TestDemo_PrintsWorkingLinkCommands(t *testing.T) {
	cmd := exec.Command(sqlinkBin, "demo")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var lines []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.Contains(line, " link status demo ") || strings.Contains(line, " link verify demo ") {
			lines = append(lines, line)
		}
		if strings.HasPrefix(line, "Press Ctrl-C") {
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if len(lines) != 2 {
		t.Fatalf("demo printed %d link command lines, want 2: %q\nstderr:\n%s", len(lines), lines, stderr.String())
	}
	for _, line := range lines {
		args := strings.Fields(line)
		if args[0] != sqlinkBin {
			t.Errorf("demo printed %q: want the binary's path %s first", line, sqlinkBin)
			continue
		}
		c := exec.Command(args[0], args[1:]...)
		c.Dir = t.TempDir() // any directory
		c.Env = os.Environ()
		out, err := c.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", line, err, out)
		}
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo did not exit cleanly on Ctrl-C: %v\n%s", err, stderr.String())
	}
}

// The README's other way to run pgbench: its tables from
// bench/tpcb_init.sql, then pgbench -n with the built-in script (pgbench -i
// itself: TestCopy_PgbenchInitAndBuiltinScript).
func TestPgbench_LoadAsTheREADMESays(t *testing.T) {
	requireTool(t, "psql")
	requireTool(t, "pgbench")
	in := MustStartInstance(t, "pgb")
	in.MustCLI("db", "create", "bench")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := in.Psql(ctx, "bench", "", "-f", tpcbInit); err != nil {
		t.Fatalf("psql -f %s: %v\n%s", tpcbInit, err, out)
	}
	if out, err := in.Pgbench(ctx, "bench", "-n", "-M", "prepared", "-c", "2", "-j", "2", "-t", "50"); err != nil ||
		!strings.Contains(out, "number of transactions actually processed: 100/100") {
		t.Fatalf("pgbench -n: %v\n%s", err, out)
	}
}
