package adminapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/rbac"
	"github.com/sqlink/sqlink/transport"
)

// CheckStatus is the result of a validation check or a troubleshooting
// step.
type CheckStatus string

// Check statuses.
const (
	CheckPass    CheckStatus = "pass"
	CheckWarning CheckStatus = "warning"
	CheckFail    CheckStatus = "fail"
	CheckSkipped CheckStatus = "skipped" // troubleshooting: an earlier step failed
)

// ValidationCheck is the result of one validation check: pass, warning or
// fail, a message and, unless it passes, a hint of what to do.
type ValidationCheck struct {
	Name     string      `json:"name"`
	Status   CheckStatus `json:"status"` // pass, warning or fail
	Message  string      `json:"message"`
	Hint     string      `json:"hint,omitempty"`
	Instance string      `json:"instance,omitempty"` // the instance it concerns, if one
}

// ValidateLinkRequest asks an instance to validate its own half of the
// links about to be created (POST /v1/links/validate).
type ValidateLinkRequest struct {
	// Role is this instance's role in the links: primary or secondary.
	Role sqlink.Role `json:"role"`
	// Links are the links to create, one per database.
	Links          []ValidateLinkItem `json:"links"`
	TwoWay         bool               `json:"two_way,omitempty"`
	SeedFromBackup bool               `json:"seed_from_backup,omitempty"`
	// PartnerName is the other instance's name, for messages.
	PartnerName string `json:"partner_name,omitempty"`
}

// ValidateLinkItem is one link to validate: its name and database, and on
// the secondary the database's size on the primary (for the disk check).
type ValidateLinkItem struct {
	Name      string `json:"name"`
	Database  string `json:"database"`
	SizeBytes int64  `json:"size_bytes,omitempty"`
}

// ValidateLinkResponse is an instance's checks of its half.
type ValidateLinkResponse struct {
	Instance string            `json:"instance"`
	Checks   []ValidationCheck `json:"checks"`
}

// ProbeRequest asks an instance to probe a partner's endpoint from its own
// side (POST /v1/endpoint/probe).
type ProbeRequest struct {
	// Address is the partner endpoint's host:port.
	Address string `json:"address"`
	// Fingerprint is the SHA-256 of the certificate the partner must
	// present; empty: the trust store decides.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// ProbeResponse is the probe's result, step by step.
type ProbeResponse struct {
	Instance string `json:"instance"`
	transport.ProbeResult
	// Hello is the link protocol's hello exchange.
	Hello transport.ProbeStep `json:"hello"`
	// PeerProtocol is the partner's link protocol version, when known.
	PeerProtocol string `json:"peer_protocol,omitempty"`
	// SkewInjected is the test-only clock skew this instance adds to its
	// own clock (SQLINK_TEST_CLOCK_SKEW), zero in production.
	SkewInjected string `json:"skew_injected,omitempty"`
}

// LinkValidator is implemented by an Instance that validates its half of
// new links; NewHandler then serves POST /v1/links/validate.
type LinkValidator interface {
	ValidateLink(ctx context.Context, req ValidateLinkRequest) (ValidateLinkResponse, error)
}

// EndpointProber is implemented by an Instance that probes a partner's
// endpoint; NewHandler then serves POST /v1/endpoint/probe.
type EndpointProber interface {
	ProbeEndpoint(ctx context.Context, req ProbeRequest) (ProbeResponse, error)
}

// guideRoutes are the routes of guided operations, each served only when
// the Instance implements its interface (else ENOTFOUND like any unknown
// route).
func (s *server) guideRoutes() []Route {
	return []Route{
		{Method: "POST", Path: "/v1/links/validate", Permission: rbac.LinksRead, Action: "links.validate", Audit: true, Handler: s.validateLink},
		{Method: "POST", Path: "/v1/endpoint/probe", Permission: rbac.LinksWrite, Action: "endpoint.probe", Audit: true, Handler: s.probeEndpoint},
	}
}

// LinkCreatePermissions returns the permissions `link create` needs on the
// instance of role (undo included).
func LinkCreatePermissions(role sqlink.Role) []rbac.Permission {
	ps := []rbac.Permission{rbac.InstanceRead, rbac.DatabasesRead, rbac.LinksRead, rbac.LinksWrite, rbac.LinksDelete,
		rbac.EndpointCertificatesRead, rbac.ServerTrustCertificatesRead, rbac.ServerTrustCertificatesWrite, rbac.ServerTrustCertificatesDelete}
	if role == sqlink.RoleSecondary {
		ps = append(ps, rbac.DatabasesDelete)
	}
	return ps
}

// PermissionCheck is the check that the caller holds perms on instance.
func PermissionCheck(instance string, role sqlink.Role, principal string, missing []rbac.Permission) ValidationCheck {
	side := strings.ToLower(string(role))
	c := ValidationCheck{Name: "permissions", Instance: instance, Status: CheckPass,
		Message: fmt.Sprintf("principal %q holds every permission link create needs on the %s %s", principal, side, instance)}
	if len(missing) > 0 {
		c.Status = CheckFail
		c.Message = fmt.Sprintf("principal %q lacks %s on the %s %s", principal, joinPerms(missing), side, instance)
		c.Hint = fmt.Sprintf("grant them (e.g. the %s role) to %q on %s, or use another token", rbac.LinkContributor, principal, instance)
	}
	return c
}

func (s *server) validateLink(w http.ResponseWriter, r *http.Request) error {
	v, ok := s.inst.(LinkValidator)
	if !ok {
		return sqlink.Errorf(sqlink.ENOTIMPLEMENTED, "upgrade the instance", "this instance does not validate links")
	}
	var req ValidateLinkRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.Role != sqlink.RolePrimary && req.Role != sqlink.RoleSecondary {
		return sqlink.Errorf(sqlink.EINVALID, `set "role" to "primary" or "secondary"`, "invalid role %q", req.Role)
	}
	res, err := v.ValidateLink(r.Context(), req)
	if err != nil {
		return err
	}
	who, _ := PrincipalFromContext(r.Context())
	res.Checks = append(res.Checks, PermissionCheck(res.Instance, req.Role, who, rbac.Missing(callerRoles(r), LinkCreatePermissions(req.Role))))
	WriteJSON(w, http.StatusOK, res)
	return nil
}

func (s *server) probeEndpoint(w http.ResponseWriter, r *http.Request) error {
	p, ok := s.inst.(EndpointProber)
	if !ok {
		return sqlink.Errorf(sqlink.ENOTIMPLEMENTED, "upgrade the instance", "this instance does not probe endpoints")
	}
	var req ProbeRequest
	if err := DecodeJSON(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Address) == "" {
		return sqlink.Errorf(sqlink.EINVALID, `set "address" to the partner endpoint's host:port`, "no address to probe")
	}
	SetAuditTarget(r, req.Address)
	res, err := p.ProbeEndpoint(r.Context(), req)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

// ValidateLink asks the instance to validate its half of new links.
func (c *Client) ValidateLink(ctx context.Context, req ValidateLinkRequest) (ValidateLinkResponse, error) {
	var out ValidateLinkResponse
	err := c.Do(ctx, "POST", "/v1/links/validate", req, &out)
	return out, err
}

// ProbeEndpoint asks the instance to probe a partner's endpoint.
func (c *Client) ProbeEndpoint(ctx context.Context, req ProbeRequest) (ProbeResponse, error) {
	var out ProbeResponse
	err := c.Do(ctx, "POST", "/v1/endpoint/probe", req, &out)
	return out, err
}
