package agent

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud"
	"github.com/cloudvip/floatip/internal/fakecloud/dofake"
	"github.com/cloudvip/floatip/internal/fakecloud/linodefake"
	"github.com/cloudvip/floatip/internal/fakecloud/ocifake"
	"github.com/cloudvip/floatip/internal/netvip"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/provider/all"
	"github.com/cloudvip/floatip/internal/runstate"
	"github.com/cloudvip/floatip/ocf"
)

func TestMain(m *testing.M) {
	os.Setenv(provider.ForbidRealEndpoints, "1")
	os.Exit(m.Run())
}

// node is one node's agent environment: its network, state directory and
// (for cloud providers) parameters pointing at a fake.
type node struct {
	net    *fakeNet
	state  runstate.Dir
	params map[string]string
	root   bool
}

func newNode(t *testing.T, params map[string]string) *node {
	n := &node{net: newFakeNet(), state: runstate.Dir(t.TempDir()), params: params, root: true}
	n.net.link("eth0", "192.0.2.0/24", "2001:db8:1::/64")
	return n
}

// agent is the agent for one action on n, as Pacemaker would set it up
// (env holds OCF_CHECK_LEVEL, CRM_meta_interval, ...), and its log.
func (n *node) agent(action string, env ...string) (*Agent, *bytes.Buffer) {
	vars := map[string]string{"OCF_RESOURCE_INSTANCE": "vip", "OCF_RESKEY_CRM_meta_timeout": "5000"}
	for k, v := range n.params {
		vars["OCF_RESKEY_"+k] = v
	}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		vars[k] = v
	}
	e := ocf.FromLookup(action, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	var log, out bytes.Buffer
	return &Agent{Env: e, Log: ocf.NewLogger(Name, e, &log), Out: &out, State: n.state, Self: "/nonexistent",
		Deadline: e.Deadline(time.Now()),
		OpenNet:  func() (Net, error) { return n.net, nil },
		NetAdmin: func() bool { return n.root }}, &log
}

// run performs action as Pacemaker would and returns its status and log.
func (n *node) run(t *testing.T, action string, env ...string) (ocf.Status, string) {
	t.Helper()
	a, log := n.agent(action, env...)
	err := a.Run(context.Background())
	if err != nil {
		log.WriteString("error: " + err.Error() + "\n")
	}
	return ocf.StatusOf(err), log.String()
}

func (n *node) want(t *testing.T, action string, st ocf.Status, env ...string) string {
	t.Helper()
	got, log := n.run(t, action, env...)
	if got != st {
		t.Fatalf("%s %v: %v, want %v\n%s", action, env, got, st, log)
	}
	return log
}

const recurring, depth10 = "OCF_RESKEY_CRM_meta_interval=10000", "OCF_CHECK_LEVEL=10"

// Provider none, in process: start binds on the route's interface with its
// prefix, monitor and stop follow the address, probes answer 7 when it is
// gone, and every local failure class has its exit code.
func TestRunLAN(t *testing.T) {
	n := newNode(t, map[string]string{"ip": "192.0.2.10"})
	n.want(t, "monitor", ocf.NotRunning)
	n.want(t, "start", ocf.Success)
	if got := n.net.bound(); got != "192.0.2.10/24@eth0" {
		t.Fatalf("bound %q", got)
	}
	n.want(t, "start", ocf.Success) // again: nothing changes
	n.want(t, "monitor", ocf.Success, recurring)
	n.want(t, "stop", ocf.Success)
	n.want(t, "stop", ocf.Success)
	n.want(t, "monitor", ocf.NotRunning)
	if n.net.bound() != "" {
		t.Fatalf("left bound: %s", n.net.bound())
	}
	for _, tc := range []struct {
		name   string
		params map[string]string
		start  ocf.Status
	}{
		{"malformed ip", map[string]string{"ip": "192.0.2.300"}, ocf.ErrConfigured},
		{"nic absent", map[string]string{"ip": "192.0.2.11", "nic": "eth9"}, ocf.ErrInstalled},
		{"outside every subnet", map[string]string{"ip": "198.51.100.11"}, ocf.ErrInstalled},
		{"prefix wider than the route", map[string]string{"ip": "192.0.2.11", "cidr_netmask": "16"}, ocf.ErrConfigured},
		{"link-local without nic", map[string]string{"ip": "fe80::11"}, ocf.ErrConfigured},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, tc.params)
			n.want(t, "start", tc.start)
			n.want(t, "monitor", ocf.NotRunning) // a probe
			n.want(t, "stop", ocf.Success)
			if n.net.bound() != "" {
				t.Fatalf("bad input changed the node: %s", n.net.bound())
			}
		})
	}
	t.Run("not root", func(t *testing.T) {
		n := newNode(t, map[string]string{"ip": "192.0.2.12"})
		n.root = false
		n.want(t, "validate-all", ocf.ErrInstalled, depth10)
		n.want(t, "start", ocf.ErrInstalled)
	})
	t.Run("address on another interface", func(t *testing.T) {
		n := newNode(t, map[string]string{"ip": "192.0.2.13", "nic": "eth0"})
		n.net.link("eth1")
		n.net.Add(netvip.Spec{IP: netip.MustParseAddr("192.0.2.13"), Prefix: 32, Link: *n.net.links["eth1"]})
		n.want(t, "start", ocf.ErrGeneric)
	})
}

// cloud is one provider's fake prepared for the in-process agent tests.
type cloud struct {
	params map[string]string // provider parameters pointing at the fake
	ip     string            // routed to another instance at first
	bound  string            // what start binds ("" where nothing is)
	fake   interface {
		Inject(fakecloud.Fault)
		ClearFaults()
		Count(string) int
		ResetCounts()
	}
	checks   string          // the request prefix of a depth-10 check
	moveAway func()          // the cloud routes ip elsewhere ("by hand")
	other    string          // how a depth-10 monitor names the holder then
	unknown  string          // an address the account does not have ("": none)
	refused  fakecloud.Fault // credentials refused
	api      string          // path prefix of the API
	meta     string          // path prefix of the metadata service
}

func serve(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func tokenFile(t *testing.T, tok string) string {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func digitalOceanCloud(t *testing.T) cloud {
	f := dofake.New("tok")
	t.Cleanup(f.Close)
	f.AddDroplet(101, "127.0.0.1")
	f.AddDroplet(102, "")
	f.AddIP("203.0.113.10", "fra1", 102)
	url := serve(t, f)
	return cloud{params: map[string]string{"provider": "digitalocean", "api_url": url, "metadata_url": url, "token_file": tokenFile(t, "tok")},
		ip: "203.0.113.10", fake: f, checks: "GET /v2/reserved_ips/",
		moveAway: func() { f.AddIP("203.0.113.10", "fra1", 102) }, other: "taken by droplet 102",
		unknown: "203.0.113.99", refused: fakecloud.Fault{Path: "/v2/", Status: 401}, api: "/v2/", meta: "/metadata/"}
}

func ociCloud(t *testing.T) cloud {
	f := ocifake.New("ocid1.tenancy.oc1..fake", "xx-fake-1")
	t.Cleanup(f.Close)
	sub := f.AddSubnet("10.250.0.0/24", "")
	_, a := f.AddInstance("127.0.0.1", sub, "10.250.0.1", "02:00:17:00:00:01")
	_, b := f.AddInstance("192.0.2.99", sub, "10.250.0.2", "02:00:17:00:00:02")
	f.AddIP("10.250.0.50", b)
	url := serve(t, f)
	_ = a
	return cloud{params: map[string]string{"provider": "oci", "api_url": url, "metadata_url": url, "auth_url": url},
		ip: "10.250.0.50", bound: "10.250.0.50/24@eth1", fake: f, checks: "GET /20160918/privateIps",
		moveAway: func() { f.Move("10.250.0.50", b) }, other: "taken by VNIC " + b.ID,
		refused: fakecloud.Fault{Path: "/20160918/", Status: 404, Code: "NotAuthorizedOrNotFound"}, api: "/20160918/", meta: "/opc/v2/"}
}

func linodeCloud(t *testing.T, mode string) cloud {
	f := linodefake.New("tok")
	t.Cleanup(f.Close)
	f.AddLinode(301, "us-east", "127.0.0.1", "198.51.100.1")
	f.AddLinode(302, "us-east", "", "198.51.100.2", "198.51.100.10")
	url := serve(t, f)
	c := cloud{params: map[string]string{"provider": "linode", "linode_mode": mode, "api_url": url, "metadata_url": url, "token_file": tokenFile(t, "tok")},
		ip: "198.51.100.10", bound: "198.51.100.10/24@eth0", fake: f, checks: "GET /v4/",
		unknown: "198.51.100.99", refused: fakecloud.Fault{Path: "/v4/", Status: 401}, api: "/v4/", meta: "/v1/"}
	if mode == "share" {
		c.moveAway, c.other = func() { f.Share(301) }, "routed to nobody"
	} else {
		c.moveAway, c.other = func() { f.SetOwner("198.51.100.10", 302) }, "taken by Linode 302"
	}
	return c
}

// The agent in process against each provider's fake: start claims and
// writes the claim record, depth-10 monitors ask the cloud at most once per
// interval, a move by hand is 7 naming the holder, stop never calls the
// cloud, and each failure class exits as interfaces.md says.
func TestRunClouds(t *testing.T) {
	for name, c := range map[string]func(*testing.T) cloud{
		"digitalocean":  digitalOceanCloud,
		"oci":           ociCloud,
		"linode-share":  func(t *testing.T) cloud { return linodeCloud(t, "share") },
		"linode-assign": func(t *testing.T) cloud { return linodeCloud(t, "assign") },
	} {
		t.Run(name, func(t *testing.T) {
			runCloud(t, c(t))
			failureClasses(t, c)
		})
	}
}

func cloudNode(t *testing.T, c cloud, ip string) *node {
	p := map[string]string{"ip": ip}
	for k, v := range c.params {
		p[k] = v
	}
	n := newNode(t, p)
	n.net.link("eth1", "10.250.0.0/24")
	n.net.link("eth2", "198.51.100.0/24")
	n.net.routes[netip.MustParsePrefix("198.51.100.0/24")] = "eth0"
	n.net.macs["02:00:17:00:00:01"] = "eth1"
	return n
}

func runCloud(t *testing.T, c cloud) {
	n := cloudNode(t, c, c.ip)
	n.want(t, "monitor", ocf.NotRunning)
	n.want(t, "start", ocf.Success)
	if got := n.net.bound(); got != c.bound {
		t.Fatalf("bound %q, want %q", got, c.bound)
	}
	if _, _, err := n.state.Get(c.ip, claimRecord); err != nil {
		t.Fatal("no claim record after start")
	}
	n.want(t, "monitor", ocf.Success, recurring)
	c.fake.ResetCounts()
	for i := 0; i < 3; i++ {
		n.want(t, "monitor", ocf.Success, recurring, depth10)
	}
	if got := c.fake.Count(c.checks); got < 1 || got > 2 {
		t.Fatalf("three depth-10 monitors sent %d check requests: not cached", got)
	}
	before := c.fake.Count("")
	n.want(t, "monitor", ocf.Success, recurring, depth10)
	if c.fake.Count("") != before {
		t.Fatal("a depth-10 monitor inside cloud_check_interval asked the cloud")
	}
	c.moveAway()
	n.params["cloud_check_interval"] = "0"
	log := n.want(t, "monitor", ocf.NotRunning, recurring, depth10)
	if !strings.Contains(log, c.other) {
		t.Fatalf("the monitor does not say %q:\n%s", c.other, log)
	}
	c.fake.ResetCounts()
	n.want(t, "stop", ocf.Success)
	if c.fake.Count("") != 0 {
		t.Fatal("stop called the cloud")
	}
	n.want(t, "monitor", ocf.NotRunning)
	if n.net.bound() != "" {
		t.Fatalf("left bound: %s", n.net.bound())
	}
}

// failureClasses: validate-all at level 10, start and a depth-10 monitor of
// a node that runs the address, for each class.
func failureClasses(t *testing.T, mk func(*testing.T) cloud) {
	for _, tc := range []struct {
		name                     string
		fault                    func(c cloud) fakecloud.Fault
		params                   func(c cloud) map[string]string
		validate, start, depth10 ocf.Status
	}{
		{"credentials refused", func(c cloud) fakecloud.Fault { return c.refused }, nil, ocf.ErrPerm, ocf.ErrPerm, ocf.Success},
		{"API down", func(c cloud) fakecloud.Fault { return fakecloud.Fault{Path: c.api, Status: 503} }, nil, ocf.ErrGeneric, ocf.ErrGeneric, ocf.Success},
		{"rate limited past the deadline", func(c cloud) fakecloud.Fault { return fakecloud.Fault{Path: c.api, Status: 429, RetryAfter: 60} }, nil, ocf.ErrGeneric, ocf.ErrGeneric, ocf.Success},
		{"malformed answers", func(c cloud) fakecloud.Fault { return fakecloud.Fault{Path: c.api, Body: "{}"} }, nil, ocf.ErrGeneric, ocf.ErrGeneric, ocf.Success},
		{"metadata down", func(c cloud) fakecloud.Fault { return fakecloud.Fault{Path: c.meta, Status: 500} }, nil, ocf.ErrGeneric, ocf.ErrGeneric, ocf.Success},
		{"address unknown to the account", nil, func(c cloud) map[string]string { return map[string]string{"ip": c.unknown} }, ocf.ErrConfigured, ocf.ErrConfigured, ocf.NotRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mk(t)
			ip := c.ip
			if tc.params != nil {
				if ip = tc.params(c)["ip"]; ip == "" {
					t.Skip("every address of this cloud's subnet is the account's (a free one is created)")
				}
			}
			n := cloudNode(t, c, ip)
			n.params["cloud_check_interval"] = "0"
			n.params["CRM_meta_timeout"] = "800"
			// Running here as far as local state goes: a depth-10 monitor
			// decides from the cloud's answer.
			n.state.Put(ip, claimRecord, []byte("provider="+c.params["provider"]+"\nclaimed="+time.Now().UTC().Format(time.RFC3339Nano)+"\n"))
			if c.bound != "" {
				n.net.Add(netvip.Spec{IP: netip.MustParseAddr(ip), Prefix: 24, Link: *n.net.links[strings.Split(c.bound, "@")[1]]})
			}
			if tc.fault != nil {
				c.fake.Inject(tc.fault(c))
			}
			n.want(t, "validate-all", tc.validate, depth10)
			n.want(t, "start", tc.start)
			n.want(t, "monitor", tc.depth10, recurring, depth10)
			c.fake.ResetCounts()
			n.want(t, "stop", ocf.Success)
			if c.fake.Count("") != 0 {
				t.Fatal("stop called the cloud")
			}
		})
	}
}

// DigitalOcean IPv6: routed to the droplet, bound on lo as a /128.
func TestRunDigitalOceanIPv6(t *testing.T) {
	c := digitalOceanCloud(t)
	c.fake.(*dofake.Fake).AddIP("2001:db8:10::1", "fra1", 102)
	n := cloudNode(t, c, "2001:db8:10::1")
	n.want(t, "start", ocf.Success)
	if got := n.net.bound(); got != "2001:db8:10::1/128@lo" {
		t.Fatalf("IPv6 bound %q", got)
	}
	n.want(t, "stop", ocf.Success)
}

// The explicit provider list is what parse and meta-data use.
func TestProvidersListed(t *testing.T) {
	for _, name := range []string{"none", "digitalocean", "oci", "linode"} {
		if _, ok := all.Providers.Lookup(name); !ok {
			t.Errorf("provider %s is not listed", name)
		}
	}
	if n := len(all.Providers); n != 4 {
		t.Errorf("%d providers", n)
	}
}

// place decides from the parameters, then the provider's defaults, then
// what the provider found, and looks nothing up.
func TestPlace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params map[string]string
		def    provider.Local
		mac    string
		found  int
		want   string // nic/mac/prefix
	}{
		{"route decides", map[string]string{}, provider.Local{Bind: true}, "", 0, "//0"},
		{"nic and prefix given", map[string]string{"nic": "eth1", "cidr_netmask": "25"}, provider.Local{Bind: true}, "", 0, "eth1//25"},
		{"provider default (DigitalOcean IPv6)", map[string]string{}, provider.Local{Bind: true, NIC: "lo", Prefix: 128}, "", 0, "lo//128"},
		{"parameters win over the provider's default", map[string]string{"nic": "eth0", "cidr_netmask": "64"}, provider.Local{Bind: true, NIC: "lo", Prefix: 128}, "", 0, "eth0//64"},
		{"found by the provider (OCI VNIC)", map[string]string{}, provider.Local{Bind: true}, "02:00:17:00:00:11", 24, "/02:00:17:00:00:11/24"},
		{"nic wins over the found MAC, found prefix kept", map[string]string{"nic": "ens3"}, provider.Local{Bind: true}, "02:00:17:00:00:11", 24, "ens3//24"},
		{"cidr_netmask wins over the found prefix", map[string]string{"cidr_netmask": "28"}, provider.Local{Bind: true}, "02:00:17:00:00:11", 24, "/02:00:17:00:00:11/28"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := map[string]string{"ip": "10.0.0.5"}
			if tc.def.Prefix == 128 {
				ps["ip"] = "2001:db8::5"
			}
			for k, v := range tc.params {
				ps[k] = v
			}
			c, _, err := Parse(func(k string) (string, bool) { v, ok := ps[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			p, err := place(c, tc.def, tc.mac, tc.found)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.nic + "/" + p.mac.String() + "/" + strconv.Itoa(p.prefix); got != tc.want {
				t.Fatalf("%s, want %s", got, tc.want)
			}
		})
	}
	if _, err := place(&Config{}, provider.Local{Bind: true}, "not-a-mac", 0); err == nil {
		t.Fatal("a malformed MAC from the metadata service was accepted")
	}
}

// claim_interval: a second move to this node within the interval waits it
// out; one past the deadline fails at once without writing; an address
// already here never waits; stop keeps the time of the last move.
func TestClaimInterval(t *testing.T) {
	c := digitalOceanCloud(t)
	f := c.fake.(*dofake.Fake)
	n := cloudNode(t, c, c.ip)
	n.params["claim_interval"] = "1"
	n.want(t, "start", ocf.Success)
	n.want(t, "stop", ocf.Success)
	c.moveAway()
	t0 := time.Now()
	log := n.want(t, "start", ocf.Success)
	if took := time.Since(t0); took < 800*time.Millisecond || !strings.Contains(log, "waiting") || f.Holder(c.ip) != 101 {
		t.Fatalf("a move 0 s after the last took %v (holder %d):\n%s", took, f.Holder(c.ip), log)
	}
	f.ResetCounts()
	t0 = time.Now()
	n.want(t, "start", ocf.Success)
	if took := time.Since(t0); took > 500*time.Millisecond || f.Count("POST") != 0 {
		t.Fatalf("a start with the address already here took %v and wrote %d times", took, f.Count("POST"))
	}
	// A start that finds the address here is not a move: past the interval
	// it asks nothing first, and the time of the last move stays.
	time.Sleep(1100 * time.Millisecond)
	n.want(t, "start", ocf.Success)
	c.moveAway()
	t0 = time.Now()
	if log := n.want(t, "start", ocf.Success); time.Since(t0) > 500*time.Millisecond || strings.Contains(log, "waiting") {
		t.Fatalf("a no-op start restarted claim_interval: the next move waited %v:\n%s", time.Since(t0), log)
	}
	n.params["claim_interval"] = "60"
	n.params["CRM_meta_timeout"] = "2000"
	c.moveAway()
	f.ResetCounts()
	t0 = time.Now()
	log = n.want(t, "start", ocf.ErrGeneric)
	if took := time.Since(t0); took > time.Second || f.Count("POST") != 0 || !strings.Contains(log, "claim_interval=60") {
		t.Fatalf("a wait past the deadline: %v, %d writes:\n%s", took, f.Count("POST"), log)
	}
}

// preflight runs floatip check's steps on n and returns them by name.
func (n *node) preflight(t *testing.T) map[string]provider.Finding {
	t.Helper()
	a, _ := n.agent("check", "OCF_RESKEY_CRM_meta_timeout=2000")
	out := map[string]provider.Finding{}
	for _, f := range a.Preflight(context.Background()) {
		out[f.Check] = f
	}
	return out
}

// floatip check against each provider's fake: everything ready, then each
// failure injected names its step and its class, and nothing is written.
func TestPreflight(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) cloud{
		"digitalocean": digitalOceanCloud,
		"oci":          ociCloud,
		"linode-share": func(t *testing.T) cloud { return linodeCloud(t, "share") },
	} {
		t.Run(name, func(t *testing.T) {
			c := mk(t)
			n := cloudNode(t, c, c.ip)
			got := n.preflight(t)
			for check, f := range got {
				if !f.OK {
					t.Fatalf("%s: %s fails on a ready node: %s", name, check, f.Detail)
				}
			}
			if f, ok := got["cloud"]; !ok || f.Detail != c.other {
				t.Fatalf("cloud: %+v, want %q", f, c.other)
			}
			for _, tc := range []struct {
				name, step string
				fault      fakecloud.Fault
			}{
				{"metadata down", "metadata", fakecloud.Fault{Path: c.meta, Status: 500}},
				{"credentials refused", "credentials", c.refused},
				{"proxy without NO_PROXY", "proxy", fakecloud.Fault{}},
			} {
				c.fake.ClearFaults()
				if tc.fault.Path != "" {
					c.fake.Inject(tc.fault)
				}
				if tc.step == "proxy" {
					t.Setenv("HTTP_PROXY", "http://192.0.2.254:3128")
				}
				c.fake.ResetCounts()
				n := cloudNode(t, c, c.ip) // a fresh node: nothing cached for this boot
				var failed []string
				for check, f := range n.preflight(t) {
					if !f.OK {
						failed = append(failed, check)
					}
				}
				if !strings.Contains(" "+strings.Join(failed, " , ")+" ", " "+tc.step) {
					t.Errorf("%s: failed %v, want %s among them", tc.name, failed, tc.step)
				}
				if w := c.fake.Count("POST /v2") + c.fake.Count("POST /v4") + c.fake.Count("POST /20160918") + c.fake.Count("PUT /20160918"); w != 0 {
					t.Errorf("%s: check wrote %d times", tc.name, w)
				}
			}
		})
	}
}

func TestProxyTrap(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		env map[string]string
		ok  bool
	}{
		{map[string]string{}, true},
		{map[string]string{"HTTPS_PROXY": "http://p:3128"}, true}, // the metadata service is plain http
		{map[string]string{"HTTP_PROXY": "http://p:3128"}, false},
		{map[string]string{"http_proxy": "http://p:3128", "no_proxy": "localhost,169.254.169.254"}, true},
		{map[string]string{"HTTP_PROXY": "http://p:3128", "NO_PROXY": "169.254.0.0/16"}, true},
		{map[string]string{"HTTP_PROXY": "http://p:3128", "NO_PROXY": "*"}, true},
		{map[string]string{"HTTP_PROXY": "http://p:3128", "NO_PROXY": "10.0.0.0/8,.internal"}, false},
		// As net/http: NO_PROXY, when set, hides no_proxy.
		{map[string]string{"HTTP_PROXY": "http://p:3128", "NO_PROXY": "example.com", "no_proxy": "169.254.169.254"}, false},
	} {
		if f := proxyTrap(env(tc.env)); f.OK != tc.ok {
			t.Errorf("%v: %+v", tc.env, f)
		}
	}
	// A proxy's password never shows, in a URL that parses or not.
	for _, v := range []string{"http://user:s3cr3t@[::1", "http://user:s3cr3t@p:3128", "user:s3cr3t@p:3128"} {
		f := proxyTrap(env(map[string]string{"HTTP_PROXY": v}))
		if f.OK || strings.Contains(f.Detail, "s3cr3t") || strings.Contains(f.Detail, "user") {
			t.Errorf("HTTP_PROXY=%s: %+v", v, f)
		}
	}
}

// movableClouds are the clouds where an address has one holder to move it
// away to (Linode's share mode has none).
var movableClouds = map[string]func(*testing.T) cloud{
	"digitalocean":  digitalOceanCloud,
	"oci":           ociCloud,
	"linode-assign": func(t *testing.T) cloud { return linodeCloud(t, "assign") },
}

// The keeper floatip up leaves behind: a round with the address here
// writes nothing, a round after the cloud moved it away claims it back, and
// after stop the keeper is told to end.
func TestKeepOnce(t *testing.T) {
	for name, mk := range movableClouds {
		t.Run(name, func(t *testing.T) {
			c := mk(t)
			n := cloudNode(t, c, c.ip)
			n.params["claim_interval"] = "0"
			n.params["cloud_check_interval"] = "0"
			keep := func() error {
				a, _ := n.agent("keep")
				return a.KeepOnce(context.Background())
			}
			n.want(t, "start", ocf.Success)
			c.fake.ResetCounts()
			if err := keep(); err != nil {
				t.Fatalf("a round with the address here: %v", err)
			}
			if w := c.fake.Count("POST") + c.fake.Count("PUT"); w != 0 {
				t.Fatalf("a round with the address here wrote %d times", w)
			}
			c.moveAway()
			n.want(t, "monitor", ocf.NotRunning, recurring, depth10)
			if err := keep(); err != nil {
				t.Fatalf("a round after the cloud moved the address away: %v", err)
			}
			n.want(t, "monitor", ocf.Success, recurring, depth10)
			n.want(t, "stop", ocf.Success)
			c.moveAway()
			if err := keep(); !errors.Is(err, ErrReleased) {
				t.Fatalf("a round after stop: %v, want ErrReleased", err)
			}
			n.want(t, "monitor", ocf.NotRunning, recurring, depth10)
		})
	}
}

// takeback_guard: after a depth-10 monitor saw another holder take the
// address, a start does not move it back (exit 1, no write) until the
// guard has passed; takeback_guard=0 turns the rule off.
func TestTakebackGuard(t *testing.T) {
	for name, mk := range movableClouds {
		t.Run(name, func(t *testing.T) {
			c := mk(t)
			n := cloudNode(t, c, c.ip)
			n.params["claim_interval"] = "0"
			n.params["cloud_check_interval"] = "0"
			n.params["takeback_guard"] = "2"
			writes := func() int { return c.fake.Count("POST") + c.fake.Count("PUT") }
			n.want(t, "start", ocf.Success)
			c.moveAway()
			n.want(t, "monitor", ocf.NotRunning, recurring, depth10)
			n.want(t, "stop", ocf.Success)
			c.fake.ResetCounts()
			log := n.want(t, "start", ocf.ErrGeneric)
			if !strings.Contains(log, "takeback_guard=2") || !strings.Contains(log, "not taking it back") || writes() != 0 {
				t.Fatalf("a start inside the guard wrote %d times:\n%s", writes(), log)
			}
			n.want(t, "monitor", ocf.NotRunning) // the failed start left no claim
			// The guard ends with its time...
			time.Sleep(2100 * time.Millisecond)
			n.want(t, "start", ocf.Success)
			n.want(t, "monitor", ocf.Success, recurring, depth10)
			if writes() == 0 {
				t.Fatal("the start after the guard did not claim")
			}
			// ... and a successful start forgets the loss; 0 turns it off.
			c.moveAway()
			n.want(t, "monitor", ocf.NotRunning, recurring, depth10)
			n.params["takeback_guard"] = "0"
			n.want(t, "start", ocf.Success)
			n.want(t, "monitor", ocf.Success, recurring, depth10)
		})
	}
}
