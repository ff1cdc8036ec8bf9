package main_test

import (
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/nstest"
)

// lab is a node namespace with 192.0.2.1/24 and 2001:db8:1::1/64 on a veth
// to a peer namespace (192.0.2.2, 2001:db8:1::2). Neither has a default
// route.
func lab(t *testing.T) (*nstest.Pair, string) {
	p := nstest.NewPair(t, "192.0.2.1/24", "2001:db8:1::1/64", "192.0.2.2/24", "2001:db8:1::2/64")
	return p, t.TempDir()
}

func TestIPv4StartMonitorStop(t *testing.T) {
	p, state := lab(t)
	vip := netip.MustParseAddr("192.0.2.10")
	capt := nstest.Listen(t, p.Peer, p.PeerIf, vip)
	params := map[string]string{"ip": vip.String(), "iflabel": "vip", "arp_count": "3", "arp_interval": "100"}

	want(t, call(t, p.Node, state, "monitor", params, "OCF_RESKEY_CRM_meta_interval=10000"), 7, "monitor before start")
	want(t, call(t, p.Node, state, "monitor", params), 7, "probe before start")
	want(t, call(t, p.Node, state, "start", params), 0, "start")

	addrs := nstest.AddrsSettled(t, p.Node, p.NodeIf)
	if !regexp.MustCompile(`inet 192\.0\.2\.10/24 brd 192\.0\.2\.255 .*` + p.NodeIf + `:vip`).MatchString(addrs) {
		t.Fatalf("kernel view after start lacks 192.0.2.10/24 brd 192.0.2.255 label %s:vip:\n%s", p.NodeIf, addrs)
	}
	// Start returned after the first announcement: it is on the wire.
	if n := capt.WaitCount("arp-request", 1, time.Second); n < 1 {
		t.Fatalf("no gratuitous ARP request within 1s of start")
	}
	want(t, call(t, p.Node, state, "monitor", params, "OCF_RESKEY_CRM_meta_interval=10000"), 0, "monitor after start")
	want(t, call(t, p.Node, state, "monitor", params), 0, "probe after start")

	// All three announcements, each a request and a reply, from the node's MAC.
	if n := capt.WaitCount("arp-reply", 3, 2*time.Second); n != 3 {
		t.Fatalf("peer saw %d ARP replies, want 3", n)
	}
	time.Sleep(300 * time.Millisecond) // nothing more may come
	frames := capt.Frames()
	if got := capt.Count("arp-request"); got != 3 || len(frames) != 6 {
		t.Fatalf("peer saw %d requests and %d frames, want 3 and 6: %+v", got, len(frames), frames)
	}
	mac := nodeMAC(t, p)
	for _, f := range frames {
		if f.MAC.String() != mac {
			t.Fatalf("announcement from %s, want the node's %s", f.MAC, mac)
		}
	}

	// start when started changes nothing and announces nothing.
	want(t, call(t, p.Node, state, "start", params), 0, "second start")
	if after := nstest.AddrsSettled(t, p.Node, p.NodeIf); after != addrs {
		t.Fatalf("second start changed addresses:\n%s\nwas:\n%s", after, addrs)
	}
	time.Sleep(150 * time.Millisecond)
	if n := len(capt.Frames()); n != 6 {
		t.Fatalf("second start announced again: %d frames", n)
	}

	want(t, call(t, p.Node, state, "stop", params), 0, "stop")
	if a := nstest.Addrs(t, p.Node, p.NodeIf); strings.Contains(a, "192.0.2.10/") {
		t.Fatalf("address still bound after stop:\n%s", a)
	}
	want(t, call(t, p.Node, state, "monitor", params, "OCF_RESKEY_CRM_meta_interval=10000"), 7, "monitor after stop")
	want(t, call(t, p.Node, state, "stop", params), 0, "stop when stopped")
}

func nodeMAC(t *testing.T, p *nstest.Pair) string {
	out := nstest.Run(t, "ip", "-n", p.Node, "-o", "link", "show", "dev", p.NodeIf)
	m := regexp.MustCompile(`link/ether ([0-9a-f:]{17})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no MAC in %s", out)
	}
	return m[1]
}

func TestArpIntervalHonoured(t *testing.T) {
	p, state := lab(t)
	vip := netip.MustParseAddr("192.0.2.11")
	capt := nstest.Listen(t, p.Peer, p.PeerIf, vip)
	want(t, call(t, p.Node, state, "start", map[string]string{"ip": vip.String(), "arp_count": "4", "arp_interval": "250"}), 0, "start")
	if n := capt.WaitCount("arp-request", 4, 3*time.Second); n != 4 {
		t.Fatalf("got %d requests, want 4", n)
	}
	var reqs []time.Time
	for _, f := range capt.Frames() {
		if f.Kind == "arp-request" {
			reqs = append(reqs, f.At)
		}
	}
	for i := 1; i < len(reqs); i++ {
		gap := reqs[i].Sub(reqs[i-1])
		if gap < 200*time.Millisecond || gap > 450*time.Millisecond {
			t.Fatalf("gap %d is %v, want about 250ms (all: %v)", i, gap, reqs)
		}
	}
}

func TestIPv6StartWaitsForDAD(t *testing.T) {
	p, state := lab(t)
	vip := netip.MustParseAddr("2001:db8:1::10")
	capt := nstest.Listen(t, p.Peer, p.PeerIf, vip)
	params := map[string]string{"ip": vip.String(), "arp_count": "3", "arp_interval": "100"}
	want(t, call(t, p.Node, state, "start", params), 0, "start")
	addrs := nstest.Addrs(t, p.Node, p.NodeIf)
	if !regexp.MustCompile(`inet6 2001:db8:1::10/64 scope global \\`).MatchString(addrs) {
		t.Fatalf("after start want 2001:db8:1::10/64 past DAD:\n%s", addrs)
	}
	if n := capt.WaitCount("na", 3, 2*time.Second); n != 3 {
		t.Fatalf("peer saw %d neighbour advertisements, want 3", n)
	}
	mac := nodeMAC(t, p)
	for _, f := range capt.Frames() {
		if !f.Override || f.Solicited || f.HopLimit != 255 || f.MAC.String() != mac {
			t.Fatalf("bad NA: %+v (want O=1 S=0 hop limit 255 TLLA %s)", f, mac)
		}
	}
	want(t, call(t, p.Node, state, "monitor", params, "OCF_RESKEY_CRM_meta_interval=10000"), 0, "monitor")
	want(t, call(t, p.Node, state, "stop", params), 0, "stop")
	want(t, call(t, p.Node, state, "monitor", params), 7, "probe after stop")
}

func TestIPv6DADFailure(t *testing.T) {
	p, state := lab(t)
	// The peer already holds the address: DAD on the node must fail.
	nstest.Run(t, "ip", "-n", p.Peer, "addr", "add", "2001:db8:1::20/64", "dev", p.PeerIf, "nodad")
	params := map[string]string{"ip": "2001:db8:1::20"}
	r := call(t, p.Node, state, "start", params)
	want(t, r, 1, "start on a duplicate")
	if !strings.Contains(r.reason(), "duplicate address detection failed") {
		t.Fatalf("exit reason %q does not name DAD", r.reason())
	}
	if a := nstest.Addrs(t, p.Node, p.NodeIf); strings.Contains(a, "2001:db8:1::20") {
		t.Fatalf("dadfailed address left behind:\n%s", a)
	}
	// nodad binds it anyway (the documented escape hatch).
	params["nodad"] = "true"
	params["arp_count"] = "1"
	want(t, call(t, p.Node, state, "start", params), 0, "start with nodad")
	want(t, call(t, p.Node, state, "stop", params), 0, "stop")
}

func TestNicAndPrefixFromRoute(t *testing.T) {
	p, state := lab(t)
	// A second subnet on the node's loopback-free veth with a more specific route.
	nstest.Run(t, "ip", "-n", p.Node, "addr", "add", "198.51.100.1/28", "dev", p.NodeIf)
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"ip": "192.0.2.30"}, "192.0.2.30/24"},
		{map[string]string{"ip": "198.51.100.5"}, "198.51.100.5/28"},
		{map[string]string{"ip": "192.0.2.31", "cidr_netmask": "25"}, "192.0.2.31/25"},
		{map[string]string{"ip": "192.0.2.32", "cidr_netmask": "255.255.255.128"}, "192.0.2.32/25"},
		{map[string]string{"ip": "203.0.113.7", "nic": p.NodeIf, "cidr_netmask": "32"}, "203.0.113.7/32"},
		{map[string]string{"ip": "2001:db8:1::33"}, "2001:db8:1::33/64"},
	} {
		tc.params["arp_count"] = "0"
		tc.params["nodad"] = "1"
		want(t, call(t, p.Node, state, "start", tc.params), 0, "start "+tc.want)
		if a := nstest.Addrs(t, p.Node, p.NodeIf); !strings.Contains(a, " "+tc.want+" ") {
			t.Fatalf("want %s on %s:\n%s", tc.want, p.NodeIf, a)
		}
		want(t, call(t, p.Node, state, "stop", tc.params), 0, "stop "+tc.want)
	}
	// Outside every on-link subnet without nic/cidr_netmask: a clear 5.
	r := call(t, p.Node, state, "start", map[string]string{"ip": "203.0.113.7"})
	want(t, r, 5, "start outside every subnet")
	if !strings.Contains(r.reason(), "set nic and cidr_netmask") {
		t.Fatalf("reason %q does not ask for nic and cidr_netmask", r.reason())
	}
	// With only nic, the prefix still needs a route on that nic.
	r = call(t, p.Node, state, "start", map[string]string{"ip": "203.0.113.7", "nic": p.NodeIf})
	want(t, r, 5, "start with nic but no route")
	if !strings.Contains(r.reason(), "cidr_netmask") {
		t.Fatalf("reason %q does not ask for cidr_netmask", r.reason())
	}
}

func TestCheckLinkStatus(t *testing.T) {
	p, state := lab(t)
	params := map[string]string{"ip": "192.0.2.40", "arp_count": "1"}
	want(t, call(t, p.Node, state, "start", params), 0, "start")
	// Peer end down: the node's veth loses its carrier.
	nstest.Run(t, "ip", "-n", p.Peer, "link", "set", p.PeerIf, "down")
	// The kernel's linkwatch updates operstate up to a second later.
	for end := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(nstest.Run(t, "ip", "-n", p.Node, "-o", "link", "show", "dev", p.NodeIf), "NO-CARRIER") {
			break
		}
		if time.Now().After(end) {
			t.Fatal("node link never lost its carrier")
		}
	}
	r := call(t, p.Node, state, "monitor", params, "OCF_RESKEY_CRM_meta_interval=10000")
	want(t, r, 7, "monitor with the link down")
	params["check_link_status"] = "false"
	want(t, call(t, p.Node, state, "monitor", params, "OCF_RESKEY_CRM_meta_interval=10000"), 0, "monitor ignoring the link")
	delete(params, "check_link_status")
	// start on a dead link binds nothing.
	params2 := map[string]string{"ip": "192.0.2.41", "arp_count": "1"}
	want(t, call(t, p.Node, state, "start", params2), 1, "start with no carrier")
	if a := nstest.Addrs(t, p.Node, p.NodeIf); strings.Contains(a, "192.0.2.41") {
		t.Fatalf("start bound an address on a link without carrier:\n%s", a)
	}
	want(t, call(t, p.Node, state, "stop", params), 0, "stop")
}

func TestStopEndsAnnouncer(t *testing.T) {
	p, state := lab(t)
	vip := netip.MustParseAddr("192.0.2.50")
	capt := nstest.Listen(t, p.Peer, p.PeerIf, vip)
	params := map[string]string{"ip": vip.String(), "arp_count": "100", "arp_interval": "50"}
	want(t, call(t, p.Node, state, "start", params), 0, "start")
	pidFile := state + "/floatip-192.0.2.50.announce.pid"
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("no announcer PID recorded: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if !alive(pid) {
		t.Fatalf("announcer %d not running", pid)
	}
	capt.WaitCount("arp-request", 3, 2*time.Second)
	want(t, call(t, p.Node, state, "stop", params), 0, "stop")
	// stop returns once the announcer can send nothing more; the process
	// itself is gone a kernel RCU grace period later.
	for end := time.Now().Add(time.Second); alive(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("announcer %d still running a second after stop", pid)
		}
	}
	if _, err := os.Stat(pidFile); err == nil {
		t.Fatalf("PID file left after stop")
	}
	n := capt.Count("arp-request")
	time.Sleep(200 * time.Millisecond)
	if m := capt.Count("arp-request"); m != n {
		t.Fatalf("announcements went on after stop: %d then %d", n, m)
	}
}

// An announcer start could not record (here: a directory stands where the
// PID file goes, so start's write and the announcer's own both fail) is
// still ended by stop: stop removes the address, the announcer sees it gone
// before its next send, and stop returns once its lock is free.
func TestStopEndsUnrecordedAnnouncer(t *testing.T) {
	p, state := lab(t)
	vip := netip.MustParseAddr("192.0.2.51")
	capt := nstest.Listen(t, p.Peer, p.PeerIf, vip)
	params := map[string]string{"ip": vip.String(), "arp_count": "100", "arp_interval": "50"}
	if err := os.Mkdir(state+"/floatip-192.0.2.51.announce.pid", 0o755); err != nil {
		t.Fatal(err)
	}
	r := call(t, p.Node, state, "start", params)
	want(t, r, 0, "start")
	if !strings.Contains(r.stderr, "record announcer") {
		t.Fatalf("start did not fail to record its announcer:\n%s", r.stderr)
	}
	capt.WaitCount("arp-request", 3, 2*time.Second)
	t0 := time.Now()
	want(t, call(t, p.Node, state, "stop", params), 0, "stop")
	took := time.Since(t0)
	n := capt.Count("arp-request")
	time.Sleep(300 * time.Millisecond)
	if m := capt.Count("arp-request"); m != n {
		t.Fatalf("announcements went on after stop: %d then %d", n, m)
	}
	if took > 3*time.Second {
		t.Fatalf("stop took %v", took)
	}
}

// An address removed behind floatip's back is not announced any more.
func TestAnnouncerEndsWhenUnbound(t *testing.T) {
	p, state := lab(t)
	vip := netip.MustParseAddr("192.0.2.52")
	capt := nstest.Listen(t, p.Peer, p.PeerIf, vip)
	params := map[string]string{"ip": vip.String(), "arp_count": "100", "arp_interval": "50"}
	want(t, call(t, p.Node, state, "start", params), 0, "start")
	capt.WaitCount("arp-request", 3, 2*time.Second)
	nstest.Run(t, "ip", "-n", p.Node, "addr", "del", "192.0.2.52/24", "dev", p.NodeIf)
	time.Sleep(100 * time.Millisecond) // at most one send was under way
	n := capt.Count("arp-request")
	time.Sleep(300 * time.Millisecond)
	if m := capt.Count("arp-request"); m != n {
		t.Fatalf("the announcer went on for an address no longer bound: %d then %d", n, m)
	}
	if _, err := os.Stat(state + "/floatip-192.0.2.52.announce.pid"); err == nil {
		t.Fatal("the announcer left its PID record")
	}
	want(t, call(t, p.Node, state, "stop", params), 0, "stop")
}

func TestMonitorRefresh(t *testing.T) {
	p, state := lab(t)
	vip := netip.MustParseAddr("192.0.2.60")
	params := map[string]string{"ip": vip.String(), "arp_count": "1", "arp_count_refresh": "2", "arp_interval": "50"}
	want(t, call(t, p.Node, state, "start", params), 0, "start")
	capt := nstest.Listen(t, p.Peer, p.PeerIf, vip)
	want(t, call(t, p.Node, state, "monitor", params, "OCF_RESKEY_CRM_meta_interval=10000"), 0, "monitor")
	if n := capt.WaitCount("arp-request", 2, 2*time.Second); n != 2 {
		t.Fatalf("monitor refresh sent %d requests, want 2", n)
	}
	want(t, call(t, p.Node, state, "monitor", params), 0, "probe")
	time.Sleep(200 * time.Millisecond)
	if n := capt.Count("arp-request"); n != 2 {
		t.Fatalf("a probe refreshed too: %d requests", n)
	}
	want(t, call(t, p.Node, state, "stop", params), 0, "stop")
}

// alive reports a process that exists and is not a zombie (an orphan whose
// reaper has not collected it yet has stopped all the same).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
