// Small session keys keep an execution fast: the fuzz build instruments
// crypto/rsa too, and parsing a 1024-bit key took most of FuzzSession's
// 30 ms an execution.
//
//go:debug rsa1024min=0

package oci

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
)

// jwt is an instance-principal token whose payload says exp.
func jwt(exp int64) string {
	payload := fmt.Sprintf(`{"sub":"ocid1.instance.oc1.phx.fuzz","iss":"authService.oracle.com","exp":%d}`, exp)
	return "eyJhbGciOiJSUzI1NiIsImtpZCI6ImFzdyJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2lnbmF0dXJl"
}

// fuzzKey is one small session key for all executions (see rsa1024min
// above): every cached session of an execution is parsed and every request
// signed with it.
func fuzzKey(f *testing.F) *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		f.Fatal(err)
	}
	return key
}

// answer is a loopback server whose every answer is body (200), set per
// execution.
type answer struct {
	body  atomic.Pointer[[]byte]
	count atomic.Int64
	url   string
}

func newAnswer(f *testing.F) *answer {
	a := &answer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.count.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if b := a.body.Load(); b != nil {
			w.Write(*b)
		}
	}))
	f.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

func (a *answer) set(b []byte) { a.body.Store(&b); a.count.Store(0) }

// FuzzSession checks the instance-principal session cache: a token's
// expiry is read from its payload (and only from a three-part token), a
// cache file is used only while it has more than sessionMargin to live and
// with a key that parses, and a saved session loads back field for field.
func FuzzSession(f *testing.F) {
	key := fuzzKey(f)
	der := x509.MarshalPKCS1PrivateKey(key)
	far := time.Now().Add(24 * time.Hour).Unix()
	good, _ := json.Marshal(session{Token: jwt(far), Key: []byte("not a key"), Region: "us-phoenix-1", Tenancy: "ocid1.tenancy.oc1..faketenancy", Expires: far})
	for _, s := range []struct {
		token        string
		exp          int64
		region, ten  string
		cache        []byte
		cacheExpires int64
	}{
		{jwt(far), far, "us-phoenix-1", "ocid1.tenancy.oc1..faketenancy", good, 0},
		{jwt(1), 1, "xx-fake-1", "", []byte(`{"token":"a.b.c","key":"AAAA","expires":9999999999}`), 0},
		{"a.b", 0, "", "", []byte(`{}`), 0},
		{"a." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1.5e9}`)) + ".c", 1500000000, "eu-frankfurt-1", "t", []byte("null"), 0},
		{"..", -1, "\xff", "ocid1.tenancy", []byte(`{"token":"x","key":null,"expires":-1}`), 0},
		{jwt(time.Now().Add(4 * time.Minute).Unix()), time.Now().Add(4 * time.Minute).Unix(), "r", "t", good, time.Now().Add(4 * time.Minute).Unix()},
		{jwt(1 << 62), 1 << 62, "r", "t", good, 1<<63 - 1},
	} {
		f.Add(s.token, s.exp, s.region, s.ten, s.cache, s.cacheExpires)
	}
	dir := f.TempDir()
	cacheFile := filepath.Join(dir, "floatip-"+sessionName)
	f.Fuzz(func(t *testing.T, token string, exp int64, region, tenancy string, cache []byte, cacheExpires int64) {
		if len(token)+len(region)+len(tenancy)+len(cache) > 512 {
			// See maxInput in ../linode/fuzz_test.go: minimizing is
			// quadratic in the input's size. A cache with a key that
			// parses is the round trip's, below.
			return
		}
		// Expiry from a token.
		if got := tokenExpiry(token); !got.IsZero() {
			parts := strings.Split(token, ".")
			if len(parts) != 3 || got.Unix() == 0 {
				t.Fatalf("tokenExpiry(%q) = %v from %d parts", token, got, len(parts))
			}
		}
		if got := tokenExpiry(jwt(exp)); (exp == 0) != got.IsZero() || (exp != 0 && got.Unix() != exp) {
			t.Fatalf("a token with exp %d: expiry %v (Unix %d)", exp, got, got.Unix())
		}

		// Whatever the cache file holds (with cacheExpires, when set,
		// patched in where it decodes).
		if cacheExpires != 0 {
			var s session
			if json.Unmarshal(cache, &s) == nil {
				s.Expires = cacheExpires
				cache, _ = json.Marshal(s)
			}
		}
		if err := os.WriteFile(cacheFile, cache, 0o600); err != nil {
			t.Fatal(err)
		}
		o := &OCI{env: provider.Env{Log: &logs{}, Cache: dir}}
		if cp := o.cachedSession(); cp != nil {
			sp := cp.(sessionProvider)
			if sp.key == nil || time.Until(time.Unix(sp.s.Expires, 0)) < sessionMargin {
				t.Fatalf("cache %q used: key %v, expires %v", cache, sp.key != nil, time.Unix(sp.s.Expires, 0))
			}
			if id, _ := cp.KeyID(); id != "ST$"+sp.s.Token {
				t.Fatalf("cache %q: key id %q for token %q", cache, id, sp.s.Token)
			}
		}

		// A session saved loads back, while it has time to live.
		os.Remove(cacheFile)
		o.saveSession(sessionProvider{s: session{Token: jwt(exp), Region: region, Tenancy: tenancy}, key: key})
		cp := o.cachedSession()
		left := time.Until(time.Unix(exp, 0))
		switch {
		case exp == 0:
			if cp != nil {
				t.Fatal("a token without exp was kept")
			}
		case left > sessionMargin+time.Minute:
			if cp == nil {
				t.Fatalf("a session with %v to live was not kept", left)
			}
			sp := cp.(sessionProvider)
			want := session{Token: jwt(exp), Key: der, Region: region, Tenancy: tenancy, Expires: exp}
			if !utf8.ValidString(region) || !utf8.ValidString(tenancy) {
				want.Region, want.Tenancy = sp.s.Region, sp.s.Tenancy // JSON keeps text only
			}
			if sp.s.Token != want.Token || string(sp.s.Key) != string(want.Key) || sp.s.Region != want.Region ||
				sp.s.Tenancy != want.Tenancy || sp.s.Expires != want.Expires || !sp.key.Equal(key) {
				t.Fatalf("saved %+v, loaded %+v", want, sp.s)
			}
		case left < sessionMargin-time.Minute:
			if cp != nil {
				t.Fatalf("a session with %v to live was used", left)
			}
		}
	})
}

// FuzzVnics checks how the metadata service's VNIC list (IMDS
// /opc/v2/vnics/) picks the VNIC, MAC and prefix for an address: the
// VNIC chosen has a subnet of the address's family that contains it and
// the prefix is that subnet's; vnic_id always wins; a list that does not
// decode is a transient failure, one without a matching subnet says the
// node cannot hold the address; and asking twice answers the same (the
// list is read once per action).
func FuzzVnics(f *testing.F) {
	for _, s := range []struct {
		body   string
		ip     string
		vnicID string
	}{
		{`[{"vnicId":"ocid1.vnic.oc1.phx.a","privateIp":"10.0.0.11","macAddr":"02:00:17:00:00:11","subnetCidrBlock":"10.0.0.0/24","virtualRouterIp":"10.0.0.1","vlanTag":0,"ipv6Addresses":["2001:db8:a::11"],"ipv6SubnetCidrBlock":"2001:db8:a::/64"}]`, "10.0.0.100", ""},
		{`[{"vnicId":"ocid1.vnic.oc1.phx.a","macAddr":"02:00:17:00:00:11","subnetCidrBlock":"10.0.0.0/24","ipv6SubnetCidrBlock":"2001:db8:a::/64"},{"vnicId":"ocid1.vnic.oc1.phx.b","macAddr":"02:00:17:00:00:12","subnetCidrBlock":"10.0.1.0/24"}]`, "10.0.1.7", ""},
		{`[{"vnicId":"ocid1.vnic.oc1.phx.a","macAddr":"02:00:17:00:00:11","subnetCidrBlock":"10.0.0.0/24","ipv6SubnetCidrBlock":"2001:db8:a::/64"}]`, "2001:db8:a::5", ""},
		{`[{"vnicId":"ocid1.vnic.oc1.phx.a","macAddr":"02:00:17:00:00:11","subnetCidrBlock":"10.0.0.0/24"}]`, "10.0.9.9", ""},
		{`[{"vnicId":"ocid1.vnic.oc1.phx.a","macAddr":"02:00:17:00:00:11","subnetCidrBlock":"not-a-cidr"}]`, "10.0.0.5", "ocid1.vnic.oc1.phx.a"},
		{`[{"vnicId":"ocid1.vnic.oc1.phx.a"}]`, "10.0.0.5", "ocid1.vnic.oc1.phx.elsewhere"},
		{`[{"vnicId":1}]`, "10.0.0.5", ""},
		{`[{},{"vnicId":"x","subnetCidrBlock":"0.0.0.0/0"},5]`, "192.0.2.1", ""},
		{`{}`, "10.0.0.5", ""},
		{`null`, "10.0.0.5", ""},
		{``, "fe80::1%eth0", ""},
	} {
		f.Add([]byte(s.body), s.ip, s.vnicID)
	}
	srv := newAnswer(f)
	f.Fuzz(func(t *testing.T, body []byte, ip, vnicID string) {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return
		}
		srv.set(body)
		o := &OCI{Metadata: srv.url, VnicID: vnicID, env: provider.Env{Log: &logs{}}}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		id, mac, prefix, err := o.vnic(ctx, a)
		id2, mac2, prefix2, err2 := o.vnic(ctx, a)
		if id != id2 || mac != mac2 || prefix != prefix2 || fmt.Sprint(err) != fmt.Sprint(err2) {
			t.Fatalf("%q for %v: %q %q %d %v, then %q %q %d %v", body, a, id, mac, prefix, err, id2, mac2, prefix2, err2)
		}
		var vnics []metaVnic
		decodes := json.Unmarshal(body, &vnics) == nil
		switch {
		case !decodes:
			if err == nil || ocf.StatusOf(err) != ocf.ErrGeneric {
				t.Fatalf("%q does not decode, yet %q %q %d %v (%v)", body, id, mac, prefix, err, ocf.StatusOf(err))
			}
		case vnicID != "":
			if err != nil || id != vnicID {
				t.Fatalf("vnic_id %q, %q: %q %v", vnicID, body, id, err)
			}
		case err != nil:
			if ocf.StatusOf(err) != ocf.ErrInstalled || !errors.Is(err, provider.ErrCannotHold) {
				t.Fatalf("%q for %v: %v (%v), want ERR_INSTALLED and ErrCannotHold", body, a, err, ocf.StatusOf(err))
			}
			for _, v := range vnics {
				for _, c := range []string{v.Subnet, v.Subnet6} {
					if p, err := netip.ParsePrefix(c); err == nil && p.Contains(a) {
						t.Fatalf("%q for %v: %v, but %s contains it", body, a, err, c)
					}
				}
			}
		default:
			ok := false
			for _, v := range vnics {
				c := v.Subnet
				if a.Is6() {
					c = v.Subnet6
				}
				if p, err := netip.ParsePrefix(c); err == nil && v.VnicID == id && v.MAC == mac && p.Contains(a) && p.Bits() == prefix {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("%q for %v: VNIC %q MAC %q /%d, which no entry gives", body, a, id, mac, prefix)
			}
		}
		if prefix < 0 || prefix > a.BitLen() {
			t.Fatalf("%q for %v: prefix %d", body, a, prefix)
		}
	})
}

// FuzzLookup checks the reading of ListPrivateIps / ListIpv6s answers
// (the SDK decodes, lookup picks): an address is found exactly when an
// item with an id carries it (a later item winning), with that item's id,
// VNIC and primary flag, and an IPv6 item whose address does not parse
// fails the lookup; every answer is dealt with within the deadline.
func FuzzLookup(f *testing.F) {
	for _, s := range []struct{ body, ip string }{
		{`[{"id":"ocid1.privateip.oc1.phx.a","ipAddress":"10.0.0.100","vnicId":"ocid1.vnic.oc1.phx.b","subnetId":"ocid1.subnet.oc1.phx.s","isPrimary":false,"timeCreated":"2026-01-01T00:00:00.000Z","ipState":"ASSIGNED","lifetime":"EPHEMERAL","availabilityDomain":"fake:AD-1"}]`, "10.0.0.100"},
		{`[{"id":"ocid1.privateip.oc1.phx.p","ipAddress":"10.0.0.11","vnicId":"ocid1.vnic.oc1.phx.a","isPrimary":true}]`, "10.0.0.11"},
		{`[{"id":"ocid1.ipv6.oc1.phx.a","ipAddress":"2001:db8:a::100","vnicId":"ocid1.vnic.oc1.phx.b","lifecycleState":"AVAILABLE"}]`, "2001:db8:a::100"},
		{`[{"id":"ocid1.ipv6.oc1.phx.a","ipAddress":"2001:DB8:A:0::100","vnicId":"ocid1.vnic.oc1.phx.b"}]`, "2001:db8:a::100"},
		{`[{"id":"ocid1.ipv6.x","ipAddress":"not-an-address","vnicId":"x"}]`, "2001:db8:a::101"},
		{`[{"ipAddress":"10.0.0.100","vnicId":"ocid1.vnic.oc1.phx.b"},{"id":"second","ipAddress":"10.0.0.100"}]`, "10.0.0.100"},
		{`[]`, "10.0.0.100"},
		{`{}`, "10.0.0.100"},
		{`[{"id":"a","ipAddress":"10.0.0.100","timeCreated":"yesterday"}]`, "10.0.0.100"},
	} {
		f.Add([]byte(s.body), s.ip)
	}
	key := fuzzKey(f)
	far := time.Now().Add(24 * time.Hour).Unix()
	srv := newAnswer(f)
	o := &OCI{Auth: "instance_principal", API: srv.url, env: provider.Env{Log: &logs{}, Cache: f.TempDir()}}
	o.saveSession(sessionProvider{s: session{Token: jwt(far), Region: "us-phoenix-1", Tenancy: tenancy}, key: key})
	c, err := o.api(context.Background())
	if err != nil || !o.cached {
		f.Fatalf("client from the cached session: %v (cached %v)", err, o.cached)
	}
	f.Fuzz(func(t *testing.T, body []byte, ip string) {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return
		}
		srv.set(body)
		const budget = 20 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()
		t0 := time.Now()
		found, err := o.lookup(ctx, c, a, "ocid1.subnet.oc1.phx.fuzz")
		if took := time.Since(t0); took > budget+time.Second {
			t.Fatalf("%q: lookup took %v with a %v deadline", body, took, budget)
		}
		var items []struct {
			ID        *string `json:"id"`
			IPAddress *string `json:"ipAddress"`
			VnicID    *string `json:"vnicId"`
			IsPrimary *bool   `json:"isPrimary"`
		}
		if json.Unmarshal(body, &items) != nil {
			return // the SDK's decoding is the SDK's
		}
		var want *addr
		badV6 := false
		for _, it := range items {
			s := deref(it.IPAddress)
			match := s == a.String()
			if a.Is6() {
				p, perr := netip.ParseAddr(s)
				badV6 = badV6 || perr != nil
				match = perr == nil && p == a
			}
			if match && it.ID != nil {
				want = &addr{id: *it.ID, vnic: deref(it.VnicID), primary: a.Is4() && it.IsPrimary != nil && *it.IsPrimary}
			}
		}
		if err != nil {
			return // e.g. a field the SDK reads and this test does not
		}
		if badV6 {
			t.Fatalf("%q: an IPv6 item whose address does not parse, yet found %+v", body, found)
		}
		if (found == nil) != (want == nil) || (found != nil && *found != *want) {
			t.Fatalf("%q for %v: found %+v, want %+v", body, a, found, want)
		}
	})
}
