package adminapi

import (
	"time"

	"github.com/sqlink/sqlink"
)

// Link API types. The routes (link_routes.go) call the Instance's
// LinkManager; Client has a method for each (link_client.go).
//
//	GET    /v1/links                     links/read    []LinkStatus
//	GET    /v1/links/{name}              links/read    LinkStatus
//	POST   /v1/links                     links/write   CreateLinkRequest -> LinkStatus (this instance's half)
//	DELETE /v1/links/{name}              links/delete  drop this instance's half (and tell the partner if reachable)
//	GET    /v1/links/{name}/digest?lsn=N links/read    PageDigest of the local copy at LSN N
//	POST   /v1/links/{name}/failover     links/setRole/action (failover issue)

// CreateLinkRequest creates one instance's half of a link. The orchestrator
// (sqlink link create) sends it to the secondary first, then the primary,
// with the same LinkID, after each side trusts the other's certificate.
type CreateLinkRequest struct {
	Name                   string      `json:"name"`                     // e.g. "L" or "L_DB" when several databases are linked
	LinkID                 string      `json:"link_id"`                  // chosen by the orchestrator, equal on both sides
	Database               string      `json:"database"`                 // the database replicated, same name on both sides
	Role                   sqlink.Role `json:"role"`                     // this instance's initial role: PRIMARY or SECONDARY
	Mode                   sqlink.Mode `json:"mode"`                     // async (default) or sync
	TwoWay                 bool        `json:"two_way"`                  // fail back allowed
	PartnerName            string      `json:"partner_name"`             // the other instance's name
	PartnerID              string      `json:"partner_id"`               // the other instance's id
	PartnerEndpoint        string      `json:"partner_endpoint"`         // host:port of the other instance's endpoint listener
	PartnerCertFingerprint string      `json:"partner_cert_fingerprint"` // the certificate the partner must present
	// SeedFromBackup, on the secondary, means the database already exists
	// there RESTORING (restored from a backup with --restoring): only the log
	// after its LSN is shipped.
	SeedFromBackup bool `json:"seed_from_backup,omitempty"`
	// AutoFailover: the primary keeps the link as an etcd lease and the
	// secondary takes over by itself when it expires (both instances need
	// serve --etcd-endpoints). It implies TwoWay: the old primary follows
	// the new one. LeaseTTLSeconds is the lease's TTL (0: the
	// default); MaxDataLoss, in async mode, the most transactions an
	// automatic promotion may lose (0: none).
	AutoFailover    bool   `json:"auto_failover,omitempty"`
	LeaseTTLSeconds int    `json:"lease_ttl_seconds,omitempty"`
	MaxDataLoss     uint64 `json:"max_data_loss,omitempty"`
}

// LinkStatus is one link as seen from one instance: its own replica in
// detail and the partner replica as last heard of.
type LinkStatus struct {
	Name     string       `json:"name"`
	LinkID   string       `json:"link_id"`
	Database string       `json:"database"`
	Mode     sqlink.Mode  `json:"mode"`
	TwoWay   bool         `json:"two_way"`
	Epoch    sqlink.Epoch `json:"epoch"`
	// State summarises the link: SEEDING, SYNCHRONIZING, SYNCHRONIZED,
	// DISCONNECTED, RESEED_REQUIRED, SPLIT_BRAIN, FAILOVER_IN_PROGRESS,
	// DROPPED.
	State   string                `json:"state"`
	Local   ReplicaStatus         `json:"local"`
	Partner ReplicaStatus         `json:"partner"`
	History []sqlink.HistoryEntry `json:"history,omitempty"`
	// Failover in progress, split brain and the like (failover issue).
	Failover   *FailoverStatus   `json:"failover,omitempty"`
	SplitBrain *SplitBrainStatus `json:"split_brain,omitempty"`
	// AutoFailover is the etcd lease of a link with automatic failover.
	AutoFailover *AutoFailoverStatus `json:"auto_failover,omitempty"`
}

// ReplicaStatus has the fields of SPEC section 5 for one replica.
type ReplicaStatus struct {
	Instance      string               `json:"instance"`
	InstanceID    string               `json:"instance_id"`
	Endpoint      string               `json:"endpoint,omitempty"`
	Role          sqlink.Role          `json:"role"`
	SyncState     sqlink.SyncState     `json:"synchronization_state"`
	Health        string               `json:"synchronization_health"` // HEALTHY, PARTIALLY_HEALTHY, NOT_HEALTHY
	Connected     bool                 `json:"connected"`
	DatabaseState sqlink.DatabaseState `json:"database_state"` // RESTORING or ONLINE
	ReadOnly      bool                 `json:"read_only"`

	LastSentLSN      sqlink.LSN `json:"last_sent_lsn"`
	LastSentTime     time.Time  `json:"last_sent_time,omitzero"`
	LastReceivedLSN  sqlink.LSN `json:"last_received_lsn"`
	LastReceivedTime time.Time  `json:"last_received_time,omitzero"`
	LastHardenedLSN  sqlink.LSN `json:"last_hardened_lsn"`
	LastHardenedTime time.Time  `json:"last_hardened_time,omitzero"`
	LastRedoneLSN    sqlink.LSN `json:"last_redone_lsn"`
	LastRedoneTime   time.Time  `json:"last_redone_time,omitzero"`
	LastCommitLSN    sqlink.LSN `json:"last_commit_lsn"`
	LastCommitTime   time.Time  `json:"last_commit_time,omitzero"`

	LogSendQueueBytes int64   `json:"log_send_queue_bytes"`
	LogSendRate       float64 `json:"log_send_rate_bytes_per_second"`
	RedoQueueBytes    int64   `json:"redo_queue_bytes"`
	RedoRate          float64 `json:"redo_rate_bytes_per_second"`
	SecondaryLag      float64 `json:"secondary_lag_seconds"`
	// On a primary: how long after its commit the newest record the
	// secondary acknowledged was hardened there, and redone there, as
	// last measured (PostgreSQL's flush_lag and replay_lag). An async
	// secondary whose applier keeps up acknowledges both in one message
	// once it has applied the records; the message says how long before
	// it the records were hardened, so the harden lag leaves the apply
	// out (a partner of protocol 1.0 does not say, and the two are then
	// the same).
	HardenLag float64 `json:"harden_lag_seconds"`
	ReplayLag float64 `json:"replay_lag_seconds"`

	EstimatedDataLoss DataLoss       `json:"estimated_data_loss"`
	Seeding           *SeedingStatus `json:"seeding,omitempty"`
	PartnerCertExpiry time.Time      `json:"partner_cert_expiry,omitzero"`
	LastError         *LinkError     `json:"last_error,omitempty"`
	Epoch             sqlink.Epoch   `json:"epoch"`
	LogBytes          int64          `json:"log_bytes"`     // replication log kept on this replica
	LogCapBytes       int64          `json:"log_cap_bytes"` // retention cap (primary)
	// DivergedSaved is where this replica saved the transactions it
	// gave up in its latest split-brain resolution (set-role), if any.
	DivergedSaved *DivergedSave `json:"diverged_saved,omitempty"`
}

// DivergedSave describes the diverged transactions a replica saved when it
// gave up its role in a split brain.
type DivergedSave struct {
	ForkLSN      sqlink.LSN `json:"fork_lsn"`
	Transactions int64      `json:"transactions"`
	File         string     `json:"file"`           // on that replica's instance: a SQLite database openable with sqlite3
	List         string     `json:"list,omitempty"` // listing of the diverged transactions (LSN, commit time)
	Method       string     `json:"method,omitempty"`
}

// DataLoss estimates what a forced failover onto the secondary would lose
// now, from the last primary position the secondary heard of.
type DataLoss struct {
	Transactions int64   `json:"transactions"`
	Seconds      float64 `json:"seconds"`
}

// SeedingStatus is the progress of copying the database to the secondary.
type SeedingStatus struct {
	State        string     `json:"state"` // PENDING, SEEDING, CATCHUP, COMPLETED, FAILED
	BytesDone    int64      `json:"bytes_done"`
	BytesTotal   int64      `json:"bytes_total"`
	RateBytes    float64    `json:"rate_bytes_per_second"`
	EstimatedEnd time.Time  `json:"estimated_end,omitzero"`
	SeedLSN      sqlink.LSN `json:"seed_lsn"`
	Attempts     int        `json:"attempts"`
	FromBackup   bool       `json:"from_backup,omitempty"`
	// BytesSent counts the seed bytes sent (primary) or received
	// (secondary) over every attempt, so a resumed seeding shows that it
	// did not start over: it stays near BytesTotal, not a multiple of it.
	BytesSent int64 `json:"bytes_sent,omitempty"`
}

// LinkError is the most recent error on a link.
type LinkError struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Hint    string    `json:"hint,omitempty"`
	Time    time.Time `json:"time"`
}

// FailoverStatus is a role change in progress (failover issue).
type FailoverStatus struct {
	Type   string `json:"type"` // planned or forced
	Step   string `json:"step"`
	Paused string `json:"paused,omitempty"`
}

// SplitBrainStatus describes two primaries (failover issue).
type SplitBrainStatus struct {
	ForkLSN         sqlink.LSN `json:"fork_lsn"`
	DivergedLocal   int64      `json:"diverged_local"`
	DivergedPartner int64      `json:"diverged_partner"`
}

// PageDigest is a copy's page checksums at one LSN, for `sqlink link verify`.
// Page 1's change counter and version bytes (24-27, 92-99) are masked.
type PageDigest struct {
	Database  string     `json:"database"`
	LSN       sqlink.LSN `json:"lsn"`
	PageSize  int64      `json:"page_size"`
	PageCount int64      `json:"page_count"`
	Pages     []uint64   `json:"pages"` // one checksum per page, page 1 first
}
