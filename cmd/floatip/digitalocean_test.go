package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudvip/floatip/internal/fakecloud/dofake"
	"github.com/cloudvip/floatip/internal/nstest"
)

const doToken = "dop_v1_0123456789abcdef0123456789abcdef"

// doLab is a LAN of n nodes with the DigitalOcean fake in the cloud
// namespace: node i is droplet 201+i (the metadata service tells them apart
// by source address), reserved IPs 203.0.113.50 (IPv4) and 2001:db8:50::1
// (IPv6) start unassigned.
type doLab struct {
	cloudLab
	fake  *dofake.Fake
	token string
}

// cloudLab is what every provider's namespace lab has: the LAN, the fake's
// origin as nodes see it, and a state directory per node.
type cloudLab struct {
	lan   *nstest.LAN
	url   string
	state []string
}

func newCloudLab(t testing.TB, lan *nstest.LAN, url string) cloudLab {
	l := cloudLab{lan: lan, url: url}
	for range lan.Nodes {
		l.state = append(l.state, t.TempDir())
	}
	return l
}

// call runs action on node with p as parameters.
func (l *cloudLab) call(t testing.TB, node int, action string, p map[string]string, env ...string) result {
	t.Helper()
	return call(t, l.lan.Nodes[node], l.state[node], action, p, env...)
}

// ocfTester runs ocf-tester on node with p as parameters and fails the
// test unless every test passed.
func (l *cloudLab) ocfTester(t testing.TB, node int, p map[string]string) {
	t.Helper()
	args := []string{"ip", "netns", "exec", l.lan.Nodes[node], "ocf-tester", "-n", "vip"}
	for k, v := range p {
		args = append(args, "-o", k+"="+v)
	}
	cmd := exec.Command(args[0], append(args[1:], bin)...)
	cmd.Env = append(os.Environ(), "HA_RSCTMP="+l.state[node])
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Fatalf("ocf-tester: %v\n%s", err, out)
	}
}

func newDOLab(t testing.TB, n int) *doLab {
	lan := nstest.NewLAN(t, n)
	f := dofake.New(doToken)
	for i := range lan.Nodes {
		f.AddDroplet(201+i, "10.250.0."+string(rune('1'+i)))
	}
	f.AddIP("203.0.113.50", "fra1", 0)
	f.AddIP("2001:db8:50::1", "fra1", 0)
	t.Cleanup(f.Close)
	l := &doLab{cloudLab: newCloudLab(t, lan, lan.Serve(t, f)), fake: f}
	l.token = filepath.Join(t.TempDir(), "do.token")
	os.WriteFile(l.token, []byte(doToken+"\n"), 0o600)
	return l
}

func (l *doLab) params(ip string) map[string]string {
	return map[string]string{"ip": ip, "provider": "digitalocean", "api_url": l.url, "metadata_url": l.url, "token_file": l.token}
}

func TestDigitalOceanOCFTester(t *testing.T) {
	needTool(t, "ocf-tester")
	for _, ip := range []string{"203.0.113.50", "2001:db8:50::1"} {
		t.Run(ip, func(t *testing.T) {
			l := newDOLab(t, 1)
			args := []string{"ip", "netns", "exec", l.lan.Nodes[0], "ocf-tester", "-n", "vip"}
			for k, v := range l.params(ip) {
				args = append(args, "-o", k+"="+v)
			}
			cmd := exec.Command(args[0], append(args[1:], bin)...)
			cmd.Env = append(os.Environ(), "HA_RSCTMP="+l.state[0])
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "passed all tests") {
				t.Fatalf("ocf-tester: %v\n%s", err, out)
			}
			if h := l.fake.Holder(ip); h != 201 {
				t.Fatalf("after ocf-tester the IP is on droplet %d, want 201", h)
			}
			if n := l.fake.Count("POST"); n != 1 {
				t.Fatalf("ocf-tester's three starts made %d assign calls, want 1 (no write when already here)", n)
			}
			if strings.Contains(string(out), doToken) {
				t.Fatal("the token appeared in the agent's output")
			}
		})
	}
}

// TestDigitalOceanTakeover: B's start takes the IP from A; A's depth-10
// monitor then says 7 naming B's droplet, A's depth-0 monitor (local state
// only) still 0, and A's stop touches nothing in the cloud.
func TestDigitalOceanTakeover(t *testing.T) {
	l := newDOLab(t, 3)
	p := l.params("203.0.113.50")
	p["cloud_check_interval"] = "0"
	recurring := "OCF_RESKEY_CRM_meta_interval=10000"
	want(t, l.call(t, 0, "start", p), 0, "start on A")
	if h := l.fake.Holder("203.0.113.50"); h != 201 {
		t.Fatalf("holder %d after A's start", h)
	}
	want(t, l.call(t, 0, "monitor", p, recurring, "OCF_CHECK_LEVEL=10"), 0, "A depth-10 monitor")
	want(t, l.call(t, 2, "monitor", p), 7, "probe on C, which never ran it")
	want(t, l.call(t, 1, "start", p), 0, "start on B")
	if h := l.fake.Holder("203.0.113.50"); h != 202 {
		t.Fatalf("holder %d after B's start, want 202", h)
	}
	r := l.call(t, 0, "monitor", p, recurring, "OCF_CHECK_LEVEL=10")
	want(t, r, 7, "A depth-10 monitor after the takeover")
	if !strings.Contains(r.stderr, "taken by droplet 202") {
		t.Fatalf("A's monitor does not name the holder:\n%s", r.stderr)
	}
	want(t, l.call(t, 0, "monitor", p, recurring), 0, "A depth-0 monitor (local claim record)")
	before := l.fake.Count("")
	want(t, l.call(t, 0, "stop", p), 0, "stop on A")
	if after := l.fake.Count(""); after != before {
		t.Fatalf("stop made %d API requests, want none", after-before)
	}
	want(t, l.call(t, 0, "monitor", p, recurring), 7, "A monitor after stop")
	if h := l.fake.Holder("203.0.113.50"); h != 202 {
		t.Fatalf("A's stop moved the IP away from B: holder %d", h)
	}
	// Nobody holds it: depth 10 says 7 even though B's record exists.
	l.fake.AddIP("203.0.113.50", "fra1", 0)
	want(t, l.call(t, 1, "monitor", p, recurring, "OCF_CHECK_LEVEL=10"), 7, "B depth-10 monitor, routed to nobody")
}

func TestDigitalOceanIPv6OnLoopback(t *testing.T) {
	l := newDOLab(t, 1)
	p := l.params("2001:db8:50::1")
	want(t, l.call(t, 0, "start", p), 0, "start")
	if a := nstest.Addrs(t, l.lan.Nodes[0], "lo"); !strings.Contains(a, "inet6 2001:db8:50::1/128") {
		t.Fatalf("reserved IPv6 not on lo as /128:\n%s", a)
	}
	want(t, l.call(t, 0, "monitor", p, "OCF_RESKEY_CRM_meta_interval=10000"), 0, "monitor")
	want(t, l.call(t, 0, "stop", p), 0, "stop")
	if a := nstest.Addrs(t, l.lan.Nodes[0], "lo"); strings.Contains(a, "2001:db8:50::1") {
		t.Fatalf("still on lo after stop:\n%s", a)
	}
	// IPv4 is routed to the anchor IP: nothing is bound.
	p4 := l.params("203.0.113.50")
	want(t, l.call(t, 0, "start", p4), 0, "start IPv4")
	if a := nstest.Run(t, "ip", "-n", l.lan.Nodes[0], "-o", "addr"); strings.Contains(a, "203.0.113.50") {
		t.Fatalf("reserved IPv4 bound locally:\n%s", a)
	}
}

// TestDigitalOceanCloudCheckCached: depth-10 monitors within
// cloud_check_interval reuse the last answer; a failing API keeps the
// resource running with a warning.
func TestDigitalOceanCloudCheckCached(t *testing.T) {
	l := newDOLab(t, 1)
	p := l.params("203.0.113.50")
	want(t, l.call(t, 0, "start", p), 0, "start")
	gets := func() int { return l.fake.Count("GET /v2/reserved_ips/203.0.113.50") }
	g0 := gets()
	for i := 0; i < 5; i++ {
		want(t, l.call(t, 0, "monitor", p, "OCF_RESKEY_CRM_meta_interval=10000", "OCF_CHECK_LEVEL=10"), 0, "depth-10 monitor")
	}
	if n := gets() - g0; n != 1 {
		t.Fatalf("5 depth-10 monitors within cloud_check_interval made %d API requests, want 1", n)
	}
	p["cloud_check_interval"] = "0"
	l.fake.Inject(dofake.Fault{Path: "/v2/", Status: 503})
	r := l.call(t, 0, "monitor", p, "OCF_RESKEY_CRM_meta_interval=10000", "OCF_CHECK_LEVEL=10", "OCF_RESKEY_CRM_meta_timeout=2000")
	want(t, r, 0, "depth-10 monitor while the API fails")
	if !strings.Contains(r.stderr, "WARNING: cloud check failed") {
		t.Fatalf("no warning:\n%s", r.stderr)
	}
}

// TestDigitalOceanFailureClasses: the exit code per failure class.
func TestDigitalOceanFailureClasses(t *testing.T) {
	l := newDOLab(t, 1)
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.token")
	os.WriteFile(loose, []byte(doToken), 0o644)
	os.Chmod(loose, 0o644)
	wrong := filepath.Join(dir, "wrong.token")
	os.WriteFile(wrong, []byte("dop_v1_wrong"), 0o600)
	type codes struct{ validate, validate10, start, probe, stop int }
	for _, tc := range []struct {
		name   string
		set    map[string]string
		want   codes
		reason string
	}{
		{"token file missing", map[string]string{"token_file": filepath.Join(dir, "absent")}, codes{0, 5, 5, 7, 0}, "does not exist"},
		{"token file world readable", map[string]string{"token_file": loose}, codes{0, 4, 4, 7, 0}, "chmod 600"},
		{"token refused", map[string]string{"token_file": wrong}, codes{0, 4, 4, 7, 0}, "refused the token"},
		{"unknown reserved IP", map[string]string{"ip": "203.0.113.99"}, codes{0, 6, 6, 7, 0}, "not a reserved IP"},
		{"api_url with a path", map[string]string{"api_url": l.url + "/v2"}, codes{6, 6, 6, 7, 0}, "api_url="},
		{"droplet_id not a number", map[string]string{"droplet_id": "web1"}, codes{6, 6, 6, 7, 0}, "droplet_id=web1"},
		{"real endpoint in a test", map[string]string{"api_url": ""}, codes{6, 6, 6, 7, 0}, "is the real endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := l.params("203.0.113.50")
			for k, v := range tc.set {
				p[k] = v
			}
			for _, step := range []struct {
				action string
				rc     int
				env    []string
			}{
				{"validate-all", tc.want.validate, nil},
				{"validate-all", tc.want.validate10, []string{"OCF_CHECK_LEVEL=10"}},
				{"start", tc.want.start, []string{"OCF_RESKEY_CRM_meta_timeout=3000"}},
				{"monitor", tc.want.probe, nil},
				{"stop", tc.want.stop, nil},
			} {
				r := l.call(t, 0, step.action, p, step.env...)
				want(t, r, step.rc, step.action+" "+strings.Join(step.env, " "))
				if r.rc != 0 && r.rc != 7 && !strings.Contains(r.reason(), tc.reason) {
					t.Fatalf("%s: reason %q lacks %q", step.action, r.reason(), tc.reason)
				}
				if strings.Contains(r.stderr+r.stdout, doToken) {
					t.Fatal("token in the output")
				}
			}
			if h := l.fake.Holder("203.0.113.50"); h != 0 {
				t.Fatalf("a failed start moved the IP to %d", h)
			}
		})
	}
}
