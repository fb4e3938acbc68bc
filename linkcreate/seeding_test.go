package linkcreate

import (
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

func TestSeedProgress(t *testing.T) {
	seeding := &adminapi.SeedingStatus{State: "SEEDING", BytesDone: 10}
	for _, tc := range []struct {
		name  string
		st    adminapi.LinkStatus
		state string
		done  bool
	}{
		{"nothing heard yet", adminapi.LinkStatus{}, "COMPLETED", false},
		{"own seeding", adminapi.LinkStatus{Local: adminapi.ReplicaStatus{Seeding: seeding}}, "SEEDING", false},
		{"primary's seeding", adminapi.LinkStatus{Partner: adminapi.ReplicaStatus{Seeding: seeding}}, "SEEDING", false},
		{"failed", adminapi.LinkStatus{Local: adminapi.ReplicaStatus{Seeding: &adminapi.SeedingStatus{State: "FAILED"}}}, "FAILED", false},
		{"completed", adminapi.LinkStatus{Local: adminapi.ReplicaStatus{Seeding: &adminapi.SeedingStatus{State: "COMPLETED"}}}, "COMPLETED", true},
		{"online", adminapi.LinkStatus{Local: adminapi.ReplicaStatus{DatabaseState: sqlink.DatabaseOnline, Seeding: seeding}}, "COMPLETED", true},
	} {
		p, done := SeedProgress(tc.st)
		if p.State != tc.state || done != tc.done {
			t.Errorf("%s: got %s, done %v; want %s, %v", tc.name, p.State, done, tc.state, tc.done)
		}
	}
}
