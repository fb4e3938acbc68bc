package linkcreate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
)

// Client is what the saga asks of one instance's admin API.
// *adminapi.Client implements it.
type Client interface {
	Info(ctx context.Context) (adminapi.InstanceStatus, error)
	GetDatabase(ctx context.Context, name string) (adminapi.DatabaseInfo, error)
	DropDatabase(ctx context.Context, name string) error
	EndpointCertificate(ctx context.Context) (adminapi.CertificateInfo, error)
	ListTrustedCertificates(ctx context.Context) ([]adminapi.CertificateInfo, error)
	TrustCertificate(ctx context.Context, name string, certPEM []byte) (adminapi.CertificateInfo, error)
	UntrustCertificate(ctx context.Context, name string) error
	ListLinks(ctx context.Context) ([]adminapi.LinkStatus, error)
	GetLink(ctx context.Context, name string) (adminapi.LinkStatus, error)
	CreateLink(ctx context.Context, req adminapi.CreateLinkRequest) (adminapi.LinkStatus, error)
	DropLink(ctx context.Context, name string) error
	ValidateLink(ctx context.Context, req adminapi.ValidateLinkRequest) (adminapi.ValidateLinkResponse, error)
	ProbeEndpoint(ctx context.Context, req adminapi.ProbeRequest) (adminapi.ProbeResponse, error)
}

var _ Client = (*adminapi.Client)(nil)

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

// Step is one step of link creation as it is reported while it runs.
type Step struct {
	Event  string    `json:"event"` // always "step"
	Step   int       `json:"step"`
	Name   string    `json:"name"`
	Title  string    `json:"title"`
	Status string    `json:"status"` // running, ok, failed or skipped
	Detail string    `json:"detail,omitempty"`
	Time   time.Time `json:"time"`
}

// Options describes the links to create.
type Options struct {
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
	// SkipChecks names validation checks whose failure is only a warning
	// (guide.Options.Skip).
	SkipChecks []string
	// AutoFailover, LeaseTTL and MaxDataLoss are the links' automatic
	// failover settings (adminapi.CreateLinkRequest); LeaseTTL 0 is the
	// default.
	AutoFailover bool
	LeaseTTL     time.Duration
	MaxDataLoss  uint64
}

// Link is one link as both halves reported it when created.
type Link struct {
	Name      string              `json:"name"`
	Database  string              `json:"database"`
	LinkID    string              `json:"link_id"`
	Primary   adminapi.LinkStatus `json:"primary"`
	Secondary adminapi.LinkStatus `json:"secondary"`
}

// Creator creates links between two instances through their admin APIs,
// the way `sqlink link create` and the demo do. It is not safe for
// concurrent use.
type Creator struct {
	Primary   Client
	Secondary Client
	// PrimaryURL and SecondaryURL are the clients' admin URLs: an endpoint
	// that listens on an unspecified address is dialled at their host.
	PrimaryURL, SecondaryURL string
	// Progress, if set, is called as each step starts and ends.
	Progress func(Step)
	// NewID returns a link id; nil means 16 random bytes in hex.
	NewID func() string
	Now   func() time.Time
	// Checks are the validation's checks of the last Create, once it ran.
	Checks []adminapi.ValidationCheck

	undo []undoAction
}

// errNothingToUndo is returned by an undo action that found nothing to do.
var errNothingToUndo = errors.New("nothing to undo")

type undoAction struct {
	what string // what it did, e.g. "dropped link l on beta"
	todo string // what is left to do by hand when it fails, e.g. "drop link l on beta"
	do   func(ctx context.Context) error
}

// LinkNames returns the link name of each database: name itself for one
// database, name_database for each of several.
func LinkNames(name string, dbs []string) []string { return guide.LinkNames(name, dbs) }

func (lc *Creator) report(step, status, detail string) {
	if lc.Progress == nil {
		return
	}
	now := time.Now
	if lc.Now != nil {
		now = lc.Now
	}
	lc.Progress(Step{Event: "step", Step: stepNumbers[step], Name: step, Title: stepTitles[step], Status: status, Detail: detail, Time: now().UTC()})
}

// Create runs the steps. When one fails it undoes what the earlier ones did
// and returns an error that names the step, the cause and what to do.
func (lc *Creator) Create(ctx context.Context, opts Options) ([]Link, error) {
	lc.undo, lc.Checks = nil, nil
	if err := validateCreateOptions(opts); err != nil {
		return nil, err
	}
	var (
		p, s   adminapi.InstanceStatus
		step   string
		out    []Link
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
		err = stepFn(StepValidate, func() (string, error) { return lc.validate(ctx, opts) })
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

func validateCreateOptions(opts Options) error {
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
	switch {
	case !opts.AutoFailover && (opts.LeaseTTL != 0 || opts.MaxDataLoss != 0):
		return sqlink.Errorf(sqlink.EINVALID, "add --auto-failover, or leave out --lease-ttl and --max-data-loss", "--lease-ttl and --max-data-loss are settings of --auto-failover")
	case opts.LeaseTTL < 0 || opts.LeaseTTL%time.Second != 0:
		return sqlink.Errorf(sqlink.EINVALID, "use whole seconds, e.g. --lease-ttl 10s", "invalid lease TTL %s", opts.LeaseTTL)
	case opts.MaxDataLoss != 0 && opts.Mode == sqlink.ModeSync:
		return sqlink.Errorf(sqlink.EINVALID, "leave out --max-data-loss: a sync link's automatic failover never loses a commit", "--max-data-loss applies to async links only")
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
func (lc *Creator) rollback(ctx context.Context) []string {
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
