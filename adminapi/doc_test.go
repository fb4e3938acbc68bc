package adminapi_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/sqlink/sqlink/adminapi"
)

// TestDocListsEveryRoute keeps the table in doc.go in step with Routes.
func TestDocListsEveryRoute(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, rt := range adminapi.Routes() {
		re := regexp.MustCompile(`(?m)^//\s+` + rt.Method + `\s+` + regexp.QuoteMeta(rt.Path) + `(\?\S*)?\s+` + regexp.QuoteMeta(string(rt.Permission)) + `$`)
		if !re.MatchString(doc) {
			t.Errorf("doc.go does not list %s with %s", rt.Pattern(), rt.Permission)
		}
	}
	if n := strings.Count(doc, "\n//\tGET ") + strings.Count(doc, "\n//\tPOST ") + strings.Count(doc, "\n//\tPUT ") + strings.Count(doc, "\n//\tDELETE "); n != len(adminapi.Routes())+2 {
		t.Errorf("doc.go lists %d routes, want %d built-in plus /healthz and /metrics", n, len(adminapi.Routes()))
	}
}
