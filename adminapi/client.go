package adminapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/rbac"
)

// Client calls the admin API of one instance. It is safe for concurrent
// use. Every error it returns for a refused or failed request is a
// *sqlink.Error with the server's code, message and hint.
type Client struct {
	baseURL  string
	token    string
	hc       *http.Client
	authHint string // replaces the hint of EUNAUTHORIZED answers, if set
}

// NewClient returns a client for the instance whose admin listener is at
// baseURL (e.g. "http://127.0.0.1:8080"), authenticating with token. A nil
// httpClient means http.DefaultClient.
func NewClient(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), token: token, hc: httpClient}
}

// WithUnauthorizedHint returns a copy of c whose EUNAUTHORIZED errors
// carry hint instead of the instance's own, which names --token and
// SQLINK_TOKEN: a command that got c's token from another flag (say
// --secondary-token) says that flag.
func (c *Client) WithUnauthorizedHint(hint string) *Client {
	c2 := *c
	c2.authHint = hint
	return &c2
}

// maxErrorBody bounds how much of an error response the client reads.
const maxErrorBody = 64 << 10

// Do sends a request with in as its JSON body (none if nil) and decodes a
// JSON response into out (ignored if nil). path starts with "/v1/" and has
// its path values already escaped (see url.PathEscape). Link commands use
// it for the link routes.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.send(ctx, method, path, "application/json", body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return ctxError(ctx, method, path)
		}
		if lostAfterSending(err) {
			return c.connectionLost(method, path, err)
		}
		return sqlink.Errorf(sqlink.EINTERNAL, "check that the URL points at a sqlink admin listener",
			"decode response of %s %s: %v", method, path, err)
	}
	return nil
}

// connectionLost is the error for a request whose connection ended after
// it was sent: the instance died or restarted while answering. Unlike a
// refused connection, a change it asked for may have taken effect.
func (c *Client) connectionLost(method, path string, err error) error {
	hint := "check that the instance is running"
	if method != http.MethodGet && method != http.MethodHead {
		hint = "the instance may have acted on the request before the connection ended: check the state (e.g. `sqlink link status`) before repeating it"
	}
	return lostError{sqlink.Errorf(sqlink.EUNAVAILABLE, hint, "lost the connection to %s during %s %s: %v", c.baseURL, method, path, err)}
}

// ErrConnectionLost is in the chain of the error the client returns when
// the connection ended after the request was sent (errors.Is), so that a
// command can say what may have happened.
var ErrConnectionLost = errors.New("adminapi: connection lost after the request was sent")

type lostError struct{ err *sqlink.Error }

func (e lostError) Error() string   { return e.err.Error() }
func (e lostError) Unwrap() []error { return []error{e.err, ErrConnectionLost} }

// lostAfterSending reports whether err says the connection ended (or
// failed) after the request went out, rather than that it never connected.
func lostAfterSending(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Op != "dial"
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// ctxError is the error for a request ended by its context.
func ctxError(ctx context.Context, method, path string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return sqlink.Errorf(sqlink.ETIMEOUT, "retry with a longer timeout", "%s %s: %v", method, path, ctx.Err())
	}
	return ctx.Err()
}

// send sends a request and returns the response if its status is below
// 400; otherwise it returns the decoded error.
func (c *Client) send(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return nil, sqlink.Errorf(sqlink.EINVALID, "give the admin URL as http(s)://host:port", "bad admin URL %q: %v", c.baseURL, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxError(ctx, method, path)
		}
		if terr := transportError(c.baseURL, err); terr != nil {
			return nil, terr
		}
		if lostAfterSending(err) {
			return nil, c.connectionLost(method, path, err)
		}
		return nil, sqlink.Errorf(sqlink.EUNAVAILABLE, "check that the instance is running and that the URL points at its admin listener",
			"cannot reach %s: %v", c.baseURL, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		err := decodeError(resp)
		var e *sqlink.Error
		if c.authHint != "" && errors.As(err, &e) && e.Code == sqlink.EUNAUTHORIZED {
			e.Hint = c.authHint
		}
		return nil, err
	}
	return resp, nil
}

// decodeError turns an error response into a *sqlink.Error.
func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var er ErrorResponse
	if json.Unmarshal(b, &er) == nil && er.Error.Code != "" {
		return &sqlink.Error{Code: er.Error.Code, Message: er.Error.Message, Hint: er.Error.Hint}
	}
	msg := strings.TrimSpace(string(b))
	if plainToHTTPS(msg) {
		return sqlink.Errorf(sqlink.EUNAVAILABLE, "use an https:// URL (the admin listener serves HTTPS; trust its certificate with --fingerprint or --ca-file)",
			"%s serves HTTPS, and the request was sent in plain HTTP", resp.Request.URL.Host)
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return sqlink.Errorf(codeForStatus(resp.StatusCode), "check that the URL points at a sqlink admin listener",
		"HTTP %s: %s", resp.Status, msg)
}

func esc(s string) string { return url.PathEscape(s) }

// Health calls GET /healthz.
func (c *Client) Health(ctx context.Context) error {
	var h HealthStatus
	return c.Do(ctx, "GET", "/healthz", nil, &h)
}

// Info returns the instance's status.
func (c *Client) Info(ctx context.Context) (InstanceStatus, error) {
	var out InstanceStatus
	err := c.Do(ctx, "GET", "/v1/instance", nil, &out)
	return out, err
}

// Audit returns the newest limit audit entries, newest first (0 means the
// server's default).
func (c *Client) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := c.Do(ctx, "GET", "/v1/audit?limit="+strconv.Itoa(limit), nil, &out)
	return out, err
}

// Permissions lists every permission a role can hold.
func (c *Client) Permissions(ctx context.Context) ([]rbac.Permission, error) {
	var out []rbac.Permission
	err := c.Do(ctx, "GET", "/v1/permissions", nil, &out)
	return out, err
}

// ListDatabases lists the user databases.
func (c *Client) ListDatabases(ctx context.Context) ([]DatabaseInfo, error) {
	var out []DatabaseInfo
	err := c.Do(ctx, "GET", "/v1/databases", nil, &out)
	return out, err
}

// CreateDatabase creates an empty database.
func (c *Client) CreateDatabase(ctx context.Context, name string) (DatabaseInfo, error) {
	var out DatabaseInfo
	err := c.Do(ctx, "POST", "/v1/databases", CreateDatabaseRequest{Name: name}, &out)
	return out, err
}

// GetDatabase describes one database.
func (c *Client) GetDatabase(ctx context.Context, name string) (DatabaseInfo, error) {
	var out DatabaseInfo
	err := c.Do(ctx, "GET", "/v1/databases/"+esc(name), nil, &out)
	return out, err
}

// DropDatabase drops a database.
func (c *Client) DropDatabase(ctx context.Context, name string) error {
	return c.Do(ctx, "DELETE", "/v1/databases/"+esc(name), nil, nil)
}

// ListBackups returns a database's backup history, oldest first.
func (c *Client) ListBackups(ctx context.Context, name string) ([]BackupInfo, error) {
	var out []BackupInfo
	err := c.Do(ctx, "GET", "/v1/databases/"+esc(name)+"/backups", nil, &out)
	return out, err
}

// Backup takes a full backup of the database and writes the backup file to
// w. A backup that is not copy-only starts the database's backup chain. It
// fails if the stream is cut short or its checksum does not match, in which
// case what was written to w must be discarded.
func (c *Client) Backup(ctx context.Context, name string, copyOnly bool, w io.Writer) (BackupInfo, error) {
	path := "/v1/databases/" + esc(name) + "/backup?copy_only=" + strconv.FormatBool(copyOnly)
	resp, err := c.send(ctx, "POST", path, "", nil)
	if err != nil {
		return BackupInfo{}, err
	}
	defer resp.Body.Close()
	h := sha256.New()
	tw := &trackingWriter{w: io.MultiWriter(w, h)}
	if _, err := io.Copy(tw, resp.Body); err != nil {
		if tw.err != nil {
			return BackupInfo{}, fmt.Errorf("write backup of %q: %w", name, tw.err)
		}
		return BackupInfo{}, sqlink.Errorf(sqlink.EUNAVAILABLE, "retry the backup", "backup of %q was cut short: %v", name, err)
	}
	if v := resp.Trailer.Get(TrailerError); v != "" {
		var eb ErrorBody
		if json.Unmarshal([]byte(v), &eb) == nil && eb.Code != "" {
			return BackupInfo{}, &sqlink.Error{Code: eb.Code, Message: eb.Message, Hint: eb.Hint}
		}
		return BackupInfo{}, sqlink.Errorf(sqlink.EINTERNAL, "retry the backup", "backup of %q failed: %s", name, v)
	}
	var info BackupInfo
	if err := json.Unmarshal([]byte(resp.Trailer.Get(TrailerBackup)), &info); err != nil {
		return BackupInfo{}, sqlink.Errorf(sqlink.EUNAVAILABLE, "retry the backup", "backup of %q ended without its summary", name)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); info.SHA256 != "" && !strings.EqualFold(sum, info.SHA256) {
		return BackupInfo{}, sqlink.Errorf(sqlink.EINTERNAL, "retry the backup",
			"backup of %q is corrupt: SHA-256 %s, server says %s", name, sum, info.SHA256)
	}
	return info, nil
}

// trackingWriter remembers its writer's error, to tell it from a network
// error.
type trackingWriter struct {
	w   io.Writer
	err error
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

// Restore creates database name from a backup file read from r. With
// restoring, the database is left RESTORING so a link can seed it.
func (c *Client) Restore(ctx context.Context, name string, restoring bool, r io.Reader) (DatabaseInfo, error) {
	path := "/v1/databases/" + esc(name) + "/restore?restoring=" + strconv.FormatBool(restoring)
	resp, err := c.send(ctx, "POST", path, "application/octet-stream", r)
	if err != nil {
		return DatabaseInfo{}, err
	}
	defer resp.Body.Close()
	var out DatabaseInfo
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return DatabaseInfo{}, sqlink.Errorf(sqlink.EINTERNAL, "", "decode restore response: %v", err)
	}
	return out, nil
}

// RestoreDetails describes a database's restore state.
func (c *Client) RestoreDetails(ctx context.Context, name string) (RestoreDetails, error) {
	var out RestoreDetails
	err := c.Do(ctx, "GET", "/v1/databases/"+esc(name)+"/restore-details", nil, &out)
	return out, err
}

// CompleteRestore brings a RESTORING database online.
func (c *Client) CompleteRestore(ctx context.Context, name string) (DatabaseInfo, error) {
	var out DatabaseInfo
	err := c.Do(ctx, "POST", "/v1/databases/"+esc(name)+"/complete-restore", nil, &out)
	return out, err
}

// ListLogins lists the SQL logins.
func (c *Client) ListLogins(ctx context.Context) ([]LoginInfo, error) {
	var out []LoginInfo
	err := c.Do(ctx, "GET", "/v1/logins", nil, &out)
	return out, err
}

// CreateLogin creates a SQL login.
func (c *Client) CreateLogin(ctx context.Context, name, password string) error {
	return c.Do(ctx, "POST", "/v1/logins", CreateLoginRequest{Name: name, Password: password}, nil)
}

// SetLoginPassword changes a SQL login's password.
func (c *Client) SetLoginPassword(ctx context.Context, name, password string) error {
	return c.Do(ctx, "PUT", "/v1/logins/"+esc(name)+"/password", SetPasswordRequest{Password: password}, nil)
}

// DropLogin drops a SQL login.
func (c *Client) DropLogin(ctx context.Context, name string) error {
	return c.Do(ctx, "DELETE", "/v1/logins/"+esc(name), nil, nil)
}

// ListPrincipals lists the admin API principals.
func (c *Client) ListPrincipals(ctx context.Context) ([]PrincipalInfo, error) {
	var out []PrincipalInfo
	err := c.Do(ctx, "GET", "/v1/principals", nil, &out)
	return out, err
}

// GetPrincipal describes one principal.
func (c *Client) GetPrincipal(ctx context.Context, name string) (PrincipalInfo, error) {
	var out PrincipalInfo
	err := c.Do(ctx, "GET", "/v1/principals/"+esc(name), nil, &out)
	return out, err
}

// CreatePrincipal creates a principal with the given roles.
func (c *Client) CreatePrincipal(ctx context.Context, name string, roles []string) (PrincipalInfo, error) {
	var out PrincipalInfo
	err := c.Do(ctx, "POST", "/v1/principals", CreatePrincipalRequest{Name: name, Roles: roles}, &out)
	return out, err
}

// SetPrincipalRoles replaces a principal's roles.
func (c *Client) SetPrincipalRoles(ctx context.Context, name string, roles []string) (PrincipalInfo, error) {
	var out PrincipalInfo
	err := c.Do(ctx, "PUT", "/v1/principals/"+esc(name)+"/roles", SetRolesRequest{Roles: roles}, &out)
	return out, err
}

// DropPrincipal drops a principal and its tokens.
func (c *Client) DropPrincipal(ctx context.Context, name string) error {
	return c.Do(ctx, "DELETE", "/v1/principals/"+esc(name), nil, nil)
}

// ListTokens lists the tokens of principal, or all tokens if it is empty.
func (c *Client) ListTokens(ctx context.Context, principal string) ([]TokenInfo, error) {
	var out []TokenInfo
	err := c.Do(ctx, "GET", "/v1/tokens?principal="+url.QueryEscape(principal), nil, &out)
	return out, err
}

// CreateToken creates a token for principal. The secret in the response
// is shown only this once.
func (c *Client) CreateToken(ctx context.Context, principal, description string) (CreateTokenResponse, error) {
	var out CreateTokenResponse
	err := c.Do(ctx, "POST", "/v1/tokens", CreateTokenRequest{Principal: principal, Description: description}, &out)
	return out, err
}

// RevokeToken revokes a token by ID; it stops working at once.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.Do(ctx, "DELETE", "/v1/tokens/"+esc(id), nil, nil)
}

// ListRoles lists the built-in and custom roles.
func (c *Client) ListRoles(ctx context.Context) ([]RoleInfo, error) {
	var out []RoleInfo
	err := c.Do(ctx, "GET", "/v1/roles", nil, &out)
	return out, err
}

// CreateRole creates a custom role.
func (c *Client) CreateRole(ctx context.Context, name string, permissions []string) (RoleInfo, error) {
	var out RoleInfo
	err := c.Do(ctx, "POST", "/v1/roles", CreateRoleRequest{Name: name, Permissions: permissions}, &out)
	return out, err
}

// DropRole drops a custom role.
func (c *Client) DropRole(ctx context.Context, name string) error {
	return c.Do(ctx, "DELETE", "/v1/roles/"+esc(name), nil, nil)
}

// EndpointCertificate returns the instance's endpoint certificate.
func (c *Client) EndpointCertificate(ctx context.Context) (CertificateInfo, error) {
	var out CertificateInfo
	err := c.Do(ctx, "GET", "/v1/endpoint-certificate", nil, &out)
	return out, err
}

// RotateEndpointCertificate replaces the instance's endpoint certificate.
func (c *Client) RotateEndpointCertificate(ctx context.Context) (CertificateInfo, error) {
	var out CertificateInfo
	err := c.Do(ctx, "POST", "/v1/endpoint-certificate/rotate", nil, &out)
	return out, err
}

// ListTrustedCertificates lists the trust store.
func (c *Client) ListTrustedCertificates(ctx context.Context) ([]CertificateInfo, error) {
	var out []CertificateInfo
	err := c.Do(ctx, "GET", "/v1/trust-certificates", nil, &out)
	return out, err
}

// GetTrustedCertificate describes one trusted certificate.
func (c *Client) GetTrustedCertificate(ctx context.Context, name string) (CertificateInfo, error) {
	var out CertificateInfo
	err := c.Do(ctx, "GET", "/v1/trust-certificates/"+esc(name), nil, &out)
	return out, err
}

// TrustCertificate adds a peer's certificate (PEM) to the trust store.
func (c *Client) TrustCertificate(ctx context.Context, name string, certPEM []byte) (CertificateInfo, error) {
	var out CertificateInfo
	err := c.Do(ctx, "POST", "/v1/trust-certificates", TrustCertificateRequest{Name: name, PEM: string(certPEM)}, &out)
	return out, err
}

// UntrustCertificate removes a certificate from the trust store.
func (c *Client) UntrustCertificate(ctx context.Context, name string) error {
	return c.Do(ctx, "DELETE", "/v1/trust-certificates/"+esc(name), nil, nil)
}
