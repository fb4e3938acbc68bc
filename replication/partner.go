package replication

import (
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/transport"
)

// partnerStatusOf is the status message this replica sends its partner:
// its own status as the admin API shows it, in the wire's type, less what
// the partner knows itself (this instance's name and id, endpoint and
// connection).
func partnerStatusOf(rs adminapi.ReplicaStatus) transport.PartnerStatus {
	ps := transport.PartnerStatus{
		Role: rs.Role, Epoch: rs.Epoch,
		SyncState: rs.SyncState, Health: rs.Health, DatabaseState: rs.DatabaseState, ReadOnly: rs.ReadOnly,
		LastSentLSN: rs.LastSentLSN, LastSentTime: rs.LastSentTime,
		LastReceivedLSN: rs.LastReceivedLSN, LastReceivedTime: rs.LastReceivedTime,
		LastHardenedLSN: rs.LastHardenedLSN, LastHardenedTime: rs.LastHardenedTime,
		LastRedoneLSN: rs.LastRedoneLSN, LastRedoneTime: rs.LastRedoneTime,
		LastCommitLSN: rs.LastCommitLSN, LastCommitTime: rs.LastCommitTime,
		LogSendQueueBytes: rs.LogSendQueueBytes, LogSendRate: rs.LogSendRate,
		RedoQueueBytes: rs.RedoQueueBytes, RedoRate: rs.RedoRate,
		SecondaryLag: rs.SecondaryLag, HardenLag: rs.HardenLag, ReplayLag: rs.ReplayLag,
		LogBytes: rs.LogBytes, LogCapBytes: rs.LogCapBytes,
		EstimatedLoss:     transport.PartnerLoss{Transactions: rs.EstimatedDataLoss.Transactions, Seconds: rs.EstimatedDataLoss.Seconds},
		PartnerCertExpiry: rs.PartnerCertExpiry,
	}
	if s := rs.Seeding; s != nil {
		ps.Seeding = &transport.PartnerSeeding{State: s.State, BytesDone: s.BytesDone, BytesTotal: s.BytesTotal, RateBytes: s.RateBytes,
			EstimatedEnd: s.EstimatedEnd, SeedLSN: s.SeedLSN, Attempts: s.Attempts, FromBackup: s.FromBackup, BytesSent: s.BytesSent}
	}
	if e := rs.LastError; e != nil {
		ps.LastError = &transport.PartnerError{Code: e.Code, Message: e.Message, Hint: e.Hint, Time: e.Time}
	}
	if d := rs.DivergedSaved; d != nil {
		ps.DivergedSaved = &transport.PartnerDiverged{ForkLSN: d.ForkLSN, Transactions: d.Transactions, File: d.File, List: d.List, Method: d.Method}
	}
	return ps
}

// replicaStatusOf is the partner's status, as its message told it, for the
// admin API's view of the link (whose caller sets the partner's name, id,
// endpoint and connection as it knows them).
func replicaStatusOf(ps transport.PartnerStatus) adminapi.ReplicaStatus {
	rs := adminapi.ReplicaStatus{
		Role: ps.Role, Epoch: ps.Epoch,
		SyncState: ps.SyncState, Health: ps.Health, DatabaseState: ps.DatabaseState, ReadOnly: ps.ReadOnly,
		LastSentLSN: ps.LastSentLSN, LastSentTime: ps.LastSentTime,
		LastReceivedLSN: ps.LastReceivedLSN, LastReceivedTime: ps.LastReceivedTime,
		LastHardenedLSN: ps.LastHardenedLSN, LastHardenedTime: ps.LastHardenedTime,
		LastRedoneLSN: ps.LastRedoneLSN, LastRedoneTime: ps.LastRedoneTime,
		LastCommitLSN: ps.LastCommitLSN, LastCommitTime: ps.LastCommitTime,
		LogSendQueueBytes: ps.LogSendQueueBytes, LogSendRate: ps.LogSendRate,
		RedoQueueBytes: ps.RedoQueueBytes, RedoRate: ps.RedoRate,
		SecondaryLag: ps.SecondaryLag, HardenLag: ps.HardenLag, ReplayLag: ps.ReplayLag,
		LogBytes: ps.LogBytes, LogCapBytes: ps.LogCapBytes,
		EstimatedDataLoss: adminapi.DataLoss{Transactions: ps.EstimatedLoss.Transactions, Seconds: ps.EstimatedLoss.Seconds},
		PartnerCertExpiry: ps.PartnerCertExpiry,
	}
	if s := ps.Seeding; s != nil {
		rs.Seeding = &adminapi.SeedingStatus{State: s.State, BytesDone: s.BytesDone, BytesTotal: s.BytesTotal, RateBytes: s.RateBytes,
			EstimatedEnd: s.EstimatedEnd, SeedLSN: s.SeedLSN, Attempts: s.Attempts, FromBackup: s.FromBackup, BytesSent: s.BytesSent}
	}
	if e := ps.LastError; e != nil {
		rs.LastError = &adminapi.LinkError{Code: e.Code, Message: e.Message, Hint: e.Hint, Time: e.Time}
	}
	if d := ps.DivergedSaved; d != nil {
		rs.DivergedSaved = &adminapi.DivergedSave{ForkLSN: d.ForkLSN, Transactions: d.Transactions, File: d.File, List: d.List, Method: d.Method}
	}
	return rs
}
