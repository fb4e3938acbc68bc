package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// The failover commands change the roles of a link's replicas through one
// instance's admin API (--server), and, given --partner, read the other
// instance too: to check that it is the link's other replica, to run a
// planned failover (or its resume or abort) there when --server cannot be
// reached, and to report both sides afterwards.

// failoverHTTPMargin is added to --timeout for the HTTP call: the server
// bounds its own waits by the timeout and then still has to answer.
const failoverHTTPMargin = 2 * time.Minute

// defaultFailoverWait bounds the HTTP call when no --timeout is given and
// the server applies its own default.
const defaultFailoverWait = 10 * time.Minute

// partnerSettle bounds how long the commands wait for the partner to report
// the new roles after the operation returned.
const partnerSettle = 15 * time.Second

// settlePoll is how often the partner is asked meanwhile: short, because
// the command's own duration is what operators (and the benchmark) time.
const settlePoll = 10 * time.Millisecond

// partnerFlags holds --partner and --partner-token.
type partnerFlags struct {
	url, token  string
	fingerprint string // --partner-fingerprint
}

// client returns the partner's client, or nil when no partner was given.
func (pf *partnerFlags) client(m *Main) (*adminapi.Client, string, error) {
	u := pf.url
	if u == "" {
		u = m.env("partner")
	}
	if u == "" {
		return nil, "", nil
	}
	u = withScheme(u)
	token := pf.token
	if token == "" {
		token = m.env("partner-token")
	}
	if token == "" {
		token = m.token
	}
	if token == "" {
		token = m.env("token")
	}
	if token == "" {
		return nil, "", sqlink.Errorf(sqlink.EUNAUTHORIZED, "pass --partner-token or set SQLINK_PARTNER_TOKEN", "no admin token given for the partner %s", u)
	}
	c, err := adminClient(u, token, m.trust(pf.fingerprint, "--partner-fingerprint", "partner-fingerprint"))
	if err != nil {
		return nil, "", err
	}
	c = c.WithUnauthorizedHint(
		fmt.Sprintf("pass --partner-token or set SQLINK_PARTNER_TOKEN to a valid token of the partner %s", u))
	return c, u, nil
}

// FailoverReport is what `sqlink link failover --json` prints: the
// server's FailoverResult, the instance that ran it and, with --partner,
// the partner's view of the link afterwards.
type FailoverReport struct {
	adminapi.FailoverResult
	Type     string               `json:"type"`
	Instance string               `json:"instance"` // admin URL of the instance that ran the operation
	Partner  *adminapi.LinkStatus `json:"partner,omitempty"`
	// PartnerError says why the partner's view is missing; PartnerDropped
	// that the partner dropped its half too (--drop-link).
	PartnerError   string `json:"partner_error,omitempty"`
	PartnerDropped bool   `json:"partner_dropped,omitempty"`
	// Nothing is set when --resume found no failover in progress.
	Nothing string `json:"nothing,omitempty"`
}

type failoverOptions struct {
	partner       partnerFlags
	force         bool
	allowDataLoss bool
	dropLink      bool
	resume, abort bool
	timeout       time.Duration
	script        bool
}

func (o failoverOptions) validate(name string) error {
	switch {
	case o.resume && o.abort:
		return sqlink.Errorf(sqlink.EINVALID, "pass either --resume or --abort", "--resume and --abort exclude each other")
	case o.force && (o.resume || o.abort):
		return sqlink.Errorf(sqlink.EINVALID, "a forced failover takes effect at once: nothing to resume or abort",
			"--force cannot be combined with --resume or --abort")
	case o.allowDataLoss && !o.force:
		return sqlink.Errorf(sqlink.EINVALID, "add --force for a forced failover, or drop --allow-data-loss for a planned one (no data loss)",
			"--allow-data-loss only applies to a forced failover")
	case o.timeout < 0:
		return sqlink.Errorf(sqlink.EINVALID, "pass a positive --timeout such as 30s", "negative --timeout %s", o.timeout)
	}
	return nil
}

func (o failoverOptions) request() adminapi.FailoverRequest {
	req := adminapi.FailoverRequest{Type: "planned", DropLink: o.dropLink, Resume: o.resume, Abort: o.abort, TimeoutSeconds: o.timeout.Seconds()}
	if o.force {
		req.Type, req.AllowDataLoss = "forced", true
	}
	return req
}

func getLink(ctx context.Context, c *adminapi.Client, name string) (adminapi.LinkStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.GetLink(ctx, name)
}

func unreachable(err error) bool {
	c := sqlink.ErrorCode(err)
	return c == sqlink.EUNAVAILABLE || c == sqlink.ETIMEOUT
}

func (m *Main) linkFailoverCommand() *cobra.Command {
	var o failoverOptions
	cmd := &cobra.Command{
		Use:   "failover NAME [--force --allow-data-loss] [--drop-link] [--resume | --abort]",
		Short: "Swap a link's roles: planned (no data loss) or forced (on the secondary, may lose data)",
		Long: `failover makes the link's secondary its primary.

A planned failover (the default) may be run on either instance (--server):
the primary switches to sync, stops new writes, waits until the secondary
has hardened its last LSN, and the roles swap at a new epoch, persisted on
both sides before the new primary takes writes. No acknowledged transaction
is lost. The link is kept (replication runs the other way; two-way links
only) or, with --drop-link, dropped so both databases become independent
and writable.

A forced failover (--force --allow-data-loss) runs on the secondary only,
works with the primary unreachable, and may lose the transactions the
secondary had not hardened: the estimated loss before and the recorded loss
after are printed. When the old primary returns, the link shows SPLIT_BRAIN
until ` + "`sqlink link set-role`" + ` designates the primary.

A planned failover interrupted by a crash or a timeout pauses; --resume
finishes it, --abort rolls it back to the old roles. With --partner (the
other instance's admin URL) the command checks the partner belongs to the
link, runs a planned failover, resume or abort there if --server cannot be
reached, and reports the partner's view afterwards.

Exit codes: 0 done, 2 refused (bad flags), 6 refused by the link's state
(e.g. one-way link without --drop-link), 7 paused or partner unreachable,
8 timed out.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && m.wantWizard(cmd) {
				return nil
			}
			return exactArgs(1, "a link name")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.wantWizard(cmd) {
				return m.linkFailoverWizard(cmd, strings.Join(args, ""))
			}
			if o.script {
				if err := o.validate(args[0]); err != nil {
					return err
				}
				m.failoverScript(m.Stdout, args[0], o)
				return nil
			}
			return m.runFailover(cmd, args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.partner.url, "partner", "", "admin API URL of the link's other instance (env SQLINK_PARTNER)")
	f.StringVar(&o.partner.token, "partner-token", "", "admin token for the partner (env SQLINK_PARTNER_TOKEN, else --token)")
	f.StringVar(&o.partner.fingerprint, "partner-fingerprint", "", "the partner's TLS certificate fingerprint (env SQLINK_PARTNER_FINGERPRINT, else --fingerprint)")
	f.BoolVar(&o.force, "force", false, "forced failover on the secondary, even with the primary unreachable (needs --allow-data-loss)")
	f.BoolVar(&o.allowDataLoss, "allow-data-loss", false, "acknowledge that a forced failover may lose transactions the secondary has not hardened")
	f.BoolVar(&o.dropLink, "drop-link", false, "drop the link after the failover: both databases become independent and writable (the only choice on a one-way link)")
	f.BoolVar(&o.resume, "resume", false, "finish a paused planned failover")
	f.BoolVar(&o.abort, "abort", false, "roll a paused planned failover back to the old roles")
	f.BoolVar(&o.script, "script", false, "print, without acting, a bash script of the commands that do the same (tokens from SQLINK_TOKEN and SQLINK_PARTNER_TOKEN)")
	f.DurationVar(&o.timeout, "timeout", 0, "bound the wait for the secondary to harden the last LSN and for transactions in flight (default: the server's)")
	addNoInput(cmd)
	return cmd
}

func (m *Main) runFailover(cmd *cobra.Command, name string, o failoverOptions) error {
	if err := o.validate(name); err != nil {
		return err
	}
	ctx := cmd.Context()
	server, err := m.client(cmd)
	if err != nil {
		return err
	}
	serverURL := m.serverURL()
	partner, partnerURL, err := o.partner.client(m)
	if err != nil {
		return err
	}
	st, err := getLink(ctx, server, name)
	if o.force && !o.allowDataLoss {
		msg := "a forced failover may lose the transactions the secondary has not hardened"
		if err == nil {
			loss := st.Local.EstimatedDataLoss
			msg = fmt.Sprintf("a forced failover of link %s onto %s would lose an estimated %d transactions (%s) now", name, orDash(st.Local.Instance), loss.Transactions, seconds(loss.Seconds))
		}
		return sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("add --allow-data-loss to accept it (sqlink link failover %s --force --allow-data-loss), or run a planned failover without --force", name), "%s", msg)
	}
	target, targetURL, other, otherURL := server, serverURL, partner, partnerURL
	if err != nil {
		// A planned failover, resume or abort may run on either instance:
		// use the partner when --server is down.
		if !unreachable(err) || partner == nil || o.force {
			return err
		}
		fmt.Fprintf(m.Stderr, "%s cannot be reached (%s); running on the partner %s.\n", serverURL, sqlink.ErrorMessage(err), partnerURL)
		if st, err = getLink(ctx, partner, name); err != nil {
			return sideError("partner", err)
		}
		target, targetURL, other, otherURL = partner, partnerURL, server, serverURL
	}
	if other != nil {
		if ps, err := getLink(ctx, other, name); err == nil && st.Partner.InstanceID != "" && ps.Local.InstanceID != st.Partner.InstanceID {
			return sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("point --partner at %s's admin API", orDash(st.Partner.Instance)),
				"%s is instance %s, not %s's partner %s in link %s", otherURL, ps.Local.Instance, orDash(st.Local.Instance), orDash(st.Partner.Instance), name)
		}
	}

	req := o.request()
	wait := defaultFailoverWait
	if o.timeout > 0 {
		wait = o.timeout + failoverHTTPMargin
	}
	cctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		if !o.force && !o.abort {
			m.watchDrain(cctx, target, name, stop)
		}
	}()
	res, err := target.Failover(cctx, name, req)
	close(stop)
	<-watched
	if err != nil {
		return m.failoverError(ctx, err, name, o, target, other, targetURL)
	}
	rep := FailoverReport{FailoverResult: res, Type: req.Type, Instance: targetURL}
	rep.Link = m.settleLink(ctx, target, name, res)
	if other != nil {
		ps, err := m.settlePartner(ctx, other, name, res, o.dropLink)
		switch {
		case err != nil && o.dropLink && sqlink.ErrorCode(err) == sqlink.ENOTFOUND:
			rep.PartnerDropped = true
		case err != nil:
			rep.PartnerError = sqlink.ErrorMessage(err)
		default:
			rep.Partner = &ps
		}
	}
	if err := m.emit(rep, func(w *tabwriter.Writer) { printFailover(w, name, o, rep) }); err != nil {
		return err
	}
	if res.Paused != "" {
		return sqlink.Errorf(sqlink.EUNAVAILABLE, fmt.Sprintf("run `sqlink link failover %s --resume` to finish it, or `--abort` to roll it back", name),
			"the failover of link %s paused: %s", name, res.Paused)
	}
	return nil
}

// failoverError explains a refused failover: a one-way link offers
// --drop-link (the server's hint when it does), and --resume with nothing left to resume reports the roles
// instead of failing.
func (m *Main) failoverError(ctx context.Context, err error, name string, o failoverOptions, target, other *adminapi.Client, targetURL string) error {
	if errors.Is(err, adminapi.ErrConnectionLost) {
		// The instance died (or restarted) while failing over: the
		// failover may have begun, and its steps are persisted.
		hint := fmt.Sprintf("once %s answers again, `sqlink link status %s` shows where the failover got to; finish it with `sqlink link failover %s --resume` (or roll it back with --abort)", targetURL, name, name)
		if o.force {
			hint = fmt.Sprintf("once %s answers again, `sqlink link status %s` shows whether it took over; a forced failover that was persisted completes by itself after the restart", targetURL, name)
		}
		return &sqlink.Error{Code: sqlink.EUNAVAILABLE, Message: sqlink.ErrorMessage(err), Hint: hint}
	}
	if sqlink.ErrorCode(err) != sqlink.ECONFLICT {
		return err
	}
	st, serr := getLink(ctx, target, name)
	if serr != nil {
		return err
	}
	if o.resume {
		// The server refused the resume because its state machine has no
		// operation left; the published statuses (its own and the
		// partner's) can trail that by a tick. Give them a moment to catch
		// up before deciding.
		partnerBusy := func() bool {
			if other == nil {
				return false
			}
			ps, perr := getLink(ctx, other, name)
			return perr == nil && ps.Failover != nil
		}
		deadline := time.Now().Add(3 * time.Second)
		for (st.Failover != nil || partnerBusy()) && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(20 * time.Millisecond):
			}
			if st, serr = getLink(ctx, target, name); serr != nil {
				return err
			}
		}
	}
	if !o.dropLink && !o.force && !o.resume && !o.abort && (!st.TwoWay || strings.Contains(sqlink.ErrorMessage(err), "one-way")) &&
		!strings.Contains(sqlink.ErrorHint(err), "--drop-link") {
		// The server's hint is shown as it is when it already offers
		// --drop-link; an older server's is replaced.
		return &sqlink.Error{Code: sqlink.ECONFLICT, Message: sqlink.ErrorMessage(err),
			Hint: fmt.Sprintf("link %s is one-way: fail over with --drop-link (sqlink link failover %s --drop-link), after which both databases are independent and writable; or recreate the link with --two-way", name, name)}
	}
	if o.resume && st.Failover == nil {
		if other != nil {
			if ps, perr := getLink(ctx, other, name); perr == nil && ps.Failover != nil {
				return err
			}
		}
		primary := st.Local.Instance
		if st.Local.Role != sqlink.RolePrimary {
			primary = st.Partner.Instance
		}
		rep := FailoverReport{Instance: targetURL, Type: "planned", Nothing: sqlink.ErrorMessage(err)}
		rep.Link, rep.NewPrimary, rep.Epoch = st, primary, st.Epoch
		return m.emit(rep, func(w *tabwriter.Writer) {
			fmt.Fprintf(w, "No failover in progress on link %s: nothing to resume.\n", name)
			fmt.Fprintf(w, "Primary:\t%s\n", orDash(primary))
			fmt.Fprintf(w, "Epoch:\t%d\n", st.Epoch)
			fmt.Fprintf(w, "State:\t%s\n", st.State)
		})
	}
	return err
}

// settleLink waits (briefly) until the instance that ran a failover
// reports the roles it set on both sides, and returns its view. The result
// the failover returned holds the partner's role as last reported before
// the swap (a tick old), which read as two primaries, or two secondaries.
func (m *Main) settleLink(ctx context.Context, c *adminapi.Client, name string, res adminapi.FailoverResult) adminapi.LinkStatus {
	l := res.Link
	if res.Paused != "" || res.NewPrimary == "" || l.Name == "" || l.State == "DROPPED" {
		return l
	}
	deadline := time.Now().Add(partnerSettle)
	for !rolesSettled(l, res.NewPrimary) && l.Local.Connected && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return l
		case <-time.After(settlePoll):
		}
		st, err := getLink(ctx, c, name)
		if err != nil {
			break
		}
		l = st
	}
	return l
}

// roleIn returns the role instance has once newPrimary is the primary.
func roleIn(instance, newPrimary string) sqlink.Role {
	if instance == newPrimary {
		return sqlink.RolePrimary
	}
	return sqlink.RoleSecondary
}

// rolesSettled says whether l shows both replicas in the roles a failover
// to newPrimary set.
func rolesSettled(l adminapi.LinkStatus, newPrimary string) bool {
	return l.Failover == nil && l.Local.Role == roleIn(l.Local.Instance, newPrimary) &&
		l.Partner.Role == roleIn(l.Partner.Instance, newPrimary)
}

// settlePartner waits (briefly) until the partner reports the roles the
// failover set, and returns its view.
func (m *Main) settlePartner(ctx context.Context, c *adminapi.Client, name string, res adminapi.FailoverResult, dropped bool) (adminapi.LinkStatus, error) {
	deadline := time.Now().Add(partnerSettle)
	for {
		ps, err := getLink(ctx, c, name)
		done := err == nil && ps.Failover == nil && (res.NewPrimary == "" ||
			(ps.Local.Instance == res.NewPrimary) == (ps.Local.Role == sqlink.RolePrimary))
		if sqlink.ErrorCode(err) == sqlink.ENOTFOUND && (dropped || res.Link.State == "DROPPED") || unreachable(err) {
			return ps, err
		}
		if done || time.Now().After(deadline) {
			return ps, err
		}
		select {
		case <-ctx.Done():
			return ps, ctx.Err()
		case <-time.After(settlePoll):
		}
	}
}

func printFailover(w *tabwriter.Writer, name string, o failoverOptions, r FailoverReport) {
	what := "Planned failover"
	switch {
	case o.force:
		what = "Forced failover"
	case o.resume:
		what = "Resumed failover"
	case o.abort:
		what = "Aborted failover"
	}
	fmt.Fprintf(w, "%s of link %s (on %s)\n", what, name, r.Instance)
	if len(r.Steps) > 0 {
		fmt.Fprintf(w, "STEP\tSTATUS\tDURATION\n")
		for i, s := range r.Steps {
			line := fmt.Sprintf("%d. %s\t%s\t%s", i+1, s.Name, s.Status, seconds(s.Duration))
			if s.Error != nil {
				line += "\t" + s.Error.Message
				if s.Error.Hint != "" {
					line += " (try: " + s.Error.Hint + ")"
				}
			}
			fmt.Fprintln(w, line)
		}
	}
	if r.Paused != "" {
		fmt.Fprintf(w, "Paused:\t%s\n", r.Paused)
	}
	if o.force {
		fmt.Fprintf(w, "Estimated loss before:\t%d transactions, %s\n", r.EstimatedLoss.Transactions, seconds(r.EstimatedLoss.Seconds))
		fmt.Fprintf(w, "Recorded loss:\t%d transactions, %s\n", r.Lost.Transactions, seconds(r.Lost.Seconds))
	}
	fmt.Fprintf(w, "New primary:\t%s\n", orDash(r.NewPrimary))
	fmt.Fprintf(w, "Epoch:\t%d\n", r.Epoch)
	if !r.FirstWriteAt.IsZero() {
		fmt.Fprintf(w, "First write at:\t%s\n", tsMillis(r.FirstWriteAt))
	}
	fmt.Fprintf(w, "Duration:\t%s\n", seconds(r.Duration))
	l := r.Link
	switch {
	case l.State == "DROPPED" || o.dropLink && r.Paused == "":
		fmt.Fprintf(w, "Link:\tdropped: both databases are independent and writable\n")
	case l.Name != "" && r.NewPrimary != "" && r.Paused == "" && !rolesSettled(l, r.NewPrimary):
		// Never two primaries (or secondaries) from a stale report: say
		// what is known.
		partner := fmt.Sprintf("%s has not confirmed its new role yet (last reported %s)", orDash(l.Partner.Instance), orDash(string(l.Partner.Role)))
		if !l.Local.Connected {
			partner = fmt.Sprintf("%s is not connected (last reported %s)", orDash(l.Partner.Instance), orDash(string(l.Partner.Role)))
		}
		fmt.Fprintf(w, "Link:\t%s, %s; %s is %s, %s\n", l.State, l.Mode, orDash(l.Local.Instance), orDash(string(l.Local.Role)), partner)
	case l.Name != "":
		fmt.Fprintf(w, "Link:\t%s, %s; %s is %s, %s is %s\n", l.State, l.Mode, orDash(l.Local.Instance), orDash(string(l.Local.Role)),
			orDash(l.Partner.Instance), orDash(string(l.Partner.Role)))
	}
	switch {
	case r.Partner != nil:
		p := r.Partner
		fmt.Fprintf(w, "Partner:\t%s sees %s as %s at epoch %d (%s)\n", orDash(p.Local.Instance), name, orDash(string(p.Local.Role)), p.Epoch, p.State)
	case r.PartnerDropped:
		fmt.Fprintf(w, "Partner:\tdropped its half of %s too\n", name)
	case r.PartnerError != "":
		fmt.Fprintf(w, "Partner:\tunavailable: %s\n", r.PartnerError)
	}
}

// SetRoleReport is what `sqlink link set-role --json` prints.
type SetRoleReport struct {
	adminapi.SetRoleResult
	Primary  string `json:"primary"`
	Instance string `json:"instance"` // admin URL of the instance that ran it
	// Loser is the instance whose diverged transactions were saved.
	Loser   string               `json:"loser,omitempty"`
	Partner *adminapi.LinkStatus `json:"partner,omitempty"`
}

func (m *Main) linkSetRoleCommand() *cobra.Command {
	var (
		partner partnerFlags
		primary string
	)
	cmd := &cobra.Command{
		Use:   "set-role NAME --primary INSTANCE",
		Short: "Resolve a split brain: designate the primary; the other side saves its diverged transactions and follows",
		Long: `set-role ends a split brain (two primaries after a forced failover) by
naming the instance that keeps its writes. The other instance saves its
transactions after the fork LSN to a SQLite file (and a listing), rewinds or
reseeds to the fork, and follows the designated primary.

The call goes to the instance that gives up its role when it can (that is
where the file is written): --server, or --partner when --server is the one
named primary and the partner has diverged transactions to save.`,
		Args: exactArgs(1, "a link name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if primary == "" {
				return errUsage(cmd, "pass --primary INSTANCE: the instance that keeps its writes")
			}
			ctx := cmd.Context()
			server, err := m.client(cmd)
			if err != nil {
				return err
			}
			serverURL := m.serverURL()
			pc, pURL, err := partner.client(m)
			if err != nil {
				return err
			}
			st, err := getLink(ctx, server, name)
			if err != nil {
				return err
			}
			isLocal := primary == st.Local.Instance || primary == st.Local.InstanceID
			isPartner := primary == st.Partner.Instance || primary == st.Partner.InstanceID
			if !isLocal && !isPartner {
				return sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("name %s or %s", orDash(st.Local.Instance), orDash(st.Partner.Instance)),
					"instance %q is not in link %s", primary, name)
			}
			target, targetURL, other := server, serverURL, pc
			loser := st.Partner.Instance
			if isPartner {
				loser = st.Local.Instance
			}
			// --server keeps its writes: ask the losing partner, which saves
			// its diverged transactions, unless it has none to save.
			nothingToSave := st.SplitBrain != nil && st.SplitBrain.DivergedPartner == 0
			if isLocal && pc != nil && !nothingToSave {
				if _, err := getLink(ctx, pc, name); err == nil {
					target, targetURL, other = pc, pURL, server
				}
			}
			cctx, cancel := context.WithTimeout(ctx, defaultFailoverWait)
			defer cancel()
			res, err := target.SetRole(cctx, name, adminapi.SetRoleRequest{Primary: primary})
			if err != nil {
				return err
			}
			rep := SetRoleReport{SetRoleResult: res, Primary: primary, Instance: targetURL, Loser: loser}
			if other != nil {
				if ps, err := m.settleSplitBrain(ctx, other, name); err == nil {
					rep.Partner = &ps
				}
			}
			return m.emit(rep, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "Link %s: %s is the primary (epoch %d); %s follows it.\n", name, primary, res.Link.Epoch, orDash(loser))
				fmt.Fprintf(w, "Fork LSN:\t%d\n", res.ForkLSN)
				fmt.Fprintf(w, "Diverged transactions:\t%d (on %s)\n", res.Diverged, orDash(loser))
				switch {
				case res.DivergedFile != "":
					fmt.Fprintf(w, "Saved to:\t%s on %s (a SQLite database: sqlite3 %s)\n", res.DivergedFile, orDash(loser), res.DivergedFile)
				case res.Diverged == 0:
					fmt.Fprintf(w, "Saved to:\t- (nothing diverged on %s)\n", orDash(loser))
				default:
					fmt.Fprintf(w, "Saved to:\t- (on %s, which has not reported the path yet: `sqlink link status %s` shows it once saved)\n", orDash(loser), name)
				}
				fmt.Fprintf(w, "Listing:\t%s\n", orDash(res.DivergedList))
				fmt.Fprintf(w, "Method:\t%s\n", orDash(res.Method))
				fmt.Fprintf(w, "State:\t%s\n", res.Link.State)
				if rep.Partner != nil {
					fmt.Fprintf(w, "Partner:\t%s sees %s as %s (%s)\n", orDash(rep.Partner.Local.Instance), name, rep.Partner.Local.Role, rep.Partner.State)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&primary, "primary", "", "name (or id) of the instance that keeps its writes")
	f.StringVar(&partner.url, "partner", "", "admin API URL of the link's other instance (env SQLINK_PARTNER)")
	f.StringVar(&partner.token, "partner-token", "", "admin token for the partner (env SQLINK_PARTNER_TOKEN, else --token)")
	f.StringVar(&partner.fingerprint, "partner-fingerprint", "", "the partner's TLS certificate fingerprint (env SQLINK_PARTNER_FINGERPRINT, else --fingerprint)")
	return cmd
}

// settleSplitBrain waits (briefly) until c no longer reports a split brain.
func (m *Main) settleSplitBrain(ctx context.Context, c *adminapi.Client, name string) (adminapi.LinkStatus, error) {
	deadline := time.Now().Add(partnerSettle)
	for {
		ps, err := getLink(ctx, c, name)
		if err == nil && ps.SplitBrain == nil && ps.State != "SPLIT_BRAIN" || unreachable(err) || time.Now().After(deadline) {
			return ps, err
		}
		select {
		case <-ctx.Done():
			return ps, ctx.Err()
		case <-time.After(settlePoll):
		}
	}
}
