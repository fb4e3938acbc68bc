package transport_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/link"
	"github.com/sqlink/sqlink/transport"
)

// update rewrites testdata/*.golden from the current encoders:
//
//	go test ./transport -run TestProtocol_Golden -update
//
// Only do so for a deliberate protocol change, with a new protocol version.
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current encoders")

var (
	goldenTime = time.Date(2026, 12, 5, 18, 0, 0, 123456789, time.UTC)
	goldenHist = []sqlink.HistoryEntry{{Epoch: 1, FirstLSN: 1}, {Epoch: 3, FirstLSN: 4200}}
	goldenPos  = sqlink.Pos{LSN: 4321, Checksum: 0xfeedfacecafebeef}
)

// goldenHello is the Hello of the golden files: every field set.
func goldenHello() transport.Hello {
	return transport.Hello{
		Major: transport.ProtocolMajor, Minor: transport.ProtocolMinor,
		InstanceID: "3f1c0d9e-inst-alpha", InstanceName: "alpha",
		LinkID: "9b2e-link", LinkName: "sales-link", Database: "sales",
		Role: sqlink.RolePrimary, Epoch: 3, Pos: goldenPos, History: goldenHist,
		Time: goldenTime, Features: 0,
	}
}

// goldenLinkMessage is a peer link.Message of type t with every field set.
func goldenLinkMessage(t link.MsgType) link.Message {
	return link.Message{
		Type: t, LinkID: "9b2e-link", From: "alpha", To: "beta",
		Role: sqlink.RolePrimary, Epoch: 3, Version: 17, History: goldenHist,
		Writable: true, Mode: sqlink.ModeSync, Dropped: true, Reverting: true,
		Op:  link.Op{Kind: link.OpPlanned, Step: link.StepDemoted, Target: 4, KeepLink: true, PrevMode: sqlink.ModeAsync, LastLSN: 4321},
		LSN: 4321, Target: 4, KeepLink: true, AllowDataLoss: true, Primary: "beta", NewMode: sqlink.ModeAsync,
	}
}

// peerMsgTypes are the link.Message types that travel between replicas.
var peerMsgTypes = []link.MsgType{
	link.MsgHeartbeat, link.MsgFailoverRequest, link.MsgPromote, link.MsgPromoted,
	link.MsgAbortPromotion, link.MsgAborted, link.MsgResumeRequest, link.MsgAbortRequest,
	link.MsgSetModeRequest, link.MsgSetRoleRequest,
}

// goldenControls returns a payload of every control command, by golden
// file name.
func goldenControls() map[string]struct {
	cmd     string
	payload any
} {
	type ctl = struct {
		cmd     string
		payload any
	}
	m := map[string]ctl{
		"control-status": {transport.CmdStatus, &transport.PartnerStatus{
			Role: sqlink.RolePrimary, SyncState: sqlink.Synchronized, Health: "HEALTHY", Epoch: 3,
			DatabaseState: sqlink.DatabaseOnline, LastSentLSN: 4321, LastSentTime: goldenTime,
			LastHardenedLSN: 4300, LastRedoneLSN: 4290, LastCommitLSN: 4321, LastCommitTime: goldenTime,
			LogSendQueueBytes: 4096, LogSendRate: 1.5e6, RedoQueueBytes: 512, RedoRate: 2e6, SecondaryLag: 0.25,
			HardenLag: 0.01, ReplayLag: 0.02,
		}},
		"control-seed-request": {transport.CmdSeedRequest, &transport.SeedRequest{
			Have: true, Base: goldenPos, Pos: sqlink.Pos{LSN: 4000, Checksum: 7}, Next: 33,
			FromBackup: true, BackupPos: sqlink.Pos{LSN: 3900, Checksum: 9},
			Rewind: &transport.RewindRequest{Fork: 4100, Pages: []uint32{1, 7, 9}, MinSize: 12},
		}},
		"control-seed-plan": {transport.CmdSeedPlan, &transport.SeedPlan{
			Kind: transport.SeedRebase, Pos: goldenPos, Epoch: 3, PageSize: 4096, PageCount: 120, Next: 33,
			History: goldenHist,
		}},
		"control-seed-plan-error": {transport.CmdSeedPlan, &transport.SeedPlan{
			Kind: transport.SeedError, Code: sqlink.ECONFLICT, Message: "the log no longer reaches back to the backup", Hint: "seed without -from-backup",
		}},
		"control-reseed":     {transport.CmdReseed, &transport.Empty{}},
		"control-drop":       {transport.CmdDrop, &transport.Empty{}},
		"control-hold-apply": {transport.CmdHoldApply, &transport.HoldApply{LSN: 4321}},
	}
	for _, t := range peerMsgTypes {
		msg := goldenLinkMessage(t)
		m["control-link-"+strings.ToLower(t.String())] = ctl{transport.CmdLink, &msg}
	}
	return m
}

// goldenMessages returns every peer message of the protocol, by golden
// file name.
func goldenMessages(tb testing.TB) map[string]transport.Message {
	h := goldenHello()
	ack := transport.HelloAck(goldenHello())
	ack.InstanceName, ack.Role = "beta", sqlink.RoleSecondary
	m := map[string]transport.Message{
		"hello":     &h,
		"hello-ack": &ack,
		"refuse":    &transport.Refuse{Code: sqlink.ECONFLICT, Message: "stale epoch 2", Hint: "check the link"},
		"records":   &transport.Records{Epoch: 3, FirstLSN: 4300, LastLSN: 4302, Data: []byte("three records")},
		"ack":       &transport.Ack{Epoch: 3, Hardened: 4302, Redone: 4301, Time: goldenTime, HardenedAgo: 1500 * time.Microsecond},
		"seed-chunk": &transport.SeedChunk{Epoch: 3, LSN: 4321, Offset: 8192, TotalSize: 491520,
			Data: []byte("a page of the seed")},
		"seed-done": &transport.SeedDone{Epoch: 3, Pos: goldenPos, TotalSize: 491520, History: goldenHist},
		"heartbeat": &transport.Heartbeat{Seq: 99, Time: goldenTime, Echo: goldenTime.Add(-time.Second),
			LastCommitLSN: 4321, LastCommitTime: goldenTime.Add(-time.Millisecond), Probe: true, Reply: false},
		"control-response": &transport.ControlResponse{ID: 7, Code: sqlink.ENOTIMPLEMENTED, Message: "unknown link command x",
			Hint: "upgrade", Body: []byte(`{"v":2}`)},
		"error":       &transport.ErrorMessage{Code: sqlink.EINVALID, Message: "records 9..8", Hint: "reconnect"},
		"record-part": &transport.RecordPart{Epoch: 3, LSN: 4303, Offset: 0, Total: 100, Data: []byte("first part")},
	}
	for name, c := range goldenControls() {
		req, err := transport.NewControl(5, c.cmd, c.payload)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		m[name] = req
	}
	return m
}

// goldenFrame returns the wire bytes of m: a whole frame.
func goldenFrame(tb testing.TB, m transport.Message) []byte {
	tb.Helper()
	return transport.AppendFrame(nil, transport.Frame{Type: m.FrameType(), Payload: mustMarshal(tb, m)})
}

// parseFrame splits a frame's bytes (checking the checksum by re-encoding).
func parseFrame(tb testing.TB, b []byte) transport.Frame {
	tb.Helper()
	if len(b) < transport.FrameHeaderSize+transport.FrameTrailerSize {
		tb.Fatalf("a frame of %d bytes", len(b))
	}
	f := transport.Frame{Type: transport.FrameType(b[0]), Flags: b[1], Payload: b[transport.FrameHeaderSize : len(b)-transport.FrameTrailerSize]}
	if !bytes.Equal(transport.AppendFrame(nil, f), b) {
		tb.Fatalf("frame does not re-encode to its bytes (length or checksum)")
	}
	return f
}

// Every peer message encodes to the bytes in its golden file, and the
// golden bytes decode to the message: a change of any encoding (a renamed
// Go field without a JSON name, a renumbered MsgType, a reordered field)
// fails here. Regenerate with -update only with a new protocol version.
func TestProtocol_Golden(t *testing.T) {
	msgs := goldenMessages(t)
	controls := goldenControls()
	for name, m := range msgs {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name+".golden")
			got := goldenFrame(t, m)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s encodes to\n%q\nthe golden bytes are\n%q\n(a protocol change needs a new protocol version; then -update)", name, got, want)
			}
			dec, err := transport.Decode(parseFrame(t, want))
			if err != nil {
				t.Fatalf("golden bytes do not decode: %v", err)
			}
			if !reflect.DeepEqual(dec, m) {
				t.Fatalf("golden bytes decode to\n%+v\nwant\n%+v", dec, m)
			}
			c, ok := controls[name]
			if !ok {
				return
			}
			if got, want := dec.(*transport.ControlRequest).Command, c.cmd; got != want {
				t.Fatalf("command = %q, want %q", got, want)
			}
			payload := reflect.New(reflect.TypeOf(c.payload).Elem()).Interface()
			if err := dec.(*transport.ControlRequest).Decode(payload); err != nil {
				t.Fatalf("body does not decode: %v", err)
			}
			if !reflect.DeepEqual(payload, c.payload) {
				t.Fatalf("body decodes to\n%+v\nwant\n%+v", payload, c.payload)
			}
		})
	}
	// Every command has a golden file.
	for _, cmd := range transport.Commands() {
		found := false
		for _, c := range controls {
			found = found || c.cmd == cmd
		}
		if !found {
			t.Errorf("no golden control message for command %q", cmd)
		}
	}
	// Every frame type has a golden file.
	for ft := transport.FrameHello; ft.Known(); ft++ {
		found := false
		for _, m := range msgs {
			found = found || m.FrameType() == ft
		}
		if !found {
			t.Errorf("no golden message of frame type %s", ft)
		}
	}
}

// checkVersionError checks that err refuses an old partner clearly: the
// version sentinel, both versions named, and a hint to upgrade.
func checkVersionError(t *testing.T, err error, partner string) {
	t.Helper()
	if !errors.Is(err, transport.ErrUnsupportedVersion) {
		t.Fatalf("err = %v, want ErrUnsupportedVersion", err)
	}
	ours := fmt.Sprintf("%d.%d", transport.ProtocolMajor, transport.ProtocolMinor)
	if msg := err.Error(); !strings.Contains(msg, partner) || !strings.Contains(msg, ours) {
		t.Fatalf("err = %v, want it to name %s and %s", err, partner, ours)
	}
	if hint := sqlink.ErrorHint(err); !strings.Contains(hint, "upgrade the instance on link protocol") {
		t.Fatalf("hint = %q, want it to say which instance to upgrade", hint)
	}
	if got, want := sqlink.ErrorCode(err), sqlink.EINVALID; got != want {
		t.Fatalf("code = %s, want %s", got, want)
	}
}

// A Hello of protocol 1.2 (the last release before versioned control
// bodies; testdata/old-hello-1.2.golden holds the bytes it sent) is
// refused, naming both versions and which instance to upgrade.
func TestProtocol_OldHelloRefused(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "old-hello-1.2.golden"))
	if err != nil {
		t.Fatal(err)
	}
	f := parseFrame(t, b)
	if f.Type != transport.FrameHello {
		t.Fatalf("type = %s", f.Type)
	}
	_, err = transport.Decode(f)
	checkVersionError(t, err, "1.2")
	if !strings.Contains(sqlink.ErrorHint(err), "1.2") {
		t.Fatalf("hint %q does not name the older version", sqlink.ErrorHint(err))
	}
	var h transport.Hello
	_ = h.UnmarshalBinary(f.Payload)
	checkVersionError(t, transport.CheckHello(h.LinkID, 0, &h), "1.2")
}

// A control body in the format before protocol 2 (no version: a
// link.Message encoded under its Go field names, as sqlink 1.x sent it), or
// of another major version, is refused with a version error, not misread.
func TestProtocol_OldControlBodyRefused(t *testing.T) {
	for _, tc := range []struct {
		name, body, partner string
	}{
		{"1.x link message", `{"Type":100,"LinkID":"9b2e-link","From":"alpha","To":"beta","Role":"PRIMARY","Epoch":3,"Version":17,"History":null,"Writable":true,"Mode":"SYNC","Dropped":false,"Reverting":false,"Op":{},"LSN":4321,"Target":0,"KeepLink":false,"AllowDataLoss":false,"Primary":"","NewMode":""}`, "1.x"},
		{"1.x hold apply", `{"lsn":4321}`, "1.x"},
		{"version 1", `{"v":1,"type":100}`, "1.x"},
		{"version 3", `{"v":3,"type":100}`, "3.x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &transport.ControlRequest{Command: transport.CmdLink, Body: []byte(tc.body)}
			var m link.Message
			err := c.Decode(&m)
			checkVersionError(t, err, tc.partner)
			if !reflect.DeepEqual(m, link.Message{}) {
				t.Fatalf("refused body still decoded: %+v", m)
			}
		})
	}
}

// A malformed control body is an EINVALID error, not a version error.
func TestProtocol_BadControlBody(t *testing.T) {
	for _, body := range []string{``, `[]`, `{"v":2,"type":"x"}`, `{"v":"2"}`} {
		c := &transport.ControlRequest{Command: transport.CmdLink, Body: []byte(body)}
		var m link.Message
		err := c.Decode(&m)
		if err == nil || errors.Is(err, transport.ErrUnsupportedVersion) || sqlink.ErrorCode(err) != sqlink.EINVALID {
			t.Fatalf("Decode(%q) = %v, want an EINVALID error", body, err)
		}
	}
}

// NewControl refuses a payload that is not a JSON object, and writes the
// version first whatever the payload.
func TestNewControl(t *testing.T) {
	if _, err := transport.NewControl(1, transport.CmdLink, []int{1}); err == nil {
		t.Fatal("a JSON array payload was accepted")
	}
	for _, p := range []any{transport.Empty{}, struct{}{}, map[string]int{"a": 1}} {
		c, err := transport.NewControl(1, transport.CmdDrop, p)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"v":%d`, transport.ProtocolMajor); !strings.HasPrefix(string(c.Body), want) {
			t.Fatalf("body %s does not start with %s", c.Body, want)
		}
		if err := c.Decode(&map[string]any{}); err != nil {
			t.Fatalf("body %s: %v", c.Body, err)
		}
	}
}

// FuzzControlDecode drives ControlRequest.Decode with every payload type:
// it never panics, and a body it accepts re-encodes to a body that decodes
// to the same body.
func FuzzControlDecode(f *testing.F) {
	for _, c := range goldenControls() {
		req, err := transport.NewControl(1, c.cmd, c.payload)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.cmd, req.Body)
	}
	f.Add(transport.CmdLink, []byte(`{"Type":100}`))
	f.Add(transport.CmdSeedPlan, []byte(`{"v":2,"history":[{"epoch":1}]}`))
	newPayload := map[string]func() any{
		transport.CmdLink:        func() any { return &link.Message{} },
		transport.CmdStatus:      func() any { return &transport.PartnerStatus{} },
		transport.CmdSeedRequest: func() any { return &transport.SeedRequest{} },
		transport.CmdSeedPlan:    func() any { return &transport.SeedPlan{} },
		transport.CmdReseed:      func() any { return &transport.Empty{} },
		transport.CmdDrop:        func() any { return &transport.Empty{} },
		transport.CmdHoldApply:   func() any { return &transport.HoldApply{} },
	}
	f.Fuzz(func(t *testing.T, cmd string, body []byte) {
		mk := newPayload[cmd]
		if mk == nil {
			mk = newPayload[transport.CmdLink]
		}
		p := mk()
		if err := (&transport.ControlRequest{Command: cmd, Body: body}).Decode(p); err != nil {
			if sqlink.ErrorCode(err) != sqlink.EINVALID {
				t.Fatalf("Decode error without a code: %v", err)
			}
			return
		}
		req, err := transport.NewControl(1, cmd, p)
		if err != nil {
			t.Fatalf("decoded payload does not re-encode: %v", err)
		}
		p2 := mk()
		if err := req.Decode(p2); err != nil {
			t.Fatalf("re-encoded body %s does not decode: %v", req.Body, err)
		}
		req2, err := transport.NewControl(1, cmd, p2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(req.Body, req2.Body) {
			t.Fatalf("payload changed in a round trip:\n%s\n%s", req.Body, req2.Body)
		}
	})
}
