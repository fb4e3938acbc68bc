package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

func (m *Main) linkStatusCommand() *cobra.Command {
	var sides linkSides
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show a link's replicas in detail: roles, LSNs, queues, lag, seeding, errors",
		Long: `status shows each replica of the link as an instance sees it: its own
replica in detail and its partner as last heard of. Against --server it asks
one instance; with --primary and --secondary it asks both. Without NAME it
shows every link.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return errUsage(cmd, "expected at most one link name")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := sides.clients(m, cmd, false)
			if err != nil {
				return err
			}
			get := func(c *adminapi.Client) ([]adminapi.LinkStatus, error) {
				if len(args) == 1 {
					l, err := c.GetLink(cmd.Context(), args[0])
					return []adminapi.LinkStatus{l}, err
				}
				return c.ListLinks(cmd.Context())
			}
			if len(cs) == 1 && cs[0].Role == "" {
				ls, err := get(cs[0].Client)
				if err != nil {
					return err
				}
				var v any = ls
				if len(args) == 1 {
					v = ls[0]
				}
				return m.emit(v, func(w *tabwriter.Writer) {
					for i, l := range ls {
						if i > 0 {
							fmt.Fprintln(w)
						}
						printLinkStatus(w, l)
					}
					if len(ls) == 0 {
						fmt.Fprintln(w, "No links.")
					}
				})
			}
			// Both sides (or one named side): report each, an unreachable
			// one included.
			type sideStatus struct {
				Instance string                `json:"instance"`
				Links    []adminapi.LinkStatus `json:"links,omitempty"`
				Error    *adminapi.ErrorBody   `json:"error,omitempty"`
			}
			out := map[string]sideStatus{}
			var firstErr error
			for _, c := range cs {
				ls, err := get(c.Client)
				st := sideStatus{Instance: c.URL, Links: ls}
				if err != nil {
					st.Links = nil
					st.Error = &adminapi.ErrorBody{Code: sqlink.ErrorCode(err), Message: sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)}
					if firstErr == nil {
						firstErr = err
					}
				}
				out[c.Role] = st
			}
			if err := m.emit(out, func(w *tabwriter.Writer) {
				for i, c := range cs {
					st := out[c.Role]
					if i > 0 {
						fmt.Fprintln(w)
					}
					fmt.Fprintf(w, "== as seen from the %s (%s) ==\n", c.Role, c.URL)
					if st.Error != nil {
						fmt.Fprintf(w, "unavailable: %s\n", st.Error.Message)
						if st.Error.Hint != "" {
							fmt.Fprintf(w, "Try: %s\n", st.Error.Hint)
						}
						continue
					}
					for j, l := range st.Links {
						if j > 0 {
							fmt.Fprintln(w)
						}
						printLinkStatus(w, l)
					}
				}
			}); err != nil {
				return err
			}
			if len(out) == len(cs) && firstErr != nil {
				for _, st := range out {
					if st.Error == nil {
						return nil // one side answered: report, don't fail
					}
				}
				return firstErr
			}
			return nil
		},
	}
	sides.addFlags(cmd.Flags())
	return cmd
}

// printLinkStatus prints every field of a link as one instance sees it.
func printLinkStatus(w *tabwriter.Writer, l adminapi.LinkStatus) {
	twoWay := "one-way"
	if l.TwoWay {
		twoWay = "two-way"
	}
	fmt.Fprintf(w, "Link:\t%s (id %s)\n", l.Name, orDash(l.LinkID))
	fmt.Fprintf(w, "Database:\t%s\n", l.Database)
	fmt.Fprintf(w, "Mode:\t%s, %s\n", l.Mode, twoWay)
	fmt.Fprintf(w, "State:\t%s\n", l.State)
	fmt.Fprintf(w, "Epoch:\t%d\n", l.Epoch)
	if l.Failover != nil {
		fmt.Fprintf(w, "Failover:\t%s, step %s%s\n", l.Failover.Type, l.Failover.Step, map[bool]string{true: " (paused: " + l.Failover.Paused + ")", false: ""}[l.Failover.Paused != ""])
	}
	if l.SplitBrain != nil {
		fmt.Fprintf(w, "Split brain:\tfork at LSN %d; %d local and %d partner transactions diverged\n", l.SplitBrain.ForkLSN, l.SplitBrain.DivergedLocal, l.SplitBrain.DivergedPartner)
	}
	if len(l.History) > 0 {
		var hs []string
		for _, h := range l.History {
			hs = append(hs, fmt.Sprintf("epoch %d from LSN %d", h.Epoch, h.FirstLSN))
		}
		fmt.Fprintf(w, "History:\t%s\n", strings.Join(hs, ", "))
	}
	printAutoFailover(w, l.AutoFailover)
	a, b := l.Local, l.Partner
	fmt.Fprintf(w, "\tLOCAL\tPARTNER\n")
	row := func(name string, f func(r adminapi.ReplicaStatus) string) {
		fmt.Fprintf(w, "%s\t%s\t%s\n", name, f(a), f(b))
	}
	row("Instance", func(r adminapi.ReplicaStatus) string { return orDash(r.Instance) })
	row("Instance ID", func(r adminapi.ReplicaStatus) string { return orDash(r.InstanceID) })
	row("Endpoint", func(r adminapi.ReplicaStatus) string { return orDash(r.Endpoint) })
	row("Role", func(r adminapi.ReplicaStatus) string { return orDash(string(r.Role)) })
	row("Synchronization state", func(r adminapi.ReplicaStatus) string { return orDash(string(r.SyncState)) })
	row("Synchronization health", func(r adminapi.ReplicaStatus) string { return orDash(r.Health) })
	row("Connected", func(r adminapi.ReplicaStatus) string { return yesNo(r.Connected) })
	row("Database state", func(r adminapi.ReplicaStatus) string {
		s := orDash(string(r.DatabaseState))
		if r.ReadOnly {
			s += ", read-only"
		}
		return s
	})
	lsnRow := func(name string, lsn func(r adminapi.ReplicaStatus) (sqlink.LSN, time.Time)) {
		row(name, func(r adminapi.ReplicaStatus) string {
			n, t := lsn(r)
			return fmt.Sprintf("%d at %s", n, tsMillis(t))
		})
	}
	lsnRow("Last sent LSN", func(r adminapi.ReplicaStatus) (sqlink.LSN, time.Time) { return r.LastSentLSN, r.LastSentTime })
	lsnRow("Last received LSN", func(r adminapi.ReplicaStatus) (sqlink.LSN, time.Time) { return r.LastReceivedLSN, r.LastReceivedTime })
	lsnRow("Last hardened LSN", func(r adminapi.ReplicaStatus) (sqlink.LSN, time.Time) { return r.LastHardenedLSN, r.LastHardenedTime })
	lsnRow("Last redone LSN", func(r adminapi.ReplicaStatus) (sqlink.LSN, time.Time) { return r.LastRedoneLSN, r.LastRedoneTime })
	lsnRow("Last commit LSN", func(r adminapi.ReplicaStatus) (sqlink.LSN, time.Time) { return r.LastCommitLSN, r.LastCommitTime })
	row("Log send queue", func(r adminapi.ReplicaStatus) string {
		return fmt.Sprintf("%s (%s/s)", bytesHuman(r.LogSendQueueBytes), bytesHuman(int64(r.LogSendRate)))
	})
	row("Redo queue", func(r adminapi.ReplicaStatus) string {
		return fmt.Sprintf("%s (%s/s)", bytesHuman(r.RedoQueueBytes), bytesHuman(int64(r.RedoRate)))
	})
	row("Secondary lag", func(r adminapi.ReplicaStatus) string { return seconds(r.SecondaryLag) })
	row("Harden / replay lag", func(r adminapi.ReplicaStatus) string {
		if r.Role != sqlink.RolePrimary {
			return "-"
		}
		return seconds(r.HardenLag) + " / " + seconds(r.ReplayLag)
	})
	row("Estimated data loss", func(r adminapi.ReplicaStatus) string {
		return fmt.Sprintf("%d transactions, %s", r.EstimatedDataLoss.Transactions, seconds(r.EstimatedDataLoss.Seconds))
	})
	row("Log kept", func(r adminapi.ReplicaStatus) string {
		if r.LogCapBytes > 0 {
			return fmt.Sprintf("%s of %s cap", bytesHuman(r.LogBytes), bytesHuman(r.LogCapBytes))
		}
		return bytesHuman(r.LogBytes)
	})
	row("Partner cert expiry", func(r adminapi.ReplicaStatus) string { return certExpiryText(r.PartnerCertExpiry, time.Now()) })
	row("Epoch", func(r adminapi.ReplicaStatus) string { return strconv.FormatUint(uint64(r.Epoch), 10) })
	// Long values go on lines of their own, so they do not widen the table.
	fmt.Fprintf(w, "Seeding (local):\t%s\n", seedingText(a.Seeding))
	fmt.Fprintf(w, "Seeding (partner):\t%s\n", seedingText(b.Seeding))
	fmt.Fprintf(w, "Last error (local):\t%s\n", linkErrorText(a.LastError))
	fmt.Fprintf(w, "Last error (partner):\t%s\n", linkErrorText(b.LastError))
	for _, x := range []struct {
		side string
		r    adminapi.ReplicaStatus
	}{{"local", a}, {"partner", b}} {
		if d := x.r.DivergedSaved; d != nil {
			fmt.Fprintf(w, "Diverged saved (%s):\t%d transactions after LSN %d in %s on %s\n", x.side, d.Transactions, d.ForkLSN, d.File, orDash(x.r.Instance))
		}
	}
}

// certExpiryText formats a certificate's expiry, flagged when it is near
// (the link stops at the partner's next reconnection once it has passed).
func certExpiryText(t, now time.Time) string {
	if t.IsZero() {
		return ts(t)
	}
	switch left := t.Sub(now); {
	case left <= 0:
		return ts(t) + " (EXPIRED: rotate it there, sqlink cert rotate, and trust the new one here)"
	case left < 30*24*time.Hour:
		return fmt.Sprintf("%s (in %d days: rotate it there, sqlink cert rotate)", ts(t), int(left.Hours()/24))
	}
	return ts(t)
}

// linkErrorText formats a link's last error with its time and hint.
func linkErrorText(e *adminapi.LinkError) string {
	if e == nil {
		return "-"
	}
	s := fmt.Sprintf("%s at %s: %s", e.Code, ts(e.Time), e.Message)
	if e.Hint != "" && !strings.Contains(e.Message, e.Hint) {
		s += " (try: " + e.Hint + ")"
	}
	return s
}

// seedingText describes seeding progress with its estimated finish.
func seedingText(s *adminapi.SeedingStatus) string {
	if s == nil {
		return "-"
	}
	pct := 0.0
	if s.BytesTotal > 0 {
		pct = 100 * float64(s.BytesDone) / float64(s.BytesTotal)
	}
	out := fmt.Sprintf("%s %s of %s (%.0f%%) at %s/s", s.State, bytesHuman(s.BytesDone), bytesHuman(s.BytesTotal), pct, bytesHuman(int64(s.RateBytes)))
	if !s.EstimatedEnd.IsZero() && s.State != "COMPLETED" {
		out += fmt.Sprintf(", ETA %s (in %s)", ts(s.EstimatedEnd), time.Until(s.EstimatedEnd).Round(time.Second))
	}
	out += fmt.Sprintf(", seed LSN %d, attempt %d", s.SeedLSN, s.Attempts)
	if s.FromBackup {
		out += ", from backup"
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func seconds(s float64) string {
	if s == 0 {
		return "0s"
	}
	return strconv.FormatFloat(s, 'f', 3, 64) + "s"
}

func tsMillis(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05.000")
}
