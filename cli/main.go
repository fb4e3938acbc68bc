// Package cli implements sqlink's command line: the server commands (init,
// serve, demo) and the client commands that call an instance's admin API.
//
// Each command is built by Main so tests can drive the same code with their
// own standard streams. Errors print as the error and a "Try: …" hint, and
// the exit code says what kind of error it was (see ExitCode).
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// Exit codes, one per error code, so scripts can branch on the kind of
// failure without parsing messages.
var exitCodes = map[string]int{
	sqlink.EINTERNAL:       1,
	sqlink.EINVALID:        2,
	sqlink.EUNAUTHORIZED:   3,
	sqlink.EFORBIDDEN:      4,
	sqlink.ENOTFOUND:       5,
	sqlink.ECONFLICT:       6,
	sqlink.EUNAVAILABLE:    7,
	sqlink.ETIMEOUT:        8,
	sqlink.EREADONLY:       9,
	sqlink.ENOTIMPLEMENTED: 10,
}

// ExitCode returns the process exit code for err: 0 for nil.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	if c, ok := exitCodes[sqlink.ErrorCode(err)]; ok {
		return c
	}
	return 1
}

// Main is the sqlink command line. Its fields are the process's standard
// streams and environment, so tests can run commands in-process.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string

	// global flags
	server string
	token  string
	output string
	json   bool

	caFile      string // --ca-file: CAs that sign admin listener certificates
	fingerprint string // --fingerprint: the pinned admin listener certificate
}

// NewMain returns a Main wired to the process's streams.
func NewMain() *Main {
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// Run runs the command line args and returns its error, already printed.
func (m *Main) Run(ctx context.Context, args []string) error {
	root := m.rootCommand()
	root.SetArgs(args)
	root.SetIn(m.Stdin)
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		m.printError(err, m.json || m.output == "json" || wantsJSON(args))
	}
	return err
}

// printError prints err on stderr: as "Error: …" and "Try: …" lines, or
// with --json as one JSON object, {"error":{"code","message","hint"}}
// (the admin API's error body), so that stdout holds only results.
func (m *Main) printError(err error, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(m.Stderr)
		enc.SetEscapeHTML(false)
		enc.Encode(adminapi.ErrorResponse{Error: adminapi.ErrorBody{
			Code: sqlink.ErrorCode(err), Message: sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)}})
		return
	}
	fmt.Fprintf(m.Stderr, "Error: %s\n", sqlink.ErrorMessage(err))
	if hint := sqlink.ErrorHint(err); hint != "" {
		fmt.Fprintf(m.Stderr, "Try: %s\n", hint)
	}
}

// wantsJSON reports whether args ask for JSON output, for errors found
// before the flags were parsed (a bad flag stops the parse before a later
// --json).
func wantsJSON(args []string) bool {
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "--json" || a == "--json=true" || a == "--output=json" || a == "-o=json" || a == "-ojson":
			return true
		case (a == "--output" || a == "-o") && i+1 < len(args) && args[i+1] == "json":
			return true
		}
	}
	return false
}

func (m *Main) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "sqlink",
		Short: "SQLite databases over the PostgreSQL protocol, replicated to a second instance",
		Long: `sqlink runs a database instance: it hosts SQLite databases, serves them to
PostgreSQL clients (psql, pgx, libpq, pgbench) and replicates a database to a
second instance through a link.

Server commands: init, serve, demo. The other commands talk to an instance's
admin API: pass --server and --token or set SQLINK_SERVER and SQLINK_TOKEN,
and trust its TLS certificate with --fingerprint or --ca-file.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       sqlink.Version,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&m.server, "server", "", "admin API URL of the instance (env SQLINK_SERVER, default https://"+defaultAdminHost+")")
	pf.StringVar(&m.token, "token", "", "admin API bearer token (env SQLINK_TOKEN)")
	pf.StringVar(&m.caFile, "ca-file", "", "PEM file of the CAs that sign the admin listeners' certificates (env SQLINK_CA_FILE; default: the system's)")
	pf.StringVar(&m.fingerprint, "fingerprint", "", "SHA-256 fingerprint of the instance's self-signed TLS certificate, as init printed it (env SQLINK_FINGERPRINT)")
	pf.StringVarP(&m.output, "output", "o", "table", "output format: table or json")
	pf.BoolVar(&m.json, "json", false, "same as --output json")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if m.json {
			m.output = "json"
		}
		if m.output != "table" && m.output != "json" {
			return sqlink.Errorf(sqlink.EINVALID, "use --output table or --output json", "unknown output format %q", m.output)
		}
		return nil
	}
	// Flag errors are invalid input: give them our code and a hint.
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("run `%s --help`", cmd.CommandPath()), "%v", err)
	})

	root.AddCommand(
		withoutClientFlags(m.initCommand()),
		withoutClientFlags(m.serveCommand()),
		withoutClientFlags(m.demoCommand()),
		m.dbCommand(),
		m.backupCommand(),
		m.restoreCommand(),
		m.dumpCommand(),
		m.loginCommand(),
		m.tokenCommand(),
		m.principalCommand(),
		m.roleCommand(),
		m.certCommand(),
		m.auditCommand(),
		m.instanceCommand(),
		m.sessionCommand(),
		m.linkCommand(),
	)
	return root
}

// withoutClientFlags takes the root's --server and --token off a server
// command (init, serve, demo), which calls no admin API: its help does not
// list them, and giving one is an error rather than silently ignored.
func withoutClientFlags(cmd *cobra.Command) *cobra.Command {
	names := []string{"server", "token", "ca-file", "fingerprint"}
	for _, name := range names {
		// A local flag of the same name shadows the inherited one.
		cmd.Flags().String(name, "", "not used by "+cmd.Name())
		cmd.Flags().MarkHidden(name)
	}
	pre := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		for _, name := range names {
			if c.Flags().Changed(name) {
				return sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("drop --%s: %s calls no admin API", name, c.Name()),
					"--%s does not apply to %s", name, c.Name())
			}
		}
		if pre != nil {
			return pre(c, args)
		}
		return nil
	}
	return cmd
}

// args returns a cobra.PositionalArgs that gives our error for a wrong
// number of arguments.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("usage: %s", cmd.UseLine()), "expected %s", what)
		}
		return nil
	}
}

// emit prints v as JSON with --output json, or calls table otherwise.
func (m *Main) emit(v any, table func(w *tabwriter.Writer)) error {
	if m.output == "json" {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// env returns the environment variable SQLINK_<NAME>.
func (m *Main) env(name string) string {
	if m.Getenv == nil {
		return ""
	}
	return m.Getenv("SQLINK_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
}

// errUsage wraps a usage problem.
func errUsage(cmd *cobra.Command, format string, args ...any) error {
	return sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("run `%s --help`", cmd.CommandPath()), format, args...)
}

var _ = errors.New
