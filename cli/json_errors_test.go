package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
)

// decodeJSONError decodes what a failed command printed on stderr with
// --json: exactly one {"error":{...}} object.
func decodeJSONError(t *testing.T, stderr string) adminapi.ErrorBody {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stderr))
	dec.DisallowUnknownFields()
	var er adminapi.ErrorResponse
	if err := dec.Decode(&er); err != nil {
		t.Fatalf("stderr is not a JSON error: %v\n%s", err, stderr)
	}
	if dec.More() {
		t.Fatalf("stderr holds more than one JSON value:\n%s", stderr)
	}
	if er.Error.Code == "" || er.Error.Message == "" {
		t.Fatalf("JSON error without code or message:\n%s", stderr)
	}
	return er.Error
}

// With --json (or --output json) an error prints as one JSON object on
// stderr, stdout stays empty, and the exit code is the one without --json.
func TestJSONErrors(t *testing.T) {
	in := startTestInstance(t)
	for _, tc := range []struct {
		name string
		args []string
		code string
	}{
		{"not found", []string{"db", "show", "nope", "--server", in.url, "--fingerprint", in.fp, "--token", in.token}, sqlink.ENOTFOUND},
		{"bad token", []string{"db", "list", "--server", in.url, "--fingerprint", in.fp, "--token", "wrong"}, sqlink.EUNAUTHORIZED},
		{"no token", []string{"db", "list", "--server", in.url, "--fingerprint", in.fp}, sqlink.EUNAUTHORIZED},
		{"usage", []string{"db", "show", "--server", in.url, "--fingerprint", in.fp, "--token", in.token}, sqlink.EINVALID},
		{"bad flag before --json", []string{"db", "list", "--bogus"}, sqlink.EINVALID},
		{"unreachable", []string{"db", "list", "--server", "http://127.0.0.1:1", "--token", "t"}, sqlink.EUNAVAILABLE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCLI(tc.args...)
			if want := ExitCode(sqlink.Errorf(tc.code, "", "x")); code != want {
				t.Fatalf("exit %d, want %d\n%s", code, want, errOut)
			}
			if !strings.HasPrefix(errOut, "Error: ") || !strings.Contains(errOut, "\nTry: ") {
				t.Fatalf("without --json the error is not text with a hint:\n%s", errOut)
			}
			for _, flags := range [][]string{{"--json"}, {"--output", "json"}, {"-o", "json"}} {
				jout, jerr, jcode := runCLI(append(tc.args, flags...)...)
				if jcode != code || jout != "" {
					t.Fatalf("%v: exit %d (want %d), stdout %q", flags, jcode, code, jout)
				}
				e := decodeJSONError(t, jerr)
				if e.Code != tc.code || e.Hint == "" || !strings.Contains(errOut, e.Message) {
					t.Fatalf("%v: JSON error %+v; text error:\n%s", flags, e, errOut)
				}
			}
		})
	}
}

func TestWantsJSON(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"db", "list", "--bogus", "--json"}, true},
		{[]string{"db", "list", "--output=json"}, true},
		{[]string{"db", "list", "-o", "json"}, true},
		{[]string{"db", "list", "-o", "table"}, false},
		{[]string{"db", "show", "--", "--json"}, false},
		{[]string{"db", "list"}, false},
	} {
		if got := wantsJSON(tc.args); got != tc.want {
			t.Errorf("wantsJSON(%q) = %v", tc.args, got)
		}
	}
}
