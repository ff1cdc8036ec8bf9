package main_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/nstest"
	"github.com/cloudvip/floatip/internal/provider/linode"
)

const frrBin = "/usr/lib/frr"

// frrd is FRR's zebra and bgpd in one namespace.
type frrd struct {
	dir  string // their vty sockets, configuration and logs
	bgpd *exec.Cmd
}

// startFRR runs zebra and bgpd (FRR from Debian's package) in namespace ns
// with conf as bgpd's configuration. The daemons run as user frr, so the
// directory is theirs.
func startFRR(t testing.TB, ns, conf string) *frrd {
	t.Helper()
	if _, err := os.Stat(frrBin + "/bgpd"); err != nil {
		t.Skipf("FRR is not installed (%v): apt-get install frr", err)
	}
	dir, err := os.MkdirTemp("", "floatip-frr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for name, text := range map[string]string{"zebra.conf": "", "bgpd.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nstest.Run(t, "chown", "-R", "frr:frr", dir)
	f := &frrd{dir: dir}
	for _, d := range []string{"zebra", "bgpd"} {
		cmd := exec.Command("ip", "netns", "exec", ns, filepath.Join(frrBin, d), "-f", filepath.Join(dir, d+".conf"),
			"-i", filepath.Join(dir, d+".pid"), "-z", filepath.Join(dir, "zserv.api"), "--vty_socket", dir, "-P", "0",
			"--log", "file:"+filepath.Join(dir, d+".log"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		f.bgpd = cmd
		sock := filepath.Join(dir, d+".vty")
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(sock); err == nil {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("%s in %s did not open %s", d, ns, sock)
			}
		}
	}
	return f
}

// stopBGPD ends bgpd and waits for it.
func (f *frrd) stopBGPD(t *testing.T) {
	t.Helper()
	if err := f.bgpd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	f.bgpd.Wait()
}

// vtysh runs one command against the daemons whose sockets are in dir.
func vtysh(t *testing.T, dir, cmd string) string {
	t.Helper()
	out, err := exec.Command("vtysh", "--vty_socket", dir, "-c", cmd).CombinedOutput()
	if err != nil {
		t.Fatalf("vtysh -c %q: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// rsRoute is the route server's view of prefix: the next hops of its paths
// and their communities.
func rsRoute(t *testing.T, rs, prefix string) map[string]string {
	var r struct {
		Paths []struct {
			Community struct {
				String string `json:"string"`
			} `json:"community"`
			Nexthops []struct {
				IP string `json:"ip"`
			} `json:"nexthops"`
		} `json:"paths"`
	}
	fam := "ipv4"
	if strings.Contains(prefix, ":") {
		fam = "ipv6"
	}
	if err := json.Unmarshal([]byte(vtysh(t, rs, fmt.Sprintf("show bgp %s unicast %s json", fam, prefix))), &r); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range r.Paths {
		for _, nh := range p.Nexthops {
			out[nh.IP] = p.Community.String
		}
	}
	return out
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}

// bgpLab is the Linode lab with a route server (ASN 65000, in the cloud
// namespace, peering with every node over IPv4) and FRR on each node:
// node 0 has the sessions in its frr.conf, node 1 starts with an empty one.
type bgpLab struct {
	*linodeLab
	rs    string   // the route server's vty directory
	vty   []string // each node's
	nodes []*frrd
}

func newBGPLab(t testing.TB) *bgpLab {
	nstest.RequireRoot(t)
	l := &bgpLab{linodeLab: newLinodeLab(t, 2)}
	rs := "router bgp 65000\n no bgp ebgp-requires-policy\n bgp router-id 10.250.0.100\n"
	for i := range l.lan.Nodes {
		rs += fmt.Sprintf(" neighbor 10.250.0.%d remote-as 65001\n neighbor 10.250.0.%d timers 1 3\n", i+1, i+1)
	}
	l.rs = startFRR(t, l.lan.Cloud, rs).dir
	peer := []netip.Addr{netip.MustParseAddr(nstest.CloudAddr)}
	b := linode.BGP{Hold: 3}
	l.nodes = []*frrd{startFRR(t, l.lan.Nodes[0], b.Config(peer)), startFRR(t, l.lan.Nodes[1], "")}
	l.vty = []string{l.nodes[0].dir, l.nodes[1].dir}
	return l
}

func (l *bgpLab) params(ip string, node int) map[string]string {
	p := l.linodeLab.params(ip, "bgp")
	p["bgp_peers"] = nstest.CloudAddr
	p["bgp_hold"] = "3"
	p["frr_vty_dir"] = l.vty[node]
	p["cloud_check_interval"] = "0"
	return p
}

// TestLinodeBGP: start shares the address, binds it on lo and has bgpd
// announce it as primary, which the route server learns; the monitor
// follows bgpd (7 once it is gone, a session at depth 10); stop withdraws
// without the API, and succeeds with bgpd down; a node whose frr.conf lacks
// the sessions gets them from start, with a warning.
func TestLinodeBGP(t *testing.T) {
	l := newBGPLab(t)
	const vip = "10.250.0.75"
	deep := []string{"OCF_RESKEY_CRM_meta_interval=10000", "OCF_CHECK_LEVEL=10"}
	a := l.params(vip, 0)
	want(t, l.call(t, 0, "monitor", a), 7, "probe on A before start")
	want(t, l.call(t, 0, "start", a), 0, "start on A")
	if got := nstest.Addrs(t, l.lan.Nodes[0], "lo"); !strings.Contains(got, "inet "+vip+"/32") {
		t.Fatalf("not bound on A's lo as /32:\n%s", got)
	}
	if got := strings.Join(l.fake.Shared(301), ","); got != vip {
		t.Fatalf("A's shared set %q, want the VIP", got)
	}
	waitFor(t, "route server learns the VIP from A with 65000:1", 15*time.Second, func() bool {
		return rsRoute(t, l.rs, vip)["10.250.0.1"] == linode.Primary
	})
	want(t, l.call(t, 0, "monitor", a), 0, "monitor on A")
	want(t, l.call(t, 0, "monitor", a, deep...), 0, "depth-10 monitor on A (session up)")

	writes := l.fake.Count("POST")
	want(t, l.call(t, 0, "stop", a), 0, "stop on A")
	waitFor(t, "route server forgets A's route", 10*time.Second, func() bool { return len(rsRoute(t, l.rs, vip)) == 0 })
	if got := nstest.Addrs(t, l.lan.Nodes[0], "lo"); strings.Contains(got, vip) {
		t.Fatalf("still on A's lo after stop:\n%s", got)
	}
	if n := l.fake.Count("POST") - writes; n != 0 {
		t.Fatalf("stop made %d API writes", n)
	}
	want(t, l.call(t, 0, "stop", a), 0, "second stop on A")

	b := l.params(vip, 1)
	r := l.call(t, 1, "start", b)
	want(t, r, 0, "start on B (no sessions in its frr.conf)")
	if !strings.Contains(r.stderr, "configuring them now") {
		t.Fatalf("B's start did not say it configured the sessions:\n%s", r.stderr)
	}
	waitFor(t, "route server learns the VIP from B", 15*time.Second, func() bool {
		return rsRoute(t, l.rs, vip)["10.250.0.2"] == linode.Primary
	})
	if cfg := vtysh(t, l.vty[1], "show running-config"); !strings.Contains(cfg, "network "+vip+"/32 route-map floatip-primary") {
		t.Fatalf("B's bgpd configuration lacks the announcement:\n%s", cfg)
	}
	want(t, l.call(t, 1, "monitor", b, deep...), 0, "depth-10 monitor on B")
	// The route server ends the session: the route is announced to nobody.
	vtysh(t, l.rs, "configure\nrouter bgp 65000\nneighbor 10.250.0.2 shutdown")
	waitFor(t, "the route server forgets B's route", 10*time.Second, func() bool { return len(rsRoute(t, l.rs, vip)) == 0 })
	r = l.call(t, 1, "monitor", b, deep...)
	want(t, r, 7, "depth-10 monitor on B without a session")
	if !strings.Contains(r.stderr, "no session with a route server is established") {
		t.Fatalf("the monitor does not say why:\n%s", r.stderr)
	}
	want(t, l.call(t, 1, "monitor", b), 0, "depth-0 monitor on B without a session (local only)")
	// bgpd stopped: nothing announces the VIP from B; the monitor says so
	// and stop still succeeds.
	l.nodes[1].stopBGPD(t)
	want(t, l.call(t, 1, "monitor", b), 7, "monitor on B with bgpd down")
	want(t, l.call(t, 1, "stop", b), 0, "stop on B with bgpd down")
	// floatip check names the missing daemon; frr-config prints the
	// sessions for this node's frr.conf.
	r = cli(t, l.lan.Nodes[1], l.state[1], append([]string{"check"}, flagsOf(b)...)...)
	if !strings.Contains(r.stdout, "FAIL routing daemon") || !strings.Contains(r.stdout, "bgpd") {
		t.Fatalf("check with bgpd down (rc %d):\n%s%s", r.rc, r.stdout, r.stderr)
	}
	r = cli(t, l.lan.Nodes[1], l.state[1], append([]string{"frr-config"}, flagsOf(b)...)...)
	if r.rc != 0 || !strings.Contains(r.stdout, " neighbor "+nstest.CloudAddr+" peer-group FLOATIP\n") {
		t.Fatalf("frr-config (rc %d):\n%s%s", r.rc, r.stdout, r.stderr)
	}
	// Without bgpd a start cannot announce: 5 (this node), before the API.
	l.fake.Share(302)
	writes = l.fake.Count("POST")
	r = l.call(t, 1, "start", b)
	want(t, r, 5, "start on B with bgpd down")
	if n := l.fake.Count("POST") - writes; n != 0 || !strings.Contains(r.reason(), "bgpd") {
		t.Fatalf("start without bgpd made %d writes; reason %q", n, r.reason())
	}
	if got := nstest.Addrs(t, l.lan.Nodes[1], "lo"); strings.Contains(got, vip) {
		t.Fatalf("start without bgpd bound the VIP:\n%s", got)
	}
}

// TestLinodeBGPOCFTester: ocf-tester passes in bgp mode for an IPv4 VIP
// and for an IPv6 one, which is bound as /128 on lo while its shared /64
// range is what bgpd announces.
func TestLinodeBGPOCFTester(t *testing.T) {
	needTool(t, "ocf-tester")
	for _, tc := range []struct{ vip, announced string }{
		{"10.250.0.76", "10.250.0.76/32"},
		{"2001:db8:70::10", "2001:db8:70::/64"},
	} {
		t.Run(tc.vip, func(t *testing.T) {
			l := newBGPLab(t)
			l.fake.AddRange(netip.MustParsePrefix("2001:db8:70::/64"), "us-east", 399, true)
			p := l.params(tc.vip, 0)
			l.ocfTester(t, 0, p)
			if n := l.fake.Count("POST"); n != 1 {
				t.Fatalf("ocf-tester's starts made %d writes, want 1", n)
			}
			want(t, l.call(t, 0, "start", p), 0, "start")
			bits := "/32"
			if strings.Contains(tc.vip, ":") {
				bits = "/128"
			}
			if a := nstest.Addrs(t, l.lan.Nodes[0], "lo"); !strings.Contains(a, tc.vip+bits) {
				t.Fatalf("not bound on lo as %s:\n%s", bits, a)
			}
			if cfg := vtysh(t, l.vty[0], "show running-config"); !strings.Contains(cfg, "network "+tc.announced+" route-map floatip-primary") {
				t.Fatalf("bgpd does not announce %s:\n%s", tc.announced, cfg)
			}
			want(t, l.call(t, 0, "stop", p), 0, "stop")
			if cfg := vtysh(t, l.vty[0], "show running-config"); strings.Contains(cfg, " route-map floatip-primary\n") {
				t.Fatalf("stop left an announcement:\n%s", cfg)
			}
		})
	}
}

// BenchmarkLinodeBGP: what bgp mode adds to an action, against share mode
// on the same node in the same loop (the address already shared, so both
// starts read the API once and write nothing): start (bind, and in bgp
// mode configure bgpd and wait for the route in its table), depth-0
// monitor, stop.
func BenchmarkLinodeBGP(b *testing.B) {
	l := newBGPLab(b)
	env := func(ip, mode string) []string {
		var e []string
		p := l.params(ip, 0)
		p["linode_mode"], p["arp_count"] = mode, "0"
		for k, v := range p {
			e = append(e, "OCF_RESKEY_"+k+"="+v)
		}
		return append(e, "HA_RSCTMP="+l.state[0], "OCF_RESKEY_CRM_meta_interval=10000")
	}
	bgp, share := env("10.250.0.77", "bgp"), env("10.250.0.78", "share")
	l.fake.Share(301, "10.250.0.77", "10.250.0.78")
	node := l.lan.Nodes[0]
	var start, mon, stop [2]series
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, e := range [][]string{share, bgp} {
			start[k] = append(start[k], runAction(b, node, bin, "start", e, 0))
			mon[k] = append(mon[k], runAction(b, node, bin, "monitor", e, 0))
			stop[k] = append(stop[k], runAction(b, node, bin, "stop", e, 0))
		}
	}
	b.StopTimer()
	for _, x := range []struct {
		name string
		s    [2]series
	}{{"start", start}, {"monitor", mon}, {"stop", stop}} {
		sw, bw := x.s[0].median(wallOf), x.s[1].median(wallOf)
		b.ReportMetric(ms(bw), x.name+"-bgp-wall-ms")
		b.ReportMetric(float64(bw)/float64(sw), x.name+"-wall-ratio")
		if b.N > 1 {
			b.Logf("%s, %d runs each, medians: bgp wall %.2f ms cpu %.2f ms | share wall %.2f ms cpu %.2f ms | wall ratio %.2f",
				x.name, b.N, ms(bw), ms(x.s[1].median(cpuOf)), ms(sw), ms(x.s[0].median(cpuOf)), float64(bw)/float64(sw))
		}
	}
}
