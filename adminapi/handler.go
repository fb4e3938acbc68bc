package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/rbac"
)

// DefaultMaxBodyBytes limits JSON request bodies. The largest legitimate
// body is a certificate PEM of a few kilobytes; 1 MiB leaves room and
// still stops a client from making the server buffer gigabytes.
const DefaultMaxBodyBytes = 1 << 20

// Config configures the API handler.
type Config struct {
	// Registry is served at /metrics, and the API's own request metrics are
	// registered in it. Nil means a private registry holding only those.
	Registry *prometheus.Registry
	// Dashboard, when set, serves every path outside /v1, /metrics and
	// /healthz (the web dashboard).
	Dashboard http.Handler
	// Logger receives internal errors. Nil discards them.
	Logger *slog.Logger
	// MaxBodyBytes limits JSON request bodies; 0 means DefaultMaxBodyBytes.
	// Restore uploads are not limited.
	MaxBodyBytes int64
	// FailureAudit records requests refused for a missing or bad token,
	// summarised per source address. Nil: one with the default window.
	FailureAudit *catalog.FailureAudit
	// MetricsPermission, when set, makes /metrics require a token with this
	// permission (like an API route). Empty: /metrics is open, as
	// Prometheus scrapers expect by default.
	MetricsPermission rbac.Permission
	// ReadTimeout bounds reading a request's body (JSON bodies in all,
	// streamed uploads between two reads); 0 means DefaultReadTimeout,
	// negative none. Headers and idle connections are bounded by the
	// http.Server (ReadHeaderTimeout, IdleTimeout).
	ReadTimeout time.Duration
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.MaxBodyBytes < 0 {
		return sqlink.Errorf(sqlink.EINVALID, "use 0 for the default", "admin API MaxBodyBytes is negative")
	}
	if c.MetricsPermission != "" && !c.MetricsPermission.Valid() {
		return sqlink.Errorf(sqlink.EINVALID, "use a permission such as instance/read", "unknown metrics permission %q", c.MetricsPermission)
	}
	return nil
}

// HandlerFunc handles one API request. It writes the response itself on
// success and returns an error otherwise, which the API writes as an
// ErrorResponse with the status of its code (see StatusCode).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one API endpoint. Every route requires exactly one permission.
type Route struct {
	Method     string          // "GET", "POST", "PUT" or "DELETE"
	Path       string          // http.ServeMux path pattern, e.g. "/v1/databases/{name}"
	Permission rbac.Permission // the one permission the caller needs
	Action     string          // audit action and metrics label, e.g. "databases.create"
	Audit      bool            // whether every call is audited, not only refusals
	RawBody    bool            // the body is a stream (no size limit, not JSON)
	Handler    HandlerFunc     // nil in the copies Routes returns
}

// Pattern returns the route's http.ServeMux pattern.
func (rt Route) Pattern() string { return rt.Method + " " + rt.Path }

// statusCodes maps error codes to HTTP statuses. It is the only such
// table: the client inverts it.
var statusCodes = map[string]int{
	sqlink.EINVALID:        http.StatusBadRequest,
	sqlink.EUNAUTHORIZED:   http.StatusUnauthorized,
	sqlink.EFORBIDDEN:      http.StatusForbidden,
	sqlink.ENOTFOUND:       http.StatusNotFound,
	sqlink.ECONFLICT:       http.StatusConflict,
	sqlink.EREADONLY:       http.StatusConflict,
	sqlink.EUNAVAILABLE:    http.StatusServiceUnavailable,
	sqlink.ETIMEOUT:        http.StatusGatewayTimeout,
	sqlink.ENOTIMPLEMENTED: http.StatusNotImplemented,
	sqlink.EINTERNAL:       http.StatusInternalServerError,
}

// StatusCode returns the HTTP status for an error code; 500 for unknown
// codes.
func StatusCode(code string) int {
	if s, ok := statusCodes[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// codeForStatus inverts statusCodes for error bodies that are not JSON
// (a proxy's, say). 409 maps to ECONFLICT.
func codeForStatus(status int) string {
	switch status {
	case http.StatusConflict:
		return sqlink.ECONFLICT
	case http.StatusRequestEntityTooLarge, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
		return sqlink.EINVALID
	case http.StatusBadGateway:
		return sqlink.EUNAVAILABLE
	}
	for code, s := range statusCodes {
		if s == status && code != sqlink.EREADONLY {
			return code
		}
	}
	return sqlink.EINTERNAL
}

// server holds what the handlers share.
type server struct {
	cfg     Config
	cat     *catalog.Catalog
	inst    Instance
	links   LinkManager // nil when inst has no links
	log     *slog.Logger
	metrics *metrics
}

// Routes returns the routes, without handlers, in the order doc.go lists
// them. The link routes are served only for an Instance that is a
// LinkManager.
func Routes() []Route {
	s := &server{}
	rs := append(append(s.routes(), s.linkRoutes()...), s.guideRoutes()...)
	for i := range rs {
		rs[i].Handler = nil
	}
	return rs
}

// NewHandler returns the admin HTTP handler: the JSON API under /v1, which
// authenticates bearer tokens against cat and authorizes each route's
// permission, plus /healthz and /metrics without authentication and the
// dashboard, if configured, everywhere else. It panics if cfg is invalid
// or if a LinkManager's routes break its contract.
func NewHandler(cfg Config, cat *catalog.Catalog, inst Instance) http.Handler {
	if err := cfg.Validate(); err != nil {
		panic("adminapi: " + err.Error())
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.FailureAudit == nil {
		cfg.FailureAudit = cat.NewFailureAudit(0, log)
	}
	s := &server{cfg: cfg, cat: cat, inst: inst, log: log, metrics: newMetrics(cfg.Registry)}

	mux := http.NewServeMux()
	routes := s.routes()
	if lm, ok := inst.(LinkManager); ok {
		s.links = lm
		routes = append(routes, s.linkRoutes()...)
	}
	for _, rt := range s.guideRoutes() {
		_, v := inst.(LinkValidator)
		_, p := inst.(EndpointProber)
		if rt.Action == "links.validate" && v || rt.Action == "endpoint.probe" && p {
			routes = append(routes, rt)
		}
	}
	for _, rt := range routes {
		mux.Handle(rt.Pattern(), s.wrap(rt))
	}
	mux.HandleFunc("GET /healthz", s.healthz)
	metricsHandler := promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{Registry: cfg.Registry})
	if cfg.MetricsPermission == "" {
		mux.Handle("GET /metrics", metricsHandler)
	} else {
		mux.Handle("GET /metrics", s.wrap(Route{Method: "GET", Path: "/metrics", Permission: cfg.MetricsPermission, Action: "metrics.read",
			Handler: func(w http.ResponseWriter, r *http.Request) error { metricsHandler.ServeHTTP(w, r); return nil }}))
	}
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, sqlink.Errorf(sqlink.ENOTFOUND, "check the method and path; the routes are listed in the adminapi package documentation",
			"no API route %s %s", r.Method, r.URL.Path))
	})
	if cfg.Dashboard != nil {
		mux.Handle("/", cfg.Dashboard)
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, sqlink.Errorf(sqlink.ENOTFOUND, "the API is under /v1; the dashboard is not enabled",
				"no page at %s", r.URL.Path))
		})
	}
	return withReadDeadline(mux, cfg.ReadTimeout)
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.cat.Initialized(r.Context()); err != nil {
		writeError(w, sqlink.Errorf(sqlink.EUNAVAILABLE, "check the data directory's disk", "catalog unavailable: %v", err))
		return
	}
	WriteJSON(w, http.StatusOK, HealthStatus{Status: "ok"})
}

// ctxKey keys request-scoped values.
type ctxKey int

const (
	principalKey ctxKey = iota
	auditKey
	rolesKey
)

// auditRecord is filled by handlers through SetAuditTarget.
type auditRecord struct {
	target string
	detail string
}

// SetAuditTarget names the object a request acts on in its audit entry,
// when it is not the {name} or {id} path value (e.g. the name in a create
// request's body).
func SetAuditTarget(r *http.Request, target string) {
	if a, ok := r.Context().Value(auditKey).(*auditRecord); ok {
		a.target = target
	}
}

// SetAuditDetail adds a detail to the request's audit entry. Never put a
// secret in it.
func SetAuditDetail(r *http.Request, detail string) {
	if a, ok := r.Context().Value(auditKey).(*auditRecord); ok {
		a.detail = detail
	}
}

// PrincipalFromContext returns the name of the authenticated principal of
// an API request.
func PrincipalFromContext(ctx context.Context) (string, bool) {
	p, ok := ctx.Value(principalKey).(string)
	return p, ok
}

// unauthorized is the answer to a missing or malformed Authorization
// header.
func unauthorized(msg string) error {
	return &sqlink.Error{Code: sqlink.EUNAUTHORIZED, Message: msg, Hint: "pass --token or set SQLINK_TOKEN"}
}

// bearerToken extracts the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", unauthorized("missing bearer token")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", unauthorized("malformed Authorization header: want \"Bearer <token>\"")
	}
	return strings.TrimSpace(token), nil
}

// wrap returns rt's handler with authentication, authorization, body
// limits, error responses, auditing and metrics around it.
func (s *server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		audit := &auditRecord{target: r.PathValue("name")}
		if audit.target == "" {
			audit.target = r.PathValue("id")
		}
		principal, roles, err := s.authorize(r, rt)
		refused := err != nil
		if err == nil {
			ctx := context.WithValue(r.Context(), principalKey, principal)
			ctx = context.WithValue(ctx, rolesKey, roles)
			ctx = context.WithValue(ctx, auditKey, audit)
			r = r.WithContext(ctx)
			if !rt.RawBody {
				r.Body = http.MaxBytesReader(rec, r.Body, s.cfg.MaxBodyBytes)
			} else if s.cfg.ReadTimeout > 0 {
				r.Body = &progressBody{ReadCloser: r.Body, rc: http.NewResponseController(w), d: s.cfg.ReadTimeout}
			}
			err = rt.Handler(rec, r)
		}
		if err != nil {
			if sqlink.ErrorCode(err) == sqlink.EINTERNAL {
				s.log.Error("admin API request failed", "action", rt.Action, "path", r.URL.Path, "err", err)
			}
			if !rec.wrote {
				w.Header().Set("Cache-Control", "no-store")
				if sqlink.ErrorCode(err) == sqlink.EUNAUTHORIZED {
					w.Header().Set("WWW-Authenticate", `Bearer realm="sqlink"`)
				}
				writeError(rec, err)
			}
		}
		if rt.Audit || refused {
			result := "ok"
			if err != nil {
				result = sqlink.ErrorCode(err)
			}
			detail := audit.detail
			if err != nil {
				detail = sqlink.ErrorMessage(err)
			}
			e := catalog.AuditEntry{Principal: principal, Action: rt.Action, Target: audit.target, Result: result, Detail: detail}
			if result == sqlink.EUNAUTHORIZED {
				// No valid token: summarised per source, so that a flood
				// of them does not push real history out.
				s.cfg.FailureAudit.Record(r.Context(), "admin", remoteIP(r), e)
			} else if aerr := s.cat.Audit(context.WithoutCancel(r.Context()), e); aerr != nil {
				// The entry is written even if the client has gone away.
				s.log.Error("admin API audit failed", "action", rt.Action, "err", aerr)
			}
		}
		s.metrics.observe(rt.Action, rec.status(), time.Since(start))
	})
}

// authorize authenticates the request's token and checks rt's permission.
// It returns the principal's name, known even when permission is denied,
// and its roles.
func (s *server) authorize(r *http.Request, rt Route) (string, []rbac.Role, error) {
	token, err := bearerToken(r)
	if err != nil {
		return "", nil, err
	}
	p, roles, err := s.cat.Authenticate(r.Context(), token)
	if err != nil {
		if sqlink.ErrorCode(err) == sqlink.EUNAUTHORIZED {
			return "", nil, unauthorized("invalid or revoked token")
		}
		return "", nil, err
	}
	return p.Name, roles, rbac.AuthorizePrincipal(p.Name, roles, rt.Permission)
}

// remoteIP returns the request's source address without its port.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// statusRecorder remembers whether and with which status a response
// started. It passes Flush on through Unwrap for streaming.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.code, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush implements http.Flusher.
func (r *statusRecorder) Flush() {
	if !r.wrote {
		r.code, r.wrote = http.StatusOK, true
	}
	http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *statusRecorder) status() int {
	if !r.wrote {
		return http.StatusOK
	}
	return r.code
}

// errorBody converts any error to its wire form. Errors that are not
// *sqlink.Error keep their text, prefixed, so operators can report it.
func errorBody(err error) ErrorBody {
	var e *sqlink.Error
	if errors.As(err, &e) {
		return ErrorBody{Code: e.Code, Message: e.Message, Hint: e.Hint}
	}
	return ErrorBody{Code: sqlink.EINTERNAL, Message: "internal error: " + err.Error(),
		Hint: "see the instance's log; report it if it persists"}
}

func writeError(w http.ResponseWriter, err error) {
	body := errorBody(err)
	WriteJSON(w, StatusCode(body.Code), ErrorResponse{Error: body})
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(ErrorResponse{Error: ErrorBody{Code: sqlink.EINTERNAL, Message: "encode response: " + err.Error()}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// DecodeJSON decodes the request body, a single JSON object, into v. It
// rejects unknown fields, trailing data and bodies over the configured
// limit with EINVALID errors that say what to fix.
func DecodeJSON(r *http.Request, v any) error {
	const hint = "send one JSON object with the documented fields, e.g. {\"name\":\"shop\"}"
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return sqlink.Errorf(sqlink.EINVALID, hint, "request body is empty")
		case errors.As(err, &maxErr):
			return sqlink.Errorf(sqlink.EINVALID, "send a smaller request", "request body is larger than %d bytes", maxErr.Limit)
		case errors.As(err, &syntaxErr):
			return sqlink.Errorf(sqlink.EINVALID, hint, "request body is not valid JSON at byte %d: %v", syntaxErr.Offset, err)
		case errors.As(err, &typeErr):
			return sqlink.Errorf(sqlink.EINVALID, hint, "request field %q has the wrong type: want %s", typeErr.Field, typeErr.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return sqlink.Errorf(sqlink.EINVALID, hint, "request body has an %s", strings.TrimPrefix(err.Error(), "json: "))
		default:
			return sqlink.Errorf(sqlink.EINVALID, hint, "bad request body: %v", err)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return sqlink.Errorf(sqlink.EINVALID, hint, "request body has data after the JSON object")
	}
	return nil
}

// queryBool parses an optional boolean query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, sqlink.Errorf(sqlink.EINVALID, fmt.Sprintf("use %s=true or %s=false", name, name),
			"invalid %s=%q", name, s)
	}
	return b, nil
}

// encodeHeader returns v as compact JSON for a header or trailer value.
func encodeHeader(v any) string {
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(v)
	return strings.TrimSpace(buf.String())
}
