package dofake

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud/apicheck"
)

// TestFakeFollowsOpenAPI drives the fake through every request floatip makes
// and some it refuses, and validates each request and answer against
// DigitalOcean's published description: paths, parameters, bodies, status
// codes; and every answer carries the rate-limit headers.
func TestFakeFollowsOpenAPI(t *testing.T) {
	spec := apicheck.Spec(t, "../../../..", "digitalocean.yaml")
	f := New("tok")
	f.ActionTime = 20 * time.Millisecond
	f.AddDroplet(11, "")
	f.AddDroplet(12, "")
	f.AddIP("203.0.113.1", "nyc3", 0)
	f.AddIP("203.0.113.2", "nyc3", 12)
	f.AddIP("2001:db8::5", "nyc3", 0)
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := apicheck.New(t, spec, srv.URL)
	c.Header.Set("Authorization", "Bearer tok")
	for i, s := range []struct {
		method, path, body string
		status             int
	}{
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
	} {
		if i == 5 {
			time.Sleep(30 * time.Millisecond) // let the first action complete
		}
		h, _ := c.Do(s.method, srv.URL+s.path, s.body, s.status)
		for _, name := range []string{"Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset"} {
			if h.Get(name) == "" {
				t.Fatalf("%s %s: no %s header", s.method, s.path, name)
			}
		}
	}
	c.MustReject(srv.URL+"/v2/actions/1000", `{"action":{"id":"not-a-number","status":"maybe"}}`)
}
