package main_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud/linodefake"
	"github.com/cloudvip/floatip/internal/nstest"
)

const linodeToken = "linode-lab-token-0123456789"

// linodeLab is a LAN of n nodes with the Linode fake in the cloud
// namespace: node i is Linode 301+i (metadata by source address) owning
// its own address; Linode 399 owns the VIPs 10.250.0.70-79 and 10.250.0.99.
type linodeLab struct {
	cloudLab
	fake  *linodefake.Fake
	token string
}

func newLinodeLab(t testing.TB, n int) *linodeLab {
	lan := nstest.NewLAN(t, n)
	f := linodefake.New(linodeToken)
	for i := range lan.Nodes {
		addr := fmt.Sprintf("10.250.0.%d", i+1)
		f.AddLinode(301+i, "us-east", addr, addr)
	}
	vips := []string{"10.250.0.99"}
	for i := 70; i < 80; i++ {
		vips = append(vips, fmt.Sprintf("10.250.0.%d", i))
	}
	f.AddLinode(399, "us-east", "", vips...)
	t.Cleanup(f.Close)
	l := &linodeLab{cloudLab: newCloudLab(t, lan, lan.Serve(t, f)), fake: f}
	l.token = filepath.Join(t.TempDir(), "linode.token")
	os.WriteFile(l.token, []byte(linodeToken), 0o600)
	return l
}

func (l *linodeLab) params(ip, mode string) map[string]string {
	return map[string]string{"ip": ip, "provider": "linode", "linode_mode": mode, "api_url": l.url, "metadata_url": l.url, "token_file": l.token}
}

func TestLinodeOCFTester(t *testing.T) {
	needTool(t, "ocf-tester")
	for _, mode := range []string{"share", "assign"} {
		t.Run(mode, func(t *testing.T) {
			l := newLinodeLab(t, 1)
			l.fake.AssignDelay = 200 * time.Millisecond
			l.ocfTester(t, 0, l.params("10.250.0.70", mode))
			if n := l.fake.Count("POST"); n != 1 {
				t.Fatalf("ocf-tester's starts made %d writes, want 1", n)
			}
			if mode == "assign" && l.fake.Owner("10.250.0.70") != 301 {
				t.Fatalf("owner %d, want 301", l.fake.Owner("10.250.0.70"))
			}
			if mode == "share" && strings.Join(l.fake.Shared(301), ",") != "10.250.0.70" {
				t.Fatalf("shared set %v", l.fake.Shared(301))
			}
		})
	}
}

// TestLinodeOCFTesterIPv6: an IPv6 address of a shared range in share
// mode, bound on lo as /128 (as a BGP data center wants it): ocf-tester's
// starts share the range, by its address without prefix length, with the
// node's Linode in one write.
func TestLinodeOCFTesterIPv6(t *testing.T) {
	needTool(t, "ocf-tester")
	l := newLinodeLab(t, 1)
	l.fake.AddRange(netip.MustParsePrefix("2001:db8:70::/64"), "us-east", 399, true)
	p := l.params("2001:db8:70::10", "share")
	p["nic"], p["cidr_netmask"] = "lo", "128"
	l.ocfTester(t, 0, p)
	if n := l.fake.Count("POST"); n != 1 {
		t.Fatalf("ocf-tester's starts made %d writes, want 1", n)
	}
	if got, v4 := strings.Join(l.fake.SharedRanges(301), ","), l.fake.Shared(301); got != "2001:db8:70::" || len(v4) != 0 {
		t.Fatalf("Linode 301 shares ranges %q and addresses %v, want the range 2001:db8:70:: only", got, v4)
	}
	if a := nstest.Addrs(t, l.lan.Nodes[0], "lo"); strings.Contains(a, "2001:db8:70::10") {
		t.Fatalf("ocf-tester left the VIP bound:\n%s", a)
	}
	want(t, l.call(t, 0, "start", p), 0, "start")
	if a := nstest.Addrs(t, l.lan.Nodes[0], "lo"); !strings.Contains(a, "inet6 2001:db8:70::10/128") {
		t.Fatalf("not bound on lo as /128:\n%s", a)
	}
	want(t, l.call(t, 0, "stop", p), 0, "stop")
	if n := l.fake.Count("POST"); n != 1 {
		t.Fatalf("a start with the range shared wrote (%d writes in all)", n)
	}
}

// TestLinodeTwoNodes: share mode, B's start adds the VIP to B's shared set
// and leaves A's alone; assign mode, B's start moves it and A's depth-10
// monitor reports 7 naming B's Linode.
func TestLinodeTwoNodes(t *testing.T) {
	recurring := "OCF_RESKEY_CRM_meta_interval=10000"
	t.Run("share", func(t *testing.T) {
		l := newLinodeLab(t, 2)
		p := l.params("10.250.0.71", "share")
		p["cloud_check_interval"] = "0"
		l.fake.Share(302, "10.250.0.99") // someone else's share on B must survive
		want(t, l.call(t, 0, "start", p), 0, "start on A")
		want(t, l.call(t, 0, "stop", p), 0, "stop on A")
		want(t, l.call(t, 1, "start", p), 0, "start on B")
		if got := strings.Join(l.fake.Shared(302), ","); got != "10.250.0.99,10.250.0.71" {
			t.Fatalf("B's shared set %q: the existing share must stay and the VIP join it", got)
		}
		if a := nstest.Addrs(t, l.lan.Nodes[1], l.lan.NodeIf); !strings.Contains(a, "inet 10.250.0.71/24") {
			t.Fatalf("not bound on B:\n%s", a)
		}
		want(t, l.call(t, 1, "monitor", p, recurring, "OCF_CHECK_LEVEL=10"), 0, "B's depth-10 monitor (still shared with B)")
		l.fake.Share(302, "10.250.0.99")
		r := l.call(t, 1, "monitor", p, recurring, "OCF_CHECK_LEVEL=10")
		want(t, r, 7, "B's depth-10 monitor after the share was removed")
	})
	t.Run("assign", func(t *testing.T) {
		l := newLinodeLab(t, 2)
		l.fake.AssignDelay = 300 * time.Millisecond
		p := l.params("10.250.0.72", "assign")
		p["cloud_check_interval"] = "0"
		want(t, l.call(t, 0, "start", p), 0, "start on A")
		want(t, l.call(t, 1, "start", p), 0, "start on B")
		if o := l.fake.Owner("10.250.0.72"); o != 302 {
			t.Fatalf("owner %d after B's start, want 302", o)
		}
		r := l.call(t, 0, "monitor", p, recurring, "OCF_CHECK_LEVEL=10")
		want(t, r, 7, "A's depth-10 monitor after B took the IP")
		if !strings.Contains(r.stderr, "taken by Linode 302") {
			t.Fatalf("A's monitor does not name B:\n%s", r.stderr)
		}
		before := l.fake.Count("")
		want(t, l.call(t, 0, "stop", p), 0, "stop on A")
		if n := l.fake.Count("") - before; n != 0 {
			t.Fatalf("stop made %d requests", n)
		}
	})
}

// start checks what binding needs before it touches the cloud: an address
// already on another interface fails start with no write.
func TestStartChecksLocallyBeforeClaim(t *testing.T) {
	l := newLinodeLab(t, 1)
	node := l.lan.Nodes[0]
	nstest.Run(t, "ip", "-n", node, "link", "add", "other0", "type", "veth", "peer", "name", "other1")
	nstest.Run(t, "ip", "-n", node, "addr", "add", "10.250.0.73/32", "dev", "other0")
	p := l.params("10.250.0.73", "assign")
	r := l.call(t, 0, "start", p)
	want(t, r, 1, "start with the VIP on another interface")
	if !strings.Contains(r.reason(), "already bound to other0") {
		t.Fatalf("exit reason %q", r.reason())
	}
	if n := l.fake.Count("POST"); n != 0 || l.fake.Owner("10.250.0.73") != 399 {
		t.Fatalf("start moved the IP (%d writes, owner %d) before finding it could not bind it", n, l.fake.Owner("10.250.0.73"))
	}
}

// A refreshing depth-10 monitor that learns the IP went to another Linode
// answers 7 and announces nothing: our MAC would pull the traffic back.
func TestRefreshSkipsAnAddressRoutedElsewhere(t *testing.T) {
	l := newLinodeLab(t, 2)
	p := l.params("10.250.0.74", "assign")
	p["cloud_check_interval"] = "0"
	p["arp_count"] = "1"
	p["arp_count_refresh"] = "2"
	p["arp_interval"] = "50"
	want(t, l.call(t, 0, "start", p), 0, "start on A")
	want(t, l.call(t, 1, "start", p), 0, "start on B")
	capt := nstest.Listen(t, l.lan.Cloud, "br0", netip.MustParseAddr("10.250.0.74"))
	time.Sleep(100 * time.Millisecond) // B's own announcement has passed
	before := capt.Frames()
	want(t, l.call(t, 0, "monitor", p, "OCF_RESKEY_CRM_meta_interval=10000", "OCF_CHECK_LEVEL=10"), 7, "A's depth-10 monitor")
	time.Sleep(200 * time.Millisecond)
	for _, f := range capt.Frames()[len(before):] {
		t.Errorf("A announced an IP the cloud gives B: %+v", f)
	}
	// B, which the cloud names, still refreshes.
	want(t, l.call(t, 1, "monitor", p, "OCF_RESKEY_CRM_meta_interval=10000", "OCF_CHECK_LEVEL=10"), 0, "B's depth-10 monitor")
	if n := capt.WaitCount("arp-request", 2, 2*time.Second); n < 2 {
		t.Fatalf("B's refresh sent %d requests", n)
	}
}
