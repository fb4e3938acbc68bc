package transport

import (
	"time"

	"github.com/sqlink/sqlink"
)

// PartnerStatus is what a replica tells its partner of itself at every
// tick and on connecting (the link's "status" control message, CmdStatus).
// The partner's engine reads its role, commit position and time (lag),
// database state (RESTORING), last error and diverged save (failover
// reports); the rest is for the partner's view of the link: the PARTNER
// column of `sqlink link status`, the console's history and the CLI's
// progress bars, which show this replica as last heard of.
//
// It carries only what the partner cannot know itself: the receiver fills
// in the sender's instance name and id from the link's identity (checked
// at the Hello) and its endpoint and connection from its own view. Every
// field is omitted when zero, so a replica sends what its role has (a
// primary has no redo queue, a secondary no send time).
type PartnerStatus struct {
	Role          sqlink.Role          `json:"role"`
	SyncState     sqlink.SyncState     `json:"synchronization_state,omitempty"`
	Health        string               `json:"synchronization_health,omitempty"`
	DatabaseState sqlink.DatabaseState `json:"database_state,omitempty"`
	ReadOnly      bool                 `json:"read_only,omitempty"`
	Epoch         sqlink.Epoch         `json:"epoch,omitempty"`

	LastSentLSN      sqlink.LSN `json:"last_sent_lsn,omitempty"`
	LastSentTime     time.Time  `json:"last_sent_time,omitzero"`
	LastReceivedLSN  sqlink.LSN `json:"last_received_lsn,omitempty"`
	LastReceivedTime time.Time  `json:"last_received_time,omitzero"`
	LastHardenedLSN  sqlink.LSN `json:"last_hardened_lsn,omitempty"`
	LastHardenedTime time.Time  `json:"last_hardened_time,omitzero"`
	LastRedoneLSN    sqlink.LSN `json:"last_redone_lsn,omitempty"`
	LastRedoneTime   time.Time  `json:"last_redone_time,omitzero"`
	LastCommitLSN    sqlink.LSN `json:"last_commit_lsn,omitempty"`
	LastCommitTime   time.Time  `json:"last_commit_time,omitzero"`

	LogSendQueueBytes int64   `json:"log_send_queue_bytes,omitempty"`
	LogSendRate       float64 `json:"log_send_rate_bytes_per_second,omitempty"`
	RedoQueueBytes    int64   `json:"redo_queue_bytes,omitempty"`
	RedoRate          float64 `json:"redo_rate_bytes_per_second,omitempty"`
	SecondaryLag      float64 `json:"secondary_lag_seconds,omitempty"`
	HardenLag         float64 `json:"harden_lag_seconds,omitempty"`
	ReplayLag         float64 `json:"replay_lag_seconds,omitempty"`

	EstimatedLoss     PartnerLoss      `json:"estimated_data_loss,omitzero"`
	Seeding           *PartnerSeeding  `json:"seeding,omitempty"`
	PartnerCertExpiry time.Time        `json:"partner_cert_expiry,omitzero"` // the sender's view of the receiver's certificate
	LastError         *PartnerError    `json:"last_error,omitempty"`
	LogBytes          int64            `json:"log_bytes,omitempty"`
	LogCapBytes       int64            `json:"log_cap_bytes,omitempty"`
	DivergedSaved     *PartnerDiverged `json:"diverged_saved,omitempty"`
}

// PartnerLoss is what a forced failover onto the secondary would lose.
type PartnerLoss struct {
	Transactions int64   `json:"transactions"`
	Seconds      float64 `json:"seconds"`
}

// PartnerSeeding is a replica's seeding progress.
type PartnerSeeding struct {
	State        string     `json:"state"`
	BytesDone    int64      `json:"bytes_done"`
	BytesTotal   int64      `json:"bytes_total"`
	RateBytes    float64    `json:"rate_bytes_per_second"`
	EstimatedEnd time.Time  `json:"estimated_end,omitzero"`
	SeedLSN      sqlink.LSN `json:"seed_lsn"`
	Attempts     int        `json:"attempts"`
	FromBackup   bool       `json:"from_backup,omitempty"`
	BytesSent    int64      `json:"bytes_sent,omitempty"`
}

// PartnerError is a replica's last error.
type PartnerError struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Hint    string    `json:"hint,omitempty"`
	Time    time.Time `json:"time"`
}

// PartnerDiverged is where a replica saved the transactions it gave up in
// a split brain.
type PartnerDiverged struct {
	ForkLSN      sqlink.LSN `json:"fork_lsn"`
	Transactions int64      `json:"transactions"`
	File         string     `json:"file"`
	List         string     `json:"list,omitempty"`
	Method       string     `json:"method,omitempty"`
}
