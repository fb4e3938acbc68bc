package transport

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/sqlink/sqlink"
)

// Control commands: the Command of a ControlRequest between the two
// replicas of a link. Each names the payload its JSON body carries.
const (
	// CmdLink carries a link.Message for the partner's state machine. Its
	// JSON names are the tags on link.Message, link.Op and sqlink types.
	CmdLink = "link"
	// CmdStatus carries the sender's PartnerStatus (partner.go), every
	// tick and on connecting.
	CmdStatus = "status"
	// CmdSeedRequest: a secondary without a consistent copy asks for a
	// seed (SeedRequest).
	CmdSeedRequest = "seed-request"
	// CmdSeedPlan: the primary answers a SeedRequest with what it will send
	// (SeedPlan).
	CmdSeedPlan = "seed-plan"
	// CmdReseed: the primary no longer holds the log the secondary needs;
	// seed again (Empty).
	CmdReseed = "reseed"
	// CmdDrop: the link was dropped on the sender's side (Empty); the
	// receiver answers with a ControlResponse and drops its side.
	CmdDrop = "drop"
	// CmdHoldApply: the primary took a digest's snapshot; apply nothing
	// past LSN for a while (HoldApply).
	CmdHoldApply = "hold-apply"
)

// Commands returns every control command, for tests and tools.
func Commands() []string {
	return []string{CmdLink, CmdStatus, CmdSeedRequest, CmdSeedPlan, CmdReseed, CmdDrop, CmdHoldApply}
}

// Empty is the payload of a command that carries no arguments.
type Empty struct{}

// SeedRequest is what a secondary without a consistent copy asks for.
type SeedRequest struct {
	Have       bool       `json:"have"` // a seed is partly received
	Base       sqlink.Pos `json:"base"`
	Pos        sqlink.Pos `json:"pos"`
	Next       uint32     `json:"next"`
	FromBackup bool       `json:"from_backup,omitempty"`
	BackupPos  sqlink.Pos `json:"backup_pos"`
	// Rewind: the seed in progress is a copy of this replica's diverged
	// database; send only the pages that may differ.
	Rewind *RewindRequest `json:"rewind,omitempty"`
}

// RewindRequest asks the primary to send only the pages a diverged copy may
// have wrong since Fork.
type RewindRequest struct {
	Fork    sqlink.LSN `json:"fork"`
	Pages   []uint32   `json:"pages"`    // pages the local records after the fork wrote
	MinSize uint32     `json:"min_size"` // smallest database size (pages) since the fork
}

// Seed plan kinds (SeedPlan.Kind).
const (
	SeedFresh  = "fresh"  // a new copy from page 1
	SeedResume = "resume" // go on with the copy partly received
	SeedRebase = "rebase" // a new snapshot; pages already received are kept
	SeedLog    = "log"    // the secondary holds a restored backup: only the log follows
	SeedRewind = "rewind" // only the pages a diverged copy may have wrong
	SeedError  = "error"  // the primary cannot seed: Code, Message, Hint
)

// SeedPlan is the primary's answer to a SeedRequest.
type SeedPlan struct {
	Kind      string                `json:"kind"` // one of the Seed* kinds
	Pos       sqlink.Pos            `json:"pos"`
	Epoch     sqlink.Epoch          `json:"epoch"`
	PageSize  int64                 `json:"page_size"`
	PageCount int64                 `json:"page_count"`
	Next      uint32                `json:"next"`
	History   []sqlink.HistoryEntry `json:"history,omitempty"`
	Code      string                `json:"code,omitempty"`
	Message   string                `json:"message,omitempty"`
	Hint      string                `json:"hint,omitempty"`
}

// HoldApply asks a secondary to apply nothing past LSN for a while: the
// primary took a digest's snapshot there.
type HoldApply struct {
	LSN sqlink.LSN `json:"lsn"`
}

// versionField is the JSON name of the protocol version every control body
// carries, first.
const versionField = "v"

// NewControl returns the ControlRequest that carries payload as the JSON
// body of cmd, stamped with this build's ProtocolMajor. The body is a JSON
// object: {"v":major, then payload's fields}. payload must encode as a JSON
// object.
func NewControl(id uint64, cmd string, payload any) (*ControlRequest, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", cmd, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' {
		return nil, fmt.Errorf("encode %s: the payload is not a JSON object", cmd)
	}
	body := fmt.Appendf(nil, `{"%s":%d`, versionField, ProtocolMajor)
	if rest := bytes.TrimSpace(b[1:]); len(rest) > 0 && rest[0] != '}' {
		body = append(body, ',')
	}
	body = append(body, b[1:]...)
	return &ControlRequest{ID: id, Command: cmd, Body: body}, nil
}

// MustControl is NewControl for payloads that always encode (the types of
// this file and partner.go, link.Message): it panics otherwise.
func MustControl(id uint64, cmd string, payload any) *ControlRequest {
	c, err := NewControl(id, cmd, payload)
	if err != nil {
		panic(err)
	}
	return c
}

// Decode decodes the JSON body of c into payload, a pointer. A body of
// another protocol major version, or one without a version (sqlink before
// link protocol 2), is refused with an error wrapping ErrUnsupportedVersion
// that names both versions; a body that is not valid JSON for payload with
// an EINVALID error.
func (c *ControlRequest) Decode(payload any) error {
	var v struct {
		V *uint16 `json:"v"`
	}
	if err := json.Unmarshal(c.Body, &v); err != nil {
		return sqlink.Errorf(sqlink.EINVALID, "", "link %s message: invalid body: %v", c.Command, err)
	}
	if v.V == nil {
		return bodyVersionError(c.Command, 0)
	}
	if *v.V != ProtocolMajor {
		return bodyVersionError(c.Command, *v.V)
	}
	if err := json.Unmarshal(c.Body, payload); err != nil {
		return sqlink.Errorf(sqlink.EINVALID, "", "link %s message: invalid body: %v", c.Command, err)
	}
	return nil
}

// bodyVersionError is the error for a control body of protocol major
// (0: no version, the format before protocol 2).
func bodyVersionError(cmd string, major uint16) error {
	partner := fmt.Sprintf("%d.x", major)
	if major == 0 {
		partner = "1.x (a body without a protocol version)"
	}
	return fmt.Errorf("%w: %w", ErrUnsupportedVersion, sqlink.Errorf(sqlink.EINVALID, versionHint(major, 0),
		"the partner sent a link %s message of protocol %s, this instance speaks link protocol %d.%d", cmd, partner, ProtocolMajor, ProtocolMinor))
}

// versionHint says which instance to upgrade when the partner speaks
// protocol major.minor (major 0: protocol 1, before versioned bodies). It
// names the instance by its version, not as "this" or "the partner": a
// Refuse carries it to the other side.
func versionHint(major, minor uint16) string {
	old := fmt.Sprintf("%d.%d", major, minor)
	if major == 0 {
		old = "1.x"
	}
	if major > ProtocolMajor {
		old = fmt.Sprintf("%d.%d", ProtocolMajor, ProtocolMinor)
	}
	return fmt.Sprintf("upgrade the instance on link protocol %s (the older sqlink) so both instances of the link run the same sqlink release (`sqlink --version` on each)", old)
}
