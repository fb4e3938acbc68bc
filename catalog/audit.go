package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AuditEntry records one change made, or refused, through the admin API.
type AuditEntry struct {
	Seq       int64 // increasing; set by the catalog
	Time      time.Time
	Principal string // "" when the caller could not be authenticated
	Action    string // e.g. "databases.create"
	Target    string // the object acted on, e.g. a database name
	Result    string // "ok" or the error code
	Detail    string
}

const (
	// DefaultAuditLimit is how many entries ListAudit returns for a limit
	// of 0: a screenful and then some.
	DefaultAuditLimit = 100
	// MaxAuditLimit caps ListAudit's limit so one call stays small.
	MaxAuditLimit = 10000
	// AuditRetention is how many entries the catalog keeps. Older ones are
	// deleted, so that a flood of refused requests cannot fill the disk.
	AuditRetention = 100000
	// auditPruneEvery is how many appends pass between prunings.
	auditPruneEvery = 1000
	// maxAuditField bounds each text field of an entry.
	maxAuditField = 1024
)

func clip(s string) string {
	if len(s) > maxAuditField {
		return s[:maxAuditField]
	}
	return s
}

// Audit appends an entry to the audit log. A zero Time means now.
func (c *Catalog) Audit(ctx context.Context, e AuditEntry) error {
	t := c.nowOr(e.Time)
	return c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			"INSERT INTO audit (time, principal, action, target, result, detail) VALUES (?, ?, ?, ?, ?, ?)",
			ts(t), clip(e.Principal), clip(e.Action), clip(e.Target), clip(e.Result), clip(e.Detail))
		if err != nil {
			return err
		}
		c.auditWrites++
		if c.auditWrites >= auditPruneEvery {
			c.auditWrites = 0
			_, err = tx.ExecContext(ctx, "DELETE FROM audit WHERE seq <= (SELECT MAX(seq) FROM audit) - ?", AuditRetention)
		}
		return err
	})
}

// ListAudit returns the newest limit entries, newest first. A limit of 0
// or less means DefaultAuditLimit; it is capped at MaxAuditLimit.
func (c *Catalog) ListAudit(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)
	rows, err := c.db.QueryContext(ctx,
		"SELECT seq, time, principal, action, target, result, detail FROM audit ORDER BY seq DESC LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.Principal, &e.Action, &e.Target, &e.Result, &e.Detail); err != nil {
			return nil, err
		}
		e.Time = fromTS(t)
		out = append(out, e)
	}
	return out, rows.Err()
}
