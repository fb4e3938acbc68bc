package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sqlink/sqlink"
)

// LinkRecord is what the catalog keeps of one link on this instance. The
// link code owns its meaning; Data holds whatever else it needs to persist
// as JSON. PutLink is durable when it returns.
type LinkRecord struct {
	Name        string
	Database    string
	Role        sqlink.Role
	PartnerURL  string
	PartnerName string
	Mode        sqlink.Mode
	TwoWay      bool
	Epoch       sqlink.Epoch
	State       string
	Data        json.RawMessage // nil or a JSON value
	UpdatedAt   time.Time       // set by PutLink when zero
}

// PutLink creates or replaces the record of link rec.Name.
func (c *Catalog) PutLink(ctx context.Context, rec LinkRecord) error {
	if err := ValidateName("link", rec.Name); err != nil {
		return err
	}
	if err := ValidateName("database", rec.Database); err != nil {
		return err
	}
	if len(rec.Data) > 0 && !json.Valid(rec.Data) {
		return sqlink.Errorf(sqlink.EINVALID, "", "link %q: data is not valid JSON", rec.Name)
	}
	var data []byte
	if len(rec.Data) > 0 {
		data = rec.Data
	}
	updated := c.nowOr(rec.UpdatedAt)
	return c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO links
			(name, database, role, partner_url, partner_name, mode, two_way, epoch, state, data, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.Name, rec.Database, string(rec.Role), rec.PartnerURL, rec.PartnerName, string(rec.Mode),
			rec.TwoWay, int64(rec.Epoch), rec.State, data, ts(updated))
		return err
	})
}

const linkColumns = "name, database, role, partner_url, partner_name, mode, two_way, epoch, state, data, updated_at"

func scanLink(rows interface{ Scan(...any) error }) (LinkRecord, error) {
	var r LinkRecord
	var role, mode string
	var epoch, updated int64
	var data []byte
	if err := rows.Scan(&r.Name, &r.Database, &role, &r.PartnerURL, &r.PartnerName, &mode, &r.TwoWay,
		&epoch, &r.State, &data, &updated); err != nil {
		return LinkRecord{}, err
	}
	r.Role, r.Mode, r.Epoch, r.UpdatedAt = sqlink.Role(role), sqlink.Mode(mode), sqlink.Epoch(epoch), fromTS(updated)
	if len(data) > 0 {
		r.Data = json.RawMessage(data)
	}
	return r, nil
}

// GetLink returns the record of link name.
func (c *Catalog) GetLink(ctx context.Context, name string) (LinkRecord, error) {
	r, err := scanLink(c.db.QueryRowContext(ctx, "SELECT "+linkColumns+" FROM links WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return LinkRecord{}, notFound("link", name, "list links to see their names")
	}
	if err != nil {
		return LinkRecord{}, fmt.Errorf("get link: %w", err)
	}
	return r, nil
}

// ListLinks returns every link record sorted by name.
func (c *Catalog) ListLinks(ctx context.Context) ([]LinkRecord, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT "+linkColumns+" FROM links ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	defer rows.Close()
	out := []LinkRecord{}
	for rows.Next() {
		r, err := scanLink(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteLink removes the record of link name.
func (c *Catalog) DeleteLink(ctx context.Context, name string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM links WHERE name = ?", name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("link", name, "list links to see their names")
		}
		return nil
	})
}

// DeleteLinkAndDatabase removes a link and, in the same transaction, the
// database it was seeding (with its backup history): dropping a link whose
// copy never arrived leaves neither behind.
func (c *Catalog) DeleteLinkAndDatabase(ctx context.Context, name, database string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM links WHERE name = ?", name); err != nil {
			return err
		}
		if err := removeDatabase(ctx, tx, database); sqlink.ErrorCode(err) != sqlink.ENOTFOUND {
			return err
		}
		return nil
	})
}

// linkNames returns the names of the links that replicate database.
func linkNames(ctx context.Context, q queryer, database string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT name FROM links WHERE database = ? ORDER BY name", database)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
