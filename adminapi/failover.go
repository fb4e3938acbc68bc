package adminapi

import (
	"time"

	"github.com/sqlink/sqlink"
)

// Failover API types (the failover issue). Routes, both links/setRole/action:
//
//	POST /v1/links/{name}/failover   FailoverRequest -> FailoverResult
//	POST /v1/links/{name}/set-role   SetRoleRequest  -> SetRoleResult
//
// A planned failover may be started on either instance; a forced one only
// on the secondary. The call returns when the operation has finished, has
// paused (Result.Paused says where and why, and Resume or Abort continue
// it), or failed.

// FailoverRequest starts, resumes or aborts a failover of one link.
type FailoverRequest struct {
	Type          string `json:"type"`                      // "planned" (default) or "forced"
	DropLink      bool   `json:"drop_link,omitempty"`       // drop the link afterwards (only choice on one-way links)
	AllowDataLoss bool   `json:"allow_data_loss,omitempty"` // required for forced
	Resume        bool   `json:"resume,omitempty"`          // finish a paused planned failover
	Abort         bool   `json:"abort,omitempty"`           // roll a paused planned failover back to the old roles
	// TimeoutSeconds bounds the wait for the secondary to harden the last
	// LSN and for in-flight transactions to finish; 0 means the server's
	// default.
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
}

// FailoverResult reports what a failover did.
type FailoverResult struct {
	Link     LinkStatus   `json:"link"`
	Steps    []StepResult `json:"steps"`
	Paused   string       `json:"paused,omitempty"` // where it stopped, when it did not finish
	Duration float64      `json:"duration_seconds"`
	// EstimatedLoss is, for a forced failover, what the secondary estimated
	// it would lose before it took over (from the last primary position it
	// heard of); Lost is what it recorded at the switch.
	EstimatedLoss DataLoss     `json:"estimated_loss"`
	Lost          DataLoss     `json:"lost"`
	NewPrimary    string       `json:"new_primary"`
	Epoch         sqlink.Epoch `json:"epoch"`
	// FirstWriteAt is when the new primary accepted writes.
	FirstWriteAt time.Time `json:"first_write_at,omitzero"`
}

// StepResult is one step of a multi-step operation, for live progress and
// the results page.
type StepResult struct {
	Name     string     `json:"name"`
	Status   string     `json:"status"` // done, running, paused, failed, skipped
	Started  time.Time  `json:"started,omitzero"`
	Duration float64    `json:"duration_seconds"`
	Error    *LinkError `json:"error,omitempty"`
}

// SetRoleRequest designates the primary of a link in split brain.
type SetRoleRequest struct {
	Primary string `json:"primary"` // instance name (or id) that keeps its writes
}

// SetRoleResult reports a split-brain resolution. On the losing side the
// diverged transactions (everything after the fork LSN) were saved before
// it rewound or reseeded.
type SetRoleResult struct {
	Link         LinkStatus `json:"link"`
	ForkLSN      sqlink.LSN `json:"fork_lsn"`
	DivergedFile string     `json:"diverged_file,omitempty"` // on the losing instance: a SQLite database openable with sqlite3
	DivergedList string     `json:"diverged_list,omitempty"` // listing of the diverged transactions (LSN, commit time)
	Diverged     int64      `json:"diverged_transactions"`
	Method       string     `json:"method,omitempty"` // rewind or reseed
}
