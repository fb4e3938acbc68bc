package guide

import (
	"testing"

	"github.com/sqlink/sqlink/adminapi"
)

func TestSkipTurnsAFailureIntoAWarning(t *testing.T) {
	cs := []adminapi.ValidationCheck{Disk("beta", 10, 1<<20), FullBackup("alpha", "f", adminapi.DatabaseInfo{})}
	applySkip(cs, []string{"Free-Disk"})
	if cs[0].Status != adminapi.CheckWarning || cs[1].Status != adminapi.CheckFail {
		t.Fatalf("%+v", cs)
	}
	if err := ValidateSkip([]string{"free-disk", "log cap"}); err != nil {
		t.Fatal(err)
	}
	if err := ValidateSkip([]string{"disk"}); err == nil {
		t.Fatal("an unknown check name was accepted")
	}
}
