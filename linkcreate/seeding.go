package linkcreate

import (
	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// SeedProgress reads a new link's seeding progress from the secondary's
// view of the link: its own seeding, or the primary's as it last heard of
// it. done reports that the secondary's database is online or the seed
// completed; the returned status then says COMPLETED.
func SeedProgress(st adminapi.LinkStatus) (p adminapi.SeedingStatus, done bool) {
	s := st.Local.Seeding
	if s == nil {
		s = st.Partner.Seeding
	}
	done = st.Local.DatabaseState == sqlink.DatabaseOnline || s != nil && s.State == "COMPLETED"
	p = adminapi.SeedingStatus{State: "COMPLETED"}
	if s != nil {
		p = *s
	}
	if done {
		p.State = "COMPLETED"
	}
	return p, done
}
