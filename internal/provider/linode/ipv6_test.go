package linode

import (
	"context"
	"errors"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud/linodefake"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/provider/providertest"
	"github.com/cloudvip/floatip/ocf"
)

// world6 is world (Linode 101 is us and shares 198.51.100.20) with IPv6
// ranges: 2001:db8:70::/64 routed to 102 (the VIPs' range),
// 2001:db8:71::/64 routed to 103 and already shared with us,
// 2001:db8:7100::/56 routed to us, 2001:db8:72::/64 in another region.
func world6(t *testing.T) (*linodefake.Fake, string) {
	f, url := world(t)
	f.AddRange(netip.MustParsePrefix("2001:db8:70::/64"), "us-east", 102, true)
	f.AddRange(netip.MustParsePrefix("2001:db8:71::/64"), "us-east", 103, true)
	f.AddRange(netip.MustParsePrefix("2001:db8:7100::/56"), "us-east", 101, true)
	f.AddRange(netip.MustParsePrefix("2001:db8:72::/64"), "eu-west", 104, true)
	f.Share(101, "198.51.100.20", "2001:db8:71::")
	return f, url
}

// sharedSet is Linode 101's shared set: IPv4 addresses, then ranges.
func sharedSet(f *linodefake.Fake) string {
	v4, v6 := f.Shared(101), f.SharedRanges(101)
	sort.Strings(v4)
	sort.Strings(v6)
	return strings.Join(append(v4, v6...), ",")
}

// TestIPv6Claim: in share and bgp mode an IPv6 address is claimed by
// sharing the range that holds it, written without prefix length and
// merged with every IPv4 address and range already shared; an IPv4 claim
// keeps the shared ranges too.
func TestIPv6Claim(t *testing.T) {
	const before = "198.51.100.20,2001:db8:71::"
	for _, tc := range []struct {
		name, mode, vip string
		pageSize        int
		status          ocf.Status
		reason          string // in the error
		set             string // 101's shared set after the claim
		writes          int    // share requests (a refused one too)
		check           string // Check after the claim ("" when it fails)
	}{
		{name: "range shared", mode: "share", vip: "2001:db8:70::10", set: "198.51.100.20,2001:db8:70::,2001:db8:71::", writes: 1, check: "here"},
		{name: "bgp shares like share", mode: "bgp", vip: "2001:db8:70::10", set: "198.51.100.20,2001:db8:70::,2001:db8:71::", writes: 1, check: "here"},
		{name: "range on the last page", mode: "share", vip: "2001:db8:7100:ff::1", pageSize: 1, set: before, check: "here"},
		{name: "already shared", mode: "share", vip: "2001:db8:71::5", set: before, check: "here"},
		{name: "range routed here", mode: "share", vip: "2001:db8:7100:ff::1", set: before, check: "here"},
		{name: "IPv4 keeps the ranges", mode: "share", vip: "198.51.100.10", set: "198.51.100.10,198.51.100.20,2001:db8:71::", writes: 1, check: "here"},
		{name: "no range holds it", mode: "share", vip: "2001:db8:99::1", status: ocf.ErrConfigured, reason: "ip=2001:db8:99::1: no IPv6 range of the account holds it", set: before},
		{name: "range of another region", mode: "share", vip: "2001:db8:72::1", status: ocf.ErrInstalled, reason: "linode: share range 2001:db8:72:: with Linode 101: HTTP 400: [ips] Only Linodes in the same region can share IPs.", set: before, writes: 1},
		{name: "assign is IPv4 only", mode: "assign", vip: "2001:db8:70::10", status: ocf.ErrConfigured, reason: "linode_mode=assign moves IPv4 addresses only; for IPv6 use linode_mode=share", set: before},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, url := world6(t)
			f.PageSize = tc.pageSize
			p := openL(t, url, map[string]string{"linode_mode": tc.mode})
			vip := netip.MustParseAddr(tc.vip)
			err := p.Claim(dl(t, 5*time.Second), vip)
			if tc.status == 0 && err != nil {
				t.Fatal(err)
			}
			if tc.status != 0 && (ocf.StatusOf(err) != tc.status || !strings.Contains(err.Error(), tc.reason) || strings.Contains(err.Error(), "\n")) {
				t.Fatalf("%v (%v), want %v on one line saying %q", err, ocf.StatusOf(err), tc.status, tc.reason)
			}
			if tc.status == ocf.ErrInstalled && !errors.Is(err, provider.ErrCannotHold) {
				t.Fatalf("%v: another region is a fact about this Linode", err)
			}
			if got := sharedSet(f); got != tc.set {
				t.Fatalf("shared set %s, want %s", got, tc.set)
			}
			if n := f.Count("POST /v4/networking/ips/share"); n != tc.writes {
				t.Fatalf("%d share writes, want %d", n, tc.writes)
			}
			if tc.status == 0 && p.(provider.MoveReporter).Moved() != (tc.writes > 0) {
				t.Fatalf("Moved() %v after %d writes", p.(provider.MoveReporter).Moved(), tc.writes)
			}
			if tc.check == "" {
				return
			}
			f.ResetCounts()
			if err := p.Claim(dl(t, 5*time.Second), vip); err != nil || f.Count("POST") != 0 {
				t.Fatalf("second claim: %v with %d writes, want none", err, f.Count("POST"))
			}
			if h, err := p.Check(dl(t, 5*time.Second), vip); err != nil || h.String() != tc.check {
				t.Fatalf("check: %v %v, want %s", h, err, tc.check)
			}
		})
	}
}

// TestIPv6Check: here while the range reaches this Linode (the range's
// linodes), routed to nobody once the share is gone; no write.
func TestIPv6Check(t *testing.T) {
	f, url := world6(t)
	vip := netip.MustParseAddr("2001:db8:70::10")
	for _, mode := range []string{"share", "bgp"} {
		p := openL(t, url, map[string]string{"linode_mode": mode})
		for _, tc := range []struct {
			shared []string
			want   string
		}{
			{[]string{"198.51.100.20"}, "routed to nobody"},
			{[]string{"2001:db8:70::"}, "here"},
		} {
			f.Share(101, tc.shared...)
			if h, err := p.Check(dl(t, 5*time.Second), vip); err != nil || h.String() != tc.want {
				t.Fatalf("%s, shared %v: %v %v, want %s", mode, tc.shared, h, err, tc.want)
			}
		}
	}
	if n := f.Count("POST"); n != 0 {
		t.Fatalf("check made %d writes", n)
	}
	_, err := openL(t, url, map[string]string{"linode_mode": "assign"}).Check(dl(t, time.Second), vip)
	if ocf.StatusOf(err) != ocf.ErrConfigured || !strings.Contains(err.Error(), "linode_mode=assign") {
		t.Fatalf("assign mode: %v", err)
	}
}

// TestIPv6ValidateInspect: validate-all and floatip check take IPv6 in
// share and bgp mode: the address must be in a range of the account.
func TestIPv6ValidateInspect(t *testing.T) {
	_, url := world6(t)
	for _, tc := range []struct {
		mode, vip string
		status    ocf.Status
		findings  string
	}{
		{"share", "2001:db8:70::10", 0, "address: 2001:db8:70::10 is in the account's IPv6 range 2001:db8:70::/64; cloud: routed to nobody"},
		{"bgp", "2001:db8:71::10", 0, "address: 2001:db8:71::10 is in the account's IPv6 range 2001:db8:71::/64; cloud: here"},
		{"share", "2001:db8:99::1", ocf.ErrConfigured, "address: FAIL"},
		{"assign", "2001:db8:70::10", ocf.ErrConfigured, "address: FAIL"},
	} {
		p := openL(t, url, map[string]string{"linode_mode": tc.mode})
		vip := netip.MustParseAddr(tc.vip)
		if err := p.Validate(dl(t, 5*time.Second), vip); ocf.StatusOf(err) != tc.status {
			t.Errorf("%s %s: validate %v (%v), want %v", tc.mode, tc.vip, err, ocf.StatusOf(err), tc.status)
		}
		var got []string
		for _, fd := range p.(provider.Inspector).Inspect(dl(t, 5*time.Second), vip) {
			if fd.Check == "address" || fd.Check == "cloud" {
				d := fd.Detail
				if !fd.OK {
					d = "FAIL"
				}
				got = append(got, fd.Check+": "+d)
			}
		}
		if g := strings.Join(got, "; "); !strings.HasPrefix(g, tc.findings) {
			t.Errorf("%s %s: findings %q, want %q", tc.mode, tc.vip, g, tc.findings)
		}
	}
}

// TestIPv6MalformedAnswers: a range list without pages ("{}" is no
// account without ranges), a range view that is not the range, and a
// Linode's IPs without ipv6 (a write from them would drop the shared
// ranges) are transient, for IPv4 claims too; nothing shared is dropped.
func TestIPv6MalformedAnswers(t *testing.T) {
	f, url := world6(t)
	faults := []linodefake.Fault{
		{Method: "GET", Path: "/v4/networking/ipv6/ranges", Body: "{}"},
		{Method: "GET", Path: "/v4/networking/ipv6/ranges", Body: `{"data":[{"range":"2001:db8:70::/48","prefix":64}],"page":1,"pages":1,"results":1}`},
		{Method: "GET", Path: "/v4/networking/ipv6/ranges/", Body: "{}"},
		{Method: "GET", Path: "/v4/linode/instances/101/ips", Body: `{"ipv4":{"public":[],"private":[],"shared":[]}}`},
		{Method: "GET", Path: "/v4/linode/instances/101/ips", Body: `{"ipv4":{"public":[],"private":[],"shared":[]},"ipv6":{"global":[{"prefix":64}]}}`},
	}
	p := openL(t, url, map[string]string{"linode_id": "101"})
	reset := func() { f.Share(101, "198.51.100.20", "2001:db8:71::") }
	ops := map[string]providertest.Op{}
	for _, vip := range []string{"2001:db8:70::10", "198.51.100.10"} {
		a := netip.MustParseAddr(vip)
		ops["claim "+vip] = func(ctx context.Context) error { reset(); return p.Claim(ctx, a) }
	}
	ops["check 2001:db8:70::10"] = func(ctx context.Context) error {
		_, err := p.Check(ctx, netip.MustParseAddr("2001:db8:70::10"))
		return err
	}
	providertest.FeedMalformed(t, f, faults, ops)
	if got := f.SharedRanges(101); len(got) == 0 || got[0] != "2001:db8:71::" {
		t.Fatalf("shared ranges %v: the existing share was dropped", got)
	}
}

// An IPv4 and an IPv6 VIP started at once on one Linode: one shared set,
// one lock; each start writes once and neither drops the other.
func TestIPv6ShareConcurrentStarts(t *testing.T) {
	f, url := world6(t)
	f.Latency = 50 * time.Millisecond
	cache := t.TempDir()
	vips := []string{"198.51.100.10", "2001:db8:70::10"}
	errs := make(chan error, len(vips))
	for _, v := range vips {
		p := openIn(t, url, cache, nil)
		go func() { errs <- p.Claim(dl(t, 10*time.Second), netip.MustParseAddr(v)) }()
	}
	for range vips {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := sharedSet(f); got != "198.51.100.10,198.51.100.20,2001:db8:70::,2001:db8:71::" {
		t.Fatalf("shared set %s", got)
	}
	if n := f.Count("POST /v4/networking/ips/share"); n != 2 {
		t.Fatalf("%d share writes, want 2", n)
	}
}

// A range share the API answers 200 without applying is found missing on
// the read-back and written again.
func TestIPv6ShareReadsBack(t *testing.T) {
	f, url := world6(t)
	f.Inject(linodefake.Fault{Method: "POST", Path: "/v4/networking/ips/share", Body: "{}", Times: 1})
	if err := openL(t, url, nil).Claim(dl(t, 5*time.Second), netip.MustParseAddr("2001:db8:70::10")); err != nil {
		t.Fatal(err)
	}
	if got, n := sharedSet(f), f.Count("POST /v4/networking/ips/share"); got != "198.51.100.20,2001:db8:70::,2001:db8:71::" || n != 2 {
		t.Fatalf("shared set %s after %d writes", got, n)
	}
}
