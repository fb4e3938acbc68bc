package guide

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// Client is what validation and troubleshooting ask of one instance's
// admin API. *adminapi.Client implements it.
type Client interface {
	Info(ctx context.Context) (adminapi.InstanceStatus, error)
	GetDatabase(ctx context.Context, name string) (adminapi.DatabaseInfo, error)
	EndpointCertificate(ctx context.Context) (adminapi.CertificateInfo, error)
	ListTrustedCertificates(ctx context.Context) ([]adminapi.CertificateInfo, error)
	ListLinks(ctx context.Context) ([]adminapi.LinkStatus, error)
	ValidateLink(ctx context.Context, req adminapi.ValidateLinkRequest) (adminapi.ValidateLinkResponse, error)
	ProbeEndpoint(ctx context.Context, req adminapi.ProbeRequest) (adminapi.ProbeResponse, error)
}

var _ Client = (*adminapi.Client)(nil)

// Options describes the links to validate.
type Options struct {
	Name           string
	Databases      []string
	TwoWay         bool
	SeedFromBackup bool
	// PrimaryEndpoint and SecondaryEndpoint override the endpoint address
	// each partner dials (default: what the instance reports).
	PrimaryEndpoint, SecondaryEndpoint string
	// Skip names checks whose failure is only a warning, for an operator
	// who knows better (say, the secondary's volume grows while seeding):
	// check names, case and '-' for ' ' ignored.
	Skip []string
}

// skipNames normalises check names for Options.Skip.
func skipName(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "-", " "))
}

// CheckNames returns the names Options.Skip accepts.
func CheckNames() []string {
	return []string{CheckVersions, CheckCollations, CheckUserDatabase, CheckOnline, CheckFullBackup, CheckSecondaryDB, CheckLinkName,
		CheckNotLinked, CheckEndpoint, CheckCertificate, CheckPermissions, CheckDisk, CheckLogCap}
}

// ValidateSkip checks that each name in skip is a check's.
func ValidateSkip(skip []string) error {
	known := map[string]bool{}
	var names []string
	for _, n := range CheckNames() {
		known[n] = true
		names = append(names, strings.ReplaceAll(n, " ", "-"))
	}
	for _, s := range skip {
		if !known[skipName(s)] {
			return sqlink.Errorf(sqlink.EINVALID, "skip one of: "+strings.Join(names, ", "), "unknown check %q", s)
		}
	}
	return nil
}

// applySkip turns the failures of skipped checks into warnings.
func applySkip(cs []adminapi.ValidationCheck, skip []string) {
	for i := range cs {
		for _, s := range skip {
			if cs[i].Status == adminapi.CheckFail && skipName(s) == cs[i].Name {
				cs[i].Status = adminapi.CheckWarning
				cs[i].Message = "skipped (--skip-check): " + cs[i].Message
			}
		}
	}
}

// Pair is the two instances of a link, through their admin APIs.
type Pair struct {
	Primary, Secondary       Client
	PrimaryURL, SecondaryURL string
	Now                      func() time.Time
}

// Report is the result of a validation.
type Report struct {
	Checks []adminapi.ValidationCheck `json:"checks"`
}

// OK reports whether no check failed.
func (r Report) OK() bool { return len(Failed(r.Checks)) == 0 }

// LinkNames returns the link name of each database: name itself for one
// database, name_database for each of several.
func LinkNames(name string, dbs []string) []string {
	if len(dbs) == 1 {
		return []string{name}
	}
	out := make([]string, len(dbs))
	for i, db := range dbs {
		out[i] = name + "_" + db
	}
	return out
}

func (pr Pair) now() time.Time {
	if pr.Now != nil {
		return pr.Now()
	}
	return time.Now()
}

// Validate runs every check of link creation and returns one result per
// check. It returns an error only when ctx ends; an instance that cannot
// be reached is a failed check.
func (pr Pair) Validate(ctx context.Context, opts Options) (rep Report, err error) {
	if err := ValidateSkip(opts.Skip); err != nil {
		return rep, err
	}
	defer func() { applySkip(rep.Checks, opts.Skip) }()
	add := func(cs ...adminapi.ValidationCheck) { rep.Checks = append(rep.Checks, cs...) }
	p, perr := pr.Primary.Info(ctx)
	s, serr := pr.Secondary.Info(ctx)
	for _, x := range []struct {
		role, url string
		err       error
		inst      adminapi.InstanceStatus
	}{{"primary", pr.PrimaryURL, perr, p}, {"secondary", pr.SecondaryURL, serr, s}} {
		if x.err != nil {
			add(fail(CheckSignIn, x.url, orHint(sqlink.ErrorHint(x.err), "check the URL, the token and that the instance runs"),
				"cannot sign in to the %s %s: %s", x.role, x.url, sqlink.ErrorMessage(x.err)))
		} else {
			add(pass(CheckSignIn, x.inst.Name, "signed in to the %s %s (%s)", x.role, x.inst.Name, x.url))
		}
	}
	if perr != nil || serr != nil {
		return rep, ctx.Err()
	}
	add(Distinct(p, s), Versions(p, s, opts.TwoWay), Collations(p, s))

	// Each instance's half.
	names := LinkNames(opts.Name, opts.Databases)
	preq := adminapi.ValidateLinkRequest{Role: sqlink.RolePrimary, TwoWay: opts.TwoWay, SeedFromBackup: opts.SeedFromBackup, PartnerName: s.Name}
	sreq := preq
	sreq.Role, sreq.PartnerName = sqlink.RoleSecondary, p.Name
	for i, db := range opts.Databases {
		preq.Links = append(preq.Links, adminapi.ValidateLinkItem{Name: names[i], Database: db})
		var size int64
		if d, err := pr.Primary.GetDatabase(ctx, db); err == nil {
			size = d.SizeBytes
		}
		sreq.Links = append(sreq.Links, adminapi.ValidateLinkItem{Name: names[i], Database: db, SizeBytes: size})
	}
	for _, x := range []struct {
		c    Client
		inst adminapi.InstanceStatus
		req  adminapi.ValidateLinkRequest
	}{{pr.Primary, p, preq}, {pr.Secondary, s, sreq}} {
		res, err := x.c.ValidateLink(ctx, x.req)
		if err != nil {
			add(halfError(x.inst.Name, string(x.req.Role), err))
			continue
		}
		add(res.Checks...)
	}

	// Certificates and endpoints.
	pCert, pcErr := pr.Primary.EndpointCertificate(ctx)
	sCert, scErr := pr.Secondary.EndpointCertificate(ctx)
	for _, x := range []struct {
		inst, partner adminapi.InstanceStatus
		cert          adminapi.CertificateInfo
		err           error
		on            Client
	}{{p, s, pCert, pcErr, pr.Secondary}, {s, p, sCert, scErr, pr.Primary}} {
		if x.err != nil {
			add(halfError(x.inst.Name, "endpoint certificate", x.err))
			continue
		}
		trusted := false
		if ts, err := x.on.ListTrustedCertificates(ctx); err == nil {
			for _, t := range ts {
				trusted = trusted || strings.EqualFold(t.Fingerprint, x.cert.Fingerprint)
			}
		}
		add(Certificate(x.inst.Name, x.partner.Name, x.cert, trusted, pr.now()))
	}
	pe, se, eerr := Endpoints(opts.PrimaryEndpoint, opts.SecondaryEndpoint, p, s, pr.PrimaryURL, pr.SecondaryURL)
	if eerr != nil {
		add(fail(CheckEndpoint, "", sqlink.ErrorHint(eerr), "%s", sqlink.ErrorMessage(eerr)))
		return rep, ctx.Err()
	}
	if pcErr == nil && scErr == nil {
		for _, d := range []Direction{
			{From: p.Name, To: s.Name, Address: se, Fingerprint: sCert.Fingerprint, on: pr.Primary},
			{From: s.Name, To: p.Name, Address: pe, Fingerprint: pCert.Fingerprint, on: pr.Secondary},
		} {
			add(d.reachable(ctx))
		}
	}
	return rep, ctx.Err()
}

func orHint(h, def string) string {
	if h != "" {
		return h
	}
	return def
}

// halfError is the failed check of an instance's half that could not run.
func halfError(inst, what string, err error) adminapi.ValidationCheck {
	if sqlink.ErrorCode(err) == sqlink.ENOTFOUND || sqlink.ErrorCode(err) == sqlink.ENOTIMPLEMENTED {
		return fail(CheckInstanceHalf, inst, "upgrade "+inst+" to a sqlink that validates links",
			"%s (%s) cannot validate its half: %s", inst, what, sqlink.ErrorMessage(err))
	}
	if sqlink.ErrorCode(err) == sqlink.EFORBIDDEN {
		return fail(CheckPermissions, inst, orHint(sqlink.ErrorHint(err), "use a token with the link-contributor role"),
			"%s (%s): %s", inst, what, sqlink.ErrorMessage(err))
	}
	return fail(CheckInstanceHalf, inst, orHint(sqlink.ErrorHint(err), "fix the cause and validate again"),
		"%s (%s): %s", inst, what, sqlink.ErrorMessage(err))
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

// Endpoints returns the addresses each side dials to reach the other's
// endpoint: the overrides or what the instances report. It refuses a
// loopback endpoint that the partner, on another host, could not reach.
func Endpoints(pOverride, sOverride string, p, s adminapi.InstanceStatus, pURL, sURL string) (pEndpoint, sEndpoint string, err error) {
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
	if pEndpoint, err = pick(pOverride, p.EndpointAddr, pURL, sURL, "primary", "--primary-endpoint", p); err != nil {
		return "", "", err
	}
	if sEndpoint, err = pick(sOverride, s.EndpointAddr, sURL, pURL, "secondary", "--secondary-endpoint", s); err != nil {
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
