// Package adminapi is an instance's HTTP admin API: JSON under /v1,
// authenticated with bearer tokens and authorized per route, plus /healthz,
// /metrics and an optional dashboard; and Client, the Go client the CLI
// uses.
//
// # Model
//
// Every /v1 route is one Route in a single table (Routes) and requires
// exactly one rbac.Permission. A request is handled in this order:
//
//  1. Authentication: "Authorization: Bearer <token>" is looked up in the
//     catalog. A missing, unknown or revoked token gets 401 with code
//     "unauthorized" and the hint "pass --token or set SQLINK_TOKEN".
//     Revocation takes effect on the next request.
//  2. Authorization: the principal's roles must grant the route's
//     permission, or the answer is 403 naming the missing permission.
//  3. The handler. JSON bodies are limited to Config.MaxBodyBytes, unknown
//     fields are rejected, and bad JSON is a 400 with a hint. Restore
//     uploads are streams and not limited.
//  4. Errors: a handler returns a *sqlink.Error; its code becomes the HTTP
//     status through one table (StatusCode) and its code, message and hint
//     the body, an ErrorResponse.
//  5. Audit: every call to a mutating route, and every refused call to any
//     route (401 or 403), is appended to the catalog's audit log with the
//     principal, action, target, time and result ("ok" or the error code).
//
// Operations that need more than the catalog go through the Instance
// interface, which the server implements. Optional capabilities are found
// by type assertion: CertificateRotator for certificate rotation,
// SessionManager for the SQL session routes (501 without it) and
// LinkManager for the link routes, registered only when implemented.
//
// # Routes
//
//	method  path                                    permission
//	GET     /v1/instance                            instance/read
//	GET     /v1/audit?limit=N                       instance/read
//	GET     /v1/permissions                         instance/read
//	GET     /v1/databases                           databases/read
//	POST    /v1/databases                           databases/write
//	GET     /v1/databases/{name}                    databases/read
//	DELETE  /v1/databases/{name}                    databases/delete
//	POST    /v1/databases/{name}/backup?copy_only=  databases/readBackups/action
//	GET     /v1/databases/{name}/backups            databases/read
//	POST    /v1/databases/{name}/restore?restoring= databases/write
//	GET     /v1/databases/{name}/restore-details    databases/restoreDetails/read
//	POST    /v1/databases/{name}/complete-restore   databases/completeRestore/action
//	GET     /v1/logins                              instance/read
//	POST    /v1/logins                              instance/write
//	PUT     /v1/logins/{name}/password              instance/write
//	DELETE  /v1/logins/{name}                       instance/write
//	GET     /v1/logins/{name}                       instance/read
//	PUT     /v1/logins/{name}/rights/{database}     instance/write
//	DELETE  /v1/logins/{name}/rights/{database}?right= instance/write
//	GET     /v1/sessions                            instance/read
//	DELETE  /v1/sessions/{id}                       instance/write
//	GET     /v1/principals                          instance/read
//	POST    /v1/principals                          instance/write
//	GET     /v1/principals/{name}                   instance/read
//	PUT     /v1/principals/{name}/roles             instance/write
//	DELETE  /v1/principals/{name}                   instance/write
//	GET     /v1/tokens?principal=                   instance/read
//	POST    /v1/tokens                              instance/write
//	DELETE  /v1/tokens/{id}                         instance/write
//	GET     /v1/roles                               instance/read
//	POST    /v1/roles                               instance/write
//	DELETE  /v1/roles/{name}                        instance/write
//	GET     /v1/endpoint-certificate                endpointCertificates/read
//	POST    /v1/endpoint-certificate/rotate         instance/hybridCertificate/action
//	GET     /v1/trust-certificates                  serverTrustCertificates/read
//	GET     /v1/trust-certificates/{name}           serverTrustCertificates/read
//	POST    /v1/trust-certificates                  serverTrustCertificates/write
//	DELETE  /v1/trust-certificates/{name}           serverTrustCertificates/delete
//	GET     /v1/links                               links/read
//	GET     /v1/links/{name}                        links/read
//	POST    /v1/links                               links/write
//	DELETE  /v1/links/{name}                        links/delete
//	GET     /v1/links/{name}/digest?lsn=N           links/read
//	POST    /v1/links/{name}/failover               links/setRole/action
//	POST    /v1/links/{name}/set-role               links/setRole/action
//	POST    /v1/links/validate                      links/read
//	POST    /v1/endpoint/probe                      links/write
//	GET     /healthz                                none
//	GET     /metrics                                none, or Config.MetricsPermission if set
//	*       / (everything else)                     Config.Dashboard, if set
//
// # No escalation
//
// A caller can only hand out permissions it holds: creating a role,
// granting roles to a principal (itself included) or creating a token for
// a principal carrying a permission it lacks is refused with EFORBIDDEN
// (403), as is changing, dropping or revoking a token of a principal that
// holds one. The catalog refuses to revoke, drop or demote the last valid
// token holding every permission.
//
// # Backups
//
// POST /v1/databases/{name}/backup answers with the backup file as
// application/octet-stream. When the stream ends the server sends one
// trailer: Sqlink-Backup with the BackupInfo as JSON, or Sqlink-Error with
// an ErrorBody if the backup failed after streaming had begun. A failure
// before the first byte is an ordinary error response. Client.Backup checks
// the trailer and the SHA-256.
//
// # Status codes
//
//	invalid 400, unauthorized 401, forbidden 403, not_found 404,
//	conflict 409, read_only 409, unavailable 503, timeout 504,
//	not_implemented 501, internal 500.
package adminapi
