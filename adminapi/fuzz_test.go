package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlink/sqlink"
	"github.com/sqlink/sqlink/adminapi"
	"github.com/sqlink/sqlink/catalog"
)

// FuzzDecodeRequestBodies sends arbitrary bodies to every route that takes
// a JSON body. The server must never panic or answer 5xx, and anything it
// refuses must be a 4xx with a JSON error.
func FuzzDecodeRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"shop"}`, `{"name":""}`, `{}`, ``, `null`, `[]`, `{"name":1}`, `{"name":"a","x":1}`,
		`{"principal":"admin","description":"d"}`, `{"name":"r","permissions":["databases/read"]}`,
		`{"name":"p","roles":["sysadmin"]}`, `{"name":"c","pem":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----"}`,
		`{"password":"x"}`, `{"roles":null}`, `{"right":"read"}`, `{"right":"none"}`, `{"right":7}`, "{\"name\":\"\\u0000\"}", `{"name":"shop"}{"name":"x"}`, `"\xff"`,
	} {
		f.Add(seed)
	}
	cat, err := catalog.Open(context.Background(), filepath.Join(f.TempDir(), "catalog.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { cat.Close() })
	if err := cat.CreatePrincipal(context.Background(), "admin", []string{"sysadmin"}); err != nil {
		f.Fatal(err)
	}
	secret, _, err := cat.CreateToken(context.Background(), "admin", "")
	if err != nil {
		f.Fatal(err)
	}
	h := adminapi.NewHandler(adminapi.Config{MaxBodyBytes: 4096}, cat, &fakeInstance{})
	var routes []adminapi.Route
	for _, rt := range adminapi.Routes() {
		if (rt.Method == "POST" || rt.Method == "PUT") && !rt.RawBody && !strings.Contains(rt.Path, "backup") &&
			!strings.Contains(rt.Path, "complete-restore") && !strings.Contains(rt.Path, "rotate") {
			routes = append(routes, rt)
		}
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, rt := range routes {
			req := httptest.NewRequest(rt.Method, concretePath(rt.Path), strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+secret)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Fatalf("%s with body %q: status %d: %s", rt.Pattern(), body, w.Code, w.Body)
			}
			if w.Code >= 400 {
				var er adminapi.ErrorResponse
				if err := json.NewDecoder(bytes.NewReader(w.Body.Bytes())).Decode(&er); err != nil || er.Error.Code == "" || er.Error.Message == "" {
					t.Fatalf("%s with body %q: status %d with body %q", rt.Pattern(), body, w.Code, w.Body)
				}
			}
			if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
				t.Fatalf("%s: auth failed: %s", rt.Pattern(), w.Body)
			}
		}
	})
}

// FuzzDecodeJSON checks DecodeJSON alone: no panics, and an error is
// always EINVALID.
func FuzzDecodeJSON(f *testing.F) {
	f.Add(`{"name":"shop"}`)
	f.Add(`{"name":"shop","extra":true}`)
	f.Add(`{`)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		var v adminapi.CreateDatabaseRequest
		if err := adminapi.DecodeJSON(req, &v); err != nil {
			if sqlink.ErrorCode(err) != sqlink.EINVALID || sqlink.ErrorHint(err) == "" {
				t.Fatalf("DecodeJSON(%q) = %v, want EINVALID", body, err)
			}
		}
	})
}
