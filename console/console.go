// Package console serves the web console on the admin listener: a small
// set of embedded pages (no CDN, no build step) that sign in with an admin
// token and then drive the same JSON API as the CLI.
//
// Security model:
//   - Sign-in exchanges an admin token for a session cookie (HttpOnly,
//     Secure, SameSite=Strict, expiring). The token is kept only in the
//     server's memory, never in the page or the URL. Each API request
//     from the console is authenticated and authorized afresh with that
//     token, so the console has exactly the caller's own permissions and
//     a revoked token stops working at once.
//   - Every state-changing request (anything but GET and HEAD) must carry
//     the session's CSRF token in the X-CSRF-Token header; without it the
//     request is refused with 403.
//   - Pages are served with a Content-Security-Policy that allows scripts,
//     styles and connections from the same origin only, and no inline
//     script.
//   - Sessions live in memory: a restart signs everyone out.
//
// The wizards' server side lives here too, under /console/api/: the New
// Link wizard (newlink.go, the linkcreate saga and the guide checks with
// the second instance's token held in memory for one operation), verify
// and the Failover wizard's check of the other replica (verify.go), and
// the wizards' Scripts (script.go).
package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/rbac"
)

//go:embed assets
var assets embed.FS

// CookieName is the session cookie's name.
const CookieName = "sqlink_console"

// CSRFHeader carries the session's CSRF token on state-changing requests.
const CSRFHeader = "X-CSRF-Token"

// CSP is the Content-Security-Policy of every console response.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// DefaultSessionTTL is how long a console session lasts after sign-in.
const DefaultSessionTTL = 8 * time.Hour

// maxSessions bounds the session table (a flood of sign-ins with valid
// tokens cannot grow it without limit).
const maxSessions = 1024

// Authenticator checks an admin token: it returns the principal and its
// roles, or an EUNAUTHORIZED error.
type Authenticator func(ctx context.Context, token string) (principal string, roles []rbac.Role, err error)

// Sample is one point of a link's history.
type Sample struct {
	Time          time.Time `json:"t"`
	LagSeconds    float64   `json:"lag"`
	CommitsPerSec float64   `json:"commits_per_second"`
	State         string    `json:"state"`
}

// History returns the samples kept for a link (oldest first), nil for an
// unknown link.
type History func(link string) []Sample

// Config configures the console.
type Config struct {
	Authenticate Authenticator
	History      History // nil: the history route answers an empty list
	// Audit, if set, records sign-ins and sign-outs: principal ("" when
	// the token was refused), action (console.signIn, console.signOut),
	// result ("ok" or an error code) and the source address.
	Audit      func(ctx context.Context, principal, action, result, source string)
	SessionTTL time.Duration // 0: DefaultSessionTTL
	Now        func() time.Time
	// Fingerprint, if set, returns the SHA-256 fingerprint of the
	// certificate the admin listener serves (the console's own), which the
	// wizards' Scripts pin; without it a Script says which variable to set.
	Fingerprint func() string
}

type session struct {
	token     string
	csrf      string
	principal string
	expires   time.Time
}

// Console is the console's handler state.
type Console struct {
	cfg      Config
	api      http.Handler
	mu       sync.Mutex
	sessions map[string]*session
	newLinks map[string]*newLinkOp // New Link wizards, by id (newlink.go)
}

// New returns a handler serving the console and passing everything else
// to api (the admin API handler). Requests to /v1 that carry the console
// cookie and no Authorization header are authenticated with the session's
// token; state-changing ones must carry the CSRF token.
func New(cfg Config, api http.Handler) *Console {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Console{cfg: cfg, api: api, sessions: map[string]*session{}, newLinks: map[string]*newLinkOp{}}
}

// fingerprint returns the fingerprint of the certificate r came over,
// "" if unknown or r came over plain HTTP.
func (c *Console) fingerprint(r *http.Request) string {
	if c.cfg.Fingerprint == nil || r.TLS == nil {
		return ""
	}
	return c.cfg.Fingerprint()
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg, hint string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg, "hint": hint}})
}

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// lookup returns the request's live session, nil if none.
func (c *Console) lookup(r *http.Request) *session {
	ck, err := r.Cookie(CookieName)
	if err != nil || ck.Value == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[ck.Value]
	if s == nil {
		return nil
	}
	if !c.cfg.Now().Before(s.expires) {
		delete(c.sessions, ck.Value)
		return nil
	}
	return s
}

func csrfOK(r *http.Request, s *session) bool {
	got := r.Header.Get(CSRFHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/v1/"):
		c.serveAPI(w, r)
	case p == "/console/api/signin":
		c.signIn(w, r)
	case p == "/console/api/signout":
		c.signOut(w, r)
	case p == "/console/api/me":
		c.me(w, r)
	case strings.HasPrefix(p, "/console/api/newlink/"):
		c.newLink(w, r, strings.TrimPrefix(p, "/console/api/newlink/"))
	case p == "/console/api/script/failover":
		c.failoverScript(w, r)
	case strings.HasPrefix(p, "/console/api/partner/"):
		c.partner(w, r, strings.TrimPrefix(p, "/console/api/partner/"))
	case strings.HasPrefix(p, "/console/api/verify/"):
		c.verify(w, r, strings.TrimPrefix(p, "/console/api/verify/"))
	case strings.HasPrefix(p, "/console/api/history/"):
		c.history(w, r, strings.TrimPrefix(p, "/console/api/history/"))
	case p == "/" || p == "/index.html":
		c.asset(w, r, "index.html")
	case strings.HasPrefix(p, "/console/"):
		c.asset(w, r, strings.TrimPrefix(p, "/console/"))
	default:
		c.api.ServeHTTP(w, r)
	}
}

// serveAPI passes an API request on, authenticated by the console session
// when it has no Authorization header of its own.
func (c *Console) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		c.api.ServeHTTP(w, r)
		return
	}
	if _, err := r.Cookie(CookieName); err != nil {
		c.api.ServeHTTP(w, r)
		return
	}
	s := c.lookup(r)
	if s == nil {
		writeErr(w, http.StatusUnauthorized, sqlink.EUNAUTHORIZED, "console session expired or signed out", "sign in again")
		return
	}
	if !safeMethod(r.Method) && !csrfOK(r, s) {
		writeErr(w, http.StatusForbidden, sqlink.EFORBIDDEN, "missing or wrong CSRF token", "use the console's buttons; reload the page if this persists")
		return
	}
	r2 := r.Clone(r.Context())
	r2.Header.Set("Authorization", "Bearer "+s.token)
	c.api.ServeHTTP(w, r2)
}

func (c *Console) audit(r *http.Request, principal, action, result string) {
	if c.cfg.Audit == nil {
		return
	}
	src, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		src = r.RemoteAddr
	}
	c.cfg.Audit(context.WithoutCancel(r.Context()), principal, action, result, src)
}

type signInRequest struct {
	Token string `json:"token"`
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeErr(w, http.StatusMethodNotAllowed, sqlink.EINVALID, "sign in with POST", "use the sign-in form")
		return
	}
	// A JSON content type cannot be sent cross-origin without a preflight,
	// which the console never answers: no login CSRF from a plain form.
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeErr(w, http.StatusUnsupportedMediaType, sqlink.EINVALID, "sign-in must be JSON", "use the sign-in form")
		return
	}
	var req signInRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10)).Decode(&req); err != nil || strings.TrimSpace(req.Token) == "" {
		writeErr(w, http.StatusBadRequest, sqlink.EINVALID, "no token given", "paste an admin token (sqlink token create)")
		return
	}
	tok := strings.TrimSpace(req.Token)
	principal, _, err := c.cfg.Authenticate(r.Context(), tok)
	if err != nil {
		c.audit(r, "", "console.signIn", sqlink.EUNAUTHORIZED)
		writeErr(w, http.StatusUnauthorized, sqlink.EUNAUTHORIZED, "invalid or revoked token", "create a token with: sqlink token create --principal NAME")
		return
	}
	s := &session{token: tok, csrf: randomToken(), principal: principal, expires: c.cfg.Now().Add(c.cfg.SessionTTL)}
	id := randomToken()
	c.mu.Lock()
	now := c.cfg.Now()
	for k, v := range c.sessions {
		if !now.Before(v.expires) {
			delete(c.sessions, k)
		}
	}
	if len(c.sessions) >= maxSessions {
		c.mu.Unlock()
		writeErr(w, http.StatusServiceUnavailable, sqlink.EUNAVAILABLE, "too many console sessions", "sign out of unused sessions or wait for them to expire")
		return
	}
	c.sessions[id] = s
	c.mu.Unlock()
	c.audit(r, principal, "console.signIn", "ok")
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: id, Path: "/", HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode, Expires: s.expires, MaxAge: int(c.cfg.SessionTTL.Seconds())})
	writeJSON(w, http.StatusOK, map[string]string{"principal": principal})
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeErr(w, http.StatusMethodNotAllowed, sqlink.EINVALID, "sign out with POST", "use the Sign out button")
		return
	}
	s := c.lookup(r)
	if s == nil {
		writeErr(w, http.StatusUnauthorized, sqlink.EUNAUTHORIZED, "not signed in", "sign in first")
		return
	}
	if !csrfOK(r, s) {
		writeErr(w, http.StatusForbidden, sqlink.EFORBIDDEN, "missing or wrong CSRF token", "use the Sign out button")
		return
	}
	ck, _ := r.Cookie(CookieName)
	c.mu.Lock()
	delete(c.sessions, ck.Value)
	c.mu.Unlock()
	c.dropSessionNewLinks(ck.Value)
	c.audit(r, s.principal, "console.signOut", "ok")
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	writeJSON(w, http.StatusOK, map[string]string{"status": "signed out"})
}

// me returns the signed-in principal, its permissions (the console shows
// only the buttons they allow) and the CSRF token.
func (c *Console) me(w http.ResponseWriter, r *http.Request) {
	s := c.lookup(r)
	if s == nil {
		writeErr(w, http.StatusUnauthorized, sqlink.EUNAUTHORIZED, "not signed in", "sign in with an admin token")
		return
	}
	principal, roles, err := c.cfg.Authenticate(r.Context(), s.token)
	if err != nil {
		writeErr(w, http.StatusUnauthorized, sqlink.EUNAUTHORIZED, "the session's token is no longer valid", "sign in again")
		return
	}
	perms := []string{}
	for _, p := range rbac.AllPermissions() {
		if rbac.Authorize(roles, p) == nil {
			perms = append(perms, string(p))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"principal": principal, "permissions": perms, "csrf": s.csrf})
}

func (c *Console) history(w http.ResponseWriter, r *http.Request, link string) {
	s := c.lookup(r)
	if s == nil {
		writeErr(w, http.StatusUnauthorized, sqlink.EUNAUTHORIZED, "not signed in", "sign in with an admin token")
		return
	}
	principal, roles, err := c.cfg.Authenticate(r.Context(), s.token)
	if err != nil {
		writeErr(w, http.StatusUnauthorized, sqlink.EUNAUTHORIZED, "the session's token is no longer valid", "sign in again")
		return
	}
	if err := rbac.AuthorizePrincipal(principal, roles, rbac.LinksRead); err != nil {
		writeErr(w, http.StatusForbidden, sqlink.EFORBIDDEN, sqlink.ErrorMessage(err), "ask for the links/read permission")
		return
	}
	out := []Sample{}
	if c.cfg.History != nil {
		if h := c.cfg.History(link); h != nil {
			out = h
		}
	}
	writeJSON(w, http.StatusOK, out)
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

func (c *Console) asset(w http.ResponseWriter, r *http.Request, name string) {
	if !safeMethod(r.Method) {
		writeErr(w, http.StatusMethodNotAllowed, sqlink.EINVALID, "console pages are read with GET", "")
		return
	}
	ct := ""
	for ext, t := range contentTypes {
		if strings.HasSuffix(name, ext) {
			ct = t
		}
	}
	b, err := fs.ReadFile(assets, "assets/"+name)
	if err != nil || ct == "" || strings.Contains(name, "..") {
		writeErr(w, http.StatusNotFound, sqlink.ENOTFOUND, "no console page "+r.URL.Path, "open / for the console")
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}
