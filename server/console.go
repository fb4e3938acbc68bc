package server

import (
	"context"
	"net/http"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/console"
	"github.com/sqlink/sqlink/console/history"
	"github.com/sqlink/sqlink/rbac"
)

// consoleHandler wraps the admin API handler with the web console and
// starts the history sampler (stopped with s.ctx).
func (s *Server) consoleHandler(api http.Handler) http.Handler {
	h := history.New()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		h.Run(s.ctx, func(ctx context.Context) []adminapi.LinkStatus {
			links, err := s.eng.ListLinks(ctx)
			if err != nil {
				return nil
			}
			return links
		})
	}()
	return console.New(console.Config{
		Authenticate: func(ctx context.Context, token string) (string, []rbac.Role, error) {
			p, roles, err := s.cat.Authenticate(ctx, token)
			return p.Name, roles, err
		},
		History: h.Get,
		// The Scripts pin the certificate the admin listener serves.
		Fingerprint: func() string { return s.TLSCertificate().Fingerprint },
		Audit: func(ctx context.Context, principal, action, result, source string) {
			e := catalog.AuditEntry{Principal: principal, Action: action, Target: source, Result: result}
			if result == sqlink.EUNAUTHORIZED {
				// Summarised per source, as the API's refusals are.
				s.failAudit.Record(ctx, "admin", source, e)
			} else if err := s.cat.Audit(ctx, e); err != nil {
				s.log.Error("console audit failed", "action", action, "err", err)
			}
		},
	}, api)
}
