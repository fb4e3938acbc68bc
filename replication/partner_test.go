package replication

import (
	"encoding/json"
	"reflect"
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
// replica status, and its JSON is byte for byte the one the message had
// when it was the admin API's type.
func TestPartnerStatus_CarriesTheReplicaStatus(t *testing.T) {
	var rs adminapi.ReplicaStatus
	fill(t, reflect.ValueOf(&rs).Elem())

	if got := replicaStatusOf(partnerStatusOf(rs)); !reflect.DeepEqual(got, rs) {
		t.Fatalf("round trip through the message:\n got %+v\nwant %+v", got, rs)
	}
	old, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := json.Marshal(partnerStatusOf(rs))
	if err != nil {
		t.Fatal(err)
	}
	if string(cur) != string(old) {
		t.Fatalf("the message's JSON changed:\n got %s\nwant %s", cur, old)
	}
	var ps transport.PartnerStatus
	if err := json.Unmarshal(old, &ps); err != nil {
		t.Fatal(err)
	}
	if got := replicaStatusOf(ps); !reflect.DeepEqual(got, rs) {
		t.Fatalf("from an older partner's message:\n got %+v\nwant %+v", got, rs)
	}
	// ... and reads ours as its own type.
	b, err := json.Marshal(partnerStatusOf(rs))
	if err != nil {
		t.Fatal(err)
	}
	var back adminapi.ReplicaStatus
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rs) {
		t.Fatalf("read by an older partner:\n got %+v\nwant %+v", back, rs)
	}
}
