package transport

import (
	"time"

	"github.com/sqlink/sqlink"
)

// PartnerStatus is what a replica tells its partner of itself at every
// tick and on connecting (the link's "status" control message, CmdStatus),
// so that the partner's view of the link shows both replicas. It is the
// wire's own type: the admin API's ReplicaStatus may change without
// changing the protocol. Its JSON is byte for byte what the message was
// when it carried the admin API's type (the same names, in the same
// order). Endpoint and Connected are the sender's view; the receiver shows
// its own.
type PartnerStatus struct {
	Instance      string               `json:"instance"`
	InstanceID    string               `json:"instance_id"`
	Endpoint      string               `json:"endpoint,omitempty"`
	Role          sqlink.Role          `json:"role"`
	SyncState     sqlink.SyncState     `json:"synchronization_state"`
	Health        string               `json:"synchronization_health"`
	Connected     bool                 `json:"connected"`
	DatabaseState sqlink.DatabaseState `json:"database_state"`
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
	HardenLag         float64 `json:"harden_lag_seconds"`
	ReplayLag         float64 `json:"replay_lag_seconds"`

	EstimatedLoss     PartnerLoss      `json:"estimated_data_loss"`
	Seeding           *PartnerSeeding  `json:"seeding,omitempty"`
	PartnerCertExpiry time.Time        `json:"partner_cert_expiry,omitzero"`
	LastError         *PartnerError    `json:"last_error,omitempty"`
	Epoch             sqlink.Epoch     `json:"epoch"`
	LogBytes          int64            `json:"log_bytes"`
	LogCapBytes       int64            `json:"log_cap_bytes"`
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
