package cli

import (
	"io"

	"github.com/sqlink/sqlink/guide"
)

// --script: link create and link failover print, without acting, a bash
// script of the non-interactive commands that do what was chosen. The
// generator is guide.CreateScript and guide.FailoverScript, shared with
// the web console; here the flags and environment are gathered for it.

// sideCert returns the fingerprint a side's certificate is pinned by, as
// the commands resolve it (trust, cli/tls.go): the side's own (flag, then
// environment), else --fingerprint or SQLINK_FINGERPRINT.
func (m *Main) sideCert(fp, env string) string {
	if fp == "" {
		fp = m.env(env)
	}
	if fp == "" {
		fp = m.fingerprint
	}
	if fp == "" {
		fp = m.env("fingerprint")
	}
	return fp
}

func (m *Main) caFileFlag() string {
	if m.caFile != "" {
		return m.caFile
	}
	return m.env("ca-file")
}

// createScript writes the script of a link create.
func (m *Main) createScript(w io.Writer, ls linkSides, name, databases, mode string, twoWay, seedFromBackup bool, pe, se, skip string) {
	p, s := ls.primary, ls.secondary
	if p == "" {
		p = m.env("primary")
	}
	if s == "" {
		s = m.env("secondary")
	}
	if p != "" {
		p = withScheme(p)
	}
	if s != "" {
		s = withScheme(s)
	}
	io.WriteString(w, guide.CreateScript(guide.CreateScriptOptions{
		Name: name, Databases: databases, Primary: p, Secondary: s,
		PrimaryFingerprint:   m.sideCert(ls.primaryFingerprint, "primary-fingerprint"),
		SecondaryFingerprint: m.sideCert(ls.secondaryFingerprint, "secondary-fingerprint"),
		CAFile:               m.caFileFlag(), Mode: mode, TwoWay: twoWay, SeedFromBackup: seedFromBackup,
		PrimaryEndpoint: pe, SecondaryEndpoint: se, Skip: skip,
	}))
}

// failoverScript writes the script of a link failover.
func (m *Main) failoverScript(w io.Writer, name string, o failoverOptions) {
	partner := o.partner.url
	if partner == "" {
		partner = m.env("partner")
	}
	fp := m.fingerprint
	if fp == "" {
		fp = m.env("fingerprint")
	}
	pfp := o.partner.fingerprint
	if pfp == "" {
		pfp = m.env("partner-fingerprint")
	}
	io.WriteString(w, guide.FailoverScript(guide.FailoverScriptOptions{
		Link: name, Server: m.serverURL(), Fingerprint: fp, CAFile: m.caFileFlag(),
		Partner: partner, PartnerFingerprint: pfp,
		Force: o.force, AllowDataLoss: o.allowDataLoss, DropLink: o.dropLink, Resume: o.resume, Abort: o.abort,
		Timeout: o.timeout,
	}))
}
