package linkcreate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
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
	return p, s, nil
}

// sideError prefixes an API error with the side it came from, keeping its
// code and hint.
func sideError(role string, err error) error {
	return &sqlink.Error{Code: sqlink.ErrorCode(err), Message: role + ": " + sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)}
}

// validate runs the validation engine (package guide) and refuses on any
// failed check, naming each.
func (lc *Creator) validate(ctx context.Context, opts Options) (string, error) {
	pair := guide.Pair{Primary: lc.Primary, Secondary: lc.Secondary, PrimaryURL: lc.PrimaryURL, SecondaryURL: lc.SecondaryURL, Now: lc.Now}
	rep, err := pair.Validate(ctx, guide.Options{Name: opts.Name, Databases: opts.Databases, TwoWay: opts.TwoWay,
		SeedFromBackup: opts.SeedFromBackup, PrimaryEndpoint: opts.PrimaryEndpoint, SecondaryEndpoint: opts.SecondaryEndpoint, Skip: opts.SkipChecks})
	if err != nil {
		return "", err
	}
	lc.Checks = rep.Checks
	if failed := guide.Failed(rep.Checks); len(failed) > 0 {
		var msgs []string
		for _, c := range failed {
			msgs = append(msgs, c.Name+": "+c.Message)
		}
		return "", sqlink.Errorf(sqlink.ECONFLICT, failed[0].Hint, "%d check(s) failed: %s", len(failed), strings.Join(msgs, "; "))
	}
	warnings := 0
	for _, c := range rep.Checks {
		if c.Status == adminapi.CheckWarning {
			warnings++
		}
	}
	d := fmt.Sprintf("%s ready to link (%s, %s; %d checks passed", strings.Join(opts.Databases, ", "), opts.Mode, map[bool]string{true: "two-way", false: "one-way"}[opts.TwoWay], len(rep.Checks)-warnings)
	if warnings > 0 {
		d += fmt.Sprintf(", %d warning(s)", warnings)
	}
	return d + ")", nil
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

// endpoints returns the addresses each side dials to reach the other's
// endpoint (guide.Endpoints).
func (lc *Creator) endpoints(opts Options, p, s adminapi.InstanceStatus) (pEndpoint, sEndpoint string, err error) {
	return guide.Endpoints(opts.PrimaryEndpoint, opts.SecondaryEndpoint, p, s, lc.PrimaryURL, lc.SecondaryURL)
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
			AutoFailover: opts.AutoFailover, LeaseTTLSeconds: int(opts.LeaseTTL / time.Second), MaxDataLoss: opts.MaxDataLoss,
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
