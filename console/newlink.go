package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
	"github.com/sqlink/sqlink/linkcreate"
	"github.com/sqlink/sqlink/rbac"
)

// The New Link wizard's server side. The browser never talks to the
// second instance: its URL and token go to this instance's console API
// once (POST /console/api/newlink/signin), which signs in to it and keeps
// the client in memory for this one operation: it is dropped when the
// links are created, when the wizard is cancelled, when the session
// signs out, or after newLinkIdle without use. It is never written to
// the catalog or a log, and never sent back to the page. This instance is
// reached in-process with the session's own token, so every call is
// authorized and audited as the signed-in principal, as if the CLI made
// it. The saga is package linkcreate, the checks package guide: the same
// engine as `sqlink link create`.

const newLinkIdle = 30 * time.Minute

// maxNewLinks bounds the operations kept in memory.
const maxNewLinks = 64

// NewLinkOptions are the wizard's answers (linkcreate.Options as JSON).
type NewLinkOptions struct {
	Name              string   `json:"name"`
	Databases         []string `json:"databases"`
	Mode              string   `json:"mode"`
	TwoWay            bool     `json:"two_way"`
	SeedFromBackup    bool     `json:"seed_from_backup"`
	PrimaryEndpoint   string   `json:"primary_endpoint"`
	SecondaryEndpoint string   `json:"secondary_endpoint"`
	Troubleshoot      bool     `json:"troubleshoot"`
}

func (o NewLinkOptions) create() linkcreate.Options {
	m := sqlink.Mode(o.Mode)
	if o.Mode == "" {
		m = sqlink.ModeAsync
	}
	return linkcreate.Options{Name: strings.TrimSpace(o.Name), Databases: o.Databases, Mode: m, TwoWay: o.TwoWay,
		SeedFromBackup: o.SeedFromBackup, PrimaryEndpoint: o.PrimaryEndpoint, SecondaryEndpoint: o.SecondaryEndpoint}
}

// newLinkOp is one run of the wizard past the secondary's sign-in.
type newLinkOp struct {
	id           string
	sessionID    string // guarded by Console.mu; "" once its session ended
	primary      *adminapi.Client
	primaryURL   string
	secondary    *adminapi.Client // nil once dropped
	secondaryURL string
	fingerprint  string
	pInfo, sInfo adminapi.InstanceStatus

	mu       sync.Mutex
	lastUsed time.Time
	running  bool
	done     bool
	cancel   context.CancelFunc
	steps    []linkcreate.Step
	seeding  map[string]*adminapi.SeedingStatus
	links    []linkcreate.Link
	final    []adminapi.LinkStatus
	err      error
}

// NewLinkProgress is GET /console/api/newlink/{id}: the Executing and
// Results pages.
type NewLinkProgress struct {
	ID        string                             `json:"id"`
	Primary   adminapi.InstanceStatus            `json:"primary"`
	Secondary adminapi.InstanceStatus            `json:"secondary"`
	Running   bool                               `json:"running"`
	Done      bool                               `json:"done"`
	Steps     []linkcreate.Step                  `json:"steps"`
	Seeding   map[string]*adminapi.SeedingStatus `json:"seeding"`
	Links     []linkcreate.Link                  `json:"links"`
	Final     []adminapi.LinkStatus              `json:"final"`
	Error     *errorBody                         `json:"error,omitempty"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func toErrorBody(err error) *errorBody {
	if err == nil {
		return nil
	}
	return &errorBody{Code: sqlink.ErrorCode(err), Message: sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)}
}

func writeError(w http.ResponseWriter, err error) {
	code := sqlink.ErrorCode(err)
	writeErr(w, adminapi.StatusCode(code), code, sqlink.ErrorMessage(err), sqlink.ErrorHint(err))
}

// localTransport sends a request to this instance's API handler in
// process, with the session's token.
type localTransport struct {
	h            http.Handler
	auth, remote string
}

func (t localTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", t.auth)
	r.RemoteAddr = t.remote
	r.RequestURI = r.URL.RequestURI()
	if r.Body == nil {
		r.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// localClient is an admin client of this instance acting as s.
func (c *Console) localClient(r *http.Request, s *session) *adminapi.Client {
	hc := &http.Client{Transport: localTransport{h: c.api, auth: "Bearer " + s.token, remote: r.RemoteAddr}}
	return adminapi.NewClient("http://console.local", s.token, hc)
}

// selfURL is this instance's admin URL as the browser reaches it: an
// endpoint listening on all addresses is dialled at its host.
func selfURL(r *http.Request) string {
	if r.TLS == nil {
		return "http://" + r.Host
	}
	return "https://" + r.Host
}

// authorize checks the session (and its CSRF token on a state-changing
// request) and that the principal holds perm. It writes the error itself.
func (c *Console) authorize(w http.ResponseWriter, r *http.Request, perm rbac.Permission) (*session, string, bool) {
	s := c.lookup(r)
	if s == nil {
		writeErr(w, http.StatusUnauthorized, sqlink.EUNAUTHORIZED, "not signed in", "sign in with an admin token")
		return nil, "", false
	}
	if !safeMethod(r.Method) && !csrfOK(r, s) {
		writeErr(w, http.StatusForbidden, sqlink.EFORBIDDEN, "missing or wrong CSRF token", "use the console's buttons; reload the page if this persists")
		return nil, "", false
	}
	principal, roles, err := c.cfg.Authenticate(r.Context(), s.token)
	if err != nil {
		writeErr(w, http.StatusUnauthorized, sqlink.EUNAUTHORIZED, "the session's token is no longer valid", "sign in again")
		return nil, "", false
	}
	if err := rbac.AuthorizePrincipal(principal, roles, perm); err != nil {
		writeErr(w, http.StatusForbidden, sqlink.EFORBIDDEN, sqlink.ErrorMessage(err), "ask for the "+string(perm)+" permission")
		return nil, "", false
	}
	ck, _ := r.Cookie(CookieName)
	return s, ck.Value, true
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(v); err != nil {
		writeErr(w, http.StatusBadRequest, sqlink.EINVALID, "bad request body: "+err.Error(), "use the console's pages")
		return false
	}
	return true
}

// newLink serves /console/api/newlink/...: requirements, signin, and per
// operation validate, script, execute, progress (GET) and cancel (DELETE).
func (c *Console) newLink(w http.ResponseWriter, r *http.Request, rest string) {
	s, sid, ok := c.authorize(w, r, rbac.LinksWrite)
	if !ok {
		return
	}
	c.expireNewLinks()
	id, action, _ := strings.Cut(rest, "/")
	switch {
	case id == "requirements" && r.Method == http.MethodPost:
		c.newLinkRequirements(w, r, s)
		return
	case id == "signin" && r.Method == http.MethodPost:
		c.newLinkSignIn(w, r, s, sid)
		return
	}
	c.mu.Lock()
	op := c.newLinks[id]
	if op != nil && op.sessionID != sid {
		op = nil
	}
	c.mu.Unlock()
	if op == nil {
		writeErr(w, http.StatusNotFound, sqlink.ENOTFOUND, "no such New Link operation (it ended or expired)", "sign in to the secondary again")
		return
	}
	op.mu.Lock()
	op.lastUsed = c.cfg.Now()
	op.mu.Unlock()
	switch {
	case action == "" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, op.progress())
	case action == "" && r.Method == http.MethodDelete:
		c.dropNewLink(op)
		writeJSON(w, http.StatusOK, map[string]string{"status": "cancelled"})
	case action == "validate" && r.Method == http.MethodPost:
		c.newLinkValidate(w, r, op)
	case action == "script" && r.Method == http.MethodPost:
		var o NewLinkOptions
		if !decode(w, r, &o) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"script": CreateScript(op.primaryURL, c.fingerprint(r), op.secondaryURL, op.fingerprint, o.create()),
			"file": "create-link-" + o.create().Name + ".sh"})
	case action == "execute" && r.Method == http.MethodPost:
		c.newLinkExecute(w, r, op)
	default:
		writeErr(w, http.StatusNotFound, sqlink.ENOTFOUND, "no console route "+r.Method+" "+r.URL.Path, "use the console's pages")
	}
}

func (c *Console) expireNewLinks() {
	now := c.cfg.Now()
	c.mu.Lock()
	var old []*newLinkOp
	for _, op := range c.newLinks {
		op.mu.Lock()
		if !op.running && now.Sub(op.lastUsed) > newLinkIdle {
			old = append(old, op)
		}
		op.mu.Unlock()
	}
	c.mu.Unlock()
	for _, op := range old {
		c.dropNewLink(op)
	}
}

// dropNewLink cancels op if it runs and forgets it with its secondary
// client.
func (c *Console) dropNewLink(op *newLinkOp) {
	op.mu.Lock()
	if op.cancel != nil {
		op.cancel()
	}
	op.secondary = nil
	op.mu.Unlock()
	c.mu.Lock()
	delete(c.newLinks, op.id)
	c.mu.Unlock()
}

// dropSessionNewLinks forgets the operations of a session that ends. One
// that is creating links runs to its end (stopping it halfway would only
// undo it), no session can see it any more, and it is forgotten when idle.
func (c *Console) dropSessionNewLinks(sid string) {
	c.mu.Lock()
	var ops []*newLinkOp
	for _, op := range c.newLinks {
		if op.sessionID != sid {
			continue
		}
		op.mu.Lock()
		running := op.running
		op.mu.Unlock()
		if running {
			op.sessionID = ""
		} else {
			ops = append(ops, op)
		}
	}
	c.mu.Unlock()
	for _, op := range ops {
		c.dropNewLink(op)
	}
}

// NewLinkRequirements is what the primary alone must meet (the
// Requirements and Select databases pages).
type NewLinkRequirements struct {
	Primary     adminapi.InstanceStatus    `json:"primary"`
	Checks      []adminapi.ValidationCheck `json:"checks"`
	Eligible    []adminapi.DatabaseInfo    `json:"eligible"`
	NotEligible map[string]string          `json:"not_eligible"`
	OK          bool                       `json:"ok"`
}

func (c *Console) newLinkRequirements(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	p := c.localClient(r, s)
	out := NewLinkRequirements{Eligible: []adminapi.DatabaseInfo{}, NotEligible: map[string]string{}}
	info, err := p.Info(ctx)
	if err != nil {
		writeError(w, err)
		return
	}
	out.Primary = info
	out.Checks = append(out.Checks, adminapi.ValidationCheck{Name: guide.CheckSignIn, Status: adminapi.CheckPass, Instance: info.Name,
		Message: fmt.Sprintf("signed in to the primary %s (version %s)", info.Name, info.Version)})
	dbs, err := p.ListDatabases(ctx)
	if err != nil {
		out.Checks = append(out.Checks, adminapi.ValidationCheck{Name: "databases", Status: adminapi.CheckFail, Message: sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)})
	}
	links, _ := p.ListLinks(ctx)
	for _, d := range dbs {
		full, err := p.GetDatabase(ctx, d.Name)
		if err != nil {
			full = d
		}
		var bad []string
		for _, ch := range []adminapi.ValidationCheck{guide.UserDatabase(info.Name, d.Name), guide.PrimaryDatabase(info.Name, d.Name, full, true),
			guide.FullBackup(info.Name, d.Name, full), guide.NotLinked(info.Name, sqlink.RolePrimary, d.Name, links)} {
			out.Checks = append(out.Checks, ch)
			if ch.Status == adminapi.CheckFail {
				bad = append(bad, ch.Message+" (try: "+ch.Hint+")")
			}
		}
		if len(bad) == 0 {
			out.Eligible = append(out.Eligible, full)
		} else {
			out.NotEligible[d.Name] = strings.Join(bad, "; ")
		}
	}
	if len(dbs) == 0 && err == nil {
		out.Checks = append(out.Checks, adminapi.ValidationCheck{Name: "databases", Status: adminapi.CheckFail, Instance: info.Name,
			Message: "the primary " + info.Name + " has no database", Hint: "create one first (sqlink db create NAME)"})
	}
	out.OK = len(out.Eligible) > 0
	writeJSON(w, http.StatusOK, out)
}

type newLinkSignInRequest struct {
	URL         string `json:"url"`
	Token       string `json:"token"`
	Fingerprint string `json:"fingerprint"`
}

func withScheme(u string) string {
	u = strings.TrimRight(strings.TrimSpace(u), "/")
	if u != "" && !strings.Contains(u, "://") {
		u = "https://" + u
	}
	return u
}

func (c *Console) newLinkSignIn(w http.ResponseWriter, r *http.Request, s *session, sid string) {
	var req newLinkSignInRequest
	if !decode(w, r, &req) {
		return
	}
	u, token := withScheme(req.URL), strings.TrimSpace(req.Token)
	if u == "" {
		writeErr(w, http.StatusBadRequest, sqlink.EINVALID, "no secondary URL given", "type the secondary's admin API URL, e.g. https://beta:7433")
		return
	}
	if token == "" {
		writeErr(w, http.StatusBadRequest, sqlink.EINVALID, "no admin token given for the secondary", "type an admin token of the secondary")
		return
	}
	if strings.HasPrefix(strings.ToLower(u), "http://") && !adminapi.IsLoopbackURL(u) {
		writeErr(w, http.StatusBadRequest, sqlink.EINVALID, "refusing to send the secondary's admin token in clear to "+u,
			"use https:// (admin listeners serve HTTPS by default) and give its TLS fingerprint")
		return
	}
	fp := strings.TrimSpace(req.Fingerprint)
	if fp != "" {
		n, err := adminapi.NormalizeFingerprint(fp)
		if err != nil {
			writeError(w, err)
			return
		}
		fp = n
	}
	sc, err := adminapi.NewClientTLS(u, token, adminapi.TLSOptions{Fingerprint: fp, FingerprintFlag: "the TLS fingerprint field"})
	if err != nil {
		writeError(w, err)
		return
	}
	sc = sc.WithUnauthorizedHint("check the secondary's admin token (sqlink token create on the secondary)")
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	sInfo, err := sc.Info(ctx)
	if err == nil {
		_, err = sc.ListLinks(ctx)
	}
	if err != nil {
		writeError(w, &sqlink.Error{Code: sqlink.ErrorCode(err), Message: "secondary: " + sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)})
		return
	}
	p := c.localClient(r, s)
	pInfo, err := p.Info(ctx)
	if err != nil {
		writeError(w, err)
		return
	}
	op := &newLinkOp{id: randomToken(), sessionID: sid, primary: p, primaryURL: selfURL(r), secondary: sc, secondaryURL: u,
		fingerprint: fp, pInfo: pInfo, sInfo: sInfo, lastUsed: c.cfg.Now(), seeding: map[string]*adminapi.SeedingStatus{}}
	c.mu.Lock()
	if len(c.newLinks) >= maxNewLinks {
		c.mu.Unlock()
		writeErr(w, http.StatusServiceUnavailable, sqlink.EUNAVAILABLE, "too many New Link wizards open", "finish or cancel one, or wait "+newLinkIdle.String())
		return
	}
	c.newLinks[op.id] = op
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, op.progress())
}

// NewLinkValidation is the Validation page: the checks of both instances
// and, if asked, the connectivity troubleshooting of both directions.
type NewLinkValidation struct {
	Checks     []adminapi.ValidationCheck `json:"checks"`
	Directions []guide.Direction          `json:"directions"`
	OK         bool                       `json:"ok"`
}

func (op *newLinkOp) pair() (guide.Pair, error) {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.secondary == nil {
		return guide.Pair{}, sqlink.Errorf(sqlink.ECONFLICT, "start the wizard again", "this New Link operation has ended")
	}
	return guide.Pair{Primary: op.primary, Secondary: op.secondary, PrimaryURL: op.primaryURL, SecondaryURL: op.secondaryURL}, nil
}

func (c *Console) newLinkValidate(w http.ResponseWriter, r *http.Request, op *newLinkOp) {
	var o NewLinkOptions
	if !decode(w, r, &o) {
		return
	}
	pr, err := op.pair()
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	co := o.create()
	rep, err := pr.Validate(ctx, guide.Options{Name: co.Name, Databases: co.Databases, TwoWay: co.TwoWay, SeedFromBackup: co.SeedFromBackup,
		PrimaryEndpoint: co.PrimaryEndpoint, SecondaryEndpoint: co.SecondaryEndpoint})
	if err != nil {
		writeError(w, err)
		return
	}
	out := NewLinkValidation{Checks: rep.Checks, Directions: []guide.Direction{}, OK: rep.OK()}
	if o.Troubleshoot {
		ds, err := pr.Troubleshoot(ctx, co.PrimaryEndpoint, co.SecondaryEndpoint)
		if err != nil {
			out.Checks = append(out.Checks, adminapi.ValidationCheck{Name: "troubleshooting", Status: adminapi.CheckWarning,
				Message: "could not troubleshoot: " + sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)})
		}
		if ds != nil {
			out.Directions = ds
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Console) newLinkExecute(w http.ResponseWriter, r *http.Request, op *newLinkOp) {
	var o NewLinkOptions
	if !decode(w, r, &o) {
		return
	}
	op.mu.Lock()
	sc := op.secondary
	if sc == nil || op.running || op.done {
		op.mu.Unlock()
		writeErr(w, http.StatusConflict, sqlink.ECONFLICT, "this New Link operation already ran", "start the wizard again")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	op.running, op.cancel = true, cancel
	op.mu.Unlock()
	lc := &linkcreate.Creator{Primary: op.primary, Secondary: sc, PrimaryURL: op.primaryURL, SecondaryURL: op.secondaryURL}
	lc.Progress = func(s linkcreate.Step) {
		op.mu.Lock()
		defer op.mu.Unlock()
		for i := range op.steps {
			if op.steps[i].Name == s.Name {
				op.steps[i] = s
				return
			}
		}
		op.steps = append(op.steps, s)
	}
	go func() {
		defer cancel()
		links, err := lc.Create(ctx, o.create())
		if err == nil {
			err = op.followSeeding(ctx, sc, links)
		}
		var final []adminapi.LinkStatus
		for _, l := range links {
			for _, cl := range []linkcreate.Client{lc.Primary, lc.Secondary} {
				sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
				if st, e := cl.GetLink(sctx, l.Name); e == nil {
					final = append(final, st)
				}
				c()
			}
		}
		op.mu.Lock()
		op.links, op.err, op.final = links, err, final
		op.running, op.done, op.cancel = false, true, nil
		// The operation is over: the secondary's token goes.
		op.secondary = nil
		op.mu.Unlock()
	}()
	writeJSON(w, http.StatusAccepted, op.progress())
}

// followSeeding polls the secondary until each link's seeding completed,
// as the CLI's wizard does.
func (op *newLinkOp) followSeeding(ctx context.Context, sc *adminapi.Client, links []linkcreate.Link) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for _, l := range links {
		for {
			gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			st, err := sc.GetLink(gctx, l.Name)
			cancel()
			if err != nil {
				return &sqlink.Error{Code: sqlink.ErrorCode(err), Message: "secondary: " + sqlink.ErrorMessage(err), Hint: sqlink.ErrorHint(err)}
			}
			cp, done := linkcreate.SeedProgress(st)
			op.mu.Lock()
			op.seeding[l.Name] = &cp
			op.mu.Unlock()
			if !done && cp.State == "FAILED" {
				why := "no error recorded"
				if e := st.Local.LastError; e != nil {
					why = e.Message
				}
				return sqlink.Errorf(sqlink.EUNAVAILABLE, "open the link's page; seeding resumes by itself when the cause is fixed",
					"seeding of link %s failed: %s", l.Name, why)
			}
			if done {
				break
			}
			select {
			case <-ctx.Done():
				return sqlink.Errorf(sqlink.ETIMEOUT, "the link exists and seeds on; follow it on the link's page", "stopped following the seeding of %s", l.Name)
			case <-t.C:
			}
		}
	}
	return nil
}

func (op *newLinkOp) progress() NewLinkProgress {
	op.mu.Lock()
	defer op.mu.Unlock()
	p := NewLinkProgress{ID: op.id, Primary: op.pInfo, Secondary: op.sInfo, Running: op.running, Done: op.done,
		Steps: append([]linkcreate.Step{}, op.steps...), Seeding: map[string]*adminapi.SeedingStatus{}, Links: op.links,
		Final: op.final, Error: toErrorBody(op.err)}
	for k, v := range op.seeding {
		cp := *v
		p.Seeding[k] = &cp
	}
	if p.Links == nil {
		p.Links = []linkcreate.Link{}
	}
	if p.Final == nil {
		p.Final = []adminapi.LinkStatus{}
	}
	return p
}
