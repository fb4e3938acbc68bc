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
)

// VerifyResult compares two copies' page digests.
type VerifyResult struct {
	Link            string     `json:"link"`
	LSN             sqlink.LSN `json:"lsn"`
	Equal           bool       `json:"equal"`
	Pages           int64      `json:"pages"`
	PrimaryPages    int64      `json:"primary_pages"`
	SecondaryPages  int64      `json:"secondary_pages"`
	DifferingPages  []int64    `json:"differing_pages,omitempty"` // first ones, page 1 first
	DifferingCount  int64      `json:"differing_count"`
	PageSizeDiffers bool       `json:"page_size_differs,omitempty"`
}

// compareDigests compares two page digests.
func compareDigests(name string, p, s adminapi.PageDigest) VerifyResult {
	r := VerifyResult{Link: name, LSN: p.LSN, PrimaryPages: p.PageCount, SecondaryPages: s.PageCount, Pages: p.PageCount}
	r.PageSizeDiffers = p.PageSize != s.PageSize
	n := max(len(p.Pages), len(s.Pages))
	for i := 0; i < n; i++ {
		if i < len(p.Pages) && i < len(s.Pages) && p.Pages[i] == s.Pages[i] {
			continue
		}
		r.DifferingCount++
		if len(r.DifferingPages) < 20 {
			r.DifferingPages = append(r.DifferingPages, int64(i+1))
		}
	}
	r.Equal = r.DifferingCount == 0 && !r.PageSizeDiffers && p.PageCount == s.PageCount && p.LSN == s.LSN
	return r
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
			var (
				pd, sd adminapi.PageDigest
				last   error
			)
			prog := m.newProgress("verify", "pages", 0, m.Stderr)
			for {
				last = func() error {
					if fixed == 0 {
						st, err := p.GetLink(ctx, name)
						if err != nil {
							return sideError("primary", err)
						}
						if st.Local.Role != sqlink.RolePrimary {
							return sqlink.Errorf(sqlink.EINVALID, "swap --primary and --secondary", "%s is not the primary of link %s (its role is %s)", cs[0].URL, name, st.Local.Role)
						}
					}
					// Without --lsn the primary takes its digest where it
					// stands (lsn 0) and has the secondary hold its apply at
					// that LSN, so the two meet while writes go on.
					var err error
					prog.Set(0, 0)
					if pd, err = p.LinkDigest(ctx, name, fixed); err != nil {
						return sideError("primary", err)
					}
					prog.Set(pd.PageCount, 2*pd.PageCount)
					if sd, err = s.LinkDigest(ctx, name, pd.LSN); err != nil {
						return sideError("secondary", err)
					}
					prog.Set(pd.PageCount+sd.PageCount, pd.PageCount+sd.PageCount)
					return nil
				}()
				if last == nil {
					break
				}
				switch sqlink.ErrorCode(last) {
				case sqlink.EINVALID, sqlink.EUNAUTHORIZED, sqlink.EFORBIDDEN, sqlink.ENOTIMPLEMENTED:
					prog.End(last)
					return last
				}
				select {
				case <-ctx.Done():
					prog.End(ctx.Err())
					return &sqlink.Error{Code: sqlink.ETIMEOUT, Message: fmt.Sprintf("no digest of link %s at a common LSN after %s: %s", name, timeout, sqlink.ErrorMessage(last)),
						Hint: orHint(sqlink.ErrorHint(last), "stop writes on the primary, or pass a longer --timeout")}
				case <-time.After(200 * time.Millisecond):
				}
			}
			prog.End(nil)
			r := compareDigests(name, pd, sd)
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
				if sd.LSN != pd.LSN {
					fmt.Fprintf(w, "digests are at different LSNs: primary %d, secondary %d\n", pd.LSN, sd.LSN)
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
