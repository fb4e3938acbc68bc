package linkcreate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

func (lc *Creator) signIn(ctx context.Context) (p, s adminapi.InstanceStatus, err error) {
	side := func(c Client, role string) (adminapi.InstanceStatus, error) {
		info, err := c.Info(ctx)
		if err != nil {
			return info, sideError(role, err)
		}
		if _, err := c.ListLinks(ctx); err != nil {
			if sqlink.ErrorCode(err) == sqlink.ENOTFOUND {
				return info, sqlink.Errorf(sqlink.ENOTIMPLEMENTED, "upgrade instance "+info.Name+" to a sqlink that serves links",
					"%s instance %s does not serve the link API (%s)", role, info.Name, sqlink.ErrorMessage(err))
			}
			return info, sideError(role, err)
		}
		return info, nil
	}
	if p, err = side(lc.Primary, "primary"); err != nil {
		return
	}
	if s, err = side(lc.Secondary, "secondary"); err != nil {
		return
	}
	if p.ID == s.ID || p.Name == s.Name {
		return p, s, sqlink.Errorf(sqlink.EINVALID, "point --primary and --secondary at two different instances",
			"primary and secondary are the same instance name (%s): instance names must differ", p.Name)
	}
	if major(p.Version) != major(s.Version) {
		return p, s, sqlink.Errorf(sqlink.ECONFLICT, "upgrade one instance so both run the same major version",
			"versions are not compatible: primary %s runs %s, secondary %s runs %s", p.Name, p.Version, s.Name, s.Version)
	}
	if p.Collation != s.Collation {
		return p, s, sqlink.Errorf(sqlink.ECONFLICT, "link to an instance initialised with the same --collation",
			"server collations differ: primary %s uses %s, secondary %s uses %s", p.Name, p.Collation, s.Name, s.Collation)
	}
	return p, s, nil
}

// sideError prefixes an API error with the side it came from, keeping its
// code and hint.
func sideError(role string, err error) error {
	return &sqlink.Error{Code: sqlink.ErrorCode(err), Message: role + ": " + sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)}
}

func major(v string) string {
	v = strings.TrimPrefix(v, "v")
	m, _, _ := strings.Cut(v, ".")
	return m
}

func (lc *Creator) validate(ctx context.Context, opts Options, p, s adminapi.InstanceStatus) (string, error) {
	pLinks, err := lc.Primary.ListLinks(ctx)
	if err != nil {
		return "", sideError("primary", err)
	}
	sLinks, err := lc.Secondary.ListLinks(ctx)
	if err != nil {
		return "", sideError("secondary", err)
	}
	if _, _, err := lc.endpoints(opts, p, s); err != nil {
		return "", err
	}
	names := LinkNames(opts.Name, opts.Databases)
	for i, db := range opts.Databases {
		name := names[i]
		d, err := lc.Primary.GetDatabase(ctx, db)
		if err != nil {
			if sqlink.ErrorCode(err) == sqlink.ENOTFOUND {
				return "", sqlink.Errorf(sqlink.ENOTFOUND, "create it there first, or check the name with `sqlink db list --server <primary>`",
					"database %s does not exist on the primary %s", db, p.Name)
			}
			return "", sideError("primary", err)
		}
		if d.State != sqlink.DatabaseOnline {
			return "", sqlink.Errorf(sqlink.ECONFLICT, "bring it online first: sqlink db complete-restore "+db,
				"database %s on the primary %s is %s, not ONLINE", db, p.Name, d.State)
		}
		if d.ReadOnly {
			return "", sqlink.Errorf(sqlink.ECONFLICT, "create the link from the database's primary instance",
				"database %s on %s is read-only (%s)", db, p.Name, d.ReadOnlyReason)
		}
		if !d.ChainStarted {
			return "", sqlink.Errorf(sqlink.ECONFLICT, fmt.Sprintf("take a full backup: sqlink backup %s --to FILE --server <primary>", db),
				"database %s on the primary %s has no full backup that started its backup chain", db, p.Name)
		}
		for _, l := range pLinks {
			if l.Database == db && l.Local.Role == sqlink.RolePrimary {
				return "", sqlink.Errorf(sqlink.ECONFLICT, "drop that link first, or pick another database",
					"database %s is already the primary of link %s (to %s)", db, l.Name, l.Partner.Instance)
			}
			if l.Database == db && l.Local.Role == sqlink.RoleSecondary {
				return "", sqlink.Errorf(sqlink.ECONFLICT, "create the link from the database's primary instance",
					"database %s on %s is the secondary of link %s", db, p.Name, l.Name)
			}
		}
		for _, side := range []struct {
			role  string
			inst  adminapi.InstanceStatus
			links []adminapi.LinkStatus
		}{{"primary", p, pLinks}, {"secondary", s, sLinks}} {
			for _, l := range side.links {
				if l.Name == name {
					return "", sqlink.Errorf(sqlink.ECONFLICT, "pick another --name, or drop the old link with `sqlink link drop "+name+"`",
						"a link named %s already exists on the %s %s", name, side.role, side.inst.Name)
				}
			}
		}
		sd, err := lc.Secondary.GetDatabase(ctx, db)
		switch {
		case sqlink.ErrorCode(err) == sqlink.ENOTFOUND:
			if opts.SeedFromBackup {
				return "", sqlink.Errorf(sqlink.ENOTFOUND,
					fmt.Sprintf("restore a backup of %s there first: sqlink restore FILE --as %s --restoring --server <secondary>", db, db),
					"--seed-from-backup: database %s does not exist on the secondary %s", db, s.Name)
			}
		case err != nil:
			return "", sideError("secondary", err)
		case opts.SeedFromBackup && sd.State == sqlink.DatabaseRestoring:
			for _, l := range sLinks {
				if l.Database == db {
					return "", sqlink.Errorf(sqlink.ECONFLICT, "drop that link first",
						"database %s on the secondary %s is already in link %s", db, s.Name, l.Name)
				}
			}
		case opts.SeedFromBackup:
			return "", sqlink.Errorf(sqlink.ECONFLICT,
				fmt.Sprintf("restore the backup with --restoring (sqlink restore FILE --as %s --restoring), or drop %s there and seed without --seed-from-backup", db, db),
				"--seed-from-backup: database %s on the secondary %s is %s, not RESTORING", db, s.Name, sd.State)
		case sd.State == sqlink.DatabaseRestoring:
			return "", sqlink.Errorf(sqlink.ECONFLICT, "pass --seed-from-backup to seed from it, or drop it on the secondary",
				"database %s already exists on the secondary %s (RESTORING)", db, s.Name)
		default:
			return "", sqlink.Errorf(sqlink.ECONFLICT, fmt.Sprintf("drop it there (sqlink db drop %s --server <secondary>) or link another database", db),
				"database %s already exists on the secondary %s", db, s.Name)
		}
	}
	return fmt.Sprintf("%s ready to link (%s, %s)", strings.Join(opts.Databases, ", "), opts.Mode, map[bool]string{true: "two-way", false: "one-way"}[opts.TwoWay]), nil
}

// exchangeCertificates makes each side trust the other's endpoint
// certificate under the partner instance's name, skipping a certificate the
// side already trusts.
func (lc *Creator) exchangeCertificates(ctx context.Context, p, s adminapi.InstanceStatus) (pCert, sCert adminapi.CertificateInfo, detail string, err error) {
	if pCert, err = lc.Primary.EndpointCertificate(ctx); err != nil {
		return pCert, sCert, "", sideError("primary", err)
	}
	if sCert, err = lc.Secondary.EndpointCertificate(ctx); err != nil {
		return pCert, sCert, "", sideError("secondary", err)
	}
	now := time.Now
	if lc.Now != nil {
		now = lc.Now
	}
	for _, c := range []struct {
		role string
		inst adminapi.InstanceStatus
		cert adminapi.CertificateInfo
	}{{"primary", p, pCert}, {"secondary", s, sCert}} {
		if !c.cert.NotAfter.IsZero() && now().After(c.cert.NotAfter) {
			return pCert, sCert, "", sqlink.Errorf(sqlink.ECONFLICT, "rotate it there (POST /v1/endpoint-certificate/rotate) and run link create again",
				"the %s %s's endpoint certificate expired on %s", c.role, c.inst.Name, c.cert.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	var notes []string
	trust := func(on Client, role string, onInst adminapi.InstanceStatus, partner string, cert adminapi.CertificateInfo) error {
		trusted, err := on.ListTrustedCertificates(ctx)
		if err != nil {
			return sideError(role, err)
		}
		names := map[string]bool{}
		for _, c := range trusted {
			if strings.EqualFold(c.Fingerprint, cert.Fingerprint) {
				notes = append(notes, fmt.Sprintf("%s already trusts %s (as %s)", onInst.Name, partner, c.Name))
				return nil
			}
			names[c.Name] = true
		}
		name := partner
		if names[name] {
			name = partner + "-" + cert.Fingerprint[:min(12, len(cert.Fingerprint))]
		}
		if _, err := on.TrustCertificate(ctx, name, []byte(cert.PEM)); err != nil {
			return sideError(role, err)
		}
		lc.undo = append(lc.undo, undoAction{
			what: fmt.Sprintf("untrusted %s on %s", name, onInst.Name),
			todo: fmt.Sprintf("untrust %s on %s", name, onInst.Name),
			do:   func(ctx context.Context) error { return on.UntrustCertificate(ctx, name) },
		})
		notes = append(notes, fmt.Sprintf("%s trusts %s as %s", onInst.Name, partner, name))
		return nil
	}
	if err := trust(lc.Secondary, "secondary", s, p.Name, pCert); err != nil {
		return pCert, sCert, "", err
	}
	if err := trust(lc.Primary, "primary", p, s.Name, sCert); err != nil {
		return pCert, sCert, "", err
	}
	return pCert, sCert, strings.Join(notes, "; "), nil
}

// dialAddr returns the address a partner dials to reach an instance whose
// endpoint listens on listen and whose admin API is at adminURL: an
// unspecified listen host is replaced by the admin URL's host.
func dialAddr(listen, adminURL string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" || port == "0" {
		return "", fmt.Errorf("endpoint address %q is not dialable", listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		u, err := url.Parse(adminURL)
		if err != nil || u.Hostname() == "" {
			return "", fmt.Errorf("endpoint address %q has no host", listen)
		}
		host = u.Hostname()
	}
	return net.JoinHostPort(host, port), nil
}

// endpoints returns the addresses each side dials to reach the other's
// endpoint: the flags' overrides or what the instances report. It refuses
// a loopback endpoint that the partner, on another host, could not reach.
func (lc *Creator) endpoints(opts Options, p, s adminapi.InstanceStatus) (pEndpoint, sEndpoint string, err error) {
	pick := func(override, listen, ownURL, partnerURL, role, flag string, inst adminapi.InstanceStatus) (string, error) {
		if override != "" {
			return override, nil
		}
		addr, err := dialAddr(listen, ownURL)
		if err != nil {
			return "", sqlink.Errorf(sqlink.EINVALID, "pass "+flag+" HOST:PORT", "%s %s: %v", role, inst.Name, err)
		}
		if host, _, _ := net.SplitHostPort(addr); isLoopback(host) && !isLoopback(urlHost(partnerURL)) {
			return "", sqlink.Errorf(sqlink.EINVALID, "serve it with --endpoint-addr on an address its partner can reach, or pass "+flag+" HOST:PORT",
				"the %s %s's endpoint listens on %s, which its partner on another host cannot reach", role, inst.Name, addr)
		}
		return addr, nil
	}
	if pEndpoint, err = pick(opts.PrimaryEndpoint, p.EndpointAddr, lc.PrimaryURL, lc.SecondaryURL, "primary", "--primary-endpoint", p); err != nil {
		return "", "", err
	}
	if sEndpoint, err = pick(opts.SecondaryEndpoint, s.EndpointAddr, lc.SecondaryURL, lc.PrimaryURL, "secondary", "--secondary-endpoint", s); err != nil {
		return "", "", err
	}
	return pEndpoint, sEndpoint, nil
}

func urlHost(u string) string {
	v, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return v.Hostname()
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (lc *Creator) createHalves(ctx context.Context, opts Options, p, s adminapi.InstanceStatus, pCert, sCert adminapi.CertificateInfo) ([]Link, error) {
	pEndpoint, sEndpoint, err := lc.endpoints(opts, p, s)
	if err != nil {
		return nil, err
	}
	newID := lc.NewID
	if newID == nil {
		newID = randomLinkID
	}
	var out []Link
	for i, name := range LinkNames(opts.Name, opts.Databases) {
		db := opts.Databases[i]
		id := newID()
		req := adminapi.CreateLinkRequest{
			Name: name, LinkID: id, Database: db, Mode: opts.Mode, TwoWay: opts.TwoWay,
		}
		sreq := req
		sreq.Role = sqlink.RoleSecondary
		sreq.PartnerName, sreq.PartnerID, sreq.PartnerEndpoint, sreq.PartnerCertFingerprint = p.Name, p.ID, pEndpoint, pCert.Fingerprint
		sreq.SeedFromBackup = opts.SeedFromBackup
		if !opts.SeedFromBackup {
			// The secondary's half creates the database RESTORING; undo
			// removes it again once the half is dropped, so that the next
			// attempt finds the secondary as validation did.
			lc.undo = append(lc.undo, undoAction{
				what: fmt.Sprintf("removed the unseeded database %s on %s", db, s.Name),
				todo: fmt.Sprintf("drop the unseeded database %s on %s", db, s.Name),
				do: func(ctx context.Context) error {
					d, err := lc.Secondary.GetDatabase(ctx, db)
					if sqlink.ErrorCode(err) == sqlink.ENOTFOUND || (err == nil && d.State != sqlink.DatabaseRestoring) {
						return errNothingToUndo
					}
					if err != nil {
						return err
					}
					return lc.Secondary.DropDatabase(ctx, db)
				},
			})
		}
		// Each half's undo is recorded before the call: a call that fails
		// (say the instance died answering it) may still have created the
		// half, and then undo drops it, or says to.
		what := fmt.Sprintf("dropped link %s on %s", name, s.Name)
		if opts.SeedFromBackup {
			// The server keeps the database it was seeding from.
			what += fmt.Sprintf(" (the restored database %s stays there, RESTORING)", db)
		}
		lc.undo = append(lc.undo, undoAction{
			what: what,
			todo: fmt.Sprintf("drop link %s on %s", name, s.Name),
			do:   func(ctx context.Context) error { return dropHalf(ctx, lc.Secondary, name, id) },
		})
		sst, err := lc.Secondary.CreateLink(ctx, sreq)
		if err != nil {
			return out, sideError("secondary "+s.Name, err)
		}
		preq := req
		preq.Role = sqlink.RolePrimary
		preq.PartnerName, preq.PartnerID, preq.PartnerEndpoint, preq.PartnerCertFingerprint = s.Name, s.ID, sEndpoint, sCert.Fingerprint
		lc.undo = append(lc.undo, undoAction{
			what: fmt.Sprintf("dropped link %s on %s", name, p.Name),
			todo: fmt.Sprintf("drop link %s on %s", name, p.Name),
			do:   func(ctx context.Context) error { return dropHalf(ctx, lc.Primary, name, id) },
		})
		pst, err := lc.Primary.CreateLink(ctx, preq)
		if err != nil {
			return out, sideError("primary "+p.Name, err)
		}
		out = append(out, Link{Name: name, Database: db, LinkID: id, Primary: pst, Secondary: sst})
	}
	return out, nil
}

// dropHalf drops one instance's half of the link being created (link id
// id), if it is there: never a link of that name this run did not create.
func dropHalf(ctx context.Context, c Client, name, id string) error {
	st, err := c.GetLink(ctx, name)
	if sqlink.ErrorCode(err) == sqlink.ENOTFOUND || err == nil && st.LinkID != id {
		return errNothingToUndo
	}
	if err != nil {
		return err
	}
	err = c.DropLink(ctx, name)
	if sqlink.ErrorCode(err) == sqlink.ENOTFOUND {
		return errNothingToUndo
	}
	return err
}

func randomLinkID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
