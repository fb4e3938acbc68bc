package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
)

// sessionCommand lists and ends SQL client sessions: the admin API's view
// of pg_stat_activity and pg_terminate_backend.
func (m *Main) sessionCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "session", Short: "List and end SQL client sessions"}
	list := &cobra.Command{
		Use: "list", Short: "List SQL client sessions (as pg_stat_activity shows them)", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			ss, err := c.ListSessions(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			return m.emit(ss, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "PID\tUSER\tDATABASE\tCLIENT\tSTATE\tWAITING\tSINCE\tQUERY")
				for _, s := range ss {
					client := "-"
					if s.ClientAddr != "" {
						client = s.ClientAddr + ":" + strconv.Itoa(s.ClientPort)
					}
					since := "-"
					if s.StateChange != nil {
						since = now.Sub(*s.StateChange).Round(time.Second).String()
					}
					wait := orDash(s.WaitEvent)
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.PID, s.Usename, s.Datname, client, s.State, wait, since, oneLine(s.Query, 60))
				}
			})
		},
	}
	kill := &cobra.Command{
		Use: "kill PID", Short: "End a session: its statement stops, its transaction rolls back", Args: exactArgs(1, "a session pid"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := strconv.ParseUint(args[0], 10, 31)
			if err != nil || pid == 0 {
				return sqlink.Errorf(sqlink.EINVALID, "use a pid from sqlink session list", "invalid session pid %q", args[0])
			}
			c, err := m.client(cmd)
			if err != nil {
				return err
			}
			if err := c.TerminateSession(cmd.Context(), uint32(pid)); err != nil {
				return err
			}
			return m.emit(map[string]any{"terminated": pid}, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Terminated session %d.\n", pid)
			})
		},
	}
	cmd.AddCommand(list, kill)
	return cmd
}

// oneLine flattens s to one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return orDash(s)
}
