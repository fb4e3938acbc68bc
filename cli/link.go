package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// The link commands talk to one instance (--server) or to both instances
// of a link (--primary and --secondary). Creation is orchestrated from the
// client: LinkCreator signs in to both, validates, exchanges certificates
// and creates each half, undoing what it did when a step fails.

// Link creation steps, in order.
const (
	StepSignIn       = "sign-in"
	StepValidate     = "validate"
	StepCertificates = "certificates"
	StepCreate       = "create"
	StepUndo         = "undo"
)

var stepTitles = map[string]string{
	StepSignIn:       "Sign in to both instances",
	StepValidate:     "Validate",
	StepCertificates: "Exchange endpoint certificates",
	StepCreate:       "Create the link on both instances",
	StepUndo:         "Undo",
}

var stepNumbers = map[string]int{StepSignIn: 1, StepValidate: 2, StepCertificates: 3, StepCreate: 4, StepUndo: 5}

// Step statuses.
const (
	StepRunning = "running"
	StepOK      = "ok"
	StepFailed  = "failed"
	StepSkipped = "skipped"
)

// LinkStep is one step of link creation as it is reported while it runs.
type LinkStep struct {
	Event  string    `json:"event"` // always "step"
	Step   int       `json:"step"`
	Name   string    `json:"name"`
	Title  string    `json:"title"`
	Status string    `json:"status"` // running, ok, failed or skipped
	Detail string    `json:"detail,omitempty"`
	Time   time.Time `json:"time"`
}

// LinkCreateOptions describes the links to create.
type LinkCreateOptions struct {
	// Name is the link's name; with several databases each link is named
	// Name_Database.
	Name      string
	Databases []string
	Mode      sqlink.Mode
	TwoWay    bool
	// SeedFromBackup seeds from a database already restored RESTORING on
	// the secondary: only the log after its backup is shipped.
	SeedFromBackup bool
	// PrimaryEndpoint and SecondaryEndpoint override the endpoint address
	// each partner dials (default: what the instance reports).
	PrimaryEndpoint   string
	SecondaryEndpoint string
}

// CreatedLink is one link as both halves reported it when created.
type CreatedLink struct {
	Name      string              `json:"name"`
	Database  string              `json:"database"`
	LinkID    string              `json:"link_id"`
	Primary   adminapi.LinkStatus `json:"primary"`
	Secondary adminapi.LinkStatus `json:"secondary"`
}

// LinkCreator creates links between two instances through their admin
// APIs, the way `sqlink link create` and the demo do. It is not safe for
// concurrent use.
type LinkCreator struct {
	Primary   *adminapi.Client
	Secondary *adminapi.Client
	// PrimaryURL and SecondaryURL are the clients' admin URLs: an endpoint
	// that listens on an unspecified address is dialled at their host.
	PrimaryURL, SecondaryURL string
	// Progress, if set, is called as each step starts and ends.
	Progress func(LinkStep)
	// NewID returns a link id; nil means 16 random bytes in hex.
	NewID func() string
	Now   func() time.Time

	undo []undoAction
}

// errNothingToUndo is returned by an undo action that found nothing to do.
var errNothingToUndo = errors.New("nothing to undo")

type undoAction struct {
	what string // what it did, e.g. "dropped link l on beta"
	todo string // what is left to do by hand when it fails, e.g. "drop link l on beta"
	do   func(ctx context.Context) error
}

// linkNames returns the link name of each database.
func linkNames(name string, dbs []string) []string {
	if len(dbs) == 1 {
		return []string{name}
	}
	out := make([]string, len(dbs))
	for i, db := range dbs {
		out[i] = name + "_" + db
	}
	return out
}

func (lc *LinkCreator) report(step, status, detail string) {
	if lc.Progress == nil {
		return
	}
	now := time.Now
	if lc.Now != nil {
		now = lc.Now
	}
	lc.Progress(LinkStep{Event: "step", Step: stepNumbers[step], Name: step, Title: stepTitles[step], Status: status, Detail: detail, Time: now().UTC()})
}

// Create runs the steps. When one fails it undoes what the earlier ones did
// and returns an error that names the step, the cause and what to do.
func (lc *LinkCreator) Create(ctx context.Context, opts LinkCreateOptions) ([]CreatedLink, error) {
	lc.undo = nil
	if err := validateCreateOptions(opts); err != nil {
		return nil, err
	}
	var (
		p, s   adminapi.InstanceStatus
		step   string
		out    []CreatedLink
		stepFn = func(name string, fn func() (string, error)) error {
			step = name
			lc.report(name, StepRunning, "")
			detail, err := fn()
			if err != nil {
				lc.report(name, StepFailed, sqlink.ErrorMessage(err))
				return err
			}
			lc.report(name, StepOK, detail)
			return nil
		}
	)
	err := stepFn(StepSignIn, func() (d string, err error) {
		p, s, err = lc.signIn(ctx)
		return fmt.Sprintf("primary %s (%s), secondary %s (%s)", p.Name, p.Version, s.Name, s.Version), err
	})
	if err == nil {
		err = stepFn(StepValidate, func() (string, error) { return lc.validate(ctx, opts, p, s) })
	}
	var pCert, sCert adminapi.CertificateInfo
	if err == nil {
		err = stepFn(StepCertificates, func() (d string, err error) {
			pCert, sCert, d, err = lc.exchangeCertificates(ctx, p, s)
			return d, err
		})
	}
	if err == nil {
		err = stepFn(StepCreate, func() (d string, err error) {
			out, err = lc.createHalves(ctx, opts, p, s, pCert, sCert)
			var names []string
			for _, l := range out {
				names = append(names, l.Name)
			}
			return "created " + strings.Join(names, ", "), err
		})
	}
	if err == nil {
		return out, nil
	}
	undone := lc.rollback(ctx)
	return nil, stepError(step, err, undone)
}

func validateCreateOptions(opts LinkCreateOptions) error {
	if opts.Name == "" {
		return sqlink.Errorf(sqlink.EINVALID, "pass --name NAME", "no link name given")
	}
	if len(opts.Databases) == 0 {
		return sqlink.Errorf(sqlink.EINVALID, "pass --database DB (several separated by commas)", "no database given")
	}
	switch opts.Mode {
	case sqlink.ModeAsync, sqlink.ModeSync:
	default:
		return sqlink.Errorf(sqlink.EINVALID, "use --mode async or --mode sync", "invalid mode %q", opts.Mode)
	}
	seen := map[string]bool{}
	for _, db := range opts.Databases {
		if seen[db] {
			return sqlink.Errorf(sqlink.EINVALID, "name each database once", "database %q given twice", db)
		}
		seen[db] = true
	}
	return nil
}

// stepError names the failed step and says what was undone.
func stepError(step string, err error, undone []string) error {
	msg := fmt.Sprintf("link create failed at step %d (%s): %s", stepNumbers[step], stepTitles[step], sqlink.ErrorMessage(err))
	if len(undone) > 0 {
		msg += "; undone: " + strings.Join(undone, ", ")
	} else if step != StepSignIn && step != StepValidate {
		msg += "; nothing to undo"
	}
	hint := sqlink.ErrorHint(err)
	if hint == "" {
		hint = "fix the cause and run the same command again"
	}
	code := sqlink.ErrorCode(err)
	if errors.Is(err, context.Canceled) {
		code = sqlink.ETIMEOUT
	}
	return &sqlink.Error{Code: code, Message: msg, Hint: hint}
}

// rollback undoes the recorded actions in reverse order, with a context of
// its own so that an interrupted creation still cleans up. It returns what
// it undid; what it could not undo is included with the reason.
func (lc *LinkCreator) rollback(ctx context.Context) []string {
	if len(lc.undo) == 0 {
		return nil
	}
	lc.report(StepUndo, StepRunning, "")
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var done []string
	failed := false
	for i := len(lc.undo) - 1; i >= 0; i-- {
		a := lc.undo[i]
		err := a.do(uctx)
		if errors.Is(err, errNothingToUndo) {
			continue
		}
		if err != nil && sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
			done = append(done, fmt.Sprintf("could not %s (%s): do it by hand", a.todo, sqlink.ErrorMessage(err)))
			failed = true
			continue
		}
		done = append(done, a.what)
	}
	lc.undo = nil
	if failed {
		lc.report(StepUndo, StepFailed, strings.Join(done, "; "))
	} else {
		lc.report(StepUndo, StepOK, strings.Join(done, "; "))
	}
	return done
}

func (lc *LinkCreator) signIn(ctx context.Context) (p, s adminapi.InstanceStatus, err error) {
	side := func(c *adminapi.Client, role string) (adminapi.InstanceStatus, error) {
		info, err := c.Info(ctx)
		if err != nil {
			return info, sideError(role, err)
		}
		var links []adminapi.LinkStatus
		if err := c.Do(ctx, "GET", "/v1/links", nil, &links); err != nil {
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

func (lc *LinkCreator) validate(ctx context.Context, opts LinkCreateOptions, p, s adminapi.InstanceStatus) (string, error) {
	var pLinks, sLinks []adminapi.LinkStatus
	if err := lc.Primary.Do(ctx, "GET", "/v1/links", nil, &pLinks); err != nil {
		return "", sideError("primary", err)
	}
	if err := lc.Secondary.Do(ctx, "GET", "/v1/links", nil, &sLinks); err != nil {
		return "", sideError("secondary", err)
	}
	if _, _, err := lc.endpoints(opts, p, s); err != nil {
		return "", err
	}
	names := linkNames(opts.Name, opts.Databases)
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
func (lc *LinkCreator) exchangeCertificates(ctx context.Context, p, s adminapi.InstanceStatus) (pCert, sCert adminapi.CertificateInfo, detail string, err error) {
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
	trust := func(on *adminapi.Client, role string, onInst adminapi.InstanceStatus, partner string, cert adminapi.CertificateInfo) error {
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
func (lc *LinkCreator) endpoints(opts LinkCreateOptions, p, s adminapi.InstanceStatus) (pEndpoint, sEndpoint string, err error) {
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

func (lc *LinkCreator) createHalves(ctx context.Context, opts LinkCreateOptions, p, s adminapi.InstanceStatus, pCert, sCert adminapi.CertificateInfo) ([]CreatedLink, error) {
	pEndpoint, sEndpoint, err := lc.endpoints(opts, p, s)
	if err != nil {
		return nil, err
	}
	newID := lc.NewID
	if newID == nil {
		newID = randomLinkID
	}
	var out []CreatedLink
	for i, name := range linkNames(opts.Name, opts.Databases) {
		db := opts.Databases[i]
		id := newID()
		req := adminapi.CreateLinkRequest{
			Name: name, LinkID: id, Database: db, Mode: opts.Mode, TwoWay: opts.TwoWay,
		}
		sreq := req
		sreq.Role = sqlink.RoleSecondary
		sreq.PartnerName, sreq.PartnerID, sreq.PartnerEndpoint, sreq.PartnerCertFingerprint = p.Name, p.ID, pEndpoint, pCert.Fingerprint
		sreq.SeedFromBackup = opts.SeedFromBackup
		var sst adminapi.LinkStatus
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
		lc.undo = append(lc.undo, undoAction{
			what: fmt.Sprintf("dropped link %s on %s", name, s.Name),
			todo: fmt.Sprintf("drop link %s on %s", name, s.Name),
			do:   func(ctx context.Context) error { return dropHalf(ctx, lc.Secondary, name, id) },
		})
		if err := lc.Secondary.Do(ctx, "POST", "/v1/links", sreq, &sst); err != nil {
			return out, sideError("secondary "+s.Name, err)
		}
		preq := req
		preq.Role = sqlink.RolePrimary
		preq.PartnerName, preq.PartnerID, preq.PartnerEndpoint, preq.PartnerCertFingerprint = s.Name, s.ID, sEndpoint, sCert.Fingerprint
		var pst adminapi.LinkStatus
		lc.undo = append(lc.undo, undoAction{
			what: fmt.Sprintf("dropped link %s on %s", name, p.Name),
			todo: fmt.Sprintf("drop link %s on %s", name, p.Name),
			do:   func(ctx context.Context) error { return dropHalf(ctx, lc.Primary, name, id) },
		})
		if err := lc.Primary.Do(ctx, "POST", "/v1/links", preq, &pst); err != nil {
			return out, sideError("primary "+p.Name, err)
		}
		out = append(out, CreatedLink{Name: name, Database: db, LinkID: id, Primary: pst, Secondary: sst})
	}
	return out, nil
}

// dropHalf drops one instance's half of the link being created (link id
// id), if it is there: never a link of that name this run did not create.
func dropHalf(ctx context.Context, c *adminapi.Client, name, id string) error {
	var st adminapi.LinkStatus
	err := c.Do(ctx, "GET", "/v1/links/"+url.PathEscape(name), nil, &st)
	if sqlink.ErrorCode(err) == sqlink.ENOTFOUND || err == nil && st.LinkID != id {
		return errNothingToUndo
	}
	if err != nil {
		return err
	}
	err = c.Do(ctx, "DELETE", "/v1/links/"+url.PathEscape(name), nil, nil)
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

// linkSides holds the --primary and --secondary flags.
type linkSides struct {
	primary, primaryToken     string
	secondary, secondaryToken string

	primaryFingerprint, secondaryFingerprint string // per-side TLS pins
}

func (ls *linkSides) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&ls.primary, "primary", "", "admin API URL of the primary instance (env SQLINK_PRIMARY)")
	fs.StringVar(&ls.primaryToken, "primary-token", "", "admin token for the primary (env SQLINK_PRIMARY_TOKEN, else --token)")
	fs.StringVar(&ls.secondary, "secondary", "", "admin API URL of the secondary instance (env SQLINK_SECONDARY)")
	fs.StringVar(&ls.secondaryToken, "secondary-token", "", "admin token for the secondary (env SQLINK_SECONDARY_TOKEN, else --token)")
	fs.StringVar(&ls.primaryFingerprint, "primary-fingerprint", "", "the primary's TLS certificate fingerprint (env SQLINK_PRIMARY_FINGERPRINT, else --fingerprint; or trust both with --ca-file)")
	fs.StringVar(&ls.secondaryFingerprint, "secondary-fingerprint", "", "the secondary's TLS certificate fingerprint (env SQLINK_SECONDARY_FINGERPRINT, else --fingerprint; or trust both with --ca-file)")
}

// sideClient is one instance a link command talks to.
type sideClient struct {
	Role   string // "primary", "secondary" or "" for --server
	URL    string
	Client *adminapi.Client
}

// clients returns the sides the flags name: --primary and/or --secondary
// (with require both when both is true), or else --server.
func (ls *linkSides) clients(m *Main, cmd *cobra.Command, both bool) ([]sideClient, error) {
	p, s := ls.primary, ls.secondary
	if p == "" {
		p = m.env("primary")
	}
	if s == "" {
		s = m.env("secondary")
	}
	if both && (p == "" || s == "") {
		return nil, errUsage(cmd, "pass both --primary URL and --secondary URL (with --primary-token and --secondary-token)")
	}
	if p == "" && s == "" {
		c, err := m.client(cmd)
		if err != nil {
			return nil, err
		}
		return []sideClient{{URL: m.serverURL(), Client: c}}, nil
	}
	token := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		if v := m.env(env); v != "" {
			return v
		}
		if m.token != "" {
			return m.token
		}
		return m.env("token")
	}
	var out []sideClient
	for _, x := range []struct{ role, url, token, flag, fp string }{
		{"primary", p, token(ls.primaryToken, "primary-token"), "--primary-token", ls.primaryFingerprint},
		{"secondary", s, token(ls.secondaryToken, "secondary-token"), "--secondary-token", ls.secondaryFingerprint},
	} {
		if x.url == "" {
			continue
		}
		if x.token == "" {
			return nil, sqlink.Errorf(sqlink.EUNAUTHORIZED, fmt.Sprintf("pass %s or set SQLINK_%s_TOKEN", x.flag, strings.ToUpper(x.role)), "no admin token given for the %s", x.role)
		}
		u := withScheme(x.url)
		c, err := adminClient(u, x.token, m.trust(x.fp, "--"+x.role+"-fingerprint", x.role+"-fingerprint"))
		if err != nil {
			return nil, err
		}
		c = c.WithUnauthorizedHint(
			fmt.Sprintf("pass %s or set SQLINK_%s_TOKEN to a valid token of the %s %s", x.flag, strings.ToUpper(x.role), x.role, u))
		out = append(out, sideClient{Role: x.role, URL: u, Client: c})
	}
	return out, nil
}

// serverURL returns the --server URL as client uses it.
func (m *Main) serverURL() string {
	u := m.server
	if u == "" {
		u = m.env("server")
	}
	if u == "" {
		u = "https://" + defaultAdminHost
	}
	return withScheme(u)
}

func (m *Main) linkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Create, monitor, verify and drop links that replicate a database to another instance",
		Long: `A link replicates one database from its primary instance to a read-only copy
on a secondary instance. Commands that need both instances take --primary and
--secondary (admin API URLs) with --primary-token and --secondary-token; the
others use --server, or both sides when given.`,
	}
	cmd.AddCommand(m.linkCreateCommand(), m.linkDropCommand(), m.linkStatusCommand(), m.linkListCommand(), m.linkVerifyCommand(), m.linkFailoverCommand(), m.linkSetRoleCommand())
	return cmd
}

func (m *Main) linkCreateCommand() *cobra.Command {
	var (
		sides     linkSides
		opts      LinkCreateOptions
		databases string
		mode      string
	)
	cmd := &cobra.Command{
		Use:   "create --name L --database DB[,DB...] --primary URL --secondary URL",
		Short: "Create a link: validate, exchange certificates, create both halves and start seeding",
		Long: `create signs in to both instances, validates (versions, collations, the
database is ONLINE with a full backup on the primary and absent on the
secondary, names free), makes each instance trust the other's endpoint
certificate, and creates the link on the secondary, then on the primary,
which starts seeding. With several databases it creates one link per
database, named NAME_DB. A failure part-way undoes what was done, and the
error names the failed step, its cause and what to do.

With --json it prints one JSON object per line: {"event":"step",...} for
each step as it starts and ends, then {"event":"result","links":[...]} or
{"event":"error",...}.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := sides.clients(m, cmd, true)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if err := refuseClearTokens(c.Role, c.URL); err != nil {
					return err
				}
			}
			opts.Databases = splitList(databases)
			opts.Mode = sqlink.Mode(strings.ToLower(mode))
			lc := &LinkCreator{Primary: cs[0].Client, Secondary: cs[1].Client, PrimaryURL: cs[0].URL, SecondaryURL: cs[1].URL}
			enc := json.NewEncoder(m.Stdout)
			if m.output == "json" {
				lc.Progress = func(s LinkStep) { enc.Encode(s) }
			} else {
				lc.Progress = func(s LinkStep) { m.printStep(s) }
			}
			links, err := lc.Create(cmd.Context(), opts)
			if err != nil {
				if m.output == "json" {
					enc.Encode(map[string]any{"event": "error", "code": sqlink.ErrorCode(err), "message": sqlink.ErrorMessage(err), "hint": sqlink.ErrorHint(err)})
				}
				return err
			}
			if m.output == "json" {
				return enc.Encode(map[string]any{"event": "result", "links": links})
			}
			for _, l := range links {
				fmt.Fprintf(m.Stdout, "Created link %s (id %s): %s on %s -> %s; the secondary is %s.\n", l.Name, l.LinkID, l.Database,
					orDash(l.Primary.Local.Instance), orDash(l.Secondary.Local.Instance), orDash(string(l.Secondary.Local.DatabaseState)))
			}
			fmt.Fprintf(m.Stdout, "Follow seeding with: sqlink link status %s --primary %s --secondary %s\n", linkNames(opts.Name, opts.Databases)[0], cs[0].URL, cs[1].URL)
			return nil
		},
	}
	f := cmd.Flags()
	sides.addFlags(f)
	f.StringVar(&opts.Name, "name", "", "link name (with several databases, each link is NAME_DB)")
	f.StringVar(&databases, "database", "", "database to link; several separated by commas")
	f.StringVar(&mode, "mode", "async", "async (commits do not wait) or sync (commits wait for the secondary)")
	f.BoolVar(&opts.TwoWay, "two-way", false, "allow fail back (the link can replicate the other way after a failover)")
	f.BoolVar(&opts.SeedFromBackup, "seed-from-backup", false, "seed from the database restored RESTORING on the secondary (ships only the log after the backup)")
	f.StringVar(&opts.PrimaryEndpoint, "primary-endpoint", "", "HOST:PORT the secondary dials to reach the primary's endpoint (default: what the primary reports)")
	f.StringVar(&opts.SecondaryEndpoint, "secondary-endpoint", "", "HOST:PORT the primary dials to reach the secondary's endpoint (default: what the secondary reports)")
	return cmd
}

// printStep prints a step's progress line.
func (m *Main) printStep(s LinkStep) {
	switch s.Status {
	case StepRunning:
		fmt.Fprintf(m.Stdout, "[%d/4] %s ...\n", s.Step, s.Title)
	case StepOK:
		fmt.Fprintf(m.Stdout, "[%d/4] %s: ok", s.Step, s.Title)
		if s.Detail != "" {
			fmt.Fprintf(m.Stdout, " (%s)", s.Detail)
		}
		fmt.Fprintln(m.Stdout)
	default:
		fmt.Fprintf(m.Stdout, "[%d/4] %s: %s: %s\n", s.Step, s.Title, s.Status, s.Detail)
	}
}

// linkDropResult is what drop did on one side.
type linkDropResult struct {
	Instance string `json:"instance"`
	Role     string `json:"role,omitempty"`
	Result   string `json:"result"` // dropped, not_found, unreachable or an error code
	Message  string `json:"message,omitempty"`
}

func (m *Main) linkDropCommand() *cobra.Command {
	var sides linkSides
	cmd := &cobra.Command{
		Use:   "drop NAME [--primary URL --secondary URL | --server URL]",
		Short: "Drop a link; both copies become independent read/write databases",
		Long: `drop deletes the link on each instance given. An unreachable instance is
reported, not fatal: it drops its half when it hears from its partner, or run
drop against it alone later.`,
		Args: exactArgs(1, "a link name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := sides.clients(m, cmd, false)
			if err != nil {
				return err
			}
			name := args[0]
			var (
				res                           []linkDropResult
				dropped, missing, unreachable int
				fatal                         error
			)
			for _, c := range cs {
				ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
				err := c.Client.Do(ctx, "DELETE", "/v1/links/"+url.PathEscape(name), nil, nil)
				cancel()
				r := linkDropResult{Instance: c.URL, Role: c.Role, Result: "dropped"}
				switch code := sqlink.ErrorCode(err); {
				case err == nil:
					dropped++
				case code == sqlink.ENOTFOUND:
					r.Result, r.Message = "not_found", sqlink.ErrorMessage(err)
					missing++
				case code == sqlink.EUNAVAILABLE || code == sqlink.ETIMEOUT:
					r.Result, r.Message = "unreachable", sqlink.ErrorMessage(err)
					unreachable++
				default:
					r.Result, r.Message = code, sqlink.ErrorMessage(err)
					if fatal == nil {
						fatal = err
					}
				}
				res = append(res, r)
			}
			if err := m.emit(res, func(w *tabwriter.Writer) {
				for _, r := range res {
					who := r.Instance
					if r.Role != "" {
						who = r.Role + " " + r.Instance
					}
					switch r.Result {
					case "dropped":
						fmt.Fprintf(w, "Dropped link %s on %s.\n", name, who)
					case "not_found":
						fmt.Fprintf(w, "No link %s on %s (already dropped, e.g. by its partner).\n", name, who)
					case "unreachable":
						fmt.Fprintf(w, "Could not reach %s (%s): it drops its half when it reconnects to its partner, or run `sqlink link drop %s --server %s` later.\n", who, r.Message, name, r.Instance)
					default:
						fmt.Fprintf(w, "Failed on %s: %s\n", who, r.Message)
					}
				}
			}); err != nil {
				return err
			}
			switch {
			case fatal != nil:
				return fatal
			case dropped == 0 && unreachable == 0:
				return sqlink.Errorf(sqlink.ENOTFOUND, "list links with `sqlink link list`", "no link named %s", name)
			case dropped == 0:
				return sqlink.Errorf(sqlink.EUNAVAILABLE, "check that the instances are running and retry", "could not reach any instance to drop link %s", name)
			}
			_ = missing
			return nil
		},
	}
	sides.addFlags(cmd.Flags())
	return cmd
}

func (m *Main) linkListCommand() *cobra.Command {
	var sides linkSides
	cmd := &cobra.Command{
		Use: "list", Short: "List the links of an instance", Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := sides.clients(m, cmd, false)
			if err != nil {
				return err
			}
			var all []adminapi.LinkStatus
			for _, c := range cs {
				var ls []adminapi.LinkStatus
				if err := c.Client.Do(cmd.Context(), "GET", "/v1/links", nil, &ls); err != nil {
					return err
				}
				all = append(all, ls...)
			}
			return m.emit(all, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "NAME\tDATABASE\tINSTANCE\tROLE\tPARTNER\tMODE\tSTATE\tSYNC\tCONNECTED\tLAG\tEPOCH")
				for _, l := range all {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\t%d\n", l.Name, l.Database, orDash(l.Local.Instance), l.Local.Role,
						orDash(l.Partner.Instance), l.Mode, l.State, l.Local.SyncState, l.Local.Connected, seconds(l.Local.SecondaryLag), l.Epoch)
				}
			})
		},
	}
	sides.addFlags(cmd.Flags())
	return cmd
}

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
					var l adminapi.LinkStatus
					err := c.Do(cmd.Context(), "GET", "/v1/links/"+url.PathEscape(args[0]), nil, &l)
					return []adminapi.LinkStatus{l}, err
				}
				var ls []adminapi.LinkStatus
				err := c.Do(cmd.Context(), "GET", "/v1/links", nil, &ls)
				return ls, err
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
			for {
				last = func() error {
					if fixed == 0 {
						var st adminapi.LinkStatus
						if err := p.Do(ctx, "GET", "/v1/links/"+url.PathEscape(name), nil, &st); err != nil {
							return sideError("primary", err)
						}
						if st.Local.Role != sqlink.RolePrimary {
							return sqlink.Errorf(sqlink.EINVALID, "swap --primary and --secondary", "%s is not the primary of link %s (its role is %s)", cs[0].URL, name, st.Local.Role)
						}
					}
					// Without --lsn the primary takes its digest where it
					// stands (lsn 0) and has the secondary hold its apply at
					// that LSN, so the two meet while writes go on.
					path := "/v1/links/" + url.PathEscape(name) + "/digest?lsn="
					if err := p.Do(ctx, "GET", path+strconv.FormatUint(uint64(fixed), 10), nil, &pd); err != nil {
						return sideError("primary", err)
					}
					if err := s.Do(ctx, "GET", path+strconv.FormatUint(uint64(pd.LSN), 10), nil, &sd); err != nil {
						return sideError("secondary", err)
					}
					return nil
				}()
				if last == nil {
					break
				}
				switch sqlink.ErrorCode(last) {
				case sqlink.EINVALID, sqlink.EUNAUTHORIZED, sqlink.EFORBIDDEN, sqlink.ENOTIMPLEMENTED:
					return last
				}
				select {
				case <-ctx.Done():
					return &sqlink.Error{Code: sqlink.ETIMEOUT, Message: fmt.Sprintf("no digest of link %s at a common LSN after %s: %s", name, timeout, sqlink.ErrorMessage(last)),
						Hint: orHint(sqlink.ErrorHint(last), "stop writes on the primary, or pass a longer --timeout")}
				case <-time.After(200 * time.Millisecond):
				}
			}
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

func orHint(h, def string) string {
	if h != "" {
		return h
	}
	return def
}
