package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The client compatibility suite: each PostgreSQL driver or tool stores
// and reads back every type sqlink maps (README "PostgreSQL clients")
// through parameters, runs prepared statements, a rolled back transaction,
// an error inside a transaction and 100k rows, against a real instance.
// The programs live in tests/compat; .ci/run installs their drivers. In CI
// (CI set) a missing driver fails the test; elsewhere it skips.

// compatDir is tests/compat.
func compatDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "compat"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// requireCompat fails (in CI) or skips the test when ok is false.
func requireCompat(t *testing.T, ok bool, what, install string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; .ci/run must install it (%s)", what, install)
	}
	t.Skipf("%s is not installed (%s)", what, install)
}

func haveCommand(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// debianPython is the python3 with Debian's packages (python3-psycopg2,
// python3-psycopg): a pyenv shim on PATH may not see them.
func debianPython() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

func havePythonModule(mod string) bool {
	return exec.Command(debianPython(), "-c", "import "+mod).Run() == nil
}

// runCompat runs a compatibility program and fails unless its last line
// is OK.
func runCompat(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || lines[len(lines)-1] != "OK" {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func startCompatInstance(t *testing.T, name string) *Instance {
	t.Helper()
	in := MustStartInstance(t, name)
	in.MustCLI("db", "create", "app")
	return in
}

func runPython(t *testing.T, driver string, extra ...string) {
	mod := map[string]string{"psycopg2": "psycopg2", "psycopg3": "psycopg"}[driver]
	requireCompat(t, havePythonModule(mod), "Python module "+mod, "apt-get install python3-psycopg2 python3-psycopg")
	in := startCompatInstance(t, "compat-"+driver)
	args := append([]string{filepath.Join(compatDir(t), "python", "compat.py"), driver, in.ConnString("app")}, extra...)
	runCompat(t, compatDir(t), nil, debianPython(), args...)
}

func TestCompat_Psycopg2(t *testing.T) { runPython(t, "psycopg2") }

func TestCompat_Psycopg3(t *testing.T) { runPython(t, "psycopg3") }

// TestCompat_Psycopg2Casts needs the PostgreSQL translation layer
// (branch compat-sql): psycopg2 sends dates, times and bytes as
// '...'::type casts.
func TestCompat_Psycopg2Casts(t *testing.T) { runPython(t, "psycopg2", "casts") }

const jdbcJar = "/usr/share/java/postgresql.jar"

func runJDBC(t *testing.T, extra ...string) {
	_, err := os.Stat(jdbcJar)
	requireCompat(t, haveCommand("java") && err == nil, "pgJDBC with a JDK", "apt-get install default-jdk-headless libpostgresql-jdbc-java")
	in := startCompatInstance(t, "compat-jdbc")
	url := "jdbc:postgresql://" + in.ClientAddr + "/app?sslmode=disable"
	args := append([]string{"-cp", jdbcJar, filepath.Join(compatDir(t), "java", "Compat.java"), url, "admin", in.Password}, extra...)
	runCompat(t, compatDir(t), nil, "java", args...)
}

func TestCompat_JDBC(t *testing.T) { runJDBC(t) }

// TestCompat_JDBCCasts needs the PostgreSQL translation layer (branch
// compat-sql): ?::json and ?::int4 in prepared statements.
func TestCompat_JDBCCasts(t *testing.T) { runJDBC(t, "casts") }

func TestCompat_NodePostgres(t *testing.T) {
	requireCompat(t, haveCommand("node") && haveCommand("npm"), "node and npm", "apt-get install nodejs npm")
	dir := filepath.Join(compatDir(t), "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "pg")); err != nil {
		// .ci/run installs it; a local run installs it here.
		runCmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		runCmd.Dir = dir
		if out, err := runCmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	in := startCompatInstance(t, "compat-node")
	runCompat(t, dir, in.pgEnv("app"), "node", "compat.js")
}
