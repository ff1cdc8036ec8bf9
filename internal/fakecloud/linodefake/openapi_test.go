package linodefake

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

func specPath(t *testing.T) string {
	dirs := []string{os.Getenv("FLOATIP_OPENAPI_DIR"), filepath.Join("..", "..", "..", "..", "shared", "openapi"), "/work/shared/openapi"}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if p := filepath.Join(d, "linode.yaml"); fileExists(p) {
			return p
		}
	}
	t.Skipf("Linode's OpenAPI description is in none of %q (set FLOATIP_OPENAPI_DIR); CI runs this check", dirs[1:])
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestFakeFollowsOpenAPI drives the fake through the requests floatip makes
// (and some it refuses) and validates requests and responses against
// Linode's published description.
func TestFakeFollowsOpenAPI(t *testing.T) {
	path := specPath(t)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	f := New("tok")
	f.AddLinode(101, "us-east", "", "198.51.100.1")
	f.AddLinode(102, "us-east", "", "198.51.100.2", "198.51.100.10")
	f.AddLinode(104, "eu-west", "", "203.0.113.4", "203.0.113.40")
	srv := httptest.NewServer(f)
	defer srv.Close()
	doc.Servers = openapi3.Servers{{URL: srv.URL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/v4/linode/instances/101/ips", "", 200},
		{"POST", "/v4/networking/ips/share", `{"ips":["198.51.100.10"],"linode_id":101}`, 200},
		{"POST", "/v4/networking/ips/share", `{"ips":["203.0.113.40"],"linode_id":101}`, 400},
		{"GET", "/v4/networking/ips/198.51.100.10", "", 200},
		{"POST", "/v4/networking/ips/share", `{"ips":[],"linode_id":101}`, 200},
		{"POST", "/v4/networking/ips/assign", `{"region":"us-east","assignments":[{"address":"198.51.100.10","linode_id":101}]}`, 200},
		{"GET", "/v4/linode/instances/999/ips", "", 404},
	} {
		var body io.Reader
		if s.body != "" {
			body = bytes.NewBufferString(s.body)
		}
		req, _ := http.NewRequest(s.method, srv.URL+s.path, body)
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
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
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: Content-Type %q, want exactly application/json", s.method, s.path, ct)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(data)
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Fatalf("%s %s -> %d: response does not follow the description: %v\n%s", s.method, s.path, resp.StatusCode, err, data)
		}
		if resp.Header.Get("X-RateLimit-Limit") == "" {
			t.Fatalf("%s %s: no X-RateLimit-Limit", s.method, s.path)
		}
	}
	// The validator must be able to fail.
	req, _ := http.NewRequest("GET", srv.URL+"/v4/linode/instances/101/ips", nil)
	route, params, _ := router.FindRoute(req)
	bad := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 200, Header: http.Header{"Content-Type": {"application/json"}},
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	bad.SetBodyBytes([]byte(`{"ipv4":"everything"}`))
	if err := openapi3filter.ValidateResponse(context.Background(), bad); err == nil {
		t.Fatal("the validator accepted a malformed answer: this test proves nothing")
	}
}
