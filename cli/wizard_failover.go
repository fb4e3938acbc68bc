package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/spf13/cobra"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// acceptDataLoss is the sentence a forced failover's acknowledgement may
// be typed as (the link's name also does).
const acceptDataLoss = "I accept data loss"

// failoverWizard is the state of the Failover wizard.
type failoverWizard struct {
	m      *Main
	ctx    context.Context
	server *adminapi.Client
	links  []adminapi.LinkStatus
	name   string
	named  bool                // given on the command line
	st     adminapi.LinkStatus // the link as --server sees it
	pst    *adminapi.LinkStatus
	pinfo  string

	pick                   *wizField
	kind, after            *wizField
	pURL, pToken, pFP, ack *wizField
	showScript             bool
}

// plannedPossible reports whether a planned failover can run now: the link
// is SYNCHRONIZED and the replicas are connected.
func plannedPossible(st adminapi.LinkStatus) (bool, string) {
	switch {
	case !st.Local.Connected:
		return false, "the replicas are not connected"
	case st.Local.SyncState != sqlink.Synchronized && st.State != string(sqlink.Synchronized):
		return false, fmt.Sprintf("the link is %s, not SYNCHRONIZED (stop the workload and let the secondary catch up)", st.Local.SyncState)
	}
	return true, ""
}

func (fw *failoverWizard) kinds() []string {
	var out []string
	if ok, _ := plannedPossible(fw.st); ok {
		out = append(out, "planned")
	}
	if fw.st.Local.Role == sqlink.RoleSecondary {
		out = append(out, "forced")
	}
	return out
}

func (fw *failoverWizard) options() failoverOptions {
	o := failoverOptions{dropLink: fw.after.value() == "drop the link"}
	if fw.kind.value() == "forced" {
		o.force, o.allowDataLoss = true, true
	}
	o.partner = partnerFlags{url: fw.pURL.value(), token: fw.pToken.value(), fingerprint: fw.pFP.value()}
	return o
}

func (m *Main) linkFailoverWizard(cmd *cobra.Command, name string) error {
	server, err := m.client(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	fw := &failoverWizard{m: m, ctx: ctx, server: server, name: name, named: name != ""}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	fw.links, err = server.ListLinks(lctx)
	cancel()
	if err != nil {
		return err
	}
	if len(fw.links) == 0 {
		return sqlink.Errorf(sqlink.ENOTFOUND, "create one first: sqlink link create", "instance %s has no link", m.serverURL())
	}
	var names []string
	for _, l := range fw.links {
		names = append(names, l.Name)
	}
	fw.pick = choiceField("link", "Link", names, "Space or Left/Right chooses the link to fail over")
	fw.kind = choiceField("type", "Failover type", nil, "")
	fw.after = choiceField("after", "After the failover", nil, "")
	fw.pURL = textField("purl", "Other replica's admin API URL", m.env("partner"), "leave empty when it cannot be reached (forced failover)")
	fw.pToken = secretField("ptoken", "Admin token", orEnv(m.env("partner-token"), ""), "an admin token of the other instance")
	fw.pFP = textField("pfp", "TLS fingerprint", m.env("partner-fingerprint"), "SHA-256 of its self-signed certificate (or --ca-file)")
	fw.ack = textField("ack", "Acknowledgement", "", fmt.Sprintf("type the link's name or %q", acceptDataLoss))
	fw.ack.hidden = func() bool { return fw.kind.value() != "forced" }

	w := &wizard{name: "Failover wizard"}
	w.pages = []*wizPage{
		{title: "Introduction", body: func() string {
			return `This wizard fails a link over: the secondary replica becomes the primary.

Before a planned failover, stop the workload on the primary so that the
secondary catches up: a planned failover loses no data. A forced failover
runs on the secondary when the primary is lost, and may lose the
transactions the secondary had not received.

Nothing changes until you select Finish on the Summary page.
`
		}},
		{title: "Select link", fields: []*wizField{fw.pick}, skip: func() bool { return name != "" }},
		{title: "Choose failover type", fields: []*wizField{fw.kind, fw.ack}, enter: fw.loadLink, body: fw.typeBody, next: func() error {
			if len(fw.kind.choices) == 0 {
				return sqlink.Errorf(sqlink.ECONFLICT, fmt.Sprintf("wait until the link is SYNCHRONIZED for a planned failover, or run the wizard on the secondary (--server %s) for a forced one", orDash(fw.st.Partner.Instance)),
					"no failover type is possible from %s now", orDash(fw.st.Local.Instance))
			}
			if fw.kind.value() != "forced" {
				return nil
			}
			if v := fw.ack.value(); v == fw.name || strings.EqualFold(v, acceptDataLoss) {
				return nil
			}
			return sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("type %s or %q in Acknowledgement (Tab) to accept the loss, or choose a planned failover", fw.name, acceptDataLoss),
				"a forced failover needs the acknowledgement typed")
		}},
		{title: "Sign in", fields: []*wizField{fw.pURL, fw.pToken, fw.pFP}, body: func() string {
			s := fmt.Sprintf("Sign in to the other replica, %s, to check it and report it afterwards.\n", orDash(fw.st.Partner.Instance))
			if fw.pinfo != "" {
				s += "\n" + fw.pinfo + "\n"
			}
			return s
		}, next: fw.signIn},
		{title: "Post-failover options", fields: []*wizField{fw.after}, enter: fw.enterAfter, body: func() string {
			if !fw.st.TwoWay {
				return "This is a one-way link: a failover drops it, and both databases become\nindependent and writable.\n"
			}
			return "Keep the link to replicate the other way (fail back later), or drop it:\nboth databases then become independent and writable.\n"
		}},
		{title: "Summary", finish: true, body: fw.summaryBody, enter: func() tea.Cmd { fw.showScript = false; fw.refresh(); return nil },
			keys: []wizKey{{key: "s", help: "Script", do: func() tea.Cmd { fw.showScript = !fw.showScript; return nil }}},
			next: func() error { w.done = true; return nil }},
		{title: "Executing", noBack: true},
		{title: "Results", noBack: true, last: true},
	}
	// Finish ends the pages: the failover runs on the terminal with
	// runFailover's own progress and report.
	ok, err := m.runWizard(w, nil)
	if err != nil || !ok {
		return err
	}
	o := fw.options()
	fmt.Fprintf(m.Stdout, "== Executing ==\n\nFailing over link %s (%s) on %s...\n", fw.name, fw.kind.value(), m.serverURL())
	err = m.runFailover(cmd, fw.name, o)
	fmt.Fprintln(m.Stdout, "\n== Results ==")
	if err != nil {
		fmt.Fprintf(m.Stdout, "\n[FAIL] The failover of link %s did not complete (see the error below).\n", fw.name)
		return err
	}
	fmt.Fprintf(m.Stdout, "\n[ok]   Link %s failed over.\n", fw.name)
	if o.dropLink {
		fmt.Fprintln(m.Stdout, "Both databases are now independent and writable.")
	}
	fmt.Fprintln(m.Stdout, "Repoint your applications at the new primary, or use a connection string naming both hosts with target_session_attrs=read-write.")
	return nil
}

func (fw *failoverWizard) loadLink() tea.Cmd {
	if !fw.named {
		fw.name = fw.pick.value()
	}
	ctx, cancel := context.WithTimeout(fw.ctx, 10*time.Second)
	defer cancel()
	st, err := fw.server.GetLink(ctx, fw.name)
	if err != nil {
		fw.kind.choices = nil
		fw.st = adminapi.LinkStatus{Name: fw.name}
		return nil
	}
	fw.st = st
	prev := fw.kind.value()
	fw.kind.choices, fw.kind.choice = fw.kinds(), 0
	for i, c := range fw.kind.choices {
		if c == prev {
			fw.kind.choice = i
		}
	}
	return nil
}

// refresh reads the link again for the Summary's estimated loss.
func (fw *failoverWizard) refresh() {
	ctx, cancel := context.WithTimeout(fw.ctx, 5*time.Second)
	defer cancel()
	if st, err := fw.server.GetLink(ctx, fw.name); err == nil {
		fw.st = st
	}
}

func (fw *failoverWizard) typeBody() string {
	st := fw.st
	var b strings.Builder
	fmt.Fprintf(&b, "Link %s: database %s, %s, %s, state %s (as %s sees it)\n\n", st.Name, st.Database, st.Mode,
		map[bool]string{true: "two-way", false: "one-way"}[st.TwoWay], st.State, orDash(st.Local.Instance))
	fmt.Fprintf(&b, "  %-12s %-10s %-18s %-10s %s\n", "REPLICA", "ROLE", "SYNC", "CONNECTED", "DATABASE")
	for _, r := range []adminapi.ReplicaStatus{st.Local, st.Partner} {
		fmt.Fprintf(&b, "  %-12s %-10s %-18s %-10v %s\n", orDash(r.Instance), orDash(string(r.Role)), orDash(string(r.SyncState)), r.Connected, orDash(string(r.DatabaseState)))
	}
	b.WriteString("\nFailover types possible now:\n")
	if ok, why := plannedPossible(st); ok {
		b.WriteString("  planned: yes (no data loss)\n")
	} else {
		fmt.Fprintf(&b, "  planned: no, %s\n", why)
	}
	if st.Local.Role == sqlink.RoleSecondary {
		loss := st.Local.EstimatedDataLoss
		fmt.Fprintf(&b, "  forced:  yes, on this secondary (estimated loss now: %d transactions, %s)\n", loss.Transactions, seconds(loss.Seconds))
	} else {
		fmt.Fprintf(&b, "  forced:  only on the secondary (run the wizard with --server %s)\n", orDash(st.Partner.Instance))
	}
	if fw.kind.value() == "forced" {
		b.WriteString("\n" + fw.lossBody())
	}
	return b.String()
}

func (fw *failoverWizard) signIn() error {
	fw.pinfo = ""
	if fw.pURL.value() == "" {
		if fw.kind.value() == "planned" {
			return sqlink.Errorf(sqlink.EINVALID, "type the other replica's admin API URL and token", "a planned failover needs both replicas")
		}
		return nil
	}
	pf := fw.options().partner
	c, u, err := pf.client(fw.m)
	if err != nil {
		return err
	}
	ps, err := getLink(fw.ctx, c, fw.name)
	if err != nil {
		return sideError("partner "+u, err)
	}
	fw.pst = &ps
	fw.pinfo = fmt.Sprintf("Login successful: %s is the %s of link %s.", ps.Local.Instance, ps.Local.Role, fw.name)
	return nil
}

func (fw *failoverWizard) enterAfter() tea.Cmd {
	if fw.st.TwoWay {
		fw.after.choices = []string{"keep the link", "drop the link"}
	} else {
		fw.after.choices, fw.after.choice = []string{"drop the link"}, 0
	}
	return nil
}

func (fw *failoverWizard) lossBody() string {
	loss := fw.st.Local.EstimatedDataLoss
	return fmt.Sprintf(`A forced failover makes %s the primary at once. It may lose the
transactions it had not received: an estimated %d transactions (%s) now.
When the old primary returns, the link shows SPLIT_BRAIN until
`+"`sqlink link set-role`"+` designates the primary.

To proceed, type the link's name (%s) or %q.
`, orDash(fw.st.Local.Instance), loss.Transactions, seconds(loss.Seconds), fw.name, acceptDataLoss)
}

func (fw *failoverWizard) summaryBody() string {
	o := fw.options()
	if fw.showScript {
		var buf bytes.Buffer
		fw.m.failoverScript(&buf, fw.name, o)
		return "Script (the same as `sqlink link failover --script` prints; s hides it):\n\n" + buf.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Select Finish to do the following:\n\n  %s failover of link %s on %s (%s)\n", fw.kind.value(), fw.name, orDash(fw.st.Local.Instance), fw.m.serverURL())
	newPrimary := fw.st.Local.Instance
	if fw.st.Local.Role == sqlink.RolePrimary {
		newPrimary = fw.st.Partner.Instance
	}
	fmt.Fprintf(&b, "  New primary: %s\n", orDash(newPrimary))
	if o.dropLink {
		b.WriteString("  Then drop the link: both databases become independent and writable.\n")
	} else {
		b.WriteString("  Keep the link: it replicates the other way.\n")
	}
	if o.force {
		fmt.Fprintf(&b, "  Data loss accepted (estimated %d transactions).\n", fw.st.Local.EstimatedDataLoss.Transactions)
	}
	return b.String()
}
