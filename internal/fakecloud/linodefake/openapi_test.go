package linodefake

import (
	"net/http/httptest"
	"testing"

	"github.com/cloudvip/floatip/internal/fakecloud/apicheck"
)

// TestFakeFollowsOpenAPI drives the fake through the requests floatip makes
// (and some it refuses) and validates requests and answers against Linode's
// published description; errors too carry Content-Type exactly
// application/json (linodego refuses anything else) and X-RateLimit-*.
func TestFakeFollowsOpenAPI(t *testing.T) {
	spec := apicheck.Spec(t, "../../../..", "linode.yaml")
	f := New("tok")
	f.AddLinode(101, "us-east", "", "198.51.100.1")
	f.AddLinode(102, "us-east", "", "198.51.100.2", "198.51.100.10")
	f.AddLinode(104, "eu-west", "", "203.0.113.4", "203.0.113.40")
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := apicheck.New(t, spec, srv.URL)
	c.Header.Set("Authorization", "Bearer tok")
	c.Header.Set("Accept", "application/json")
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
		h, _ := c.Do(s.method, srv.URL+s.path, s.body, s.status)
		if ct := h.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: Content-Type %q, want exactly application/json", s.method, s.path, ct)
		}
		if h.Get("X-RateLimit-Limit") == "" {
			t.Fatalf("%s %s: no X-RateLimit-Limit", s.method, s.path)
		}
	}
	c.MustReject(srv.URL+"/v4/linode/instances/101/ips", `{"ipv4":"everything"}`)
}
