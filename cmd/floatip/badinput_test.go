package main_test

import (
	"strings"
	"testing"

	"github.com/cloudvip/floatip/internal/nstest"
)

// TestBadInput checks every malformed or impossible parameter the way
// Pacemaker would meet it: one exit-reason line naming the parameter, the
// exit code of its failure class (see the README), and no change on the
// node. stop always succeeds and a probe says "not running".
func TestBadInput(t *testing.T) {
	p, state := lab(t)
	longLabel := strings.Repeat("l", 15-len(p.NodeIf)) // nic:label is one too long
	type codes struct{ validate, validate10, start, monitor, probe, stop int }
	syntax := codes{6, 6, 6, 6, 7, 0}
	local := codes{0, 5, 5, 7, 7, 0}
	for _, tc := range []struct {
		name   string
		params map[string]string
		names  string // what the exit reason must mention
		want   codes
	}{
		{"missing ip", map[string]string{}, "ip", syntax},
		{"ip octet", map[string]string{"ip": "10.0.0.300"}, "ip=10.0.0.300", syntax},
		{"ip zone", map[string]string{"ip": "fe80::1%eth0"}, "ip=fe80::1%eth0", syntax},
		{"ip empty", map[string]string{"ip": ""}, "ip", syntax},
		{"ip unspecified", map[string]string{"ip": "0.0.0.0"}, "ip=0.0.0.0", syntax},
		{"ip multicast", map[string]string{"ip": "239.1.2.3"}, "ip=239.1.2.3", syntax},
		{"ip6 multicast", map[string]string{"ip": "ff02::1"}, "ip=ff02::1", syntax},
		{"ip with prefix", map[string]string{"ip": "192.0.2.5/24"}, "cidr_netmask", syntax},
		{"netmask 33", map[string]string{"ip": "192.0.2.5", "cidr_netmask": "33"}, "cidr_netmask=33", syntax},
		{"netmask 129", map[string]string{"ip": "2001:db8:1::5", "cidr_netmask": "129"}, "cidr_netmask=129", syntax},
		{"netmask abc", map[string]string{"ip": "192.0.2.5", "cidr_netmask": "abc"}, "cidr_netmask=abc", syntax},
		{"netmask holes", map[string]string{"ip": "192.0.2.5", "cidr_netmask": "255.0.255.0"}, "cidr_netmask=255.0.255.0", syntax},
		{"netmask dotted /0", map[string]string{"ip": "192.0.2.5", "cidr_netmask": "0.0.0.0"}, "cidr_netmask=0.0.0.0", syntax},
		{"link-local without nic", map[string]string{"ip": "fe80::5"}, "nic", syntax},
		{"netmask wider than the route", map[string]string{"ip": "192.0.2.5", "cidr_netmask": "16"}, "/16 is wider than the on-link route 192.0.2.0/24", codes{0, 6, 6, 0, 7, 0}},
		{"netmask6 wider than the route", map[string]string{"ip": "2001:db8:1::5", "cidr_netmask": "48"}, "/48 is wider than the on-link route 2001:db8:1::/64", codes{0, 6, 6, 0, 7, 0}},
		{"iflabel too long", map[string]string{"ip": "192.0.2.5", "iflabel": "abcdefghijklmn"}, "iflabel", syntax},
		{"iflabel too long for nic", map[string]string{"ip": "192.0.2.5", "nic": p.NodeIf, "iflabel": longLabel}, "iflabel", syntax},
		{"iflabel too long for derived nic", map[string]string{"ip": "192.0.2.5", "iflabel": longLabel}, "iflabel", codes{0, 6, 6, 0 /* not bound: 7 */, 7, 0}},
		{"iflabel on IPv6", map[string]string{"ip": "2001:db8:1::5", "iflabel": "v"}, "iflabel", syntax},
		{"nic with label", map[string]string{"ip": "192.0.2.5", "nic": "eth0:1"}, "nic=eth0:1", syntax},
		{"arp_count negative", map[string]string{"ip": "192.0.2.5", "arp_count": "-1"}, "arp_count=-1", syntax},
		{"arp_interval zero", map[string]string{"ip": "192.0.2.5", "arp_interval": "0"}, "arp_interval=0", syntax},
		{"arp_count abc", map[string]string{"ip": "192.0.2.5", "arp_count": "abc"}, "arp_count=abc", syntax},
		{"check_link_status maybe", map[string]string{"ip": "192.0.2.5", "check_link_status": "maybe"}, "check_link_status", syntax},
		{"unknown provider", map[string]string{"ip": "192.0.2.5", "provider": "aws"}, "provider=aws", syntax},
		{"nic absent", map[string]string{"ip": "192.0.2.5", "nic": "nosuchnic9"}, "nic=nosuchnic9", local},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := nstest.AddrsSettled(t, p.Node, p.NodeIf)
			if tc.want.monitor == 0 {
				tc.want.monitor = 7 // a config that cannot start is simply not running
			}
			for _, step := range []struct {
				action string
				rc     int
				env    []string
			}{
				{"validate-all", tc.want.validate, nil},
				{"validate-all", tc.want.validate10, []string{"OCF_CHECK_LEVEL=10"}},
				{"start", tc.want.start, nil},
				{"monitor", tc.want.monitor, []string{"OCF_RESKEY_CRM_meta_interval=10000"}},
				{"monitor", tc.want.probe, nil},
				{"stop", tc.want.stop, nil},
			} {
				r := call(t, p.Node, state, step.action, tc.params, step.env...)
				what := step.action + " " + strings.Join(step.env, " ")
				want(t, r, step.rc, what)
				if r.rc != 0 && r.rc != 7 {
					if n := strings.Count(r.stderr, "ocf-exit-reason:"); n != 1 {
						t.Fatalf("%s: %d exit-reason lines, want 1:\n%s", what, n, r.stderr)
					}
					if !strings.Contains(r.reason(), tc.names) {
						t.Fatalf("%s: exit reason %q does not name %s", what, r.reason(), tc.names)
					}
				}
			}
			if after := nstest.AddrsSettled(t, p.Node, p.NodeIf); after != before {
				t.Fatalf("bad input changed the node:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

func TestDottedNetmaskWarns(t *testing.T) {
	r := call(t, "", t.TempDir(), "validate-all", map[string]string{"ip": "192.0.2.5", "cidr_netmask": "255.255.255.0"})
	want(t, r, 0, "validate-all")
	if !strings.Contains(r.stderr, "WARNING: cidr_netmask=255.255.255.0") {
		t.Fatalf("no warning for a dotted netmask:\n%s", r.stderr)
	}
}
