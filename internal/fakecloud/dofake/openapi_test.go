package dofake

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// specPath finds DigitalOcean's published API description: FLOATIP_OPENAPI_DIR,
// or ../shared/openapi next to the repository.
func specPath(t *testing.T) string {
	dirs := []string{os.Getenv("FLOATIP_OPENAPI_DIR"), filepath.Join("..", "..", "..", "..", "shared", "openapi"), "/work/shared/openapi"}
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, "digitalocean.yaml")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("DigitalOcean's OpenAPI description is in none of %q (set FLOATIP_OPENAPI_DIR); CI runs this check", dirs[1:])
	return ""
}

// TestFakeFollowsOpenAPI drives the fake through every request floatip makes
// and some it refuses, and validates each request and response against the
// published description: paths, parameters, bodies, status codes, headers.
func TestFakeFollowsOpenAPI(t *testing.T) {
	path := specPath(t)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	f := New("tok")
	f.ActionTime = 20 * time.Millisecond
	f.AddDroplet(11, "")
	f.AddDroplet(12, "")
	f.AddIP("203.0.113.1", "nyc3", 0)
	f.AddIP("203.0.113.2", "nyc3", 12)
	f.AddIP("2001:db8::5", "nyc3", 0)
	srv := httptest.NewServer(f)
	defer srv.Close()
	doc.Servers = openapi3.Servers{{URL: srv.URL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		method, path, body string
		status             int
	}
	steps := []step{
		{"GET", "/v2/reserved_ips/203.0.113.1", "", 200},
		{"GET", "/v2/reserved_ips/203.0.113.2", "", 200},
		{"GET", "/v2/reserved_ips/198.51.100.1", "", 404},
		{"POST", "/v2/reserved_ips/203.0.113.1/actions", `{"type":"assign","droplet_id":11}`, 201},
		{"POST", "/v2/reserved_ips/203.0.113.1/actions", `{"type":"assign","droplet_id":11}`, 422},
		{"GET", "/v2/reserved_ips/203.0.113.1/actions/1000", "", 200},
		{"GET", "/v2/actions/1000", "", 200},
		{"GET", "/v2/actions/999999", "", 404},
		{"GET", "/v2/reserved_ipv6/2001:db8::5", "", 200},
		{"POST", "/v2/reserved_ipv6/2001:db8::5/actions", `{"type":"assign","droplet_id":11}`, 201},
		{"POST", "/v2/reserved_ips/203.0.113.2/actions", `{"type":"unassign"}`, 201},
	}
	for i, s := range steps {
		if i == 5 {
			time.Sleep(30 * time.Millisecond) // let the first action complete
		}
		var body io.Reader
		if s.body != "" {
			body = bytes.NewBufferString(s.body)
		}
		req, _ := http.NewRequest(s.method, srv.URL+s.path, body)
		req.Header.Set("Authorization", "Bearer tok")
		if s.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s: not in the API description: %v", s.method, s.path, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Fatalf("%s %s: request does not follow the description: %v", s.method, s.path, err)
		}
		if s.body != "" {
			req.Body = io.NopCloser(bytes.NewBufferString(s.body))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != s.status {
			t.Fatalf("%s %s: %d, want %d: %s", s.method, s.path, resp.StatusCode, s.status, data)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
			Header: resp.Header, Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(data)
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Fatalf("%s %s -> %d: response does not follow the description: %v\n%s", s.method, s.path, resp.StatusCode, err, data)
		}
		for _, h := range []string{"Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset"} {
			if resp.Header.Get(h) == "" {
				t.Fatalf("%s %s: no %s header", s.method, s.path, h)
			}
		}
	}
	// The validator must be able to fail: a malformed action is refused.
	req, _ := http.NewRequest("GET", srv.URL+"/v2/actions/1000", nil)
	route, params, _ := router.FindRoute(req)
	bad := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 200, Header: http.Header{"Content-Type": {"application/json"}},
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	bad.SetBodyBytes([]byte(`{"action":{"id":"not-a-number","status":"maybe"}}`))
	if err := openapi3filter.ValidateResponse(context.Background(), bad); err == nil {
		t.Fatal("the validator accepted a malformed action: this test proves nothing")
	}
}
