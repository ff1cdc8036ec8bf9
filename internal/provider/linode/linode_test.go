package linode

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud/linodefake"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/provider/providertest"
	"github.com/cloudvip/floatip/ocf"
)

const token = "lin-token-0123456789abcdef"

func TestMain(m *testing.M) {
	os.Setenv(provider.ForbidRealEndpoints, "1")
	os.Exit(m.Run())
}

var dl = providertest.Deadline

// world: Linode 101 (us, from 127.0.0.1) owns 198.51.100.1; 102 owns
// 198.51.100.2 and the VIP 198.51.100.10; 103 owns 198.51.100.3 and
// 198.51.100.20, which 101 already shares; 104 is in another region.
func world(t *testing.T) (*linodefake.Fake, string) {
	f := linodefake.New(token)
	f.AddLinode(101, "us-east", "127.0.0.1", "198.51.100.1")
	f.AddLinode(102, "us-east", "", "198.51.100.2", "198.51.100.10")
	f.AddLinode(103, "us-east", "", "198.51.100.3", "198.51.100.20")
	f.AddLinode(104, "eu-west", "", "203.0.113.4", "203.0.113.40")
	f.Share(101, "198.51.100.20")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(f.Close)
	return f, srv.URL
}

func openL(t *testing.T, url string, extra map[string]string) provider.Provider {
	t.Helper()
	return openIn(t, url, t.TempDir(), extra)
}

// openIn opens the provider with cache as its state directory.
func openIn(t *testing.T, url, cache string, extra map[string]string) provider.Provider {
	t.Helper()
	tf := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tf, []byte(token), 0o600)
	return providertest.Open(t, Spec, map[string]string{"api_url": url, "metadata_url": url, "token_file": tf}, extra, cache, nil)
}

func TestShareMergesAndIsIdempotent(t *testing.T) {
	f, url := world(t)
	p := openL(t, url, nil)
	if err := p.Claim(dl(t, 5*time.Second), netip.MustParseAddr("198.51.100.10")); err != nil {
		t.Fatal(err)
	}
	got := f.Shared(101)
	sort.Strings(got)
	if strings.Join(got, ",") != "198.51.100.10,198.51.100.20" {
		t.Fatalf("shared set %v: the existing share was dropped or the VIP not added", got)
	}
	if f.Owner("198.51.100.10") != 102 {
		t.Fatal("sharing changed the owner")
	}
	f.ResetCounts()
	if err := p.Claim(dl(t, 5*time.Second), netip.MustParseAddr("198.51.100.10")); err != nil {
		t.Fatal(err)
	}
	if n := f.Count("POST"); n != 0 {
		t.Fatalf("%d writes for an address already shared", n)
	}
	// On the owner nothing is shared.
	if err := p.Claim(dl(t, 5*time.Second), netip.MustParseAddr("198.51.100.1")); err != nil || f.Count("POST") != 0 {
		t.Fatalf("claim of an owned address: %v, %d writes", err, f.Count("POST"))
	}
	h, err := p.Check(dl(t, 5*time.Second), netip.MustParseAddr("198.51.100.10"))
	if err != nil || h.Where != provider.Here {
		t.Fatalf("check: %v %v", h, err)
	}
	// Another region is a fact about this Linode (5), not the configuration.
	if err := p.Claim(dl(t, 5*time.Second), netip.MustParseAddr("203.0.113.40")); ocf.StatusOf(err) != ocf.ErrInstalled || !errors.Is(err, provider.ErrCannotHold) || !strings.Contains(err.Error(), "same region") {
		t.Fatalf("another region: %v (%v)", err, ocf.StatusOf(err))
	}
}

func TestAssignWaitsUntilListed(t *testing.T) {
	f, url := world(t)
	f.AssignDelay = 300 * time.Millisecond
	p := openL(t, url, map[string]string{"linode_mode": "assign"})
	t0 := time.Now()
	if err := p.Claim(dl(t, 5*time.Second), netip.MustParseAddr("198.51.100.10")); err != nil {
		t.Fatal(err)
	}
	if time.Since(t0) < 300*time.Millisecond || f.Owner("198.51.100.10") != 101 {
		t.Fatalf("returned after %v with owner %d", time.Since(t0), f.Owner("198.51.100.10"))
	}
	h, err := p.Check(dl(t, 5*time.Second), netip.MustParseAddr("198.51.100.2"))
	if err != nil || h.String() != "taken by Linode 102" {
		t.Fatalf("check: %v %v", h, err)
	}
	// A shared address cannot be assigned; a Linode must keep an IPv4.
	if err := p.Claim(dl(t, 3*time.Second), netip.MustParseAddr("198.51.100.20")); ocf.StatusOf(err) != ocf.ErrConfigured {
		t.Fatalf("assigning a shared address: %v", err)
	}
	f.AddLinode(105, "us-east", "", "198.51.100.50")
	if err := p.Claim(dl(t, 3*time.Second), netip.MustParseAddr("198.51.100.50")); ocf.StatusOf(err) != ocf.ErrConfigured || !strings.Contains(err.Error(), "public IPv4") {
		t.Fatalf("taking a Linode's last address: %v", err)
	}
	// Too slow for the deadline: 1, with advice.
	f.AssignDelay = time.Minute
	f.AddLinode(106, "us-east", "", "198.51.100.6", "198.51.100.60")
	err = p.Claim(dl(t, time.Second), netip.MustParseAddr("198.51.100.60"))
	if ocf.StatusOf(err) != ocf.ErrGeneric || !strings.Contains(err.Error(), "start timeout") {
		t.Fatalf("slow move: %v", err)
	}
}

// The conformance suite covers the fault classes; here, what Linode's
// errors must say: the fix, and never the token.
func TestErrorsSayTheFix(t *testing.T) {
	for _, tc := range []struct {
		fault  linodefake.Fault
		status ocf.Status
		reason string
	}{
		{linodefake.Fault{Path: "/v4/", Status: 401}, ocf.ErrPerm, "refused the token"},
		{linodefake.Fault{Path: "/v1/", Status: 500}, ocf.ErrGeneric, "set linode_id"},
	} {
		f, url := world(t)
		f.Inject(tc.fault)
		err := openL(t, url, nil).Claim(dl(t, time.Second), netip.MustParseAddr("198.51.100.10"))
		if ocf.StatusOf(err) != tc.status || !strings.Contains(err.Error(), tc.reason) || strings.Contains(err.Error(), token) {
			t.Errorf("%d on %s: %v (%v), want %v saying %q, without the token", tc.fault.Status, tc.fault.Path, err, ocf.StatusOf(err), tc.status, tc.reason)
		}
	}
}

func TestTokenAndParams(t *testing.T) {
	_, url := world(t)
	p := openL(t, url, map[string]string{"token_file": "/nonexistent/linode.token"})
	if err := p.Claim(dl(t, time.Second), netip.MustParseAddr("198.51.100.10")); ocf.StatusOf(err) != ocf.ErrInstalled {
		t.Fatalf("missing token file: %v", err)
	}
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"linode_mode": "anycast"}, "linode_mode=anycast is unknown"},
		{map[string]string{"linode_mode": "bgp", "bgp_hold": "2"}, "bgp_hold=2 is below"},
		{map[string]string{"linode_mode": "bgp", "bgp_peers": "2001:db8:34::1,rs2"}, `bgp_peers=2001:db8:34::1,rs2: "rs2" is not an IP address`},
		{map[string]string{"linode_mode": "bgp", "bgp_bfd": "maybe"}, "bgp_bfd"},
		{map[string]string{"linode_mode": "bgp", "frr_vty_dir": "run/frr"}, "frr_vty_dir=run/frr is not an absolute path"},
		{map[string]string{"linode_mode": "bgp", "linode_dc_id": "0"}, "linode_dc_id=0"},
		{map[string]string{"linode_id": "x"}, "linode_id=x"},
		{map[string]string{"api_url": "http://127.0.0.1:1/v4"}, "api_url="},
		{map[string]string{"metadata_url": "http://127.0.0.1:1"}, "is the real endpoint"},
	} {
		_, err := Spec.Open(providertest.Get(tc.params), provider.Env{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.params, err, tc.want)
		}
	}
}

// Two VIPs started at once on one Linode (Pacemaker starts independent
// resources in parallel): each start is its own process reading, merging
// and writing the whole shared set. With API latency both read the same
// set; without the per-Linode lock the second write drops the first VIP.
func TestShareConcurrentStarts(t *testing.T) {
	f, url := world(t)
	f.Latency = 50 * time.Millisecond
	cache := t.TempDir()
	vips := []string{"198.51.100.10", "198.51.100.2"}
	errs := make(chan error, len(vips))
	for _, v := range vips {
		p := openIn(t, url, cache, nil) // one provider per start, as one process each
		go func() { errs <- p.Claim(dl(t, 10*time.Second), netip.MustParseAddr(v)) }()
	}
	for range vips {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Serialised, each start writes once (racing, one write is redone).
	wantShared(t, f, "198.51.100.10,198.51.100.2,198.51.100.20", 2)
}

// wantShared checks Linode 101's shared set and how many share writes made it.
func wantShared(t *testing.T, f *linodefake.Fake, set string, writes int) {
	t.Helper()
	got := f.Shared(101)
	sort.Strings(got)
	if strings.Join(got, ",") != set {
		t.Fatalf("shared set %v, want %s: a VIP or an existing share was dropped", got, set)
	}
	if n := f.Count("POST /v4/networking/ips/share"); n != writes {
		t.Fatalf("%d share writes, want %d", n, writes)
	}
}

// A share the API answers 200 without applying (or that another writer
// replaced at once) is found missing on the read-back and written again.
func TestShareReadsBack(t *testing.T) {
	f, url := world(t)
	f.Inject(linodefake.Fault{Method: "POST", Path: "/v4/networking/ips/share", Body: "{}", Times: 1})
	p := openL(t, url, nil)
	if err := p.Claim(dl(t, 5*time.Second), netip.MustParseAddr("198.51.100.10")); err != nil {
		t.Fatal(err)
	}
	wantShared(t, f, "198.51.100.10,198.51.100.20", 2) // the lost write merged again
}

// TestMalformedAnswers: 200s without the object they should carry are
// transient. In share mode an answer without "ipv4" must never be read as
// an empty shared set: the write would drop what others shared.
func TestMalformedAnswers(t *testing.T) {
	f, url := world(t)
	faults := []linodefake.Fault{
		{Method: "GET", Path: "/v4/linode/instances/101/ips", Body: "{}"},
		{Method: "GET", Path: "/v4/linode/instances/101/ips", Body: `{"ipv4":{"public":[null]}}`},
		{Method: "GET", Path: "/v4/networking/ips/", Body: "{}"},
	}
	ops := map[string]providertest.Op{}
	for _, mode := range []string{"share", "assign"} {
		p := openL(t, url, map[string]string{"linode_id": "101", "linode_mode": mode})
		vip := netip.MustParseAddr("198.51.100.10")
		ops["check "+mode] = func(ctx context.Context) error { _, err := p.Check(ctx, vip); return err }
		ops["claim "+mode] = func(ctx context.Context) error {
			f.Share(101, "198.51.100.20") // back to the existing share only
			return p.Claim(ctx, vip)
		}
	}
	providertest.FeedMalformed(t, f, faults, ops)
	if got := f.Shared(101); !has(got, "198.51.100.20") {
		t.Fatalf("shared set %v: the existing share was dropped", got)
	}
}

// Exit reasons are one line with the status and Linode's reasons.
func TestErrorsAreOneLine(t *testing.T) {
	_, url := world(t)
	err := openL(t, url, map[string]string{"linode_mode": "assign"}).Claim(dl(t, 3*time.Second), netip.MustParseAddr("198.51.100.20"))
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "HTTP 400: [address] 198.51.100.20 is shared and cannot be assigned") {
		t.Fatalf("exit reason: %q", msg)
	}
}
