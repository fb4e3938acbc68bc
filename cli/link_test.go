package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/adminapi"
)

func TestCompareDigests(t *testing.T) {
	a := adminapi.PageDigest{LSN: 7, PageSize: 4096, PageCount: 3, Pages: []uint64{1, 2, 3}}
	if r := compareDigests("l", a, a); !r.Equal || r.Pages != 3 {
		t.Fatalf("equal digests: %+v", r)
	}
	b := adminapi.PageDigest{LSN: 7, PageSize: 4096, PageCount: 4, Pages: []uint64{1, 9, 3, 4}}
	r := compareDigests("l", a, b)
	if r.Equal || r.DifferingCount != 2 || len(r.DifferingPages) != 2 || r.DifferingPages[0] != 2 || r.DifferingPages[1] != 4 {
		t.Fatalf("differing digests: %+v", r)
	}
}

func TestCertExpiryText(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{now.Add(200 * 24 * time.Hour), ""},
		{now.Add(10*24*time.Hour + time.Hour), "in 10 days"},
		{now.Add(-time.Hour), "EXPIRED"},
	} {
		got := certExpiryText(tc.at, now)
		if tc.want == "" && strings.Contains(got, "(") || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("certExpiryText(%s) = %q, want %q", tc.at, got, tc.want)
		}
	}
}
