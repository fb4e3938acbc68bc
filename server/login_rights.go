package server

import (
	"context"
	"fmt"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/catalog"
	"github.com/sqlink/sqlink/storage"
)

// sessionAccess returns what login may do in database, for a session that
// starts now. A login with no right there is refused (EFORBIDDEN, which
// pgwire sends as FATAL 42501) before the database is even looked up, so
// the refusal says nothing about which databases exist.
func (s *Server) sessionAccess(ctx context.Context, login, database string) (storage.Access, error) {
	r, err := s.cat.DatabaseRight(ctx, login, database)
	if err != nil {
		return 0, err
	}
	switch r {
	case catalog.RightConnect:
		return storage.AccessConnect, nil
	case catalog.RightRead:
		return storage.AccessRead, nil
	case catalog.RightWrite:
		return storage.AccessWrite, nil
	}
	return 0, sqlink.Errorf(sqlink.EFORBIDDEN,
		fmt.Sprintf("an operator grants it: sqlink login grant %s connect|read|write --database %s", login, database),
		"permission denied for database %q", database)
}
