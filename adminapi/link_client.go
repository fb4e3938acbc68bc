package adminapi

import (
	"context"
	"strconv"

	"github.com/sqlink/sqlink"
)

// ListLinks returns the links of the instance.
func (c *Client) ListLinks(ctx context.Context) ([]LinkStatus, error) {
	var out []LinkStatus
	err := c.Do(ctx, "GET", "/v1/links", nil, &out)
	return out, err
}

// GetLink returns one link as the instance sees it.
func (c *Client) GetLink(ctx context.Context, name string) (LinkStatus, error) {
	var out LinkStatus
	err := c.Do(ctx, "GET", "/v1/links/"+esc(name), nil, &out)
	return out, err
}

// CreateLink creates the instance's half of a link.
func (c *Client) CreateLink(ctx context.Context, req CreateLinkRequest) (LinkStatus, error) {
	var out LinkStatus
	err := c.Do(ctx, "POST", "/v1/links", req, &out)
	return out, err
}

// DropLink drops the instance's half of a link.
func (c *Client) DropLink(ctx context.Context, name string) error {
	return c.Do(ctx, "DELETE", "/v1/links/"+esc(name), nil, nil)
}

// LinkDigest returns the page checksums of the instance's copy at lsn; 0
// means where the copy stands (on the primary, the secondary then holds
// its apply at the LSN returned).
func (c *Client) LinkDigest(ctx context.Context, name string, lsn sqlink.LSN) (PageDigest, error) {
	var out PageDigest
	err := c.Do(ctx, "GET", "/v1/links/"+esc(name)+"/digest?lsn="+strconv.FormatUint(uint64(lsn), 10), nil, &out)
	return out, err
}

// Failover starts, resumes or aborts a failover of a link; it returns when
// the operation has finished, paused or failed.
func (c *Client) Failover(ctx context.Context, name string, req FailoverRequest) (FailoverResult, error) {
	var out FailoverResult
	err := c.Do(ctx, "POST", "/v1/links/"+esc(name)+"/failover", req, &out)
	return out, err
}

// SetRole designates the primary of a link in split brain.
func (c *Client) SetRole(ctx context.Context, name string, req SetRoleRequest) (SetRoleResult, error) {
	var out SetRoleResult
	err := c.Do(ctx, "POST", "/v1/links/"+esc(name)+"/set-role", req, &out)
	return out, err
}
