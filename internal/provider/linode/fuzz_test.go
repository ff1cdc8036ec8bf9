package linode

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/provider/providertest"
	"github.com/cloudvip/floatip/ocf"
)

// maxInput bounds the answers a target tries (metadata answers are short).
// The fuzzer minimizes every new interesting input byte by byte, one
// execution (here two loopback requests) per try: for an input of a few
// KiB that took the whole -fuzzminimizetime, a minute without fuzzing.
const maxInput = 512

// FuzzIdentity checks how a Linode finds its id and region: linode_id in
// share mode needs nobody; a boot cache holding a positive id (linode_id's,
// when set) is used without a request; otherwise the metadata service's
// token and /v1/instance answers decide, the token sent back trimmed, the
// id positive and equal to linode_id when set (else a refusal naming
// linode_id), the region the answer's own; what it found is kept for the
// next action; and asking twice answers the same.
func FuzzIdentity(f *testing.F) {
	for _, s := range []struct {
		token, instance, cache string
		id                     int
		assign                 bool
	}{
		{"mdtoken-101-1", `{"id":101,"label":"linode101","region":"us-east","type":"g6-standard-1"}`, "", 0, false},
		{"mdtoken-101-1\n", `{"id":101,"region":"us-east"}`, "", 101, true},
		{"tok", `{"id":101,"region":"us-east"}`, "", 102, true},
		{"tok", `{"id":101}`, `{"id":5,"region":"eu-west"}`, 101, true},
		{"tok", `{"id":101,"region":"us-east"}`, `{"id":101,"region":"us-east"}`, 0, true},
		{"tok", `{"id":101,"region":"us-east"}`, `{"id":-1,"region":"x"}`, 0, false},
		{"tok", `{"id":0,"region":"us-east"}`, "", 0, false},
		{"tok", `{"id":"101"}`, "", 0, false},
		{"tok", `{"id":1e2}`, "", 0, false},
		{"tok", `[]`, "null", 0, false},
		{"to\x00k", `{"id":101}`, "", 0, false},
		{"", `{"id":101}`, "", 0, true},
	} {
		f.Add([]byte(s.token), []byte(s.instance), []byte(s.cache), s.id, s.assign)
	}
	var mu sync.Mutex
	var token, instance []byte
	var asked int
	var sent []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/v1/token":
			w.Write(token)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/instance":
			sent = append(sent, r.Header.Get("Metadata-Token"))
			w.Write(instance)
		default:
			http.NotFound(w, r)
		}
	}))
	f.Cleanup(srv.Close)
	requests := func() (int, []string) { mu.Lock(); defer mu.Unlock(); return asked, sent }
	dir := f.TempDir()
	cacheFile := filepath.Join(dir, "floatip-linode.instance")
	type inst struct {
		ID     int    `json:"id"`
		Region string `json:"region"`
	}
	f.Fuzz(func(t *testing.T, tok, answer, cache []byte, linodeID int, assign bool) {
		if len(tok)+len(answer)+len(cache) > maxInput {
			return
		}
		if linodeID < 0 || linodeID > 1<<31-1 {
			return // open refuses it
		}
		mu.Lock()
		token, instance, asked, sent = tok, answer, 0, nil
		mu.Unlock()
		os.Remove(cacheFile)
		if len(cache) > 0 {
			if err := os.WriteFile(cacheFile, cache, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		mode := "share"
		if assign {
			mode = "assign"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
		defer cancel()
		l := &Linode{Metadata: srv.URL, ID: linodeID, Mode: mode, env: provider.Env{Log: &providertest.Log{}, Cache: dir}}
		id, region, err := l.identity(ctx)
		if id2, region2, err2 := l.identity(ctx); id2 != id || region2 != region || (err2 == nil) != (err == nil) {
			t.Fatalf("%d %q %v, then %d %q %v", id, region, err, id2, region2, err2)
		}
		n, tokens := requests()
		in := map[string]any{"token": string(tok), "instance": string(answer), "cache": string(cache), "linode_id": linodeID, "mode": mode}

		if linodeID != 0 && !assign {
			if err != nil || id != linodeID || region != "" || n != 0 {
				t.Fatalf("%v: %d %q %v after %d requests, want linode_id and no request", in, id, region, err, n)
			}
			return
		}
		var c inst
		if json.Unmarshal(cache, &c) == nil && c.ID > 0 && (linodeID == 0 || linodeID == c.ID) {
			if err != nil || id != c.ID || region != c.Region || n != 0 {
				t.Fatalf("%v: %d %q %v after %d requests, want the cached %+v and no request", in, id, region, err, n, c)
			}
			return
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return // a slow machine, not an answer
		}
		var m inst
		good := json.Unmarshal(answer, &m) == nil && m.ID > 0
		switch {
		case len(tokens) > 0 && tokens[0] != strings.TrimSpace(string(tok)):
			t.Fatalf("%v: sent token %q", in, tokens[0])
		case !good || len(tokens) == 0:
			if err == nil {
				t.Fatalf("%v: %d %q accepted", in, id, region)
			}
		case linodeID != 0 && linodeID != m.ID:
			if ocf.StatusOf(err) != ocf.ErrConfigured || !strings.Contains(err.Error(), "linode_id=") {
				t.Fatalf("%v: %v (%v), want a refusal naming linode_id", in, err, ocf.StatusOf(err))
			}
		default:
			if err != nil || id != m.ID || region != m.Region {
				t.Fatalf("%v: %d %q %v, want the answer's %+v", in, id, region, err, m)
			}
			next := &Linode{Metadata: srv.URL, ID: linodeID, Mode: mode, env: provider.Env{Log: &providertest.Log{}, Cache: dir}}
			mu.Lock()
			asked = 0
			mu.Unlock()
			if id, region, err := next.identity(ctx); err != nil || id != m.ID || region != m.Region {
				t.Fatalf("%v: the next action found %d %q %v, want %+v", in, id, region, err, m)
			}
			if n, _ := requests(); n != 0 {
				t.Fatalf("%v: the next action asked the metadata service %d times", in, n)
			}
		}
	})
}

// FuzzShare checks share mode's read-merge-write of a Linode's shared set
// against any answer to GET /linode/instances/{id}/ips: an address (for
// IPv6, the account's range that holds it, 2001:db8:70::/64) already owned
// or shared is not written; an answer without the ipv4 or ipv6 object or
// with an entry without address or range writes nothing (the set would
// lose what others shared); a write keeps every address and IPv6 range the
// answer shared (ipv6.global entries not routed to this Linode's SLAAC)
// and adds the VIP or its range, for this Linode; an IPv6 address of no
// range is refused (6) without a write.
func FuzzShare(f *testing.F) {
	ip := func(a string) string {
		return `{"address":"` + a + `","gateway":"198.51.100.1","subnet_mask":"255.255.255.0","prefix":24,"type":"ipv4","public":true,"rdns":"","linode_id":102,"region":"us-east"}`
	}
	const slaac = `"slaac":{"address":"2001:db8:101::65","prefix":64}`
	v6 := `,"ipv6":{` + slaac + `,"global":[{"range":"2001:db8:71::","prefix":64,"region":"us-east","route_target":""},{"range":"2001:db8:7100::","prefix":56,"region":"us-east","route_target":"2001:db8:101::65"}]}`
	for _, s := range []struct{ answer, vip string }{
		{`{"ipv4":{"public":[` + ip("198.51.100.1") + `],"private":[],"shared":[` + ip("198.51.100.20") + `],"reserved":[],"vpc":[]},"ipv6":{"link_local":{"address":"fe80::65","prefix":64,"type":"ipv6"},` + slaac + `,"global":[]}}`, "198.51.100.10"},
		{`{"ipv4":{"public":[` + ip("198.51.100.1") + `],"private":[],"shared":[` + ip("198.51.100.10") + `]},"ipv6":{"global":[]}}`, "198.51.100.10"},
		{`{"ipv4":{"public":[` + ip("198.51.100.10") + `],"private":[],"shared":[]},"ipv6":{}}`, "198.51.100.10"},
		{`{"ipv4":{"public":[],"private":[` + ip("192.168.128.5") + `],"shared":[` + ip("198.51.100.20") + `,` + ip("198.51.100.21") + `]},"ipv6":{"global":[]}}`, "198.51.100.10"},
		{`{"ipv4":{"public":[],"private":[],"shared":[` + ip("198.51.100.20") + `]}` + v6 + `}`, "198.51.100.10"},
		{`{"ipv4":{"public":[],"private":[],"shared":[` + ip("198.51.100.20") + `]}` + v6 + `}`, "2001:db8:70::5"},
		{`{"ipv4":{"public":[],"private":[],"shared":[]},"ipv6":{` + slaac + `,"global":[{"range":"2001:db8:70::","prefix":64,"route_target":""}]}}`, "2001:db8:70::10"},
		{`{"ipv4":{"public":[],"private":[],"shared":[]},"ipv6":{"global":[{"range":"","prefix":64}]}}`, "198.51.100.10"},
		{`{"ipv4":{"public":[],"private":[],"shared":[]}` + v6 + `}`, "2001:db8:99::1"},
		{`{"ipv4":{"public":[],"private":[],"shared":[]}}`, "198.51.100.10"},
		{`{"ipv4":null}`, "198.51.100.10"},
		{`{}`, "198.51.100.10"},
		{`{"ipv4":{"public":[null],"shared":[]}}`, "198.51.100.10"},
		{`{"ipv4":{"public":[],"shared":[{"address":""}]}}`, "198.51.100.10"},
		{`{"ipv4":{"public":[],"shared":[{"address":"198.51.100.20"}]}}`, "2001:db8::10"},
		{`[]`, "198.51.100.10"},
	} {
		f.Add([]byte(s.answer), s.vip)
	}
	srv, posts := shareServer(f)
	tf := filepath.Join(f.TempDir(), "token")
	if err := os.WriteFile(tf, []byte(token), 0o600); err != nil {
		f.Fatal(err)
	}
	client, err := (&Linode{API: srv.URL, TokenFile: tf}).api()
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body []byte, vip string) {
		a, err := netip.ParseAddr(vip)
		if err != nil {
			return
		}
		written := posts(body, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
		defer cancel()
		l := &Linode{API: srv.URL, TokenFile: tf, Mode: "share", ID: fuzzMe, client: client, env: provider.Env{Log: &providertest.Log{}, Cache: dir}}
		err = l.Claim(ctx, a)
		checkShare(t, body, a, err, written())
	})
}

const fuzzMe = 101

type sharePost struct {
	IPs      []string `json:"ips"`
	LinodeID int      `json:"linode_id"`
}

// shareServer answers FuzzShare's requests: the Linode's IPs (the fuzzed
// answer until a write, then what was written), the account's one range
// 2001:db8:70::/64 and the share call. posts sets the answer and returns
// the writes made since.
func shareServer(f *testing.F) (*httptest.Server, func([]byte, any) func() []sharePost) {
	var mu sync.Mutex
	var answer []byte
	var posts []sharePost
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v4/linode/instances/101/ips":
			if len(posts) == 0 {
				w.Write(answer)
				return
			}
			// After a write the set is what was written.
			shared, global := []map[string]any{}, []map[string]any{}
			for _, a := range posts[len(posts)-1].IPs {
				if strings.Contains(a, ":") {
					global = append(global, map[string]any{"range": a, "prefix": 64, "route_target": ""})
				} else {
					shared = append(shared, map[string]any{"address": a})
				}
			}
			json.NewEncoder(w).Encode(map[string]any{"ipv4": map[string]any{"public": []any{}, "private": []any{}, "shared": shared},
				"ipv6": map[string]any{"slaac": map[string]any{"address": "2001:db8:101::65"}, "global": global}})
		case r.Method == http.MethodGet && r.URL.Path == "/v4/networking/ipv6/ranges":
			w.Write([]byte(`{"data":[{"range":"2001:db8:70::","prefix":64,"region":"us-east","route_target":"2001:db8:102::66"}],"page":1,"pages":1,"results":1}`))
		case r.Method == http.MethodPost && r.URL.Path == "/v4/networking/ips/share":
			posts = append(posts, sharePost{})
			json.NewDecoder(r.Body).Decode(&posts[len(posts)-1])
			w.Write([]byte("{}"))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[{"reason":"Not found"}]}`))
		}
	}))
	f.Cleanup(srv.Close)
	set := func(body []byte, _ any) func() []sharePost {
		mu.Lock()
		answer, posts = body, nil
		mu.Unlock()
		return func() []sharePost { mu.Lock(); defer mu.Unlock(); return slices.Clone(posts) }
	}
	return srv, set
}

// fuzzIPs is what FuzzShare's oracle reads of an answer.
type fuzzIPs struct {
	IPv4 *struct {
		Public, Private, Shared []*struct {
			Address string `json:"address"`
		}
	} `json:"ipv4"`
	IPv6 *struct {
		SLAAC *struct {
			Address string `json:"address"`
		} `json:"slaac"`
		Global []struct {
			Range       string `json:"range"`
			RouteTarget string `json:"route_target"`
		} `json:"global"`
	} `json:"ipv6"`
}

// split returns the answer's owned and shared addresses and ranges; ok
// false when an entry has no address or range.
func (r *fuzzIPs) split() (owned, shared []string, ok bool) {
	for i, list := range [][]*struct {
		Address string `json:"address"`
	}{r.IPv4.Public, r.IPv4.Private, r.IPv4.Shared} {
		for _, e := range list {
			if e == nil || e.Address == "" {
				return nil, nil, false
			}
			if i < 2 {
				owned = append(owned, e.Address)
			} else {
				shared = append(shared, e.Address)
			}
		}
	}
	var me netip.Addr
	if r.IPv6.SLAAC != nil {
		me, _ = netip.ParseAddr(r.IPv6.SLAAC.Address)
	}
	for _, g := range r.IPv6.Global {
		a, _, _ := strings.Cut(g.Range, "/")
		p, err := netip.ParseAddr(a)
		if err != nil || !p.Is6() || p.Is4In6() || p.Zone() != "" {
			return nil, nil, false
		}
		if t, err := netip.ParseAddr(g.RouteTarget); err == nil && me.IsValid() && t == me {
			owned = append(owned, p.String())
		} else {
			shared = append(shared, p.String())
		}
	}
	return owned, shared, true
}

func checkShare(t *testing.T, body []byte, a netip.Addr, err error, written []sharePost) {
	t.Helper()
	s := a.String()
	if a.Is6() {
		if !netip.MustParsePrefix("2001:db8:70::/64").Contains(a) {
			if ocf.StatusOf(err) != ocf.ErrConfigured || !strings.Contains(err.Error(), "no IPv6 range") || len(written) != 0 {
				t.Fatalf("IPv6 %v of no range: %v (%v), %d writes", a, err, ocf.StatusOf(err), len(written))
			}
			return
		}
		s = "2001:db8:70::"
	}
	var r fuzzIPs
	if json.Unmarshal(body, &r) != nil {
		return // linodego's decoding is linodego's
	}
	if r.IPv4 == nil || r.IPv6 == nil {
		if err == nil || len(written) != 0 {
			t.Fatalf("%q: no ipv4 or ipv6 object, yet %v with %d writes", body, err, len(written))
		}
		return
	}
	owned, shared, ok := r.split()
	if !ok {
		if err == nil || len(written) != 0 {
			t.Fatalf("%q: an entry without address or range, yet %v with %d writes", body, err, len(written))
		}
		return
	}
	if slices.Contains(owned, s) || slices.Contains(shared, s) {
		if len(written) != 0 {
			t.Fatalf("%q: %s is already here, yet written: %v", body, s, written)
		}
		return
	}
	for _, w := range written {
		if w.LinodeID != fuzzMe || !slices.Contains(w.IPs, s) || slices.ContainsFunc(owned, func(o string) bool { return slices.Contains(w.IPs, o) }) {
			t.Fatalf("%q: wrote %+v, want %s in Linode %d's set and nothing it owns (%v)", body, w, s, fuzzMe, owned)
		}
		for _, o := range shared {
			if !slices.Contains(w.IPs, o) {
				t.Fatalf("%q: wrote %v, which drops %s that was shared", body, w.IPs, o)
			}
		}
	}
	if err == nil && len(written) != 1 {
		t.Fatalf("%q: shared %s with %d writes, want 1", body, s, len(written))
	}
}
