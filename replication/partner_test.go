package replication

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/transport"
)

// fill sets every field of the struct v points to, recursively, to a
// value that is not zero.
func fill(t *testing.T, v reflect.Value) {
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(v.Type().Field(i).Name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(7 + i))
		case reflect.Uint64, reflect.Uint32:
			f.SetUint(uint64(11 + i))
		case reflect.Float64:
			f.SetFloat(1.5 + float64(i))
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
			fill(t, f.Elem())
		case reflect.Struct:
			if f.Type() == reflect.TypeOf(time.Time{}) {
				f.Set(reflect.ValueOf(time.Date(2026, 12, 5, 18, 0, i, 0, time.UTC)))
				continue
			}
			fill(t, f)
		default:
			t.Fatalf("field %s: kind %s not filled", v.Type().Field(i).Name, f.Kind())
		}
	}
}

// The partner status message carries every field of the admin API's
// replica status but those the receiver knows itself (the sender's name,
// id, endpoint and connection), which it fills in.
func TestPartnerStatus_CarriesTheReplicaStatus(t *testing.T) {
	var rs adminapi.ReplicaStatus
	fill(t, reflect.ValueOf(&rs).Elem())

	b, err := json.Marshal(partnerStatusOf(rs))
	if err != nil {
		t.Fatal(err)
	}
	for _, known := range []string{rs.Instance, rs.InstanceID, rs.Endpoint, `"connected"`} {
		if strings.Contains(string(b), known) {
			t.Errorf("the message carries %s, which the partner knows itself: %s", known, b)
		}
	}
	var ps transport.PartnerStatus
	if err := json.Unmarshal(b, &ps); err != nil {
		t.Fatal(err)
	}
	got := replicaStatusOf(ps)
	got.Instance, got.InstanceID, got.Endpoint, got.Connected = rs.Instance, rs.InstanceID, rs.Endpoint, rs.Connected
	if !reflect.DeepEqual(got, rs) {
		t.Fatalf("round trip through the message:\n got %+v\nwant %+v", got, rs)
	}
}

// A replica sends what its role has: zero fields are left out.
func TestPartnerStatus_SmallForAnIdleReplica(t *testing.T) {
	b, err := json.Marshal(partnerStatusOf(adminapi.ReplicaStatus{Instance: "alpha", InstanceID: "id", Role: "SECONDARY", Epoch: 2, LastRedoneLSN: 9}))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"role":"SECONDARY","epoch":2,"last_redone_lsn":9}`; string(b) != want {
		t.Fatalf("message %s, want %s", b, want)
	}
}
