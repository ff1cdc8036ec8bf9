package linodefake

import (
	"net/http/httptest"
	"net/netip"
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
	f.AddRange(netip.MustParsePrefix("2001:db8:70::/64"), "us-east", 102, true)
	f.AddRange(netip.MustParsePrefix("2001:db8:7100::/56"), "us-east", 101, true)
	f.AddRange(netip.MustParsePrefix("2001:db8:72::/64"), "eu-west", 104, true)
	f.AddRange(netip.MustParsePrefix("2001:db8:73::/64"), "us-east", 102, false)
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
		// IPv6 ranges: listed in pages, one by one, shared by their
		// address without prefix length, with the IPv4 addresses.
		{"GET", "/v4/networking/ipv6/ranges", "", 200},
		{"GET", "/v4/networking/ipv6/ranges?page=2&page_size=25", "", 200},
		{"GET", "/v4/networking/ipv6/ranges?page_size=500", "", 200},
		{"GET", "/v4/networking/ipv6/ranges/2001:db8:70::", "", 200},
		{"GET", "/v4/networking/ipv6/ranges/2001:db8:99::", "", 404},
		{"POST", "/v4/networking/ips/share", `{"ips":["198.51.100.2","2001:db8:70::"],"linode_id":101}`, 200},
		{"GET", "/v4/linode/instances/101/ips", "", 200},
		{"GET", "/v4/networking/ipv6/ranges/2001:db8:70::", "", 200},
		{"POST", "/v4/networking/ips/share", `{"ips":["2001:db8:72::"],"linode_id":101}`, 400},
		{"POST", "/v4/networking/ips/share", `{"ips":["2001:db8:73::"],"linode_id":101}`, 400},
		{"POST", "/v4/networking/ips/share", `{"ips":["2001:db8:99::"],"linode_id":101}`, 400},
		{"POST", "/v4/networking/ips/share", `{"ips":["2001:db8:70::5"],"linode_id":101}`, 400},
		{"POST", "/v4/networking/ips/share", `{"ips":["2001:db8:7100::"],"linode_id":101}`, 400},
		{"POST", "/v4/networking/ips/share", `{"ips":["2001:db8:70::/64"],"linode_id":101}`, 400},
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
	// The single range view has no route_target (the list has).
	c.MustReject(srv.URL+"/v4/networking/ipv6/ranges/2001:db8:70::", `{"range":"2001:db8:70::","route_target":"2001:db8:102::66"}`)
}
