package adminapi

import (
	"net/http"

	"github.com/sqlink/sqlink/rbac"
)

// routes is the route table: every built-in endpoint with the one
// permission it requires. doc.go lists the same table; keep them in step.
func (s *server) routes() []Route {
	return []Route{
		// Instance.
		{Method: "GET", Path: "/v1/instance", Permission: rbac.InstanceRead, Action: "instance.read", Handler: s.getInstance},
		{Method: "GET", Path: "/v1/audit", Permission: rbac.InstanceRead, Action: "audit.list", Handler: s.listAudit},
		{Method: "GET", Path: "/v1/permissions", Permission: rbac.InstanceRead, Action: "permissions.list", Handler: s.listPermissions},

		// Databases.
		{Method: "GET", Path: "/v1/databases", Permission: rbac.DatabasesRead, Action: "databases.list", Handler: s.listDatabases},
		{Method: "POST", Path: "/v1/databases", Permission: rbac.DatabasesWrite, Action: "databases.create", Audit: true, Handler: s.createDatabase},
		{Method: "GET", Path: "/v1/databases/{name}", Permission: rbac.DatabasesRead, Action: "databases.read", Handler: s.getDatabase},
		{Method: "DELETE", Path: "/v1/databases/{name}", Permission: rbac.DatabasesDelete, Action: "databases.drop", Audit: true, Handler: s.dropDatabase},
		{Method: "POST", Path: "/v1/databases/{name}/backup", Permission: rbac.DatabasesReadBackups, Action: "databases.backup", Audit: true, Handler: s.backup},
		{Method: "GET", Path: "/v1/databases/{name}/backups", Permission: rbac.DatabasesRead, Action: "databases.backups", Handler: s.listBackups},
		{Method: "POST", Path: "/v1/databases/{name}/restore", Permission: rbac.DatabasesWrite, Action: "databases.restore", Audit: true, RawBody: true, Handler: s.restore},
		{Method: "GET", Path: "/v1/databases/{name}/restore-details", Permission: rbac.DatabasesRestoreDetailsRead, Action: "databases.restoreDetails", Handler: s.restoreDetails},
		{Method: "POST", Path: "/v1/databases/{name}/complete-restore", Permission: rbac.DatabasesCompleteRestore, Action: "databases.completeRestore", Audit: true, Handler: s.completeRestore},

		// SQL logins.
		{Method: "GET", Path: "/v1/logins", Permission: rbac.InstanceRead, Action: "logins.list", Handler: s.listLogins},
		{Method: "POST", Path: "/v1/logins", Permission: rbac.InstanceWrite, Action: "logins.create", Audit: true, Handler: s.createLogin},
		{Method: "PUT", Path: "/v1/logins/{name}/password", Permission: rbac.InstanceWrite, Action: "logins.setPassword", Audit: true, Handler: s.setLoginPassword},
		{Method: "DELETE", Path: "/v1/logins/{name}", Permission: rbac.InstanceWrite, Action: "logins.drop", Audit: true, Handler: s.dropLogin},
		{Method: "GET", Path: "/v1/logins/{name}", Permission: rbac.InstanceRead, Action: "logins.read", Handler: s.getLogin},
		{Method: "PUT", Path: "/v1/logins/{name}/rights/{database}", Permission: rbac.InstanceWrite, Action: "logins.grant", Audit: true, Handler: s.grantRight},
		{Method: "DELETE", Path: "/v1/logins/{name}/rights/{database}", Permission: rbac.InstanceWrite, Action: "logins.revoke", Audit: true, Handler: s.revokeRight},

		// SQL client sessions.
		{Method: "GET", Path: "/v1/sessions", Permission: rbac.InstanceRead, Action: "sessions.list", Handler: s.listSessions},
		{Method: "DELETE", Path: "/v1/sessions/{id}", Permission: rbac.InstanceWrite, Action: "sessions.terminate", Audit: true, Handler: s.terminateSession},

		// Principals, tokens and roles.
		{Method: "GET", Path: "/v1/principals", Permission: rbac.InstanceRead, Action: "principals.list", Handler: s.listPrincipals},
		{Method: "POST", Path: "/v1/principals", Permission: rbac.InstanceWrite, Action: "principals.create", Audit: true, Handler: s.createPrincipal},
		{Method: "GET", Path: "/v1/principals/{name}", Permission: rbac.InstanceRead, Action: "principals.read", Handler: s.getPrincipal},
		{Method: "PUT", Path: "/v1/principals/{name}/roles", Permission: rbac.InstanceWrite, Action: "principals.setRoles", Audit: true, Handler: s.setPrincipalRoles},
		{Method: "DELETE", Path: "/v1/principals/{name}", Permission: rbac.InstanceWrite, Action: "principals.drop", Audit: true, Handler: s.dropPrincipal},
		{Method: "GET", Path: "/v1/tokens", Permission: rbac.InstanceRead, Action: "tokens.list", Handler: s.listTokens},
		{Method: "POST", Path: "/v1/tokens", Permission: rbac.InstanceWrite, Action: "tokens.create", Audit: true, Handler: s.createToken},
		{Method: "DELETE", Path: "/v1/tokens/{id}", Permission: rbac.InstanceWrite, Action: "tokens.revoke", Audit: true, Handler: s.revokeToken},
		{Method: "GET", Path: "/v1/roles", Permission: rbac.InstanceRead, Action: "roles.list", Handler: s.listRoles},
		{Method: "POST", Path: "/v1/roles", Permission: rbac.InstanceWrite, Action: "roles.create", Audit: true, Handler: s.createRole},
		{Method: "DELETE", Path: "/v1/roles/{name}", Permission: rbac.InstanceWrite, Action: "roles.drop", Audit: true, Handler: s.dropRole},

		// Certificates.
		{Method: "GET", Path: "/v1/endpoint-certificate", Permission: rbac.EndpointCertificatesRead, Action: "endpointCertificate.read", Handler: s.endpointCertificate},
		{Method: "POST", Path: "/v1/endpoint-certificate/rotate", Permission: rbac.InstanceHybridCertificate, Action: "endpointCertificate.rotate", Audit: true, Handler: s.rotateEndpointCertificate},
		{Method: "GET", Path: "/v1/trust-certificates", Permission: rbac.ServerTrustCertificatesRead, Action: "trustCertificates.list", Handler: s.listTrustedCertificates},
		{Method: "GET", Path: "/v1/trust-certificates/{name}", Permission: rbac.ServerTrustCertificatesRead, Action: "trustCertificates.read", Handler: s.getTrustedCertificate},
		{Method: "POST", Path: "/v1/trust-certificates", Permission: rbac.ServerTrustCertificatesWrite, Action: "trustCertificates.create", Audit: true, Handler: s.trustCertificate},
		{Method: "DELETE", Path: "/v1/trust-certificates/{name}", Permission: rbac.ServerTrustCertificatesDelete, Action: "trustCertificates.delete", Audit: true, Handler: s.untrustCertificate},
	}
}

func (s *server) getInstance(w http.ResponseWriter, r *http.Request) error {
	st, err := s.inst.Info(r.Context())
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, st)
	return nil
}

func (s *server) listPermissions(w http.ResponseWriter, r *http.Request) error {
	WriteJSON(w, http.StatusOK, rbac.AllPermissions())
	return nil
}
