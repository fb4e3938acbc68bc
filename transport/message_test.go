package transport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/transport"
)

// randomMessages returns one message of every type with random fields.
func randomMessages(r *rand.Rand) []transport.Message {
	str := func() string {
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	}
	data := func(n int) []byte {
		if n == 0 {
			return nil
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	}
	tm := func() time.Time {
		if r.IntN(4) == 0 {
			return time.Time{}
		}
		return time.Unix(0, 1+r.Int64N(1<<62)).UTC()
	}
	history := func() []sqlink.HistoryEntry {
		n := r.IntN(5)
		if n == 0 {
			return nil
		}
		h := make([]sqlink.HistoryEntry, n)
		for i := range h {
			h[i] = sqlink.HistoryEntry{Epoch: sqlink.Epoch(r.Uint64()), FirstLSN: sqlink.LSN(r.Uint64())}
		}
		return h
	}
	pos := func() sqlink.Pos { return sqlink.Pos{LSN: sqlink.LSN(r.Uint64()), Checksum: r.Uint64()} }
	hello := transport.Hello{
		Major: transport.ProtocolMajor, Minor: uint16(r.Uint32()),
		InstanceID: str(), InstanceName: str(), LinkID: str(), LinkName: str(), Database: str(),
		Role: sqlink.Role(str()), Epoch: sqlink.Epoch(r.Uint64()), Pos: pos(), History: history(),
		Time: tm(), Features: r.Uint64(),
	}
	ack := transport.HelloAck(hello)
	ack.InstanceName = str()
	first := sqlink.LSN(1 + r.Uint64N(1<<60))
	chunk := data(r.IntN(3000))
	offset := r.Uint64N(1 << 40)
	return []transport.Message{
		&hello,
		&ack,
		&transport.Refuse{Code: str(), Message: str(), Hint: str()},
		&transport.Records{Epoch: sqlink.Epoch(r.Uint64()), FirstLSN: first, LastLSN: first + sqlink.LSN(r.Uint64N(1000)), Data: data(r.IntN(5000))},
		&transport.Ack{Epoch: sqlink.Epoch(r.Uint64()), Hardened: sqlink.LSN(r.Uint64()), Redone: sqlink.LSN(r.Uint64()), Time: tm(), HardenedAgo: time.Duration(r.Int64N(1 << 40))},
		&transport.SeedChunk{Epoch: sqlink.Epoch(r.Uint64()), LSN: sqlink.LSN(r.Uint64()), Offset: offset, TotalSize: offset + uint64(len(chunk)) + r.Uint64N(1<<20), Data: chunk},
		&transport.SeedDone{Epoch: sqlink.Epoch(r.Uint64()), Pos: pos(), TotalSize: r.Uint64(), History: history()},
		&transport.Heartbeat{Seq: r.Uint64(), Time: tm(), Echo: tm(), LastCommitLSN: sqlink.LSN(r.Uint64()), LastCommitTime: tm(), Probe: r.IntN(2) == 0, Reply: r.IntN(2) == 0},
		&transport.ControlRequest{ID: r.Uint64(), Command: str(), Body: data(r.IntN(100))},
		&transport.ControlResponse{ID: r.Uint64(), Code: str(), Message: str(), Hint: str(), Body: data(r.IntN(100))},
		&transport.ErrorMessage{Code: str(), Message: str(), Hint: str()},
		&transport.RecordPart{Epoch: sqlink.Epoch(r.Uint64()), LSN: first, Offset: offset % (1 << 30), Total: offset%(1<<30) + uint64(len(chunk)) + 1 + r.Uint64N(1<<20), Data: append(chunk, 1)},
	}
}

func TestMessages_RoundTrip(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 0))
	seen := map[transport.FrameType]bool{}
	for i := 0; i < 500; i++ {
		for _, m := range randomMessages(r) {
			seen[m.FrameType()] = true
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatalf("seed %d: marshal %T: %v", seed, m, err)
			}
			got, err := transport.Decode(transport.Frame{Type: m.FrameType(), Payload: b})
			if err != nil {
				t.Fatalf("seed %d: decode %T: %v", seed, m, err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("seed %d: round trip of %T:\n got %+v\nwant %+v", seed, m, got, m)
			}
			// AppendBinary appends, and trailing bytes (future minor
			// versions' fields) are ignored.
			b2, err := m.AppendBinary([]byte("prefix"))
			if err != nil || !bytes.Equal(b2[6:], b) {
				t.Fatalf("seed %d: AppendBinary %T: %v", seed, m, err)
			}
			got2 := transport.NewMessage(m.FrameType())
			if err := got2.UnmarshalBinary(append(b, 1, 2, 3)); err != nil || !reflect.DeepEqual(got2, m) {
				t.Fatalf("seed %d: trailing bytes %T: %v", seed, m, err)
			}
			// Every strict prefix of the payload is refused.
			for _, n := range []int{0, len(b) / 2, len(b) - 1} {
				if n >= len(b) || n < 0 {
					continue
				}
				if err := transport.NewMessage(m.FrameType()).UnmarshalBinary(b[:n]); err == nil {
					t.Fatalf("seed %d: %T accepted a %d-byte prefix of %d", seed, m, n, len(b))
				}
			}
		}
	}
	for ft := transport.FrameHello; ft <= transport.FrameError; ft++ {
		if !seen[ft] {
			t.Errorf("frame type %s not covered", ft)
		}
	}
}

// An Ack from a partner of protocol 1.0 ends before HardenedAgo: it decodes,
// with HardenedAgo zero.
func TestAck_FromProtocol10(t *testing.T) {
	want := transport.Ack{Epoch: 3, Hardened: 10, Redone: 9, Time: time.Unix(1700000000, 0).UTC()}
	b, err := (&transport.Ack{Epoch: 3, Hardened: 10, Redone: 9, Time: want.Time, HardenedAgo: time.Second}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got transport.Ack
	if err := got.UnmarshalBinary(b[:len(b)-8]); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("1.0 Ack = %+v, %v; want %+v", got, err, want)
	}
}

func TestMessages_OverConn(t *testing.T) {
	a, b := net.Pipe()
	ca, cb := transport.NewConn(a), transport.NewConn(b)
	defer ca.Close()
	defer cb.Close()
	msgs := randomMessages(rand.New(rand.NewPCG(1, 2)))
	for _, m := range msgs {
		if h, ok := m.(*transport.Heartbeat); ok {
			h.Probe = false // probes are answered, not delivered
		}
	}
	ctx := context.Background()
	go func() {
		for _, m := range msgs {
			if err := ca.WriteMessage(ctx, m); err != nil {
				t.Error(err)
				return
			}
		}
		if err := ca.Flush(ctx); err != nil {
			t.Error(err)
		}
	}()
	for _, want := range msgs {
		got, err := cb.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}

func TestHello_UnknownMajorVersion(t *testing.T) {
	b, err := (&transport.Hello{Major: transport.ProtocolMajor + 1, Minor: 7, LinkID: "x"}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var h transport.Hello
	err = h.UnmarshalBinary(b)
	if !errors.Is(err, transport.ErrUnsupportedVersion) {
		t.Fatalf("err = %v, want ErrUnsupportedVersion", err)
	}
	if got, want := h.Major, transport.ProtocolMajor+1; got != want {
		t.Fatalf("Major = %d, want %d", got, want)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("speaks link protocol %d.7", transport.ProtocolMajor+1)) || sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("err = %v", err)
	}
	if err := transport.CheckHello("x", 0, &h); !errors.Is(err, transport.ErrUnsupportedVersion) {
		t.Fatalf("CheckHello err = %v", err)
	}
}

func TestCheckHello(t *testing.T) {
	h := &transport.Hello{Major: transport.ProtocolMajor, InstanceName: "beta", LinkID: "L1", LinkName: "sales", Epoch: 5}
	if err := transport.CheckHello("L1", 5, h); err != nil {
		t.Fatal(err)
	}
	err := transport.CheckHello("L2", 5, h)
	if !errors.Is(err, transport.ErrWrongLink) || sqlink.ErrorCode(err) != sqlink.ECONFLICT || !strings.Contains(err.Error(), `expected link "L2"`) {
		t.Fatalf("wrong link: err = %v", err)
	}
	err = transport.CheckHello("L1", 6, h)
	if !errors.Is(err, transport.ErrStaleEpoch) || sqlink.ErrorCode(err) != sqlink.ECONFLICT || !strings.Contains(err.Error(), "epoch 5") {
		t.Fatalf("stale epoch: err = %v", err)
	}
}

func TestRecordStream_Accept(t *testing.T) {
	s := transport.NewRecordStream(3, 10)
	batch := func(epoch sqlink.Epoch, first, last sqlink.LSN) *transport.Records {
		return &transport.Records{Epoch: epoch, FirstLSN: first, LastLSN: last}
	}
	if err := s.Accept(batch(3, 11, 15)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		b     *transport.Records
		is    error
		words string
	}{
		{"replay", batch(3, 11, 15), transport.ErrRecordsGap, "expected LSN 16 next (a replay)"},
		{"overlap", batch(3, 14, 20), transport.ErrRecordsGap, "expected LSN 16"},
		{"gap", batch(3, 17, 20), transport.ErrRecordsGap, "expected LSN 16 next (a gap)"},
		{"stale epoch", batch(2, 16, 20), transport.ErrStaleEpoch, "epoch 2"},
		{"bad range", batch(3, 16, 15), transport.ErrInvalidRecord, "invalid LSN range"},
	} {
		err := s.Accept(tc.b)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.words) {
			t.Fatalf("%s: err = %v, want %v mentioning %q", tc.name, err, tc.is, tc.words)
		}
		if got, want := s.Last(), sqlink.LSN(15); got != want {
			t.Fatalf("%s: Last = %d, want %d", tc.name, got, want)
		}
	}
	if err := s.Accept(batch(4, 16, 16)); err != nil {
		t.Fatal(err)
	}
	if s.Epoch() != 4 || s.Last() != 16 {
		t.Fatalf("stream at epoch %d LSN %d", s.Epoch(), s.Last())
	}
}

func TestMessages_Invalid(t *testing.T) {
	if _, err := (&transport.Records{FirstLSN: 5, LastLSN: 4}).MarshalBinary(); err == nil {
		t.Fatal("records with an inverted range marshalled")
	}
	if _, err := (&transport.SeedChunk{Offset: 10, TotalSize: 11, Data: []byte("ab")}).MarshalBinary(); err == nil {
		t.Fatal("seed chunk past the end marshalled")
	}
	if _, err := (&transport.Refuse{Message: strings.Repeat("x", 70000)}).MarshalBinary(); sqlink.ErrorCode(err) != sqlink.EINVALID {
		t.Fatalf("long string: err = %v", err)
	}
	if _, err := transport.Decode(transport.Frame{Type: 200}); !errors.Is(err, transport.ErrUnknownFrameType) {
		t.Fatalf("unknown type: err = %v", err)
	}
}

func randomMessagesSeed(seed uint64) []transport.Message {
	return randomMessages(rand.New(rand.NewPCG(seed, seed)))
}

// A record sent as RecordParts comes out of the assembler whole, only once
// its last part arrived; parts out of order, of another record, or of
// another size are refused and the partial record dropped.
func TestRecordAssembler(t *testing.T) {
	rec := bytes.Repeat([]byte("0123456789"), 1000)
	parts := func(lsn sqlink.LSN, size int) []*transport.RecordPart {
		var ps []*transport.RecordPart
		for off := 0; off < len(rec); off += size {
			ps = append(ps, &transport.RecordPart{Epoch: 3, LSN: lsn, Offset: uint64(off), Total: uint64(len(rec)), Data: rec[off:min(off+size, len(rec))]})
		}
		return ps
	}
	var a transport.RecordAssembler
	ps := parts(7, 3000)
	for i, p := range ps {
		r, err := a.Add(p)
		if err != nil {
			t.Fatal(err)
		}
		if i < len(ps)-1 {
			if r != nil || !a.Pending() {
				t.Fatalf("part %d of %d gave a record (%v) or nothing pending", i, len(ps), r != nil)
			}
			continue
		}
		if r == nil || r.FirstLSN != 7 || r.LastLSN != 7 || r.Epoch != 3 || !bytes.Equal(r.Data, rec) || a.Pending() {
			t.Fatalf("last part: %+v, pending %v", r, a.Pending())
		}
	}
	for name, bad := range map[string][]*transport.RecordPart{
		"a later part first":  {ps[1]},
		"a gap":               {ps[0], ps[2]},
		"a replayed part":     {ps[0], ps[1], ps[1]},
		"another record":      {ps[0], parts(8, 3000)[1]},
		"another size":        {ps[0], {Epoch: 3, LSN: 7, Offset: 3000, Total: 20000, Data: rec[:10]}},
		"another epoch":       {ps[0], {Epoch: 4, LSN: 7, Offset: 3000, Total: uint64(len(rec)), Data: rec[3000:3010]}},
		"past the record end": {{Epoch: 3, LSN: 7, Offset: 0, Total: 5, Data: rec[:10]}},
	} {
		var a transport.RecordAssembler
		var err error
		for _, p := range bad {
			if _, err = a.Add(p); err != nil {
				break
			}
		}
		if !errors.Is(err, transport.ErrRecordsGap) && !errors.Is(err, transport.ErrInvalidRecord) {
			t.Errorf("%s: err = %v, want a refusal", name, err)
		}
		if a.Pending() && name != "a later part first" {
			t.Errorf("%s: the partial record was kept", name)
		}
	}
}
