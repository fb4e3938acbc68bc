package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/linkcreate"
)

// The link commands talk to one instance (--server) or to both instances
// of a link (--primary and --secondary). Creation is orchestrated from the
// client by linkcreate.Creator, which signs in to both, validates,
// exchanges certificates and creates each half, undoing what it did when a
// step fails. link.go holds the shared flags and create, drop and list;
// link_status.go the status command and its printing; link_verify.go the
// page-digest comparison; failover.go the failover commands.

// sideError prefixes an API error with the side it came from, keeping its
// code and hint.
func sideError(role string, err error) error {
	return &sqlink.Error{Code: sqlink.ErrorCode(err), Message: role + ": " + sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)}
}

// linkSides holds the --primary and --secondary flags.
type linkSides struct {
	primary, primaryToken     string
	secondary, secondaryToken string

	primaryFingerprint, secondaryFingerprint string // per-side TLS pins
}

func (ls *linkSides) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&ls.primary, "primary", "", "admin API URL of the primary instance (env SQLINK_PRIMARY)")
	fs.StringVar(&ls.primaryToken, "primary-token", "", "admin token for the primary (env SQLINK_PRIMARY_TOKEN, else --token)")
	fs.StringVar(&ls.secondary, "secondary", "", "admin API URL of the secondary instance (env SQLINK_SECONDARY)")
	fs.StringVar(&ls.secondaryToken, "secondary-token", "", "admin token for the secondary (env SQLINK_SECONDARY_TOKEN, else --token)")
	fs.StringVar(&ls.primaryFingerprint, "primary-fingerprint", "", "the primary's TLS certificate fingerprint (env SQLINK_PRIMARY_FINGERPRINT, else --fingerprint; or trust both with --ca-file)")
	fs.StringVar(&ls.secondaryFingerprint, "secondary-fingerprint", "", "the secondary's TLS certificate fingerprint (env SQLINK_SECONDARY_FINGERPRINT, else --fingerprint; or trust both with --ca-file)")
}

// sideClient is one instance a link command talks to.
type sideClient struct {
	Role   string // "primary", "secondary" or "" for --server
	URL    string
	Client *adminapi.Client
}

// clients returns the sides the flags name: --primary and/or --secondary
// (with require both when both is true), or else --server.
func (ls *linkSides) clients(m *Main, cmd *cobra.Command, both bool) ([]sideClient, error) {
	p, s := ls.primary, ls.secondary
	if p == "" {
		p = m.env("primary")
	}
	if s == "" {
		s = m.env("secondary")
	}
	if both && (p == "" || s == "") {
		return nil, errUsage(cmd, "pass both --primary URL and --secondary URL (with --primary-token and --secondary-token)")
	}
	if p == "" && s == "" {
		c, err := m.client(cmd)
		if err != nil {
			return nil, err
		}
		return []sideClient{{URL: m.serverURL(), Client: c}}, nil
	}
	token := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		if v := m.env(env); v != "" {
			return v
		}
		if m.token != "" {
			return m.token
		}
		return m.env("token")
	}
	var out []sideClient
	for _, x := range []struct{ role, url, token, flag, fp string }{
		{"primary", p, token(ls.primaryToken, "primary-token"), "--primary-token", ls.primaryFingerprint},
		{"secondary", s, token(ls.secondaryToken, "secondary-token"), "--secondary-token", ls.secondaryFingerprint},
	} {
		if x.url == "" {
			continue
		}
		if x.token == "" {
			return nil, sqlink.Errorf(sqlink.EUNAUTHORIZED, fmt.Sprintf("pass %s or set SQLINK_%s_TOKEN", x.flag, strings.ToUpper(x.role)), "no admin token given for the %s", x.role)
		}
		u := withScheme(x.url)
		c, err := adminClient(u, x.token, m.trust(x.fp, "--"+x.role+"-fingerprint", x.role+"-fingerprint"))
		if err != nil {
			return nil, err
		}
		c = c.WithUnauthorizedHint(
			fmt.Sprintf("pass %s or set SQLINK_%s_TOKEN to a valid token of the %s %s", x.flag, strings.ToUpper(x.role), x.role, u))
		out = append(out, sideClient{Role: x.role, URL: u, Client: c})
	}
	return out, nil
}

// serverURL returns the --server URL as client uses it.
func (m *Main) serverURL() string {
	u := m.server
	if u == "" {
		u = m.env("server")
	}
	if u == "" {
		u = "https://" + defaultAdminHost
	}
	return withScheme(u)
}

func (m *Main) linkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Create, monitor, verify and drop links that replicate a database to another instance",
		Long: `A link replicates one database from its primary instance to a read-only copy
on a secondary instance. Commands that need both instances take --primary and
--secondary (admin API URLs) with --primary-token and --secondary-token; the
others use --server, or both sides when given.`,
	}
	cmd.AddCommand(m.linkCreateCommand(), m.linkDropCommand(), m.linkStatusCommand(), m.linkListCommand(), m.linkVerifyCommand(), m.linkFailoverCommand(), m.linkSetRoleCommand(), m.linkValidateCommand(), m.linkTroubleshootCommand())
	return cmd
}

func (m *Main) linkCreateCommand() *cobra.Command {
	var (
		sides     linkSides
		opts      linkcreate.Options
		databases string
		mode      string
		script    bool
		wait      bool
		skip      string
	)
	cmd := &cobra.Command{
		Use:   "create --name L --database DB[,DB...] --primary URL --secondary URL",
		Short: "Create a link: validate, exchange certificates, create both halves and start seeding",
		Long: `create signs in to both instances, validates (the checks of link validate:
it refuses on any failure and shows the checks that did not pass), makes
each instance trust the other's endpoint certificate, and creates the link on the secondary, then on the primary,
which starts seeding. With several databases it creates one link per
database, named NAME_DB. A failure part-way undoes what was done, and the
error names the failed step, its cause and what to do.

With --json it prints one JSON object per line: {"event":"step",...} for
each step as it starts and ends, then {"event":"result","links":[...]} or
{"event":"error",...}; a {"event":"checks"} line follows the validate step.

--script prints, without acting, a bash script of the same commands
(tokens from SQLINK_PRIMARY_TOKEN and SQLINK_SECONDARY_TOKEN). --wait
(the default on a terminal) follows seeding with a progress bar.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.wantWizard(cmd) {
				return m.linkCreateWizard(cmd)
			}
			if script {
				m.createScript(m.Stdout, sides, opts.Name, databases, mode, opts.TwoWay, opts.SeedFromBackup, opts.PrimaryEndpoint, opts.SecondaryEndpoint, skip)
				return nil
			}
			opts.SkipChecks = splitList(skip)
			cs, err := sides.clients(m, cmd, true)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if err := refuseClearTokens(c.Role, c.URL); err != nil {
					return err
				}
			}
			opts.Databases = splitList(databases)
			opts.Mode = sqlink.Mode(strings.ToLower(mode))
			lc := &linkcreate.Creator{Primary: cs[0].Client, Secondary: cs[1].Client, PrimaryURL: cs[0].URL, SecondaryURL: cs[1].URL}
			enc := json.NewEncoder(m.Stdout)
			lc.Progress = m.createProgress(lc, enc)
			links, err := lc.Create(cmd.Context(), opts)
			if err != nil {
				if m.output == "json" {
					enc.Encode(map[string]any{"event": "error", "code": sqlink.ErrorCode(err), "message": sqlink.ErrorMessage(err), "hint": sqlink.ErrorHint(err)})
				}
				return err
			}
			if !cmd.Flags().Changed("wait") {
				wait = m.output != "json" && isTerminal(m.Stderr)
			}
			if wait {
				var names []string
				for _, l := range links {
					names = append(names, l.Name)
				}
				if err := m.watchSeeding(cmd.Context(), cs[1].Client, names, m.Stdout); err != nil {
					if m.output == "json" {
						enc.Encode(map[string]any{"event": "error", "code": sqlink.ErrorCode(err), "message": sqlink.ErrorMessage(err), "hint": sqlink.ErrorHint(err)})
					}
					return err
				}
			}
			if m.output == "json" {
				return enc.Encode(map[string]any{"event": "result", "links": links})
			}
			for _, l := range links {
				fmt.Fprintf(m.Stdout, "Created link %s (id %s): %s on %s -> %s; the secondary is %s.\n", l.Name, l.LinkID, l.Database,
					orDash(l.Primary.Local.Instance), orDash(l.Secondary.Local.Instance), orDash(string(l.Secondary.Local.DatabaseState)))
			}
			fmt.Fprintf(m.Stdout, "Follow seeding with: sqlink link status %s --primary %s --secondary %s\n", linkcreate.LinkNames(opts.Name, opts.Databases)[0], cs[0].URL, cs[1].URL)
			return nil
		},
	}
	f := cmd.Flags()
	sides.addFlags(f)
	f.StringVar(&opts.Name, "name", "", "link name (with several databases, each link is NAME_DB)")
	f.StringVar(&databases, "database", "", "database to link; several separated by commas")
	f.StringVar(&mode, "mode", "async", "async (commits do not wait) or sync (commits wait for the secondary)")
	f.BoolVar(&opts.TwoWay, "two-way", false, "allow fail back (the link can replicate the other way after a failover)")
	f.BoolVar(&opts.AutoFailover, "auto-failover", false, "fail over by itself through etcd: the primary keeps the link as an etcd lease and the secondary takes over when it expires (both instances need serve --etcd-endpoints; implies --two-way)")
	f.DurationVar(&opts.LeaseTTL, "lease-ttl", 0, "with --auto-failover: the etcd lease's TTL, whole seconds (default 10s): how long a dead primary blocks writes before its secondary takes over")
	f.Uint64Var(&opts.MaxDataLoss, "max-data-loss", 0, "with --auto-failover in async mode: the most transactions an automatic promotion may lose (default 0: none)")
	f.BoolVar(&opts.SeedFromBackup, "seed-from-backup", false, "seed from the database restored RESTORING on the secondary (ships only the log after the backup)")
	f.StringVar(&opts.PrimaryEndpoint, "primary-endpoint", "", "HOST:PORT the secondary dials to reach the primary's endpoint (default: what the primary reports)")
	f.StringVar(&opts.SecondaryEndpoint, "secondary-endpoint", "", "HOST:PORT the primary dials to reach the secondary's endpoint (default: what the secondary reports)")
	f.StringVar(&skip, "skip-check", "", "validation checks (e.g. free-disk) whose failure only warns; several separated by commas")
	f.BoolVar(&wait, "wait", false, "wait until seeding completes, showing its progress (default: on when stderr is a terminal)")
	f.BoolVar(&script, "script", false, "print, without acting, a bash script of the commands that do the same (tokens from SQLINK_PRIMARY_TOKEN and SQLINK_SECONDARY_TOKEN)")
	addNoInput(cmd)
	return cmd
}

// printStep prints a step's progress line.
func (m *Main) printStep(s linkcreate.Step) {
	switch s.Status {
	case linkcreate.StepRunning:
		fmt.Fprintf(m.Stdout, "[%d/4] %s ...\n", s.Step, s.Title)
	case linkcreate.StepOK:
		fmt.Fprintf(m.Stdout, "[%d/4] %s: ok", s.Step, s.Title)
		if s.Detail != "" {
			fmt.Fprintf(m.Stdout, " (%s)", s.Detail)
		}
		fmt.Fprintln(m.Stdout)
	default:
		fmt.Fprintf(m.Stdout, "[%d/4] %s: %s: %s\n", s.Step, s.Title, s.Status, s.Detail)
	}
}

// linkDropResult is what drop did on one side.
type linkDropResult struct {
	Instance string `json:"instance"`
	Role     string `json:"role,omitempty"`
	Result   string `json:"result"` // dropped, not_found, unreachable or an error code
	Message  string `json:"message,omitempty"`
}

func (m *Main) linkDropCommand() *cobra.Command {
	var sides linkSides
	cmd := &cobra.Command{
		Use:   "drop NAME [--primary URL --secondary URL | --server URL]",
		Short: "Drop a link; both copies become independent read/write databases",
		Long: `drop deletes the link on each instance given. An unreachable instance is
reported, not fatal: it drops its half when it hears from its partner, or run
drop against it alone later.`,
		Args: exactArgs(1, "a link name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := sides.clients(m, cmd, false)
			if err != nil {
				return err
			}
			name := args[0]
			var (
				res                           []linkDropResult
				dropped, missing, unreachable int
				fatal                         error
			)
			for _, c := range cs {
				ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
				err := c.Client.DropLink(ctx, name)
				cancel()
				r := linkDropResult{Instance: c.URL, Role: c.Role, Result: "dropped"}
				switch code := sqlink.ErrorCode(err); {
				case err == nil:
					dropped++
				case code == sqlink.ENOTFOUND:
					r.Result, r.Message = "not_found", sqlink.ErrorMessage(err)
					missing++
				case code == sqlink.EUNAVAILABLE || code == sqlink.ETIMEOUT:
					r.Result, r.Message = "unreachable", sqlink.ErrorMessage(err)
					unreachable++
				default:
					r.Result, r.Message = code, sqlink.ErrorMessage(err)
					if fatal == nil {
						fatal = err
					}
				}
				res = append(res, r)
			}
			if err := m.emit(res, func(w *tabwriter.Writer) {
				for _, r := range res {
					who := r.Instance
					if r.Role != "" {
						who = r.Role + " " + r.Instance
					}
					switch r.Result {
					case "dropped":
						fmt.Fprintf(w, "Dropped link %s on %s.\n", name, who)
					case "not_found":
						fmt.Fprintf(w, "No link %s on %s (already dropped, e.g. by its partner).\n", name, who)
					case "unreachable":
						fmt.Fprintf(w, "Could not reach %s (%s): it drops its half when it reconnects to its partner, or run `sqlink link drop %s --server %s` later.\n", who, r.Message, name, r.Instance)
					default:
						fmt.Fprintf(w, "Failed on %s: %s\n", who, r.Message)
					}
				}
			}); err != nil {
				return err
			}
			switch {
			case fatal != nil:
				return fatal
			case dropped == 0 && unreachable == 0:
				return sqlink.Errorf(sqlink.ENOTFOUND, "list links with `sqlink link list`", "no link named %s", name)
			case dropped == 0:
				return sqlink.Errorf(sqlink.EUNAVAILABLE, "check that the instances are running and retry", "could not reach any instance to drop link %s", name)
			}
			_ = missing
			return nil
		},
	}
	sides.addFlags(cmd.Flags())
	return cmd
}

func (m *Main) linkListCommand() *cobra.Command {
	var sides linkSides
	cmd := &cobra.Command{
		Use: "list", Short: "List the links of an instance", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := sides.clients(m, cmd, false)
			if err != nil {
				return err
			}
			var all []adminapi.LinkStatus
			for _, c := range cs {
				ls, err := c.Client.ListLinks(cmd.Context())
				if err != nil {
					return err
				}
				all = append(all, ls...)
			}
			return m.emit(all, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NAME\tDATABASE\tINSTANCE\tROLE\tPARTNER\tMODE\tSTATE\tSYNC\tCONNECTED\tLAG\tEPOCH")
				for _, l := range all {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\t%d\n", l.Name, l.Database, orDash(l.Local.Instance), l.Local.Role,
						orDash(l.Partner.Instance), l.Mode, l.State, l.Local.SyncState, l.Local.Connected, seconds(l.Local.SecondaryLag), l.Epoch)
				}
			})
		},
	}
	sides.addFlags(cmd.Flags())
	return cmd
}

func orHint(h, def string) string {
	if h != "" {
		return h
	}
	return def
}
