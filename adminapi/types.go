package adminapi

import (
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/rbac"
)

// This file holds every JSON request and response body of the API. Field
// names are snake_case; times are RFC 3339 in UTC.

// ErrorResponse is the body of every error response.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is a *sqlink.Error on the wire.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// HealthStatus is the body of GET /healthz.
type HealthStatus struct {
	Status string `json:"status"` // "ok"
}

// InstanceStatus describes the running instance (GET /v1/instance).
type InstanceStatus struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Version       string    `json:"version"`
	Collation     string    `json:"collation"`
	ClientAddr    string    `json:"client_addr"`   // PostgreSQL wire protocol listener
	AdminAddr     string    `json:"admin_addr"`    // this API
	EndpointAddr  string    `json:"endpoint_addr"` // replication endpoint
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`
}

// DatabaseInfo describes one user database.
type DatabaseInfo struct {
	Name  string               `json:"name"`
	ID    string               `json:"id"`
	State sqlink.DatabaseState `json:"state"` // ONLINE or RESTORING
	// ReadOnly is true on a link's secondary; ReadOnlyReason says why,
	// naming the primary instance.
	ReadOnly       bool         `json:"read_only"`
	ReadOnlyReason string       `json:"read_only_reason,omitempty"`
	Pos            sqlink.Pos   `json:"pos"` // last committed LSN and checksum
	Epoch          sqlink.Epoch `json:"epoch"`
	PageSize       int          `json:"page_size"`
	PageCount      int64        `json:"page_count"`
	SizeBytes      int64        `json:"size_bytes"`
	// LogBytes is the replication log kept on disk; LogFirstLSN the oldest
	// record it can still serve (a link or rewind needing an older one
	// reseeds).
	LogBytes    int64      `json:"log_bytes"`
	LogFirstLSN sqlink.LSN `json:"log_first_lsn"`
	CreatedAt   time.Time  `json:"created_at"`
	// ChainStarted is whether a full, not copy-only, backup has been taken:
	// a link needs it before it can seed from the database.
	ChainStarted bool `json:"chain_started"`
	// Backups is the backup history, oldest first; GetDatabase fills it,
	// ListDatabases may leave it empty.
	Backups []BackupInfo `json:"backups,omitempty"`
	// RestoredFrom is the backup the database was last restored from.
	RestoredFrom *BackupInfo `json:"restored_from,omitempty"`
	// Links names the links that replicate this database.
	Links []string `json:"links,omitempty"`
	// CaptureError says why the capture of commits into the replication
	// log stopped (writes fail until the instance restarts), if it did.
	CaptureError string `json:"capture_error,omitempty"`
	// Gap is the latest break in the database's history: changes another
	// program made to its file that the replication log does not hold.
	// Replicas from before it reseed, and the backup chain starts again
	// with the next full backup.
	Gap *HistoryGap `json:"gap,omitempty"`
	// Diverged says, on a secondary, that its copy no longer matches its
	// log (changed outside sqlink, or its log damaged; LSN: its redone
	// position then): nothing more is applied to it, and its link reseeds
	// it.
	Diverged *HistoryGap `json:"diverged,omitempty"`
}

// HistoryGap is a break in a database's history, marked by a record (LSN)
// that changes no page.
type HistoryGap struct {
	LSN  sqlink.LSN `json:"lsn"`
	Time time.Time  `json:"time"` // when the instance found it
	Why  string     `json:"why"`
}

// CreateDatabaseRequest is the body of POST /v1/databases.
type CreateDatabaseRequest struct {
	Name string `json:"name"`
}

// BackupInfo describes one full backup.
type BackupInfo struct {
	ID        string       `json:"id"`
	Database  string       `json:"database"`
	LSN       sqlink.LSN   `json:"lsn"` // the backup is consistent at this LSN
	Epoch     sqlink.Epoch `json:"epoch"`
	PageCount int64        `json:"page_count"`
	// SHA256 is the hex SHA-256 of the backup file exactly as streamed by
	// POST /v1/databases/{name}/backup. The client checks it when set.
	SHA256      string    `json:"sha256"`
	CopyOnly    bool      `json:"copy_only"`
	StartsChain bool      `json:"starts_chain"`
	Size        int64     `json:"size"` // bytes
	CreatedAt   time.Time `json:"created_at"`
}

// BackupInfoFromRecord converts a catalog backup record.
func BackupInfoFromRecord(b catalog.BackupRecord) BackupInfo {
	return BackupInfo{
		ID: b.ID, Database: b.Database, LSN: b.LSN, Epoch: b.Epoch, PageCount: b.PageCount,
		SHA256: b.SHA256, CopyOnly: b.CopyOnly, StartsChain: b.StartsChain, Size: b.Size,
		CreatedAt: b.CreatedAt,
	}
}

// RestoreDetails is the body of GET /v1/databases/{name}/restore-details.
type RestoreDetails struct {
	Database     string               `json:"database"`
	State        sqlink.DatabaseState `json:"state"`
	Restoring    bool                 `json:"restoring"` // State is RESTORING: not readable yet
	Pos          sqlink.Pos           `json:"pos"`
	RestoredFrom *BackupInfo          `json:"restored_from,omitempty"`
}

// CertificateInfo describes an endpoint certificate or a trusted one.
type CertificateInfo struct {
	Name        string    `json:"name,omitempty"` // trust store entries only
	Subject     string    `json:"subject"`
	Fingerprint string    `json:"fingerprint"` // hex SHA-256 of the DER form
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	PEM         string    `json:"pem"`
	AddedAt     time.Time `json:"added_at,omitzero"` // trust store entries only
}

// TrustCertificateRequest is the body of POST /v1/trust-certificates.
type TrustCertificateRequest struct {
	Name string `json:"name"`
	PEM  string `json:"pem"`
}

// TokenInfo describes an admin token; never its secret.
type TokenInfo struct {
	ID          string    `json:"id"`
	Principal   string    `json:"principal"`
	Description string    `json:"description"`
	Prefix      string    `json:"prefix"` // first characters of the secret
	CreatedAt   time.Time `json:"created_at"`
	Revoked     bool      `json:"revoked"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
}

// CreateTokenRequest is the body of POST /v1/tokens.
type CreateTokenRequest struct {
	Principal   string `json:"principal"`
	Description string `json:"description"`
}

// CreateTokenResponse carries the new token's secret, shown only once.
type CreateTokenResponse struct {
	Token  TokenInfo `json:"token"`
	Secret string    `json:"secret"`
}

// PrincipalInfo describes an admin API principal.
type PrincipalInfo struct {
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
}

// CreatePrincipalRequest is the body of POST /v1/principals.
type CreatePrincipalRequest struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// SetRolesRequest is the body of PUT /v1/principals/{name}/roles.
type SetRolesRequest struct {
	Roles []string `json:"roles"`
}

// RoleInfo describes a built-in or custom role.
type RoleInfo struct {
	Name        string            `json:"name"`
	Permissions []rbac.Permission `json:"permissions"`
	Builtin     bool              `json:"builtin"`
	CreatedAt   time.Time         `json:"created_at,omitzero"`
}

// CreateRoleRequest is the body of POST /v1/roles.
type CreateRoleRequest struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}

// LoginInfo describes a SQL login; never its secret.
type LoginInfo struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Rights are the login's grants, "*" (every database) first; empty
	// for a login that may use no database.
	Rights []LoginRight `json:"rights"`
}

// CreateLoginRequest is the body of POST /v1/logins.
type CreateLoginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// SetPasswordRequest is the body of PUT /v1/logins/{name}/password.
type SetPasswordRequest struct {
	Password string `json:"password"`
}

// AuditEntry is one audit log entry (GET /v1/audit).
type AuditEntry struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"` // "" when not authenticated
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Result    string    `json:"result"` // "ok" or an error code
	Detail    string    `json:"detail,omitempty"`
}

func tokenInfo(t catalog.Token) TokenInfo {
	return TokenInfo{
		ID: t.ID, Principal: t.Principal, Description: t.Description, Prefix: t.Prefix,
		CreatedAt: t.CreatedAt, Revoked: t.Revoked(), RevokedAt: t.RevokedAt,
	}
}

func principalInfo(p catalog.Principal) PrincipalInfo {
	return PrincipalInfo{Name: p.Name, Roles: p.Roles, CreatedAt: p.CreatedAt}
}

func roleInfo(r catalog.Role) RoleInfo {
	return RoleInfo{Name: r.Name, Permissions: r.Permissions, Builtin: r.Builtin, CreatedAt: r.CreatedAt}
}

func trustedCertInfo(c catalog.TrustedCert) CertificateInfo {
	return CertificateInfo{
		Name: c.Name, Subject: c.Subject, Fingerprint: c.Fingerprint, NotBefore: c.NotBefore,
		NotAfter: c.NotAfter, PEM: string(c.PEM), AddedAt: c.AddedAt,
	}
}
