package linodefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// rangeWorld: Linodes 101 and 102 in us-east, 104 in eu-west; the range
// 2001:db8:70::/64 is routed to 102, 2001:db8:72::/64 to 104 and
// 2001:db8:73::/64 to 102 in a data center that does not share by BGP.
func rangeWorld(t *testing.T) (*Fake, func(method, path, body string) (int, map[string]any)) {
	f := New("tok")
	f.AddLinode(101, "us-east", "", "198.51.100.1")
	f.AddLinode(102, "us-east", "", "198.51.100.2", "198.51.100.10")
	f.AddLinode(104, "eu-west", "", "203.0.113.4")
	f.AddRange(netip.MustParsePrefix("2001:db8:70::/64"), "us-east", 102, true)
	f.AddRange(netip.MustParsePrefix("2001:db8:72::/64"), "eu-west", 104, true)
	f.AddRange(netip.MustParsePrefix("2001:db8:73::/64"), "us-east", 102, false)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	return f, do
}

func share(ips ...string) string {
	b, _ := json.Marshal(map[string]any{"ips": ips, "linode_id": 101})
	return string(b)
}

// The share call takes ranges by their address without prefix length,
// with the IPv4 addresses, and replaces the whole set: a write without
// the range unshares it.
func TestShareRanges(t *testing.T) {
	f, do := rangeWorld(t)
	var changes []string
	f.OnRangeChange = func(r netip.Prefix, id int, shared bool) { changes = append(changes, fmt.Sprint(r, id, shared)) }
	for _, tc := range []struct {
		ips    []string
		status int
		reason string
	}{
		{[]string{"2001:db8:70::/64"}, 400, "not a valid IP address"},
		{[]string{"2001:db8:70::5"}, 400, "not a valid IP address"},
		{[]string{"2001:db8:99::"}, 400, "not a valid IP address"},
		{[]string{"2001:db8:72::"}, 400, "same region"},
		{[]string{"2001:db8:73::"}, 400, "BGP"},
		{[]string{"198.51.100.10", "2001:db8:70::"}, 200, ""},
	} {
		code, m := do("POST", "/v4/networking/ips/share", share(tc.ips...))
		if code != tc.status || !strings.Contains(fmt.Sprint(m), tc.reason) {
			t.Fatalf("share %v: %d %v, want %d %q", tc.ips, code, m, tc.status, tc.reason)
		}
	}
	if got := f.SharedRanges(101); !reflect.DeepEqual(got, []string{"2001:db8:70::"}) {
		t.Fatalf("shared ranges %v", got)
	}
	if got := f.Shared(101); !reflect.DeepEqual(got, []string{"198.51.100.10"}) {
		t.Fatalf("shared IPv4 %v", got)
	}
	// The range's owner shares nothing with itself.
	if code, _ := do("POST", "/v4/networking/ips/share", `{"ips":["2001:db8:70::"],"linode_id":102}`); code != 400 {
		t.Fatalf("sharing a range with its own Linode: %d", code)
	}
	_, v := do("GET", "/v4/networking/ipv6/ranges/2001:db8:70::", "")
	if fmt.Sprint(v["linodes"]) != "[102 101]" || v["is_bgp"] != true || v["prefix"] != 64.0 || v["range"] != "2001:db8:70::" {
		t.Fatalf("range view %v", v)
	}
	_, ips := do("GET", "/v4/linode/instances/101/ips", "")
	if g := fmt.Sprint(ips["ipv6"].(map[string]any)["global"]); g != "[map[prefix:64 range:2001:db8:70:: region:us-east route_target:]]" {
		t.Fatalf("101's ipv6.global %s", g)
	}
	_, ips = do("GET", "/v4/linode/instances/102/ips", "")
	if g := fmt.Sprint(ips["ipv6"].(map[string]any)["global"]); !strings.Contains(g, "range:2001:db8:70:: region:us-east route_target:2001:db8:102::66") {
		t.Fatalf("102's ipv6.global %s", g)
	}
	// An IPv4-only write drops the range.
	if code, m := do("POST", "/v4/networking/ips/share", share("198.51.100.10")); code != 200 {
		t.Fatalf("%d %v", code, m)
	}
	if got := f.SharedRanges(101); len(got) != 0 || fmt.Sprint(f.RangeLinodes("2001:db8:70::")) != "[102]" {
		t.Fatalf("after an IPv4-only write: ranges %v, range's Linodes %v", got, f.RangeLinodes("2001:db8:70::"))
	}
	if want := []string{"2001:db8:70::/64 101 true", "2001:db8:70::/64 101 false"}; !reflect.DeepEqual(changes, want) {
		t.Fatalf("OnRangeChange calls %v, want %v", changes, want)
	}
	if code, _ := do("GET", "/v4/networking/ipv6/ranges/2001:db8:70::%2F64", ""); code != 404 {
		t.Fatalf("a range with its prefix length in the path: %d, want 404", code)
	}
}

// The list comes in pages of page_size (25 to 500; the fake's PageSize
// when not given), each with page, pages and results.
func TestRangePages(t *testing.T) {
	f, do := rangeWorld(t)
	f.PageSize = 2
	var seen []string
	for page := 1; page <= 2; page++ {
		code, m := do("GET", fmt.Sprintf("/v4/networking/ipv6/ranges?page=%d", page), "")
		if code != 200 || m["pages"] != 2.0 || m["results"] != 3.0 || m["page"] != float64(page) {
			t.Fatalf("page %d: %d %v", page, code, m)
		}
		for _, d := range m["data"].([]any) {
			r := d.(map[string]any)
			seen = append(seen, fmt.Sprint(r["range"], " ", r["route_target"]))
		}
	}
	want := []string{"2001:db8:70:: 2001:db8:102::66", "2001:db8:72:: 2001:db8:104::68", "2001:db8:73:: 2001:db8:102::66"}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("listed %v, want %v", seen, want)
	}
	for _, q := range []string{"page=0", "page_size=24", "page_size=501", "page=x"} {
		if code, _ := do("GET", "/v4/networking/ipv6/ranges?"+q, ""); code != 400 {
			t.Fatalf("?%s: %d, want 400", q, code)
		}
	}
}
