package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
)

// passwordFlags are how a command that sets a SQL password gets it: a
// prompt on a terminal, standard input, or (for scripts that accept the
// risk) the command line.
type passwordFlags struct {
	stdin    bool
	password string
}

func (pf *passwordFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&pf.stdin, "password-stdin", false, "read the password from standard input (its first line)")
	cmd.Flags().StringVar(&pf.password, "password", "", "the password itself: visible to other users in the process list and kept in shell history; prefer --password-stdin")
}

// maxPasswordInput bounds what is read from standard input: the longest
// password and a line ending.
const maxPasswordInput = catalog.MaxPasswordLen + 2

// read returns the password: from --password, from standard input with
// --password-stdin or when standard input is not a terminal, or else from
// a prompt (twice, without echo).
func (pf *passwordFlags) read(m *Main, cmd *cobra.Command, login string) (string, error) {
	switch {
	case pf.stdin && cmd.Flags().Changed("password"):
		return "", errUsage(cmd, "--password and --password-stdin exclude each other")
	case cmd.Flags().Changed("password"):
		return pf.password, nil
	}
	tty := terminal(m.Stdin)
	if pf.stdin || tty == nil {
		if m.Stdin == nil {
			return "", sqlink.Errorf(sqlink.EINVALID, "pipe the password in with --password-stdin", "no standard input to read the password from")
		}
		pw, err := readLine(io.LimitReader(m.Stdin, maxPasswordInput))
		if err != nil {
			return "", err
		}
		if pw == "" {
			return "", sqlink.Errorf(sqlink.EINVALID, "pipe the password in: printf '%s\\n' \"$PW\" | sqlink ... --password-stdin", "no password on standard input")
		}
		return pw, nil
	}
	pw, err := readNoEcho(tty, func() { fmt.Fprintf(m.Stderr, "Password for SQL login %s: ", login) })
	fmt.Fprintln(m.Stderr)
	if err != nil {
		return "", err
	}
	again, err := readNoEcho(tty, func() { fmt.Fprintf(m.Stderr, "Again: ") })
	fmt.Fprintln(m.Stderr)
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", sqlink.Errorf(sqlink.EINVALID, "run the command again and type the same password twice", "the passwords do not match")
	}
	return pw, nil
}

// readLine reads up to the first newline (not included; a "\r" before it
// is dropped too) or the end of r.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			b.WriteByte(buf[0])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", sqlink.Errorf(sqlink.EINVALID, "pipe the password in with --password-stdin", "read password: %v", err)
		}
	}
	return strings.TrimSuffix(b.String(), "\r"), nil
}

// rightsText describes a login's rights for tables: "write on *, read on
// shop", or "none".
func rightsText(rs []adminapi.LoginRight) string {
	if len(rs) == 0 {
		return "none"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Right.String() + " on " + r.Database
	}
	return strings.Join(parts, ", ")
}

// databasesFlag holds --database (repeatable, comma-separated) and
// --all-databases.
type databasesFlag struct {
	names []string
	all   bool
}

func (df *databasesFlag) add(cmd *cobra.Command, verb string) {
	cmd.Flags().StringSliceVar(&df.names, "database", nil, "database(s) to "+verb+" on, comma-separated or repeated; '*' (quoted) means every database")
	cmd.Flags().BoolVar(&df.all, "all-databases", false, "same as --database '*': every database, those created later included")
}

func (df *databasesFlag) list(cmd *cobra.Command) ([]string, error) {
	names := df.names
	if df.all {
		names = append(names, catalog.AllDatabases)
	}
	if len(names) == 0 {
		return nil, errUsage(cmd, "no database given: pass --database DB or --all-databases")
	}
	return names, nil
}

func (m *Main) loginCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Manage SQL logins: passwords and rights per database",
		Long: `login manages the SQL logins clients sign in with (SCRAM-SHA-256).

A login holds a right per database: connect (open a session, run statements
that read no table), read (also read tables) or write (also change tables
and the schema), or a right on every database ('*'). A new login holds no
right: it cannot connect anywhere until granted one. The admin login init
creates holds write on '*'. Rights and passwords are read when a session
starts: a change applies to the login's new sessions, not to those already
open. Logins and their rights belong to one instance (they are not
replicated): set them on each instance a client may reach.

Passwords are read from a prompt when standard input is a terminal, else
from standard input (--password-stdin makes that explicit). --password
takes the password on the command line, for scripts that accept that other
users may see it in the process list and that it stays in shell history.`,
	}
	cmd.AddCommand(m.loginCreateCommand(), m.loginListCommand(), m.loginGrantCommand(),
		m.loginRevokeCommand(), m.loginSetPasswordCommand(), m.loginDropCommand())
	return cmd
}

func (m *Main) loginCreateCommand() *cobra.Command {
	var pf passwordFlags
	cmd := &cobra.Command{
		Use:   "create NAME [--password-stdin | --password PW]",
		Short: "Create a SQL login (with no rights until granted)",
		Args:  exactArgs(1, "a login name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			pw, err := pf.read(m, cmd, args[0])
			if err != nil {
				return err
			}
			if err := c.CreateLogin(cmd.Context(), args[0], pw); err != nil {
				return err
			}
			l, err := c.GetLogin(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.emit(l, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Created SQL login %s. It has no rights yet; grant one with: sqlink login grant %s read --database DB\n", l.Name, l.Name)
			})
		},
	}
	pf.add(cmd)
	return cmd
}

func (m *Main) loginListCommand() *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List SQL logins and their rights", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			ls, err := c.ListLogins(cmd.Context())
			if err != nil {
				return err
			}
			return m.emit(ls, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NAME\tRIGHTS\tCREATED\tPASSWORD SET")
				for _, l := range ls {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", l.Name, rightsText(l.Rights), ts(l.CreatedAt), ts(l.UpdatedAt))
				}
			})
		},
	}
}

func (m *Main) loginGrantCommand() *cobra.Command {
	var df databasesFlag
	cmd := &cobra.Command{
		Use:   "grant NAME connect|read|write --database DB[,DB...] | --all-databases",
		Short: "Set a login's right on databases (applies to its new sessions)",
		Long: `grant sets the login's right on each database to the one given, replacing
the right it had there (granting read where it had write lowers it). A
right on '*' (--all-databases) applies to every database, those created
later included, on top of the rights on named databases. The login's open
sessions keep the right they started with.`,
		Args: exactArgs(2, "a login name and a right (connect, read or write)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			right, err := catalog.ParseRight(args[1])
			if err == nil && right == catalog.RightNone {
				err = sqlink.Errorf(sqlink.EINVALID, "to take rights away: sqlink login revoke "+args[0]+" --database DB", "cannot grant none")
			}
			if err != nil {
				return err
			}
			dbs, err := df.list(cmd)
			if err != nil {
				return err
			}
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			var l adminapi.LoginInfo
			for _, db := range dbs {
				if l, err = c.GrantRight(cmd.Context(), args[0], db, right); err != nil {
					return err
				}
			}
			return m.emit(l, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Granted %s %s on %s (applies to its new sessions).\n", l.Name, right, strings.Join(dbs, ", "))
				fmt.Fprintf(w, "Rights of %s:\t%s\n", l.Name, rightsText(l.Rights))
			})
		},
	}
	df.add(cmd, "grant")
	return cmd
}

func (m *Main) loginRevokeCommand() *cobra.Command {
	var df databasesFlag
	cmd := &cobra.Command{
		Use:   "revoke NAME [connect|read|write] --database DB[,DB...] | --all-databases",
		Short: "Take a login's rights on databases away (applies to its new sessions)",
		Long: `revoke takes the right given, and the rights that include it, away from
the login on each database: revoking write leaves read, revoking read
leaves connect, revoking connect (or giving no right) leaves nothing. A
right on '*' still applies to every database: revoke it with
--all-databases. The login's open sessions keep the right they started
with; end them to apply the change at once.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return errUsage(cmd, "expected a login name and optionally a right (connect, read or write)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			right := catalog.RightNone
			if len(args) == 2 {
				var err error
				if right, err = catalog.ParseRight(args[1]); err != nil {
					return err
				}
			}
			dbs, err := df.list(cmd)
			if err != nil {
				return err
			}
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			var l adminapi.LoginInfo
			for _, db := range dbs {
				if l, err = c.RevokeRight(cmd.Context(), args[0], db, right); err != nil {
					return err
				}
			}
			return m.emit(l, func(w *tabwriter.Writer) {
				what := "every right"
				if right != catalog.RightNone {
					what = right.String()
				}
				fmt.Fprintf(w, "Revoked %s from %s on %s (applies to its new sessions).\n", what, l.Name, strings.Join(dbs, ", "))
				fmt.Fprintf(w, "Rights of %s:\t%s\n", l.Name, rightsText(l.Rights))
				for _, r := range l.Rights {
					if r.Database == catalog.AllDatabases && !df.all && !containsString(dbs, catalog.AllDatabases) {
						fmt.Fprintf(w, "Note: %s still has %s on every database ('*'); revoke it with --all-databases.\n", l.Name, r.Right)
					}
				}
			})
		},
	}
	df.add(cmd, "revoke")
	return cmd
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (m *Main) loginSetPasswordCommand() *cobra.Command {
	var pf passwordFlags
	cmd := &cobra.Command{
		Use:   "set-password NAME [--password-stdin | --password PW]",
		Short: "Change a SQL login's password (open sessions stay signed in)",
		Args:  exactArgs(1, "a login name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			pw, err := pf.read(m, cmd, args[0])
			if err != nil {
				return err
			}
			if err := c.SetLoginPassword(cmd.Context(), args[0], pw); err != nil {
				return err
			}
			return m.emit(map[string]string{"login": args[0], "password": "changed"}, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Changed the password of SQL login %s (its new sessions sign in with it).\n", args[0])
			})
		},
	}
	pf.add(cmd)
	return cmd
}

func (m *Main) loginDropCommand() *cobra.Command {
	return &cobra.Command{
		Use: "drop NAME", Short: "Drop a SQL login and its rights (open sessions stay until they end)", Args: exactArgs(1, "a login name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			if err := c.DropLogin(cmd.Context(), args[0]); err != nil {
				return err
			}
			return m.emit(map[string]string{"dropped": args[0]}, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Dropped SQL login %s.\n", args[0])
			})
		},
	}
}
