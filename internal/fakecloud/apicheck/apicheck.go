// Package apicheck validates a fake's requests and answers against a
// provider's published OpenAPI description (kin-openapi), for the fakes'
// tests.
package apicheck

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Spec finds name (e.g. "digitalocean.yaml") in FLOATIP_OPENAPI_DIR, which
// .ci/run sets: there a missing description fails the test. Without it,
// shared/openapi beside the repository is tried (up leads from the test's
// directory to the repository's parent, e.g. "../../../.."), and a test
// that finds nothing skips with a message.
func Spec(t *testing.T, up, name string) string {
	t.Helper()
	if d := os.Getenv("FLOATIP_OPENAPI_DIR"); d != "" {
		p := filepath.Join(d, name)
		if !fileExists(p) {
			t.Fatalf("FLOATIP_OPENAPI_DIR=%s has no %s", d, name)
		}
		return p
	}
	if p := filepath.Join(up, "shared", "openapi", name); fileExists(p) {
		return p
	}
	t.Skipf("%s is not in shared/openapi beside the repository; set FLOATIP_OPENAPI_DIR (CI does)", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Checker validates exchanges with one server against one description.
type Checker struct {
	t      *testing.T
	router routers.Router
	Header http.Header // sent with every request
}

// New loads the description and routes it to the server at base.
func New(t *testing.T, spec, base string) *Checker {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(spec)
	if err != nil {
		t.Fatalf("load %s: %v", spec, err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &Checker{t: t, router: r, Header: http.Header{}}
}

func (c *Checker) input(req *http.Request) *openapi3filter.RequestValidationInput {
	c.t.Helper()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Fatalf("%s %s: not in the API description: %v", req.Method, req.URL.Path, err)
	}
	return &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
}

// Do sends method path (body may be "") to the server, validates the
// request and the answer against the description, checks the status and
// returns the answer's headers and body.
func (c *Checker) Do(method, url, body string, status int) (http.Header, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	for k, v := range c.Header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	in := c.input(req)
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		c.t.Fatalf("%s %s: request does not follow the description: %v", method, req.URL.Path, err)
	}
	if body != "" {
		req.Body = io.NopCloser(bytes.NewBufferString(body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, req.URL.Path, resp.StatusCode, status, data)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(data)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Fatalf("%s %s -> %d: answer does not follow the description: %v\n%s", method, req.URL.Path, resp.StatusCode, err, data)
	}
	return resp.Header, data
}

// MustReject checks that the validator refuses body as a 200 answer to
// GET url: a check that cannot fail proves nothing.
func (c *Checker) MustReject(url, body string) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	bad := &openapi3filter.ResponseValidationInput{RequestValidationInput: c.input(req), Status: 200,
		Header: http.Header{"Content-Type": {"application/json"}}, Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	bad.SetBodyBytes([]byte(body))
	if err := openapi3filter.ValidateResponse(context.Background(), bad); err == nil {
		c.t.Fatalf("the validator accepted %s for GET %s: this test proves nothing", body, req.URL.Path)
	}
}
