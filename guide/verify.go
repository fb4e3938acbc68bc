package guide

import (
	"context"
	"fmt"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// Digester is what link verification asks of one instance's admin API.
// *adminapi.Client implements it.
type Digester interface {
	GetLink(ctx context.Context, name string) (adminapi.LinkStatus, error)
	LinkDigest(ctx context.Context, name string, lsn sqlink.LSN) (adminapi.PageDigest, error)
}

var _ Digester = (*adminapi.Client)(nil)

// VerifyResult compares two copies' page digests.
type VerifyResult struct {
	Link            string     `json:"link"`
	LSN             sqlink.LSN `json:"lsn"`
	Equal           bool       `json:"equal"`
	Pages           int64      `json:"pages"`
	PrimaryPages    int64      `json:"primary_pages"`
	SecondaryPages  int64      `json:"secondary_pages"`
	DifferingPages  []int64    `json:"differing_pages,omitempty"` // first ones, page 1 first
	DifferingCount  int64      `json:"differing_count"`
	PageSizeDiffers bool       `json:"page_size_differs,omitempty"`
	// SecondaryLSN is the LSN of the secondary's digest (equal to LSN
	// unless they differ).
	SecondaryLSN sqlink.LSN `json:"secondary_lsn,omitempty"`
}

// CompareDigests compares two page digests.
func CompareDigests(name string, p, s adminapi.PageDigest) VerifyResult {
	r := VerifyResult{Link: name, LSN: p.LSN, SecondaryLSN: s.LSN, PrimaryPages: p.PageCount, SecondaryPages: s.PageCount, Pages: p.PageCount}
	r.PageSizeDiffers = p.PageSize != s.PageSize
	n := max(len(p.Pages), len(s.Pages))
	for i := 0; i < n; i++ {
		if i < len(p.Pages) && i < len(s.Pages) && p.Pages[i] == s.Pages[i] {
			continue
		}
		r.DifferingCount++
		if len(r.DifferingPages) < 20 {
			r.DifferingPages = append(r.DifferingPages, int64(i+1))
		}
	}
	r.Equal = r.DifferingCount == 0 && !r.PageSizeDiffers && p.PageCount == s.PageCount && p.LSN == s.LSN
	return r
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// LSN compares at this LSN instead of the primary's current one.
	LSN sqlink.LSN
	// PrimaryName and SecondaryName name the sides in errors (default
	// "primary" and "secondary").
	PrimaryName, SecondaryName string
	// Progress, if set, is told the pages digested so far and in all.
	Progress func(done, total int64)
	// Retry is the pause between two attempts (default 200 ms).
	Retry time.Duration
	// SwapHint and TimeoutHint replace the hints of a primary that is
	// not one and of a context that ended (the CLI names its flags).
	SwapHint, TimeoutHint string
	// TimeoutNote is added after "at a common LSN" when ctx ends, e.g.
	// " after 30s".
	TimeoutNote string
}

// Verify asks the primary for its page checksums where it stands (or at
// o.LSN), then the secondary for its own at the same LSN (the primary has
// it hold its apply there, so this works while writes go on), retrying
// until ctx ends, and compares them. It returns the comparison; whether
// the copies differ is the result's Equal, not an error.
func Verify(ctx context.Context, p, s Digester, name string, o VerifyOptions) (VerifyResult, error) {
	if o.PrimaryName == "" {
		o.PrimaryName = "primary"
	}
	if o.SecondaryName == "" {
		o.SecondaryName = "secondary"
	}
	if o.SwapHint == "" {
		o.SwapHint = "swap the primary and the secondary"
	}
	if o.TimeoutHint == "" {
		o.TimeoutHint = "stop writes on the primary, or allow a longer timeout"
	}
	if o.Retry <= 0 {
		o.Retry = 200 * time.Millisecond
	}
	progress := func(done, total int64) {
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	var pd, sd adminapi.PageDigest
	for {
		last := func() error {
			if o.LSN == 0 {
				st, err := p.GetLink(ctx, name)
				if err != nil {
					return sideErr("primary", err)
				}
				if st.Local.Role != sqlink.RolePrimary {
					return sqlink.Errorf(sqlink.EINVALID, o.SwapHint, "%s is not the primary of link %s (its role is %s)", o.PrimaryName, name, st.Local.Role)
				}
			}
			var err error
			progress(0, 0)
			if pd, err = p.LinkDigest(ctx, name, o.LSN); err != nil {
				return sideErr("primary", err)
			}
			progress(pd.PageCount, 2*pd.PageCount)
			if sd, err = s.LinkDigest(ctx, name, pd.LSN); err != nil {
				return sideErr("secondary", err)
			}
			progress(pd.PageCount+sd.PageCount, pd.PageCount+sd.PageCount)
			return nil
		}()
		if last == nil {
			break
		}
		switch sqlink.ErrorCode(last) {
		case sqlink.EINVALID, sqlink.EUNAUTHORIZED, sqlink.EFORBIDDEN, sqlink.ENOTIMPLEMENTED:
			return VerifyResult{}, last
		}
		select {
		case <-ctx.Done():
			return VerifyResult{}, &sqlink.Error{Code: sqlink.ETIMEOUT, Message: fmt.Sprintf("no digest of link %s at a common LSN%s: %s", name, o.TimeoutNote, sqlink.ErrorMessage(last)),
				Hint: orHint(sqlink.ErrorHint(last), o.TimeoutHint)}
		case <-time.After(o.Retry):
		}
	}
	return CompareDigests(name, pd, sd), nil
}
