package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
	"github.com/sqlink/sqlink/linkcreate"
)

// The guided operations' commands: link validate and link troubleshoot
// (the engine is package guide), and the --script output of link create
// and link failover (script.go).

// pair returns the guide.Pair of the --primary and --secondary flags.
func (ls *linkSides) pair(m *Main, cmd *cobra.Command) (guide.Pair, error) {
	cs, err := ls.clients(m, cmd, true)
	if err != nil {
		return guide.Pair{}, err
	}
	for _, c := range cs {
		if err := refuseClearTokens(c.Role, c.URL); err != nil {
			return guide.Pair{}, err
		}
	}
	return guide.Pair{Primary: cs[0].Client, Secondary: cs[1].Client, PrimaryURL: cs[0].URL, SecondaryURL: cs[1].URL}, nil
}

func (m *Main) linkValidateCommand() *cobra.Command {
	var (
		sides     linkSides
		opts      guide.Options
		databases string
		skip      string
	)
	cmd := &cobra.Command{
		Use:   "validate --name L --database DB[,DB...] --primary URL --secondary URL",
		Short: "Check everything link create needs, without changing anything",
		Long: `validate runs the checks link create runs first and prints one line per
check: pass, warning or fail, with a hint for what does not pass. It checks
the versions (and two-way support), the server collations, that each
database is a user database, ONLINE, with a full backup that starts its
chain, absent on the secondary (or RESTORING with --seed-from-backup), the
link names free, the database not already linked, the endpoints reachable
both ways with the expected certificates, the certificates' validity, the
caller's permissions on both instances, the secondary's free disk and the
primary's log cap against the seeding time.

With --json it prints {"checks":[{"name","status","message","hint"},...]}.
Exit codes: 0 nothing failed (warnings allowed), 6 a check failed.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Databases, opts.Skip = splitList(databases), splitList(skip)
			if opts.Name == "" || len(opts.Databases) == 0 {
				return errUsage(cmd, "pass --name NAME and --database DB")
			}
			pair, err := sides.pair(m, cmd)
			if err != nil {
				return err
			}
			rep, err := pair.Validate(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if err := m.emit(rep, func(w *tabwriter.Writer) { printChecks(w, rep.Checks) }); err != nil {
				return err
			}
			if failed := guide.Failed(rep.Checks); len(failed) > 0 {
				return sqlink.Errorf(sqlink.ECONFLICT, failed[0].Hint, "%d of %d validation checks failed, first: %s: %s", len(failed), len(rep.Checks), failed[0].Name, failed[0].Message)
			}
			return nil
		},
	}
	f := cmd.Flags()
	sides.addFlags(f)
	f.StringVar(&opts.Name, "name", "", "link name (with several databases, each link is NAME_DB)")
	f.StringVar(&databases, "database", "", "database to link; several separated by commas")
	f.BoolVar(&opts.TwoWay, "two-way", false, "validate for a two-way link (fail back allowed)")
	f.BoolVar(&opts.SeedFromBackup, "seed-from-backup", false, "the database is restored RESTORING on the secondary to seed from")
	f.StringVar(&opts.PrimaryEndpoint, "primary-endpoint", "", "HOST:PORT the secondary dials to reach the primary's endpoint")
	f.StringVar(&opts.SecondaryEndpoint, "secondary-endpoint", "", "HOST:PORT the primary dials to reach the secondary's endpoint")
	f.StringVar(&skip, "skip-check", "", "checks (e.g. free-disk) whose failure only warns; several separated by commas")
	return cmd
}

// printChecks prints validation checks as a table.
func printChecks(w *tabwriter.Writer, cs []adminapi.ValidationCheck) {
	fmt.Fprintln(w, "STATUS\tCHECK\tINSTANCE\tMESSAGE\tHINT")
	for _, c := range cs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(string(c.Status)), c.Name, orDash(c.Instance), c.Message, orDash(c.Hint))
	}
}

func (m *Main) linkTroubleshootCommand() *cobra.Command {
	var (
		sides  linkSides
		pe, se string
	)
	cmd := &cobra.Command{
		Use:   "troubleshoot --primary URL --secondary URL [--primary-endpoint H:P] [--secondary-endpoint H:P]",
		Short: "Probe each instance's endpoint from the other, step by step",
		Long: `troubleshoot asks each instance to probe the other's endpoint from its own
side and reports, per direction, each step with its result and time: name
resolution, TCP connect, TLS handshake with the expected certificate
(fingerprint shown), the link protocol's hello, round-trip time and clock
skew. The first failing step is named with a hint.

Exit codes: 0 both directions pass (warnings allowed), 7 a direction fails.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pair, err := sides.pair(m, cmd)
			if err != nil {
				return err
			}
			ds, err := pair.Troubleshoot(cmd.Context(), pe, se)
			if err != nil {
				return err
			}
			if err := m.emit(map[string]any{"directions": ds}, func(w *tabwriter.Writer) {
				for _, d := range ds {
					fmt.Fprintf(w, "%s -> %s (%s), expecting certificate %s\n", d.From, d.To, d.Address, d.Fingerprint)
					for _, s := range d.Steps {
						took := "-"
						if s.DurationMS > 0 {
							took = fmt.Sprintf("%.3f ms", s.DurationMS)
						}
						fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", strings.ToUpper(string(s.Status)), s.Name, took, s.Detail)
						if s.Hint != "" {
							fmt.Fprintf(w, "  \thint:\t\t%s\n", s.Hint)
						}
					}
					if d.Failed == "probe" {
						fmt.Fprintf(w, "  FAIL\t%s\n  \thint:\t%s\n", d.Message, d.Hint)
					}
				}
			}); err != nil {
				return err
			}
			for _, d := range ds {
				if !d.OK() {
					return sqlink.Errorf(sqlink.EUNAVAILABLE, d.Hint, "%s", d.Message)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	sides.addFlags(f)
	f.StringVar(&pe, "primary-endpoint", "", "HOST:PORT the secondary dials to reach the primary's endpoint (default: what the primary reports)")
	f.StringVar(&se, "secondary-endpoint", "", "HOST:PORT the primary dials to reach the secondary's endpoint (default: what the secondary reports)")
	return cmd
}

// createProgress returns link create's step reporter: JSON lines with
// --json, else a line per step; after the validate step, the checks (all
// of them as a {"event":"checks"} line, or those that did not pass as
// lines under the step).
func (m *Main) createProgress(lc *linkcreate.Creator, enc *json.Encoder) func(linkcreate.Step) {
	validated := func(s linkcreate.Step) bool {
		return s.Name == linkcreate.StepValidate && s.Status != linkcreate.StepRunning && lc.Checks != nil
	}
	if m.output == "json" {
		return func(s linkcreate.Step) {
			enc.Encode(s)
			if validated(s) {
				enc.Encode(map[string]any{"event": "checks", "checks": lc.Checks})
			}
		}
	}
	return func(s linkcreate.Step) {
		m.printStep(s)
		if validated(s) {
			for _, c := range lc.Checks {
				if c.Status != adminapi.CheckPass {
					fmt.Fprintf(m.Stdout, "      %s %s (%s): %s\n           hint: %s\n", strings.ToUpper(string(c.Status)), c.Name, orDash(c.Instance), c.Message, c.Hint)
				}
			}
		}
	}
}
