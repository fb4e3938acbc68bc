package guide

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/transport"
)

// StepSkipped is the status of a troubleshooting step not run because an
// earlier one failed.
const StepSkipped = adminapi.CheckSkipped

// Troubleshooting step names, in order.
const (
	StepResolve = "name resolution"
	StepConnect = "TCP connect"
	StepTLS     = "TLS handshake"
	StepHello   = "link hello"
	StepRTT     = "round-trip time"
	StepSkew    = "clock skew"
)

// MaxClockSkew is the clock difference between two instances above which
// troubleshooting warns: commit times, lag and certificate validity are
// read across both clocks.
const MaxClockSkew = 2 * time.Second

// ProbeStep is one step of a direction, with its result and timing.
type ProbeStep struct {
	Name       string               `json:"name"`
	Status     adminapi.CheckStatus `json:"status"` // pass, warning, fail or skipped
	DurationMS float64              `json:"duration_ms"`
	Detail     string               `json:"detail,omitempty"`
	Hint       string               `json:"hint,omitempty"`
}

// Direction is one instance probing the other's endpoint.
type Direction struct {
	From        string      `json:"from"`
	To          string      `json:"to"`
	Address     string      `json:"address"`
	Fingerprint string      `json:"fingerprint"` // expected
	Presented   string      `json:"presented,omitempty"`
	Steps       []ProbeStep `json:"steps"`
	// Failed names the first failing step, if one did.
	Failed     string  `json:"failed,omitempty"`
	Message    string  `json:"message,omitempty"`
	Hint       string  `json:"hint,omitempty"`
	RTTMS      float64 `json:"rtt_ms"`
	SkewMS     float64 `json:"clock_skew_ms"`
	SkewKnown  bool    `json:"clock_skew_known"`
	probeError error
	on         Client
	// untrusted: the target's trust store (when it could be read) lacks
	// the source's certificate and no link joins them yet, as before link
	// create exchanges the certificates.
	untrusted bool
	sourceFP  string // the source's endpoint certificate fingerprint
}

// OK reports whether no step of the direction failed.
func (d Direction) OK() bool { return d.Failed == "" }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// probe asks d.on to probe d.Address and fills the steps.
func (d *Direction) probe(ctx context.Context) {
	res, err := d.on.ProbeEndpoint(ctx, adminapi.ProbeRequest{Address: d.Address, Fingerprint: d.Fingerprint})
	if err != nil {
		d.probeError = err
		d.Failed = "probe"
		d.Message = fmt.Sprintf("%s could not probe %s: %s", d.From, d.Address, sqlink.ErrorMessage(err))
		d.Hint = orHint(sqlink.ErrorHint(err), "upgrade "+d.From+" to a sqlink that probes endpoints")
		return
	}
	if res.Peer != nil {
		d.Presented = res.Peer.Fingerprint
	}
	host, port, _ := net.SplitHostPort(d.Address)
	toName := d.To
	failed := false
	step := func(s transport.ProbeStep, name string, hint func() string) {
		ps := ProbeStep{Name: name, DurationMS: ms(s.Duration), Detail: s.Detail}
		switch {
		case failed:
			ps.Status, ps.Detail = StepSkipped, "skipped: an earlier step failed"
		case s.Skipped:
			ps.Status = StepSkipped
			if ps.Detail == "" {
				ps.Detail = "skipped"
			}
		case s.OK:
			ps.Status = adminapi.CheckPass
		default:
			failed = true
			ps.Status = adminapi.CheckFail
			ps.Detail = s.Error
			ps.Hint = hint()
			if ps.Hint == "" {
				ps.Hint = s.Hint
			}
			d.Failed = name
			d.Message = fmt.Sprintf("%s from %s to %s (%s) failed: %s", name, d.From, toName, d.Address, s.Error)
			d.Hint = ps.Hint
		}
		d.Steps = append(d.Steps, ps)
	}
	step(res.Resolve, StepResolve, func() string {
		return fmt.Sprintf("can %s resolve %q? check DNS or /etc/hosts on %s, or pass the endpoint as an IP address", d.From, host, d.From)
	})
	step(res.Connect, StepConnect, func() string {
		why := "failed"
		if strings.Contains(res.Connect.Error, "refused") {
			why = "refused"
		} else if strings.Contains(res.Connect.Error, "timeout") || strings.Contains(res.Connect.Error, "timed out") {
			why = "timed out"
		}
		return fmt.Sprintf("TCP connect from %s to %s:%s %s: is %s's endpoint listening on that address (sqlink serve --endpoint-addr)? is a firewall between them?", d.From, host, port, why, toName)
	})
	step(res.TLS, StepTLS, func() string {
		switch {
		case d.Presented != "" && !strings.EqualFold(d.Presented, normFP(d.Fingerprint)) && d.Fingerprint != "":
			return fmt.Sprintf("%s presented a certificate with fingerprint %s, expected %s (%s's endpoint certificate): is another program or instance listening on %s, or was the certificate rotated?",
				d.Address, d.Presented, d.Fingerprint, toName, d.Address)
		case strings.Contains(res.TLS.Error, "refused this instance's certificate") && d.sourceFP != "":
			return fmt.Sprintf("%s refused %s's endpoint certificate (SHA-256 %s): trust it on %s (`sqlink cert show --pem` on %s, then `sqlink cert trust` on %s), and check it has not expired by %s's clock",
				toName, d.From, d.sourceFP, toName, d.From, toName, toName)
		}
		return ""
	})
	if failed && d.Failed == StepTLS && d.untrusted && strings.EqualFold(d.Presented, normFP(d.Fingerprint)) &&
		strings.Contains(res.TLS.Error, "refused this instance's certificate") {
		// Not yet trusted, as before link create: the endpoint is there
		// and presents the expected certificate. A warning, not a failure.
		tls := &d.Steps[len(d.Steps)-1]
		tls.Status = adminapi.CheckWarning
		tls.Detail = fmt.Sprintf("%s presented the expected certificate (SHA-256 %s) but does not trust %s's yet", toName, d.Presented, d.From)
		tls.Hint = fmt.Sprintf("`sqlink link create` makes each instance trust the other's endpoint certificate; the link hello needs it")
		d.Failed, d.Message, d.Hint = "", "", ""
		failed = false
		res.Hello.Skipped = true
		res.Hello.Detail = "skipped: needs mutual trust"
	}
	step(res.Hello, StepHello, func() string {
		return fmt.Sprintf("%s answered but not as a compatible sqlink endpoint: check the version of %s", d.Address, toName)
	})
	rtt := ProbeStep{Name: StepRTT, Status: StepSkipped, Detail: "skipped: an earlier step failed"}
	skew := ProbeStep{Name: StepSkew, Status: StepSkipped, Detail: "skipped: an earlier step failed"}
	if !failed {
		d.RTTMS = ms(res.RTT)
		rtt = ProbeStep{Name: StepRTT, Status: adminapi.CheckPass, DurationMS: ms(res.RTT), Detail: fmt.Sprintf("%.3f ms (%s)", ms(res.RTT), res.RTTSource)}
		skew = ClockSkew(d.From, d.To, res.ClockSkew, res.ClockSkewKnown)
		d.SkewMS, d.SkewKnown = ms(res.ClockSkew), res.ClockSkewKnown
	}
	d.Steps = append(d.Steps, rtt, skew)
}

func normFP(s string) string {
	return strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(s))
}

// ClockSkew is the clock-skew step: a warning above MaxClockSkew.
func ClockSkew(from, to string, skew time.Duration, known bool) ProbeStep {
	ps := ProbeStep{Name: StepSkew, Status: adminapi.CheckPass}
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	switch {
	case !known:
		ps.Status, ps.Detail = adminapi.CheckWarning, "unknown: the partner did not report its clock"
		ps.Hint = "upgrade " + to
	case abs > MaxClockSkew:
		ps.Status = adminapi.CheckWarning
		ps.Detail = fmt.Sprintf("%s's clock is %s %s %s's", to, abs.Round(time.Millisecond), map[bool]string{true: "ahead of", false: "behind"}[skew > 0], from)
		ps.Hint = fmt.Sprintf("synchronise the clocks of %s and %s (NTP): lag, commit times and certificate validity are read across both clocks", from, to)
	default:
		ps.Detail = fmt.Sprintf("%s's clock is within %s of %s's (%+.3f ms)", to, MaxClockSkew, from, ms(skew))
	}
	return ps
}

// reachable is the validation check of a direction: the endpoint answers
// with the expected certificate. A TLS refusal of this instance's
// certificate passes: link create makes each side trust the other.
func (d Direction) reachable(ctx context.Context) adminapi.ValidationCheck {
	d.probe(ctx)
	name := CheckEndpoint
	what := fmt.Sprintf("%s -> %s (%s)", d.From, d.To, d.Address)
	switch {
	case d.probeError != nil && sqlink.ErrorCode(d.probeError) == sqlink.EFORBIDDEN:
		// The permission check names it too; under its name, so that
		// skipping that check skips this one.
		return fail(CheckPermissions, d.From, d.Hint, "%s: not probed: %s", what, sqlink.ErrorMessage(d.probeError))
	case d.Failed == "":
		return pass(name, d.From, "%s: reachable, certificate as expected, %.3f ms round trip", what, d.RTTMS)
	case d.Failed == StepTLS && strings.EqualFold(d.Presented, normFP(d.Fingerprint)):
		return pass(name, d.From, "%s: reachable, certificate as expected (the certificates are exchanged at creation)", what)
	case d.Failed == StepHello:
		return warn(name, d.From, d.Hint, "%s: %s", what, d.Message)
	}
	return fail(name, d.From, d.Hint, "%s", d.Message)
}

// Troubleshoot probes each instance's endpoint from the other and reports
// both directions, step by step. pEndpoint and sEndpoint override the
// addresses (default: what the instances report).
func (pr Pair) Troubleshoot(ctx context.Context, pEndpoint, sEndpoint string) ([]Direction, error) {
	p, err := pr.Primary.Info(ctx)
	if err != nil {
		return nil, sideErr("primary", err)
	}
	s, err := pr.Secondary.Info(ctx)
	if err != nil {
		return nil, sideErr("secondary", err)
	}
	pe, se, err := Endpoints(pEndpoint, sEndpoint, p, s, pr.PrimaryURL, pr.SecondaryURL)
	if err != nil {
		return nil, err
	}
	pCert, err := pr.Primary.EndpointCertificate(ctx)
	if err != nil {
		return nil, sideErr("primary", err)
	}
	sCert, err := pr.Secondary.EndpointCertificate(ctx)
	if err != nil {
		return nil, sideErr("secondary", err)
	}
	ds := []Direction{
		{From: p.Name, To: s.Name, Address: se, Fingerprint: sCert.Fingerprint, on: pr.Primary, sourceFP: pCert.Fingerprint,
			untrusted: !trusts(ctx, pr.Secondary, pCert) && !linked(ctx, pr.Secondary, p.Name)},
		{From: s.Name, To: p.Name, Address: pe, Fingerprint: pCert.Fingerprint, on: pr.Secondary, sourceFP: sCert.Fingerprint,
			untrusted: !trusts(ctx, pr.Primary, sCert) && !linked(ctx, pr.Primary, s.Name)},
	}
	for i := range ds {
		ds[i].probe(ctx)
	}
	return ds, ctx.Err()
}

func sideErr(role string, err error) error {
	return &sqlink.Error{Code: sqlink.ErrorCode(err), Message: role + ": " + sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)}
}

// trusts reports whether c's trust store holds cert; true when it cannot
// be read (a refusal then stays a failure).
func trusts(ctx context.Context, c Client, cert adminapi.CertificateInfo) bool {
	ts, err := c.ListTrustedCertificates(ctx)
	if err != nil {
		return true
	}
	for _, t := range ts {
		if strings.EqualFold(t.Fingerprint, cert.Fingerprint) {
			return true
		}
	}
	return false
}

// linked reports whether c has a link with partner; true when it cannot
// tell.
func linked(ctx context.Context, c Client, partner string) bool {
	ls, err := c.ListLinks(ctx)
	if err != nil {
		return true
	}
	for _, l := range ls {
		if l.Partner.Instance == partner {
			return true
		}
	}
	return false
}
