package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
	"github.com/sqlink/sqlink/linkcreate"
)

// linkWizard is the state of the New Link wizard.
type linkWizard struct {
	m   *Main
	ctx context.Context
	w   *wizard
	p   *tea.Program

	// Primary sign-in (asked only when --server/--token do not say).
	askPrimary                     bool
	pURL, pToken, pFP              *wizField
	name, twoWay, troubleshoot     *wizField
	sURL, sToken, sFP, caFile      *wizField
	mode, seedBackup, pEnd, sEnd   *wizField
	primary, secondary             *adminapi.Client
	pInfo, sInfo                   adminapi.InstanceStatus
	reqChecks                      []adminapi.ValidationCheck
	eligible                       []adminapi.DatabaseInfo
	notEligible                    map[string]string
	dbFields                       []*wizField
	valChecks                      []adminapi.ValidationCheck
	directions                     []guide.Direction
	validated, requirementsPassed  bool
	validating                     bool
	showScript                     bool
	steps                          []linkcreate.Step
	seeding                        map[string]*adminapi.SeedingStatus
	links                          []linkcreate.Link
	execErr                        error
	finalLinks                     []adminapi.LinkStatus
	cancelExec                     context.CancelFunc
	signedInNote, reqNote, valNote string
}

func (lw *linkWizard) databases() []string {
	var out []string
	for _, f := range lw.dbFields {
		if f.on {
			out = append(out, f.key)
		}
	}
	return out
}

func (lw *linkWizard) options() linkcreate.Options {
	return linkcreate.Options{Name: lw.name.value(), Databases: lw.databases(), Mode: sqlink.Mode(lw.mode.value()), TwoWay: lw.twoWay.on,
		SeedFromBackup: lw.seedBackup.on, PrimaryEndpoint: lw.pEnd.value(), SecondaryEndpoint: lw.sEnd.value()}
}

// sides returns the answers as link create's flags.
func (lw *linkWizard) sides() linkSides {
	return linkSides{primary: lw.primaryURL(), secondary: withScheme(lw.sURL.value()), primaryFingerprint: lw.pFP.value(), secondaryFingerprint: lw.sFP.value()}
}

func (lw *linkWizard) primaryURL() string {
	if lw.askPrimary {
		return withScheme(lw.pURL.value())
	}
	return lw.m.serverURL()
}

// bg runs fn in the background and applies its result on the wizard's
// goroutine.
func (lw *linkWizard) bg(fn func() func()) tea.Cmd {
	lw.w.running = true
	return func() tea.Msg {
		apply := fn()
		return wizMsg(func() { lw.w.running = false; apply() })
	}
}

func (m *Main) linkCreateWizard(cmd *cobra.Command) error {
	lw := &linkWizard{m: m, ctx: cmd.Context(), seeding: map[string]*adminapi.SeedingStatus{}}
	token := m.token
	if token == "" {
		token = m.env("token")
	}
	lw.askPrimary = token == ""
	lw.pURL = textField("url", "Admin API URL", m.serverURL(), "the primary instance's admin API, e.g. https://alpha:7433")
	lw.pToken = secretField("token", "Admin token", "", "an admin token of the primary (init printed the sysadmin token)")
	lw.pFP = textField("fingerprint", "TLS fingerprint", orEnv(m.fingerprint, m.env("fingerprint")), "SHA-256 of its self-signed certificate; leave empty to trust --ca-file or the system's CAs")
	lw.name = textField("name", "Link name", "", "with several databases each link is NAME_DATABASE")
	lw.twoWay = checkField("two-way", "Two-way disaster recovery (allow fail back after a failover)", false, "")
	lw.troubleshoot = checkField("troubleshoot", "Connectivity troubleshooting: probe the endpoints both ways during validation", true, "")
	lw.sURL = textField("surl", "Admin API URL", m.env("secondary"), "the secondary instance's admin API, e.g. https://beta:7433")
	lw.sToken = secretField("stoken", "Admin token", m.env("secondary-token"), "an admin token of the secondary")
	lw.sFP = textField("sfp", "TLS fingerprint", m.env("secondary-fingerprint"), "SHA-256 of its self-signed certificate (or use the CA file below)")
	lw.caFile = textField("ca", "CA file", orEnv(m.caFile, m.env("ca-file")), "PEM file of the CAs that sign the admin certificates (optional)")
	lw.mode = choiceField("mode", "Mode", []string{"async", "sync"}, "async: commits do not wait; sync: commits wait for the secondary")
	lw.seedBackup = checkField("seed", "Seed from a backup restored RESTORING on the secondary", false, "")
	lw.pEnd = textField("pend", "Primary endpoint", "", "HOST:PORT the secondary dials (empty: what the primary reports)")
	lw.sEnd = textField("send", "Secondary endpoint", "", "HOST:PORT the primary dials (empty: what the secondary reports)")

	w := &wizard{name: "New Link wizard"}
	lw.w = w
	w.pages = []*wizPage{
		{title: "Introduction", body: func() string {
			return `This wizard creates a link: it replicates a database of this (primary)
instance to a read-only copy on a secondary instance.

You will need:
  - a full backup of each database to link (sqlink backup DB --to FILE),
  - the secondary's admin API URL, an admin token and its TLS fingerprint,
  - both replication endpoints reachable from the other instance.

Nothing changes until you select Finish on the Summary page.
`
		}},
		{title: "Primary", fields: []*wizField{lw.pURL, lw.pToken, lw.pFP}, skip: func() bool { return !lw.askPrimary },
			body: func() string { return "Sign in to the primary instance: the one that has the database.\n" },
			next: func() error { return lw.connectPrimary() }},
		{title: "Link options", fields: []*wizField{lw.name, lw.twoWay, lw.troubleshoot}, next: func() error {
			if lw.name.value() == "" {
				return sqlink.Errorf(sqlink.EINVALID, "type a name for the link", "no link name given")
			}
			return nil
		}},
		{title: "Requirements", enter: func() tea.Cmd { return lw.runRequirements() }, body: lw.requirementsBody,
			keys: []wizKey{{key: "r", help: "re-run validation", do: func() tea.Cmd { return lw.runRequirements() }}},
			next: func() error {
				if !lw.requirementsPassed {
					return sqlink.Errorf(sqlink.ECONFLICT, "resolve the requirements that are not met, then press r to re-run validation", "requirements not met")
				}
				return nil
			}},
		{title: "Select databases", enter: lw.enterDatabases, body: lw.databasesBody, next: func() error {
			if len(lw.databases()) == 0 {
				return sqlink.Errorf(sqlink.EINVALID, "select a database with Space", "no database selected")
			}
			return nil
		}},
		{title: "Secondary replica", fields: []*wizField{lw.sURL, lw.sToken, lw.sFP, lw.caFile, lw.mode, lw.seedBackup, lw.pEnd, lw.sEnd},
			body: func() string {
				return "Sign in to the secondary instance, then review the endpoint settings.\n" + lw.signedInNote
			},
			next: func() error { return lw.connectSecondary() }},
		{title: "Validation", enter: func() tea.Cmd { return lw.runValidation() }, body: lw.validationBody,
			keys: []wizKey{{key: "r", help: "re-run validation", do: func() tea.Cmd { return lw.runValidation() }}},
			next: func() error {
				if !lw.validated {
					return sqlink.Errorf(sqlink.ECONFLICT, "resolve the failed checks, then press r to re-run validation", "validation did not pass")
				}
				return nil
			}},
		{title: "Summary", body: lw.summaryBody, finish: true, enter: func() tea.Cmd { lw.showScript = false; return nil },
			keys: []wizKey{{key: "s", help: "Script", do: func() tea.Cmd { lw.showScript = !lw.showScript; return nil }}}},
		{title: "Executing", noBack: true, enter: lw.execute, body: lw.executingBody,
			keys: []wizKey{{key: "ctrl+c", do: func() tea.Cmd {
				if lw.cancelExec != nil {
					lw.cancelExec()
				}
				return nil
			}}}},
		{title: "Results", noBack: true, last: true, body: lw.resultsBody},
	}
	if !lw.askPrimary {
		if err := lw.connectPrimary(); err != nil {
			return err
		}
	}
	if _, err := m.runWizard(w, func(p *tea.Program) { lw.p = p }); err != nil {
		return err
	}
	// Closing Results with Enter, Esc or Ctrl-C alike: a failed creation
	// is the command's error (exit code).
	return lw.execErr
}

func orEnv(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (lw *linkWizard) connectPrimary() error {
	m := lw.m
	u, token, fp := m.serverURL(), orEnv(m.token, m.env("token")), ""
	if lw.askPrimary {
		u, token, fp = withScheme(lw.pURL.value()), lw.pToken.value(), lw.pFP.value()
		if token == "" {
			return sqlink.Errorf(sqlink.EUNAUTHORIZED, "type the primary's admin token", "no admin token given for the primary")
		}
	}
	if err := refuseClearTokens("primary", u); err != nil {
		return err
	}
	c, err := adminClient(u, token, m.trust(fp, "--fingerprint", ""))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(lw.ctx, 15*time.Second)
	defer cancel()
	info, err := c.Info(ctx)
	if err != nil {
		return sideError("primary", err)
	}
	lw.primary, lw.pInfo = c, info
	lw.pFP.input.SetValue(m.trust(fp, "", "").Fingerprint)
	return nil
}

// runRequirements checks what the primary alone must meet: each database
// is a user database, ONLINE, has a full backup and is in no link.
func (lw *linkWizard) runRequirements() tea.Cmd {
	lw.reqNote = "Validating..."
	return lw.bg(func() func() {
		ctx, cancel := context.WithTimeout(lw.ctx, 30*time.Second)
		defer cancel()
		var checks []adminapi.ValidationCheck
		eligible, not := []adminapi.DatabaseInfo{}, map[string]string{}
		info, err := lw.primary.Info(ctx)
		if err != nil {
			checks = append(checks, adminapi.ValidationCheck{Name: guide.CheckSignIn, Status: adminapi.CheckFail, Message: "primary: " + sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)})
			return func() { lw.reqChecks, lw.requirementsPassed, lw.reqNote = checks, false, "" }
		}
		checks = append(checks, adminapi.ValidationCheck{Name: guide.CheckSignIn, Status: adminapi.CheckPass, Instance: info.Name,
			Message: fmt.Sprintf("signed in to the primary %s (version %s)", info.Name, info.Version)})
		dbs, err := lw.primary.ListDatabases(ctx)
		if err != nil {
			checks = append(checks, adminapi.ValidationCheck{Name: "databases", Status: adminapi.CheckFail, Message: sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)})
		}
		links, _ := lw.primary.ListLinks(ctx)
		for _, d := range dbs {
			full, err := lw.primary.GetDatabase(ctx, d.Name)
			if err != nil {
				full = d
			}
			var bad []string
			for _, c := range []adminapi.ValidationCheck{guide.UserDatabase(info.Name, d.Name), guide.PrimaryDatabase(info.Name, d.Name, full, true),
				guide.FullBackup(info.Name, d.Name, full), guide.NotLinked(info.Name, sqlink.RolePrimary, d.Name, links)} {
				checks = append(checks, c)
				if c.Status == adminapi.CheckFail {
					bad = append(bad, c.Message)
				}
			}
			if len(bad) == 0 {
				eligible = append(eligible, full)
			} else {
				not[d.Name] = strings.Join(bad, "; ")
			}
		}
		return func() {
			lw.reqChecks, lw.eligible, lw.notEligible, lw.reqNote = checks, eligible, not, ""
			lw.requirementsPassed = len(eligible) > 0
			if len(dbs) == 0 {
				lw.reqNote = "The primary has no database: create one first (sqlink db create NAME)."
			}
		}
	})
}

func checkLines(cs []adminapi.ValidationCheck) string {
	var b strings.Builder
	for _, c := range cs {
		mark := map[adminapi.CheckStatus]string{adminapi.CheckPass: "[ok]  ", adminapi.CheckWarning: "[warn]", adminapi.CheckFail: "[FAIL]"}[c.Status]
		if mark == "" {
			mark = "[" + string(c.Status) + "]"
		}
		fmt.Fprintf(&b, "%s %-26s %s\n", mark, c.Name, c.Message)
		if c.Status != adminapi.CheckPass && c.Hint != "" {
			fmt.Fprintf(&b, "       %-26s Try: %s\n", "", c.Hint)
		}
	}
	return b.String()
}

// fitChecks renders the checks; when they and extra other lines do not
// fit a terminal of height lines, the passed ones take a single line.
func fitChecks(checks []adminapi.ValidationCheck, extra, height int) string {
	if height <= 0 || len(checks)+extra <= height {
		return checkLines(checks)
	}
	var rest []adminapi.ValidationCheck
	for _, c := range checks {
		if c.Status != adminapi.CheckPass {
			rest = append(rest, c)
		}
	}
	return fmt.Sprintf("[ok]   %d checks passed\n", len(checks)-len(rest)) + checkLines(rest)
}

func (lw *linkWizard) requirementsBody() string {
	var b strings.Builder
	b.WriteString("The primary must meet these requirements before a database can be linked.\n\n")
	if lw.w.running {
		b.WriteString("Validating requirements...\n")
		return b.String()
	}
	b.WriteString(fitChecks(lw.reqChecks, 16, lw.w.height))
	if lw.reqNote != "" {
		b.WriteString("\n" + lw.reqNote + "\n")
	}
	if lw.requirementsPassed {
		fmt.Fprintf(&b, "\nRequirements met: %d database(s) can be linked.\n", len(lw.eligible))
	} else if len(lw.reqChecks) > 0 {
		b.WriteString("\nRequirements not met: resolve them, then press r to re-run validation.\n")
	}
	return b.String()
}

func (lw *linkWizard) enterDatabases() tea.Cmd {
	old := map[string]bool{}
	for _, f := range lw.dbFields {
		old[f.key] = f.on
	}
	lw.dbFields = nil
	for _, d := range lw.eligible {
		on, seen := old[d.Name]
		if !seen {
			on = len(lw.eligible) == 1
		}
		lw.dbFields = append(lw.dbFields, checkField(d.Name, fmt.Sprintf("%-20s %s", d.Name, guide.Bytes(d.SizeBytes)), on, ""))
	}
	lw.w.pages[lw.w.cur].fields = lw.dbFields
	lw.w.focus = 0
	return nil
}

func (lw *linkWizard) databasesBody() string {
	var b strings.Builder
	b.WriteString("Space selects a database; each selected database gets a link of its own.\n")
	for name, why := range lw.notEligible {
		fmt.Fprintf(&b, "  (cannot link %s: %s)\n", name, why)
	}
	if dbs := lw.databases(); len(dbs) > 0 {
		fmt.Fprintf(&b, "\nLinks to create: %s\n", strings.Join(linkcreate.LinkNames(lw.name.value(), dbs), ", "))
	}
	return b.String()
}

func (lw *linkWizard) connectSecondary() error {
	u, token := withScheme(lw.sURL.value()), lw.sToken.value()
	if lw.sURL.value() == "" {
		return sqlink.Errorf(sqlink.EINVALID, "type the secondary's admin API URL", "no secondary URL given")
	}
	if token == "" {
		return sqlink.Errorf(sqlink.EUNAUTHORIZED, "type an admin token of the secondary", "no admin token given for the secondary")
	}
	if err := refuseClearTokens("secondary", u); err != nil {
		return err
	}
	if ca := lw.caFile.value(); ca != "" {
		lw.m.caFile = ca
	}
	c, err := adminClient(u, token, lw.m.trust(lw.sFP.value(), "--secondary-fingerprint", ""))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(lw.ctx, 15*time.Second)
	defer cancel()
	info, err := c.Info(ctx)
	if err != nil {
		return sideError("secondary", err)
	}
	if _, err := c.ListLinks(ctx); err != nil {
		return sideError("secondary", err)
	}
	lw.secondary, lw.sInfo = c, info
	lw.signedInNote = fmt.Sprintf("\nLogin successful: secondary %s (version %s, endpoint %s).\n", info.Name, info.Version, info.EndpointAddr)
	return nil
}

func (lw *linkWizard) pair() guide.Pair {
	return guide.Pair{Primary: lw.primary, Secondary: lw.secondary, PrimaryURL: lw.primaryURL(), SecondaryURL: withScheme(lw.sURL.value())}
}

func (lw *linkWizard) runValidation() tea.Cmd {
	opts := lw.options()
	troubleshoot := lw.troubleshoot.on
	return lw.bg(func() func() {
		ctx, cancel := context.WithTimeout(lw.ctx, time.Minute)
		defer cancel()
		rep, err := lw.pair().Validate(ctx, guide.Options{Name: opts.Name, Databases: opts.Databases, TwoWay: opts.TwoWay,
			SeedFromBackup: opts.SeedFromBackup, PrimaryEndpoint: opts.PrimaryEndpoint, SecondaryEndpoint: opts.SecondaryEndpoint})
		var ds []guide.Direction
		if err == nil && troubleshoot {
			ds, _ = lw.pair().Troubleshoot(ctx, opts.PrimaryEndpoint, opts.SecondaryEndpoint)
		}
		return func() {
			lw.valChecks, lw.directions, lw.valNote = rep.Checks, ds, ""
			lw.validated = err == nil && rep.OK()
			if err != nil {
				lw.valNote = "Validation could not run: " + sqlink.ErrorMessage(err)
			}
		}
	})
}

func (lw *linkWizard) validationBody() string {
	var b strings.Builder
	if lw.w.running {
		return "Validating both instances...\n"
	}
	b.WriteString(fitChecks(lw.valChecks, len(lw.directions)+16, lw.w.height))
	for _, d := range lw.directions {
		status := "ok"
		if !d.OK() {
			status = "FAILED at " + d.Failed + ": " + d.Message
		}
		fmt.Fprintf(&b, "[probe] %s -> %s (%s): %s, rtt %.1f ms\n", d.From, d.To, d.Address, status, d.RTTMS)
	}
	if lw.valNote != "" {
		b.WriteString(lw.valNote + "\n")
	}
	if lw.validated {
		b.WriteString("\nAll validations passed.\n")
	} else {
		b.WriteString("\nValidation failed: resolve the failed checks, then press r to re-run validation.\n")
	}
	return b.String()
}

func (lw *linkWizard) script() string {
	var buf bytes.Buffer
	o := lw.options()
	lw.m.createScript(&buf, lw.sides(), o.Name, strings.Join(o.Databases, ","), string(o.Mode), o.TwoWay, o.SeedFromBackup, o.PrimaryEndpoint, o.SecondaryEndpoint, "")
	return buf.String()
}

func (lw *linkWizard) summaryBody() string {
	o := lw.options()
	if lw.showScript {
		return "Script (the same as `sqlink link create --script` prints; s hides it):\n\n" + lw.script()
	}
	var b strings.Builder
	b.WriteString("Select Finish to do the following:\n\n")
	fmt.Fprintf(&b, "  Primary:    %s (%s)\n", lw.pInfo.Name, lw.primaryURL())
	fmt.Fprintf(&b, "  Secondary:  %s (%s)\n", lw.sInfo.Name, withScheme(lw.sURL.value()))
	fmt.Fprintf(&b, "  Mode:       %s, %s\n", o.Mode, map[bool]string{true: "two-way (fail back allowed)", false: "one-way"}[o.TwoWay])
	seed := "seed a full copy from the primary"
	if o.SeedFromBackup {
		seed = "seed from the backup restored on the secondary"
	}
	for i, n := range linkcreate.LinkNames(o.Name, o.Databases) {
		fmt.Fprintf(&b, "  Link %s:  database %s, %s\n", n, o.Databases[i], seed)
	}
	b.WriteString("\nActions:\n  1. Sign in to both instances\n  2. Validate\n  3. Exchange endpoint certificates\n  4. Create the link on the secondary, then on the primary\n  5. Seed the secondary and follow its progress\n")
	return b.String()
}

func (lw *linkWizard) execute() tea.Cmd {
	opts := lw.options()
	ctx, cancel := context.WithCancel(lw.ctx)
	lw.cancelExec = cancel
	lc := &linkcreate.Creator{Primary: lw.primary, Secondary: lw.secondary, PrimaryURL: lw.primaryURL(), SecondaryURL: withScheme(lw.sURL.value())}
	lc.Progress = func(s linkcreate.Step) {
		lw.p.Send(wizMsg(func() {
			for i := range lw.steps {
				if lw.steps[i].Name == s.Name {
					lw.steps[i] = s
					return
				}
			}
			lw.steps = append(lw.steps, s)
		}))
	}
	lw.w.running = true
	return func() tea.Msg {
		defer cancel()
		links, err := lc.Create(ctx, opts)
		if err == nil {
			err = lw.followSeeding(ctx, links)
		}
		var final []adminapi.LinkStatus
		for _, l := range links {
			sctx, c := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if st, e := lw.primary.GetLink(sctx, l.Name); e == nil {
				final = append(final, st)
			}
			if st, e := lw.secondary.GetLink(sctx, l.Name); e == nil {
				final = append(final, st)
			}
			c()
		}
		return wizMsg(func() {
			lw.w.running = false
			lw.links, lw.execErr, lw.finalLinks = links, err, final
			lw.w.move(1)
		})
	}
}

// followSeeding polls the secondary until each link's seeding completed.
func (lw *linkWizard) followSeeding(ctx context.Context, links []linkcreate.Link) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for _, l := range links {
		for {
			st, err := getLink(ctx, lw.secondary, l.Name)
			if err != nil {
				return sideError("secondary", err)
			}
			cp, done := linkcreate.SeedProgress(st)
			name := l.Name
			lw.p.Send(wizMsg(func() { lw.seeding[name] = &cp }))
			if !done && cp.State == "FAILED" {
				return sqlink.Errorf(sqlink.EUNAVAILABLE, "see `sqlink link status "+l.Name+"`; seeding resumes by itself when the cause is fixed",
					"seeding of link %s failed: %s", l.Name, lastErrorText(st))
			}
			if done {
				break
			}
			select {
			case <-ctx.Done():
				return sqlink.Errorf(sqlink.ETIMEOUT, "the link exists and seeds on; follow it with `sqlink link status "+l.Name+"`", "stopped following the seeding of %s", l.Name)
			case <-t.C:
			}
		}
	}
	return nil
}

func (lw *linkWizard) executingBody() string {
	var b strings.Builder
	for _, s := range lw.steps {
		mark := map[string]string{linkcreate.StepRunning: "[..]", linkcreate.StepOK: "[ok]", linkcreate.StepFailed: "[FAIL]", linkcreate.StepSkipped: "[--]"}[s.Status]
		fmt.Fprintf(&b, "%-6s %d. %s", mark, s.Step, s.Title)
		if s.Detail != "" {
			fmt.Fprintf(&b, ": %s", s.Detail)
		}
		b.WriteString("\n")
	}
	for _, n := range linkcreate.LinkNames(lw.name.value(), lw.databases()) {
		if s := lw.seeding[n]; s != nil {
			mark := "[..]"
			if s.State == "COMPLETED" {
				mark = "[ok]"
			}
			fmt.Fprintf(&b, "%-6s 5. Seed %s: %s\n", mark, n, seedLine(s))
		}
	}
	return b.String()
}

func seedLine(s *adminapi.SeedingStatus) string {
	line := fmt.Sprintf("%s %s", s.State, guide.Bytes(s.BytesDone))
	if s.BytesTotal > 0 {
		line += fmt.Sprintf(" of %s (%.0f%%)", guide.Bytes(s.BytesTotal), 100*float64(s.BytesDone)/float64(s.BytesTotal))
	}
	if s.RateBytes > 0 {
		line += fmt.Sprintf(", %s/s", guide.Bytes(int64(s.RateBytes)))
	}
	if !s.EstimatedEnd.IsZero() && s.State != "COMPLETED" {
		line += fmt.Sprintf(", ETA %s", time.Until(s.EstimatedEnd).Round(time.Second))
	}
	return line
}

// clientHost returns the host clients dial for an instance's client
// listener: its address, or the admin URL's host when it listens on all
// addresses.
func clientHost(info adminapi.InstanceStatus, adminURL string) string {
	host, port, err := net.SplitHostPort(info.ClientAddr)
	if err != nil {
		return info.ClientAddr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if u, err := url.Parse(adminURL); err == nil {
			host = u.Hostname()
		}
	}
	return net.JoinHostPort(host, port)
}

// connString is the client connection string that follows the primary:
// both hosts, target_session_attrs=read-write.
func connString(db string, infos []adminapi.InstanceStatus, urls []string) string {
	var hosts, ports []string
	for i, in := range infos {
		h, p, _ := net.SplitHostPort(clientHost(in, urls[i]))
		hosts, ports = append(hosts, h), append(ports, p)
	}
	return fmt.Sprintf("host=%s port=%s dbname=%s target_session_attrs=read-write", strings.Join(hosts, ","), strings.Join(ports, ","), db)
}

func (lw *linkWizard) resultsBody() string {
	var b strings.Builder
	for _, s := range lw.steps {
		mark := map[string]string{linkcreate.StepOK: "[ok]", linkcreate.StepFailed: "[FAIL]"}[s.Status]
		if mark == "" {
			mark = "[" + s.Status + "]"
		}
		fmt.Fprintf(&b, "%-6s %s\n", mark, s.Title)
	}
	if lw.execErr != nil {
		fmt.Fprintf(&b, "\nThe link was not created: %s\n", sqlink.ErrorMessage(lw.execErr))
		if h := sqlink.ErrorHint(lw.execErr); h != "" {
			fmt.Fprintf(&b, "Try: %s\n", h)
		}
		if len(lw.links) == 0 {
			return b.String()
		}
	}
	for _, l := range lw.links {
		if s := lw.seeding[l.Name]; s != nil {
			fmt.Fprintf(&b, "[ok]   Seed %s: %s\n", l.Name, seedLine(s))
		}
	}
	b.WriteString("\nLink status:\n")
	for _, st := range lw.finalLinks {
		fmt.Fprintf(&b, "  %-12s on %-10s role %-9s state %-13s %s, database %s\n", st.Name, st.Local.Instance, st.Local.Role, st.State, st.Local.SyncState, st.Local.DatabaseState)
	}
	b.WriteString("\nWhat to do next:\n")
	for _, l := range lw.links {
		fmt.Fprintf(&b, "  Connect clients to %s with (libpq, pgx, psql):\n    %s\n", l.Database,
			connString(l.Database, []adminapi.InstanceStatus{lw.pInfo, lw.sInfo}, []string{lw.primaryURL(), withScheme(lw.sURL.value())}))
		fmt.Fprintf(&b, "  Follow the link: sqlink link status %s --primary %s --secondary %s\n", l.Name, lw.primaryURL(), withScheme(lw.sURL.value()))
		fmt.Fprintf(&b, "  Fail over later: sqlink link failover %s (on a terminal, a wizard guides you)\n", l.Name)
	}
	return b.String()
}
