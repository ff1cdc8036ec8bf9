package oci

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud/ocifake"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/provider/providertest"
	"github.com/cloudvip/floatip/ocf"
)

func TestMain(m *testing.M) {
	os.Setenv(provider.ForbidRealEndpoints, "1")
	os.Exit(m.Run())
}

type logs = providertest.Log

var ctx = providertest.Deadline

const tenancy = "ocid1.tenancy.oc1..faketenancy"

// world: one subnet 10.0.0.0/24 + 2001:db8:a::/64, instance A (us, from
// 127.0.0.1) and B, each with a primary VNIC; a second subnet elsewhere.
type world struct {
	f     *ocifake.Fake
	url   string
	a, b  *ocifake.Vnic
	other *ocifake.Subnet
}

func newWorld(t *testing.T) *world {
	f := ocifake.New(tenancy, "xx-fake-1")
	s := f.AddSubnet("10.0.0.0/24", "2001:db8:a::/64")
	_, a := f.AddInstance("127.0.0.1", s, "10.0.0.11", "02:00:17:00:00:11")
	_, b := f.AddInstance("192.0.2.99", s, "10.0.0.12", "02:00:17:00:00:12")
	other := f.AddSubnet("10.0.1.0/24", "")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	return &world{f: f, url: srv.URL, a: a, b: b, other: other}
}

func (w *world) open(t *testing.T, extra map[string]string) provider.Provider {
	t.Helper()
	return w.openIn(t, t.TempDir(), extra)
}

// openIn opens the provider with cache as its per-boot state directory.
func (w *world) openIn(t *testing.T, cache string, extra map[string]string) provider.Provider {
	t.Helper()
	return providertest.Open(t, Spec, map[string]string{"api_url": w.url, "metadata_url": w.url, "auth_url": w.url}, extra, cache, nil)
}

func TestInstancePrincipalMoves(t *testing.T) {
	w := newWorld(t)
	p := w.open(t, nil)
	// Absent: created on our VNIC.
	if err := p.Claim(ctx(t, 5*time.Second), netip.MustParseAddr("10.0.0.100")); err != nil {
		t.Fatal(err)
	}
	if h := w.f.Holder("10.0.0.100"); h != w.a.ID {
		t.Fatalf("holder %s, want our VNIC %s", h, w.a.ID)
	}
	if w.f.Count("POST /v1/x509") != 1 || w.f.Count("POST /20160918/privateIps") != 1 {
		t.Fatalf("want one token request and one create: %d %d", w.f.Count("POST /v1/x509"), w.f.Count("POST /20160918/privateIps"))
	}
	// On B's VNIC: moved with UpdatePrivateIp, three API requests.
	w.f.AddIP("10.0.0.101", w.b)
	w.f.ResetCounts()
	if err := p.Claim(ctx(t, 5*time.Second), netip.MustParseAddr("10.0.0.101")); err != nil {
		t.Fatal(err)
	}
	if h := w.f.Holder("10.0.0.101"); h != w.a.ID {
		t.Fatalf("not moved: %s", h)
	}
	if n := w.f.Count("PUT /20160918/privateIps/"); n != 1 {
		t.Fatalf("%d updates", n)
	}
	// Already here: no write.
	w.f.ResetCounts()
	if err := p.Claim(ctx(t, 5*time.Second), netip.MustParseAddr("10.0.0.101")); err != nil {
		t.Fatal(err)
	}
	if n := w.f.Count("PUT") + w.f.Count("POST /20160918"); n != 0 {
		t.Fatalf("%d writes for an IP already here", n)
	}
	// IPv6 through the ipv6 resource.
	w.f.AddIP("2001:db8:a::50", w.b)
	if err := p.Claim(ctx(t, 5*time.Second), netip.MustParseAddr("2001:db8:a::50")); err != nil {
		t.Fatal(err)
	}
	if h := w.f.Holder("2001:db8:a::50"); h != w.a.ID || w.f.Count("PUT /20160918/ipv6/") != 1 {
		t.Fatalf("IPv6 not moved with UpdateIpv6: %s", h)
	}
}

// TestConfigFileAuth signs with an API key from an OCI config file; a key
// the service does not know is refused (ERR_PERM naming the IAM policy).
func TestConfigFileAuth(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	write := func(known bool) string {
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		keyFile := filepath.Join(dir, fmt.Sprintf("key-%v.pem", known))
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
		der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		sum := md5.Sum(der)
		var fp []string
		for _, b := range sum {
			fp = append(fp, fmt.Sprintf("%02x", b))
		}
		user := "ocid1.user.oc1..fakeuser"
		if known {
			w.f.AddAPIKey(tenancy+"/"+user+"/"+strings.Join(fp, ":"), &key.PublicKey)
		}
		cfg := filepath.Join(dir, fmt.Sprintf("config-%v", known))
		os.WriteFile(cfg, []byte(fmt.Sprintf("[DEFAULT]\nuser=%s\nfingerprint=%s\ntenancy=%s\nregion=xx-fake-1\nkey_file=%s\n",
			user, strings.Join(fp, ":"), tenancy, keyFile)), 0o600)
		return cfg
	}
	p := w.open(t, map[string]string{"oci_auth": "config_file", "oci_config": write(true)})
	if err := p.Claim(ctx(t, 5*time.Second), netip.MustParseAddr("10.0.0.100")); err != nil {
		t.Fatalf("config-file auth: %v", err)
	}
	if w.f.Count("POST /v1/x509") != 0 {
		t.Fatal("config-file auth asked for an instance-principal token")
	}
	p = w.open(t, map[string]string{"oci_auth": "config_file", "oci_config": write(false)})
	err := p.Claim(ctx(t, 5*time.Second), netip.MustParseAddr("10.0.0.103"))
	if ocf.StatusOf(err) != ocf.ErrPerm || !strings.Contains(err.Error(), "use private-ips") {
		t.Fatalf("unknown key: %v (%v)", err, ocf.StatusOf(err))
	}
	p = w.open(t, map[string]string{"oci_auth": "config_file", "oci_config": filepath.Join(dir, "absent")})
	if err := p.Claim(ctx(t, 5*time.Second), netip.MustParseAddr("10.0.0.100")); ocf.StatusOf(err) != ocf.ErrInstalled {
		t.Fatalf("missing config: %v", err)
	}
}

// TestFaults: what is OCI's own (the conformance suite covers the fault
// classes): 409 on a move retried, a failing token service transient, a
// refusal naming the IAM statement.
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  ocifake.Fault
		budget time.Duration
		status ocf.Status
		reason string
	}{
		{"409 conflict then success", ocifake.Fault{Method: "PUT", Status: 409, Code: "IncorrectState", Times: 1}, 5 * time.Second, ocf.Success, ""},
		{"token service failing", ocifake.Fault{Path: "/v1/x509", Status: 500}, 2 * time.Second, ocf.ErrGeneric, "token"},
		{"404 NotAuthorizedOrNotFound", ocifake.Fault{Path: "/20160918/vnics", Status: 404, Code: "NotAuthorizedOrNotFound"}, 5 * time.Second, ocf.ErrPerm, "use vnics"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.f.AddIP("10.0.0.101", w.b)
			w.f.Inject(tc.fault)
			p := w.open(t, nil)
			t0 := time.Now()
			err := p.Claim(ctx(t, tc.budget), netip.MustParseAddr("10.0.0.101"))
			if ocf.StatusOf(err) != tc.status || (err != nil && !strings.Contains(err.Error(), tc.reason)) {
				t.Fatalf("%v (%v), want %v mentioning %q", err, ocf.StatusOf(err), tc.status, tc.reason)
			}
			if time.Since(t0) > tc.budget+time.Second {
				t.Fatalf("ran %v past a %v budget", time.Since(t0), tc.budget)
			}
			if tc.status == ocf.Success && w.f.Holder("10.0.0.101") != w.a.ID {
				t.Fatal("claim succeeded but the IP did not move")
			}
		})
	}
}

// TestSubnetRules: an IP outside our VNIC's subnets is a fact about this
// node (5: other nodes may be in that subnet), whether found from the
// metadata or refused by OCI for vnic_id; another instance's primary IP
// cannot be taken, on any node (6).
func TestSubnetRules(t *testing.T) {
	w := newWorld(t)
	p := w.open(t, nil)
	err := p.Claim(ctx(t, 3*time.Second), netip.MustParseAddr("10.0.1.5"))
	if ocf.StatusOf(err) != ocf.ErrInstalled || !errors.Is(err, provider.ErrCannotHold) {
		t.Fatalf("IP in another subnet: %v (%v)", err, ocf.StatusOf(err))
	}
	if _, err := p.Check(ctx(t, 3*time.Second), netip.MustParseAddr("10.0.1.5")); !errors.Is(err, provider.ErrCannotHold) {
		t.Fatalf("check of an IP in another subnet: %v", err)
	}
	pv := w.open(t, map[string]string{"vnic_id": w.a.ID})
	err = pv.Claim(ctx(t, 3*time.Second), netip.MustParseAddr("10.0.1.6"))
	if ocf.StatusOf(err) != ocf.ErrInstalled || !errors.Is(err, provider.ErrCannotHold) || !strings.Contains(err.Error(), "InvalidParameter") {
		t.Fatalf("OCI refusing a move to vnic_id in another subnet: %v (%v)", err, ocf.StatusOf(err))
	}
	err = p.Claim(ctx(t, 3*time.Second), netip.MustParseAddr("10.0.0.12")) // B's primary
	if ocf.StatusOf(err) != ocf.ErrConfigured || !strings.Contains(err.Error(), "primary") {
		t.Fatalf("taking a primary IP: %v (%v)", err, ocf.StatusOf(err))
	}
}

func TestParams(t *testing.T) {
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"oci_auth": "password"}, "oci_auth=password"},
		{map[string]string{"vnic_id": "eth0"}, "vnic_id=eth0"},
		{map[string]string{"api_url": "https://iaas.x/20160918"}, "api_url="},
		{map[string]string{"metadata_url": "http://127.0.0.1:1", "auth_url": "http://127.0.0.1:1"}, "real endpoints"},
	} {
		_, err := Spec.Open(providertest.Get(tc.params), provider.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.params, err, tc.want)
		}
	}
}

// TestSessionCache: the second action on a node reuses the token and its
// session key (no metadata certificates, no token request); a token the
// service no longer knows is replaced within the same action.
func TestSessionCache(t *testing.T) {
	w := newWorld(t)
	cache := t.TempDir()
	open := func() provider.Provider {
		params := map[string]string{"api_url": w.url, "metadata_url": w.url, "auth_url": w.url}
		p, err := Spec.Open(providertest.Get(params), provider.Env{Log: &logs{}, Cache: cache})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := open().Claim(ctx(t, 5*time.Second), netip.MustParseAddr("10.0.0.100")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(cache, "floatip-oci.session")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session not cached root-only: %v %v", fi, err)
	}
	w.f.ResetCounts()
	if _, err := open().Check(ctx(t, 5*time.Second), netip.MustParseAddr("10.0.0.100")); err != nil {
		t.Fatal(err)
	}
	if n := w.f.Count("POST /v1/x509") + w.f.Count("GET /opc/v2/identity"); n != 0 {
		t.Fatalf("a cached session still made %d token/certificate requests", n)
	}
	// The token service forgets its sessions (a restart): one refusal, a
	// new token, success.
	w.f.ForgetSessions()
	w.f.ResetCounts()
	if err := open().Claim(ctx(t, 5*time.Second), netip.MustParseAddr("10.0.0.100")); err != nil {
		t.Fatalf("stale cached token: %v", err)
	}
	if n := w.f.Count("POST /v1/x509"); n != 1 {
		t.Fatalf("%d token requests after the cached one was refused, want 1", n)
	}
}

// A create whose answer was lost did happen: the retry's 409 Conflict is
// answered by looking the address up again, and start succeeds.
func TestLostCreateAnswer(t *testing.T) {
	for _, ip := range []string{"10.0.0.120", "2001:db8:a::120"} {
		t.Run(ip, func(t *testing.T) {
			w := newWorld(t)
			path := "/20160918/privateIps"
			if strings.Contains(ip, ":") {
				path = "/20160918/ipv6"
			}
			w.f.Inject(ocifake.Fault{Method: "POST", Path: path, Lost: true, Times: 1})
			p := w.open(t, nil)
			if err := p.Claim(ctx(t, 5*time.Second), netip.MustParseAddr(ip)); err != nil {
				t.Fatalf("claim after a lost create answer: %v", err)
			}
			if h := w.f.Holder(ip); h != w.a.ID {
				t.Fatalf("holder %q", h)
			}
			if n := w.f.Count("POST " + path); n != 2 {
				t.Fatalf("%d creates, want 2 (the lost one and the conflicting retry)", n)
			}
		})
	}
}

// With vnic_id set the VNIC needs no metadata: a start with vnic_id and nic
// (and a cached session) succeeds while the metadata service is down.
func TestVnicIDNeedsNoMetadata(t *testing.T) {
	w := newWorld(t)
	cache := t.TempDir()
	if err := w.openIn(t, cache, nil).Claim(ctx(t, 5*time.Second), netip.MustParseAddr("10.0.0.130")); err != nil {
		t.Fatal(err) // caches the session
	}
	w.f.Inject(ocifake.Fault{Path: "/opc/v2/", Status: 500})
	p := w.openIn(t, cache, map[string]string{"vnic_id": w.a.ID})
	if err := p.Claim(ctx(t, 3*time.Second), netip.MustParseAddr("10.0.0.131")); err != nil {
		t.Fatalf("claim with vnic_id while metadata is down: %v", err)
	}
	if h, err := p.Check(ctx(t, 3*time.Second), netip.MustParseAddr("10.0.0.131")); err != nil || h.Where != provider.Here {
		t.Fatalf("check with vnic_id while metadata is down: %v %v", h, err)
	}
}

// TestMalformedAnswers: answers without the object they should carry (or
// with an address that does not parse) are transient, never a panic.
func TestMalformedAnswers(t *testing.T) {
	w := newWorld(t)
	w.f.AddIP("10.0.0.101", w.b)
	w.f.AddIP("2001:db8:a::101", w.b)
	p := w.open(t, nil)
	faults := []ocifake.Fault{
		{Method: "GET", Path: "/20160918/vnics/", Body: "{}"},
		{Method: "GET", Path: "/20160918/privateIps", Body: "{}"},
		{Method: "GET", Path: "/20160918/ipv6", Body: `[{"id":"ocid1.ipv6.x","ipAddress":"not-an-address","vnicId":"x"}]`},
	}
	ops := map[string]providertest.Op{}
	for _, ip := range []string{"10.0.0.101", "2001:db8:a::101"} {
		a := netip.MustParseAddr(ip)
		ops["check "+ip] = func(ctx context.Context) error { _, err := p.Check(ctx, a); return err }
		ops["claim "+ip] = func(ctx context.Context) error { return p.Claim(ctx, a) }
	}
	providertest.FeedMalformed(t, w.f, faults, ops)
}

// Exit reasons are one line: the status, OCI's code and message and the
// opc-request-id, not the SDK's several lines of troubleshooting tips.
func TestErrorsAreOneLine(t *testing.T) {
	w := newWorld(t)
	w.f.Inject(ocifake.Fault{Method: "GET", Path: "/20160918/vnics/", Status: 404, Code: "NotAuthorizedOrNotFound"})
	err := w.open(t, nil).Claim(ctx(t, 3*time.Second), netip.MustParseAddr("10.0.0.101"))
	msg := err.Error()
	if strings.Contains(msg, "\n") || len(msg) > 400 || !strings.Contains(msg, "HTTP 404 NotAuthorizedOrNotFound: injected fault (request fake/") {
		t.Fatalf("exit reason (%d bytes): %q", len(msg), msg)
	}
}
