package agent

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud/dofake"
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

// run performs action as Pacemaker would (env holds OCF_CHECK_LEVEL,
// CRM_meta_interval, ...) and returns its status and log.
func (n *node) run(t *testing.T, action string, env ...string) (ocf.Status, string) {
	t.Helper()
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
	a := &Agent{Env: e, Log: ocf.NewLogger(Name, e, &log), Out: &out, State: n.state, Self: "/nonexistent",
		Deadline: e.Deadline(time.Now()),
		OpenNet:  func() (Net, error) { return n.net, nil },
		NetAdmin: func() bool { return n.root }}
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

// DigitalOcean in process against its fake: the claim record, the cached
// depth-10 check (one request per interval), another holder named, and the
// failure classes of interfaces.md.
func TestRunDigitalOcean(t *testing.T) {
	f := dofake.New("tok")
	f.AddDroplet(101, "127.0.0.1")
	f.AddDroplet(102, "")
	f.AddIP("203.0.113.10", "fra1", 102)
	f.AddIP("2001:db8:10::1", "fra1", 102)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	tok := filepath.Join(t.TempDir(), "do.token")
	os.WriteFile(tok, []byte("tok"), 0o600)
	params := func(ip string) map[string]string {
		return map[string]string{"ip": ip, "provider": "digitalocean", "api_url": srv.URL, "metadata_url": srv.URL, "token_file": tok}
	}

	n := newNode(t, params("203.0.113.10"))
	n.want(t, "monitor", ocf.NotRunning)
	n.want(t, "start", ocf.Success)
	if f.Holder("203.0.113.10") != 101 || n.net.bound() != "" {
		t.Fatalf("holder %d, bound %q: IPv4 is routed to the anchor, not bound", f.Holder("203.0.113.10"), n.net.bound())
	}
	if _, _, err := n.state.Get("203.0.113.10", claimRecord); err != nil {
		t.Fatal("no claim record after start")
	}
	n.want(t, "monitor", ocf.Success, recurring)
	f.ResetCounts()
	for i := 0; i < 3; i++ {
		n.want(t, "monitor", ocf.Success, recurring, depth10)
	}
	if c := f.Count("GET /v2/reserved_ips/"); c != 1 {
		t.Fatalf("three depth-10 monitors made %d requests, want 1 (cached)", c)
	}
	f.AddIP("203.0.113.10", "fra1", 102) // moved by hand
	n.params["cloud_check_interval"] = "0"
	log := n.want(t, "monitor", ocf.NotRunning, recurring, depth10)
	if !strings.Contains(log, "taken by droplet 102") {
		t.Fatalf("the holder is not named:\n%s", log)
	}
	f.ResetCounts()
	n.want(t, "stop", ocf.Success)
	if f.Count("") != 0 {
		t.Fatal("stop called the cloud")
	}
	n.want(t, "monitor", ocf.NotRunning)

	// IPv6: routed to the droplet, bound on lo as a /128.
	v6 := newNode(t, params("2001:db8:10::1"))
	v6.want(t, "start", ocf.Success)
	if got := v6.net.bound(); got != "2001:db8:10::1/128@lo" {
		t.Fatalf("IPv6 bound %q", got)
	}
	v6.want(t, "stop", ocf.Success)

	for _, tc := range []struct {
		name            string
		fault           dofake.Fault
		params          map[string]string
		validate, start ocf.Status
		depth10         ocf.Status
	}{
		{"token refused", dofake.Fault{Path: "/v2/", Status: 401}, nil, ocf.ErrPerm, ocf.ErrPerm, ocf.Success},
		{"API down", dofake.Fault{Path: "/v2/", Status: 503}, nil, ocf.ErrGeneric, ocf.ErrGeneric, ocf.Success},
		{"rate limited past the deadline", dofake.Fault{Path: "/v2/", Status: 429, RetryAfter: 60}, nil, ocf.ErrGeneric, ocf.ErrGeneric, ocf.Success},
		{"malformed answers", dofake.Fault{Path: "/v2/", Body: "{}"}, nil, ocf.ErrGeneric, ocf.ErrGeneric, ocf.Success},
		{"metadata down", dofake.Fault{Path: "/metadata/", Status: 500}, nil, ocf.ErrGeneric, ocf.ErrGeneric, ocf.Success},
		{"IP unknown to the account", dofake.Fault{}, map[string]string{"ip": "203.0.113.99"}, ocf.ErrConfigured, ocf.ErrConfigured, ocf.NotRunning},
		{"token file missing", dofake.Fault{}, map[string]string{"token_file": "/nonexistent/do.token"}, ocf.ErrInstalled, ocf.ErrInstalled, ocf.Success},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := params("203.0.113.10")
			p["cloud_check_interval"] = "0"
			p["CRM_meta_timeout"] = "800"
			for k, v := range tc.params {
				p[k] = v
			}
			n := newNode(t, p)
			// Running here as far as local state goes: a depth-10 monitor
			// decides from the cloud's answer.
			n.state.Put(p["ip"], claimRecord, []byte("provider=digitalocean\n"))
			if tc.fault.Path != "" {
				f.Inject(tc.fault)
				defer f.ClearFaults()
			}
			n.want(t, "validate-all", tc.validate, depth10)
			n.want(t, "start", tc.start)
			n.want(t, "monitor", tc.depth10, recurring, depth10)
			f.ResetCounts()
			n.want(t, "stop", ocf.Success)
			if f.Count("") != 0 {
				t.Fatal("stop called the cloud")
			}
		})
	}
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
