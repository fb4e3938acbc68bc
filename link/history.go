package link

import (
	"math"
	"slices"

	"github.com/sqlink/sqlink"
)

// maxLSN stands for "the end of a primary's log, wherever it is now": a
// primary's last history entry covers every LSN it will ever write.
const maxLSN = sqlink.LSN(math.MaxUint64)

// EpochOwner returns the instance allowed to be primary at epoch e: odd
// epochs belong to the link's initial primary, even ones to the other
// instance. Because only the owner can take an epoch, two replicas can never
// be primary at the same epoch, even when operators race (forced failover
// on one side while the other aborts a failover or resolves a split brain).
func EpochOwner(e sqlink.Epoch, initialPrimary, other string) string {
	if e%2 == 1 {
		return initialPrimary
	}
	return other
}

// NextEpoch returns the smallest epoch above floor that owner may take. In
// the usual alternation (failover, fail back, forced failover of a secondary)
// it is floor+1.
func NextEpoch(floor sqlink.Epoch, ownerIsInitialPrimary bool) sqlink.Epoch {
	e := floor + 1
	if (e%2 == 1) != ownerIsInitialPrimary {
		e++
	}
	return e
}

// Diverged returns the fork LSN between a primary's history and a local log
// that ends at end and was written according to local, and whether the local
// log holds transactions the primary does not (fork < end). The primary's
// end does not matter: its last epoch covers everything it will write, and a
// stale status message must not look like a divergence.
func Diverged(primary, local []sqlink.HistoryEntry, end sqlink.LSN) (fork sqlink.LSN, diverged bool) {
	fork = sqlink.ForkLSN(primary, maxLSN, local, end)
	return fork, fork < end
}

// appendEpoch returns h with epoch e beginning at first, dropping entries
// that begin at or after first: the local log does not hold their records.
func appendEpoch(h []sqlink.HistoryEntry, e sqlink.Epoch, first sqlink.LSN) []sqlink.HistoryEntry {
	h = truncateHistory(h, first-1)
	return append(h, sqlink.HistoryEntry{Epoch: e, FirstLSN: first})
}

// truncateHistory returns the entries of h that describe LSNs up to end.
func truncateHistory(h []sqlink.HistoryEntry, end sqlink.LSN) []sqlink.HistoryEntry {
	h = slices.Clone(h)
	for len(h) > 0 && h[len(h)-1].FirstLSN > end {
		h = h[:len(h)-1]
	}
	return h
}

// EpochAt returns the epoch in which h says the transaction at lsn was
// written, 0 if none.
func EpochAt(h []sqlink.HistoryEntry, lsn sqlink.LSN) sqlink.Epoch {
	var e sqlink.Epoch
	for _, x := range h {
		if x.FirstLSN > lsn {
			break
		}
		e = x.Epoch
	}
	return e
}
