package sqlink

import (
	"fmt"
	"strconv"
)

// LSN is a database's log position. Every committed transaction gets the next
// LSN; LSN 0 is the empty database before any transaction. LSNs never go
// backwards on a replica.
type LSN uint64

// String returns the LSN as a zero-padded 16-digit hex number, so LSNs sort
// as strings too.
func (l LSN) String() string { return fmt.Sprintf("%016x", uint64(l)) }

// ParseLSN parses the form String returns, or a plain decimal number.
func ParseLSN(s string) (LSN, error) {
	if len(s) == 16 {
		v, err := strconv.ParseUint(s, 16, 64)
		if err == nil {
			return LSN(v), nil
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, Errorf(EINVALID, "give an LSN as 16 hex digits or a decimal number", "invalid LSN %q", s)
	}
	return LSN(v), nil
}

// Epoch increases at every role change of a link. Each log record carries the
// epoch it was written in.
type Epoch uint64

// Pos is a position in a database's history: an LSN and the rolling checksum
// of the database after the transaction at that LSN, as litefs's ltx.Pos. Two
// replicas at the same Pos hold the same history.
type Pos struct {
	LSN      LSN    `json:"lsn"`
	Checksum uint64 `json:"checksum"`
}

// IsZero reports whether p is the position of an empty history.
func (p Pos) IsZero() bool { return p == Pos{} }

// String returns "LSN/checksum".
func (p Pos) String() string { return fmt.Sprintf("%s/%016x", p.LSN, p.Checksum) }

// HistoryEntry records that epoch Epoch began with the transaction at
// FirstLSN. A replica keeps one entry per epoch it has seen, in order.
type HistoryEntry struct {
	Epoch    Epoch `json:"epoch"`
	FirstLSN LSN   `json:"first_lsn"`
}

// ForkLSN returns the last LSN at which histories a and b agree, given that
// both replicas' logs end at endA and endB. Two histories agree on a
// transaction when it was written in the same epoch. The result is at most
// min(endA, endB).
//
// Both histories must be sorted by epoch with increasing FirstLSN; they are
// what each replica recorded, so the first entry is normally {1, 1}.
func ForkLSN(a []HistoryEntry, endA LSN, b []HistoryEntry, endB LSN) LSN {
	end := min(endA, endB)
	// epochAt returns the epoch in which lsn was written according to h.
	epochAt := func(h []HistoryEntry, lsn LSN) Epoch {
		var e Epoch
		for _, x := range h {
			if x.FirstLSN > lsn {
				break
			}
			e = x.Epoch
		}
		return e
	}
	// The histories can only start disagreeing at a FirstLSN of either side,
	// so checking those boundaries (and LSN 1) is enough.
	fork := end
	check := func(lsn LSN) {
		if lsn == 0 || lsn > end {
			return
		}
		if epochAt(a, lsn) != epochAt(b, lsn) && lsn-1 < fork {
			fork = lsn - 1
		}
	}
	check(1)
	for _, x := range a {
		check(x.FirstLSN)
	}
	for _, x := range b {
		check(x.FirstLSN)
	}
	return fork
}
