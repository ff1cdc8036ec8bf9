package digitalocean

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud/dofake"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/provider/providertest"
	"github.com/cloudvip/floatip/ocf"
)

const token = "dop_v1_testtoken0123456789"

func TestMain(m *testing.M) {
	os.Setenv(provider.ForbidRealEndpoints, "1")
	os.Exit(m.Run())
}

type logs = providertest.Log

var deadline = providertest.Deadline

// world is a fake with three droplets (101 is us, from 127.0.0.1; 102 and
// 103 are others) and reserved IPs: 203.0.113.10 on nobody, 203.0.113.11 on
// 102, 203.0.113.12 on 103, 2001:db8:10::1 on 102. A droplet holds at most
// one reserved IPv4, so 101 starts with none.
func world(t *testing.T) (*dofake.Fake, string, *logs) {
	t.Helper()
	f := dofake.New(token)
	f.AddDroplet(101, "127.0.0.1")
	f.AddDroplet(102, "")
	f.AddDroplet(103, "")
	f.AddIP("203.0.113.10", "fra1", 0)
	f.AddIP("203.0.113.11", "fra1", 102)
	f.AddIP("203.0.113.12", "fra1", 103)
	f.AddIP("2001:db8:10::1", "fra1", 102)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	return f, srv.URL, &logs{}
}

func tokenFile(t *testing.T, content string, mode os.FileMode) string {
	p := filepath.Join(t.TempDir(), "do.token")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, mode)
	return p
}

func openDO(t *testing.T, url string, l *logs, extra map[string]string) provider.Provider {
	t.Helper()
	return providertest.Open(t, Spec, map[string]string{"api_url": url, "metadata_url": url, "token_file": tokenFile(t, token+"\n", 0o600)}, extra, "", l)
}

func TestClaimMoves(t *testing.T) {
	for _, tc := range []struct {
		ip        string
		from      int
		actionGET string
	}{
		{"203.0.113.10", 0, "GET /v2/reserved_ips/203.0.113.10/actions/"},
		{"203.0.113.11", 102, "GET /v2/reserved_ips/203.0.113.11/actions/"},
		{"2001:db8:10::1", 102, "GET /v2/actions/"},
	} {
		t.Run(tc.ip, func(t *testing.T) {
			f, url, l := world(t)
			f.ActionTime = 150 * time.Millisecond
			p := openDO(t, url, l, nil)
			if err := p.Claim(deadline(t, 5*time.Second), netip.MustParseAddr(tc.ip)); err != nil {
				t.Fatalf("claim: %v\n%s", err, l)
			}
			if h := f.Holder(tc.ip); h != 101 {
				t.Fatalf("holder %d after claim, want 101", h)
			}
			post := "POST /v2/reserved_ips/"
			if strings.Contains(tc.ip, ":") {
				post = "POST /v2/reserved_ipv6/"
			}
			if n := f.Count(post); n != 1 {
				t.Fatalf("%d assign requests, want 1", n)
			}
			if n := f.Count(tc.actionGET); n < 1 {
				t.Fatalf("action never polled at %s", tc.actionGET)
			}
			if f.Count("GET /metadata/v1/id") != 1 {
				t.Fatalf("droplet id not taken from the metadata service")
			}
			if !strings.Contains(l.String(), "to droplet 101") {
				t.Fatalf("no move logged:\n%s", l)
			}
		})
	}
}

// TestClaimFaults: what is DigitalOcean's own (the conformance suite covers
// the fault classes): a 429's Retry-After on an assign, bad tokens named
// without the token, an errored action, the droplet_id hint.
func TestClaimFaults(t *testing.T) {
	ip := netip.MustParseAddr("203.0.113.11")
	for _, tc := range []struct {
		name    string
		setup   func(*dofake.Fake)
		budget  time.Duration
		status  ocf.Status
		reason  string // in the error
		minTime time.Duration
	}{
		{"429 honours Retry-After", func(f *dofake.Fake) {
			f.Inject(dofake.Fault{Method: "POST", Status: 429, RetryAfter: 1, Times: 1})
		}, 5 * time.Second, ocf.Success, "", time.Second},
		{"401 bad token", func(f *dofake.Fake) { f.Token = "other" }, 5 * time.Second, ocf.ErrPerm, "refused the token", 0},
		{"403 forbidden", func(f *dofake.Fake) {
			f.Inject(dofake.Fault{Path: "/v2/", Status: 403})
		}, 5 * time.Second, ocf.ErrPerm, "refused the token", 0},
		{"errored action", func(f *dofake.Fake) { f.FailActions = 1 }, 5 * time.Second, ocf.ErrGeneric, "errored", 0},
		{"metadata down", func(f *dofake.Fake) {
			f.Inject(dofake.Fault{Path: "/metadata/", Status: 500})
		}, time.Second, ocf.ErrGeneric, "set droplet_id", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, url, l := world(t)
			tc.setup(f)
			p := openDO(t, url, l, nil)
			t0 := time.Now()
			err := p.Claim(deadline(t, tc.budget), ip)
			took := time.Since(t0)
			if got := ocf.StatusOf(err); got != tc.status {
				t.Fatalf("status %v (%v), want %v\n%s", got, err, tc.status, l)
			}
			if err != nil && !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %q does not mention %q", err, tc.reason)
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Fatal("the token leaked into an error")
			}
			if took < tc.minTime || took > tc.budget+500*time.Millisecond {
				t.Fatalf("took %v (budget %v, at least %v)", took, tc.budget, tc.minTime)
			}
			if tc.status == ocf.Success && f.Holder(ip.String()) != 101 {
				t.Fatal("claim succeeded but the IP did not move")
			}
		})
	}
}

// TestPendingEvent: another droplet's assign is in progress; ours gets 422
// "pending event" until it completes, then moves the IP to us.
func TestPendingEvent(t *testing.T) {
	f, url, l := world(t)
	f.ActionTime = 400 * time.Millisecond
	f.AddDroplet(104, "")
	other := openDO(t, url, l, map[string]string{"droplet_id": "104"})
	f.AddIP("203.0.113.20", "fra1", 0)
	ctx := deadline(t, 5*time.Second)
	done := make(chan error)
	go func() { done <- other.Claim(ctx, netip.MustParseAddr("203.0.113.20")) }()
	for f.Count("POST") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	me := openDO(t, url, l, map[string]string{"droplet_id": "101"})
	if err := me.Claim(ctx, netip.MustParseAddr("203.0.113.20")); err != nil {
		t.Fatalf("claim after a pending event: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h := f.Holder("203.0.113.20"); h != 101 {
		t.Fatalf("holder %d, want 101 (the later claim)", h)
	}
	if f.Count("POST") < 3 {
		t.Fatalf("want at least one 422 before our assign went through: %d POSTs", f.Count("POST"))
	}
}

func TestTokenFile(t *testing.T) {
	_, url, l := world(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		path   func() string
		status ocf.Status
		reason string
	}{
		{"missing", func() string { return filepath.Join(dir, "none") }, ocf.ErrInstalled, "does not exist"},
		{"world readable", func() string { return tokenFile(t, token, 0o644) }, ocf.ErrPerm, "chmod 600"},
		{"group readable", func() string { return tokenFile(t, token, 0o640) }, ocf.ErrPerm, "chmod 600"},
		{"empty", func() string { return tokenFile(t, "\n", 0o600) }, ocf.ErrInstalled, "exactly one token"},
		{"two words", func() string { return tokenFile(t, token+" "+token, 0o400) }, ocf.ErrInstalled, "exactly one token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := openDO(t, url, l, map[string]string{"token_file": tc.path()})
			err := p.Claim(deadline(t, time.Second), netip.MustParseAddr("203.0.113.10"))
			if ocf.StatusOf(err) != tc.status || !strings.Contains(err.Error(), tc.reason) || strings.Contains(err.Error(), token) {
				t.Fatalf("%v (%v), want %v with %q and no token", err, ocf.StatusOf(err), tc.status, tc.reason)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	f, url, l := world(t)
	p := openDO(t, url, l, nil)
	if err := p.Validate(deadline(t, 2*time.Second), netip.MustParseAddr("203.0.113.10")); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(deadline(t, 2*time.Second), netip.MustParseAddr("198.51.100.1")); ocf.StatusOf(err) != ocf.ErrConfigured {
		t.Fatalf("unknown IP: %v", err)
	}
	f.Token = "rotated"
	if err := p.Validate(deadline(t, 2*time.Second), netip.MustParseAddr("203.0.113.10")); ocf.StatusOf(err) != ocf.ErrPerm {
		t.Fatalf("bad token: %v", err)
	}
}

func TestDropletIDCachedPerBoot(t *testing.T) {
	f, url, l := world(t)
	cache := t.TempDir()
	spec := Spec
	params := map[string]string{"api_url": url, "metadata_url": url, "token_file": tokenFile(t, token, 0o600)}
	for i := 0; i < 3; i++ {
		p, _ := spec.Open(providertest.Get(params), provider.Env{Log: l, Cache: cache})
		if _, err := p.Check(deadline(t, 2*time.Second), netip.MustParseAddr("203.0.113.10")); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.Count("GET /metadata/"); n != 1 {
		t.Fatalf("metadata asked %d times for three actions, want 1", n)
	}
}

func TestParams(t *testing.T) {
	spec := Spec
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"api_url": "https://api.example.com/v2"}, "api_url="},
		{map[string]string{"api_url": "https://api.example.com/"}, "origin only"},
		{map[string]string{"metadata_url": "ftp://x"}, "metadata_url="},
		{map[string]string{"droplet_id": "abc"}, "droplet_id=abc"},
		{map[string]string{"token_file": "relative/path", "api_url": "http://127.0.0.1:1", "metadata_url": "http://127.0.0.1:1"}, "token_file="},
		{map[string]string{"metadata_url": "http://127.0.0.1:1"}, "api_url=https://api.digitalocean.com is the real endpoint"},
		{map[string]string{"api_url": "http://127.0.0.1:1"}, "metadata_url=http://169.254.169.254 is the real endpoint"},
	} {
		_, err := spec.Open(providertest.Get(tc.params), provider.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.params, err, tc.want)
		}
	}
	if l := spec.Local(netip.MustParseAddr("203.0.113.1")); l.Bind {
		t.Error("reserved IPv4 must not be bound locally")
	}
	if l := spec.Local(netip.MustParseAddr("2001:db8::1")); !l.Bind || l.NIC != "lo" || l.Prefix != 128 {
		t.Errorf("reserved IPv6 binds on lo/128: %+v", l)
	}
}

// TestRateLimit: the fake enforces the per-minute budget with DigitalOcean's
// headers, and the provider waits out the Retry-After it gets.
func TestRateLimit(t *testing.T) {
	f, url, l := world(t)
	f.PerMinute = 2
	req, _ := http.NewRequest("GET", url+"/v2/reserved_ips/203.0.113.10", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	var last *http.Response
	for i := 0; i < 3; i++ {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last = resp
		if resp.Header.Get("Ratelimit-Limit") != "5000" || resp.Header.Get("Ratelimit-Reset") == "" {
			t.Fatalf("rate-limit headers missing: %v", resp.Header)
		}
	}
	if last.StatusCode != 429 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %d, Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
	}
	p := openDO(t, url, l, map[string]string{"droplet_id": "101"})
	err := p.Claim(deadline(t, 2*time.Second), netip.MustParseAddr("203.0.113.10"))
	if ocf.StatusOf(err) != ocf.ErrGeneric || !strings.Contains(err.Error(), "429") {
		t.Fatalf("over the limit with a minute to wait and 2 s to go: %v", err)
	}
}

// TestMalformedAnswers: 200s without the object they should carry (an API
// glitch, a proxy answering {}) are transient, never a panic or a verdict.
func TestMalformedAnswers(t *testing.T) {
	f, url, l := world(t)
	f.ActionTime = 60 * time.Millisecond // claims poll their action
	p := openDO(t, url, l, map[string]string{"droplet_id": "101"})
	var faults []dofake.Fault
	for _, body := range []string{"{}", `{"reserved_ip":{"ip":"203.0.113.11","droplet":{}}}`} {
		faults = append(faults, dofake.Fault{Method: "GET", Path: "/v2/reserved_ip", Body: body})
	}
	for _, body := range []string{`{"action":null}`} {
		faults = append(faults, dofake.Fault{Method: "GET", Path: "/v2/actions/", Body: body}, dofake.Fault{Method: "GET", Path: "/v2/reserved_ips/203.0.113.11/actions/", Body: body})
	}
	ips := []string{"203.0.113.11", "2001:db8:10::1"}
	ops := map[string]providertest.Op{}
	for _, ip := range ips {
		a := netip.MustParseAddr(ip)
		ops["check "+ip] = func(ctx context.Context) error { _, err := p.Check(ctx, a); return err }
		ops["claim "+ip] = func(ctx context.Context) error {
			f.AddIP(ip, "fra1", 102) // back on 102, so every claim assigns and polls
			return p.Claim(ctx, a)
		}
	}
	providertest.FeedMalformed(t, f, faults, ops)
	// The assign's own answer without an action: confirmed through the IP.
	f.Inject(dofake.Fault{Method: "POST", Path: "/v2/reserved_ips/203.0.113.11/actions", Body: "{}", Lost: true, Times: 1})
	f.AddIP("203.0.113.11", "fra1", 102)
	if err := p.Claim(deadline(t, 5*time.Second), netip.MustParseAddr("203.0.113.11")); err != nil {
		t.Fatal(err)
	}
}

// Exit reasons are one line with the status, DigitalOcean's message and
// request id, not godo's method and URL.
func TestErrorsAreOneLine(t *testing.T) {
	f, url, l := world(t)
	f.Inject(dofake.Fault{Method: "POST", Status: 500})
	err := openDO(t, url, l, map[string]string{"droplet_id": "101"}).Claim(deadline(t, 500*time.Millisecond), netip.MustParseAddr("203.0.113.11"))
	msg := err.Error()
	if strings.Contains(msg, "\n") || strings.Contains(msg, "http://") || !regexp.MustCompile(`HTTP 500: Internal Server Error \(request [^)]+\)`).MatchString(msg) {
		t.Fatalf("exit reason: %q", msg)
	}
}
