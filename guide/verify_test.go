package guide_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/guide"
)

// digester is one side of a link for Verify: its role, its digest, and
// how many calls fail before it answers.
type digester struct {
	role   sqlink.Role
	digest adminapi.PageDigest
	fail   int
	asked  []sqlink.LSN
}

func (d *digester) GetLink(ctx context.Context, name string) (adminapi.LinkStatus, error) {
	var st adminapi.LinkStatus
	st.Local.Role = d.role
	return st, nil
}

func (d *digester) LinkDigest(ctx context.Context, name string, lsn sqlink.LSN) (adminapi.PageDigest, error) {
	d.asked = append(d.asked, lsn)
	if d.fail > 0 {
		d.fail--
		return adminapi.PageDigest{}, sqlink.Errorf(sqlink.EUNAVAILABLE, "wait", "not at LSN %d yet", lsn)
	}
	return d.digest, nil
}

func TestVerifyRetriesUntilBothAtOneLSN(t *testing.T) {
	p := &digester{role: sqlink.RolePrimary, digest: adminapi.PageDigest{LSN: 7, PageSize: 4096, PageCount: 2, Pages: []uint64{1, 2}}}
	s := &digester{role: sqlink.RoleSecondary, fail: 2, digest: adminapi.PageDigest{LSN: 7, PageSize: 4096, PageCount: 2, Pages: []uint64{1, 2}}}
	r, err := guide.Verify(context.Background(), p, s, "l", guide.VerifyOptions{Retry: time.Millisecond})
	if err != nil || !r.Equal || r.LSN != 7 || len(s.asked) != 3 || s.asked[0] != 7 {
		t.Fatalf("Verify = %+v, %v (secondary asked %v)", r, err, s.asked)
	}
	s.digest.Pages = []uint64{1, 3}
	if r, err := guide.Verify(context.Background(), p, s, "l", guide.VerifyOptions{}); err != nil || r.Equal || r.DifferingCount != 1 || r.DifferingPages[0] != 2 {
		t.Fatalf("differing copies: %+v, %v", r, err)
	}
}

func TestVerifyRefusesASecondaryAsPrimary(t *testing.T) {
	p := &digester{role: sqlink.RoleSecondary}
	_, err := guide.Verify(context.Background(), p, p, "l", guide.VerifyOptions{PrimaryName: "beta", SwapHint: "swap them"})
	if sqlink.ErrorCode(err) != sqlink.EINVALID || sqlink.ErrorHint(err) != "swap them" || len(p.asked) != 0 {
		t.Fatalf("err = %v (hint %q)", err, sqlink.ErrorHint(err))
	}
}

func TestVerifyGivesUpWhenTheContextEnds(t *testing.T) {
	p := &digester{role: sqlink.RolePrimary, fail: 1 << 30}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := guide.Verify(ctx, p, p, "l", guide.VerifyOptions{TimeoutNote: " after 1s"})
	if sqlink.ErrorCode(err) != sqlink.ETIMEOUT || !strings.Contains(sqlink.ErrorMessage(err), "at a common LSN after 1s") {
		t.Fatalf("err = %v", err)
	}
}
