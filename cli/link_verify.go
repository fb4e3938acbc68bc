package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
)

// VerifyResult compares two copies' page digests (guide.VerifyResult).
type VerifyResult = guide.VerifyResult

// compareDigests compares two page digests.
func compareDigests(name string, p, s adminapi.PageDigest) VerifyResult {
	return guide.CompareDigests(name, p, s)
}

func (m *Main) linkVerifyCommand() *cobra.Command {
	var (
		sides   linkSides
		lsnFlag string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "verify NAME --primary URL --secondary URL",
		Short: "Prove that both copies are page-for-page identical at the primary's current LSN",
		Long: `verify asks the primary for its page checksums where it stands, then the
secondary for its own at the same LSN (the primary has it hold its apply
there, so this works while writes go on), and compares them page by page.
It exits non-zero (6) when they differ.`,
		Args: exactArgs(1, "a link name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := sides.clients(m, cmd, true)
			if err != nil {
				return err
			}
			name := args[0]
			p, s := cs[0].Client, cs[1].Client
			var fixed sqlink.LSN
			if lsnFlag != "" {
				if fixed, err = sqlink.ParseLSN(lsnFlag); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			prog := m.newProgress("verify", "pages", 0, m.Stderr)
			r, err := guide.Verify(ctx, p, s, name, guide.VerifyOptions{LSN: fixed, PrimaryName: cs[0].URL, SecondaryName: cs[1].URL,
				Progress: prog.Set, SwapHint: "swap --primary and --secondary", TimeoutHint: "stop writes on the primary, or pass a longer --timeout",
				TimeoutNote: " after " + timeout.String()})
			prog.End(err)
			if err != nil {
				return err
			}
			if err := m.emit(r, func(w *tabwriter.Writer) {
				if r.Equal {
					fmt.Fprintf(w, "equal at LSN %d (%d pages)\n", r.LSN, r.Pages)
					return
				}
				fmt.Fprintf(w, "DIFFERENT at LSN %d: primary %d pages, secondary %d pages, %d pages differ\n", r.LSN, r.PrimaryPages, r.SecondaryPages, r.DifferingCount)
				if len(r.DifferingPages) > 0 {
					var ps []string
					for _, n := range r.DifferingPages {
						ps = append(ps, strconv.FormatInt(n, 10))
					}
					fmt.Fprintf(w, "first differing pages: %s\n", strings.Join(ps, ", "))
				}
				if r.SecondaryLSN != r.LSN {
					fmt.Fprintf(w, "digests are at different LSNs: primary %d, secondary %d\n", r.LSN, r.SecondaryLSN)
				}
			}); err != nil {
				return err
			}
			if !r.Equal {
				return sqlink.Errorf(sqlink.ECONFLICT, "check both instances' logs; reseed the secondary by dropping and re-creating the link",
					"the copies of link %s differ at LSN %d (%d pages)", name, r.LSN, r.DifferingCount)
			}
			return nil
		},
	}
	sides.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&lsnFlag, "lsn", "", "compare at this LSN instead of the primary's current one")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the secondary to reach the LSN")
	return cmd
}
