package replication

import (
	"context"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/transport"
)

// A partner of protocol 1.1 cannot put RecordParts together: a record
// larger than a frame is refused with an error naming the upgrade, and
// nothing is written to the connection; a record that fits one frame goes
// whole to it, as before 1.2.
func TestSendParts_RefusedToAPartnerWithoutThem(t *testing.T) {
	s := &recordSender{pc: &peerConn{hello: &transport.Hello{Major: 1, Minor: 1}}, epoch: 1}
	if s.partnerTakesParts() {
		t.Fatal("a 1.1 partner takes record parts")
	}
	err := s.sendParts(context.Background(), 9, make([]byte, maxRecordsFrame+1))
	if sqlink.ErrorCode(err) != sqlink.EUNAVAILABLE || !strings.Contains(err.Error(), "upgrade the partner") || !strings.Contains(err.Error(), "1.1") {
		t.Fatalf("sendParts to a 1.1 partner: %v", err)
	}
	for _, v := range [][2]uint16{{1, transport.MinorRecordPart}, {transport.ProtocolMajor, transport.ProtocolMinor}} {
		s.pc.hello.Major, s.pc.hello.Minor = v[0], v[1]
		if !s.partnerTakesParts() {
			t.Fatalf("a %d.%d partner does not take record parts", v[0], v[1])
		}
	}
}
