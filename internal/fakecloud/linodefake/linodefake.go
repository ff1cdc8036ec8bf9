// Package linodefake is a local fake of the Linode API parts floatip uses
// (IP sharing with replace semantics, of IPv4 addresses and IPv6 ranges;
// IP assignment; an instance's IPs; one IP; the IPv6 ranges, listed in
// pages and one by one) and of the Linode metadata service (token,
// instance), following the published API description: paths, bodies,
// {"errors":[{"reason","field"}]} with Content-Type exactly
// application/json (linodego refuses anything else), X-RateLimit-* headers
// and 429 + Retry-After when the budget is spent. It enforces the rules
// the real API states: one region per share or assignment, every Linode
// keeps a public IPv4, shared IPs cannot be reassigned, ranges are shared
// by their address without prefix length. Instances are told apart by the
// client's source address.
package linodefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud"
)

// Fault is an injected failure (see fakecloud.Fault).
type Fault = fakecloud.Fault

// Fake is the API and metadata service.
type Fake struct {
	fakecloud.Injector
	Token string
	// AssignDelay is how long an assigned address takes to show under its
	// new Linode (Linode says a move can take a minute or two).
	AssignDelay time.Duration
	// PerMinute is the rate limit for the API.
	PerMinute int
	// OnChange, if set, is called (locked) when an address is assigned to
	// a Linode or joins its shared set.
	OnChange func(ip netip.Addr, linode int)
	// OnRangeChange, if set, is called (locked) when an IPv6 range joins
	// (shared true) or leaves (false) a Linode's shared set through the
	// share call.
	OnRangeChange func(r netip.Prefix, linode int, shared bool)
	// PageSize is the page size of lists when a request gives none
	// (Linode's default, 100, when 0).
	PageSize int

	mu       sync.Mutex
	linodes  map[int]*linode
	bySource map[netip.Addr]int
	owner    map[netip.Addr]int        // public IPv4 -> owning Linode
	pending  map[netip.Addr]assignment // moves not visible yet
	ranges   map[netip.Addr]*ipv6Range // IPv6 ranges by their address
	tokens   map[string]int
	window   fakecloud.Window // the rate limit
	seq      int
}

type linode struct {
	id     int
	region string
	shared []netip.Addr // IPv4 addresses shared with it
	ranges []netip.Addr // IPv6 ranges shared with it (their addresses)
}

type assignment struct {
	to int
	at time.Time
}

// New returns a fake accepting token tok.
func New(tok string) *Fake {
	return &Fake{Token: tok, PerMinute: 800, linodes: map[int]*linode{},
		bySource: map[netip.Addr]int{}, owner: map[netip.Addr]int{}, pending: map[netip.Addr]assignment{},
		ranges: map[netip.Addr]*ipv6Range{}, tokens: map[string]int{}}
}

// AddLinode creates Linode id in region whose metadata answers from client
// address from ("" for none), owning the public IPv4 addresses given.
func (f *Fake) AddLinode(id int, region, from string, public ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.linodes[id] = &linode{id: id, region: region}
	if from != "" {
		f.bySource[netip.MustParseAddr(from)] = id
	}
	for _, p := range public {
		f.owner[netip.MustParseAddr(p)] = id
	}
}

// Share sets Linode id's shared set directly (test set-up): IPv4
// addresses and IPv6 ranges (added with AddRange, given by their address
// without prefix length), as the share call takes them. No callback runs.
func (f *Fake) Share(id int, ips ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.linodes[id]
	l.shared, l.ranges = nil, nil
	for _, s := range ips {
		ip := netip.MustParseAddr(s)
		if ip.Is4() {
			l.shared = append(l.shared, ip)
			continue
		}
		if f.ranges[ip] == nil {
			panic("linodefake: Share: " + s + " is not a range added with AddRange")
		}
		l.ranges = append(l.ranges, ip)
	}
}

// SetOwner moves ip to Linode id at once (test set-up: "moved by hand").
func (f *Fake) SetOwner(ip string, id int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owner[netip.MustParseAddr(ip)] = id
}

// Owner returns the Linode owning ip now (pending moves applied when due).
func (f *Fake) Owner(ip string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance()
	return f.owner[netip.MustParseAddr(ip)]
}

// Shared returns Linode id's shared IPv4 addresses (SharedRanges its
// ranges).
func (f *Fake) Shared(id int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.linodes[id].shared {
		out = append(out, a.String())
	}
	return out
}

// ResetCounts zeroes the counters and the rate-limit window.
func (f *Fake) ResetCounts() {
	f.Injector.ResetCounts()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.window.Reset()
}

func (f *Fake) advance() {
	for ip, a := range f.pending {
		if time.Since(a.at) >= f.AssignDelay {
			f.owner[ip] = a.to
			delete(f.pending, ip)
			if f.OnChange != nil {
				f.OnChange(ip, a.to)
			}
		}
	}
}

// fail answers with Linode's error shape; the content type must be exactly
// application/json.
func fail(w http.ResponseWriter, code int, field, reason string) {
	e := map[string]any{"reason": reason}
	if field != "" {
		e["field"] = field
	}
	fakecloud.JSON(w, code, "application/json", map[string]any{"errors": []any{e}})
}

func reply(w http.ResponseWriter, v any) { fakecloud.JSON(w, 200, "application/json", v) }

// ServeHTTP answers /v4 (API) and /v1 (metadata).
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.Serve(w, r, writeFault, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			f.metadata(w, r)
			return
		}
		f.api(w, r)
	})
}

// writeFault answers an injected fault in Linode's error shape.
func writeFault(w http.ResponseWriter, fl *Fault) {
	if fl.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(fl.RetryAfter))
	}
	fail(w, fl.Status, "", http.StatusText(fl.Status))
}

// metadata: PUT /v1/token (Metadata-Token-Expiry-Seconds) then GET
// /v1/instance with Metadata-Token.
func (f *Fake) metadata(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.bySource[fakecloud.Source(r)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case r.URL.Path == "/v1/token" && r.Method == http.MethodPut:
		if s, err := strconv.Atoi(r.Header.Get("Metadata-Token-Expiry-Seconds")); err != nil || s < 1 || s > 86400 {
			fail(w, 400, "Metadata-Token-Expiry-Seconds", "Metadata-Token-Expiry-Seconds must be between 1 and 86400")
			return
		}
		f.seq++
		tok := fmt.Sprintf("mdtoken-%d-%d", id, f.seq)
		f.tokens[tok] = id
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, tok)
	case r.URL.Path == "/v1/instance" && r.Method == http.MethodGet:
		if f.tokens[r.Header.Get("Metadata-Token")] != id {
			fail(w, 401, "", "Unauthorized")
			return
		}
		reply(w, map[string]any{"id": id, "label": fmt.Sprintf("linode%d", id), "region": f.linodes[id].region, "type": "g6-standard-1"})
	default:
		http.NotFound(w, r)
	}
}

// rateLimit records the request and sets X-RateLimit-*; false when over.
func (f *Fake) rateLimit(w http.ResponseWriter) bool {
	now := time.Now()
	f.window.Limit, f.window.Per = f.PerMinute, time.Minute
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(f.PerMinute))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(f.window.ResetAt(now).Unix(), 10))
	if f.window.Full(now) {
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("Retry-After", strconv.Itoa(fakecloud.RetryAfter(now, f.window.ResetAt(now))))
		return false
	}
	f.window.Add(now)
	h.Set("X-RateLimit-Remaining", strconv.Itoa(f.window.Remaining(now)))
	return true
}

func (f *Fake) api(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Token == "" || r.Header.Get("Authorization") != "Bearer "+f.Token {
		fail(w, 401, "", "Invalid Token")
		return
	}
	if !f.rateLimit(w) {
		fail(w, 429, "", "Too Many Requests")
		return
	}
	f.advance()
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(p) < 2 || p[0] != "v4" {
		fail(w, 404, "", "Not found")
		return
	}
	switch {
	case r.Method == http.MethodPost && strings.Join(p[1:], "/") == "networking/ips/share":
		f.share(w, r)
	case r.Method == http.MethodPost && strings.Join(p[1:], "/") == "networking/ips/assign":
		f.assign(w, r)
	case r.Method == http.MethodGet && len(p) == 5 && p[1] == "linode" && p[2] == "instances" && p[4] == "ips":
		id, _ := strconv.Atoi(p[3])
		if f.linodes[id] == nil {
			fail(w, 404, "", "Not found")
			return
		}
		f.instanceIPs(w, id)
	case r.Method == http.MethodGet && len(p) >= 4 && p[1] == "networking" && p[2] == "ipv6" && p[3] == "ranges":
		f.rangesAPI(w, r, p[4:])
	case r.Method == http.MethodGet && len(p) == 4 && p[1] == "networking" && p[2] == "ips":
		ip, err := netip.ParseAddr(p[3])
		if err != nil || f.owner[ip] == 0 {
			fail(w, 404, "", "Not found")
			return
		}
		reply(w, f.ipJSON(ip, f.owner[ip]))
	default:
		fail(w, 404, "", "Not found")
	}
}

func (f *Fake) ipJSON(ip netip.Addr, id int) map[string]any {
	b := ip.As4()
	return map[string]any{"address": ip.String(), "gateway": fmt.Sprintf("%d.%d.%d.1", b[0], b[1], b[2]), "subnet_mask": "255.255.255.0",
		"prefix": 24, "type": "ipv4", "public": true, "rdns": "", "linode_id": id, "region": f.linodes[id].region}
}

func (f *Fake) instanceIPs(w http.ResponseWriter, id int) {
	public, shared := []any{}, []any{}
	var own []netip.Addr
	for ip, o := range f.owner {
		if o == id {
			own = append(own, ip)
		}
	}
	sort.Slice(own, func(i, j int) bool { return own[i].Less(own[j]) })
	for _, ip := range own {
		public = append(public, f.ipJSON(ip, id))
	}
	for _, ip := range f.linodes[id].shared {
		shared = append(shared, f.ipJSON(ip, f.owner[ip]))
	}
	reply(w, map[string]any{
		"ipv4": map[string]any{"public": public, "private": []any{}, "shared": shared, "reserved": []any{}, "vpc": []any{}},
		"ipv6": map[string]any{"link_local": f.v6JSON(id, "fe80::", false), "slaac": f.v6JSON(id, "2001:db8:"+strconv.Itoa(id)+"::", true), "global": f.globalJSON(id)},
	})
}

// v6JSON is a Linode's link-local or SLAAC address (/64).
func (f *Fake) v6JSON(id int, prefix string, public bool) map[string]any {
	return map[string]any{"address": fmt.Sprintf("%s%x", prefix, id), "gateway": "fe80::1", "prefix": 64, "public": public,
		"rdns": "", "region": f.linodes[id].region, "subnet_mask": "ffff:ffff:ffff:ffff::", "type": "ipv6", "linode_id": id}
}

// share replaces Linode linode_id's shared set with ips: IPv4 addresses
// and IPv6 ranges together (a request that leaves out a range unshares it).
func (f *Fake) share(w http.ResponseWriter, r *http.Request) {
	var req struct {
		IPs      []string `json:"ips"`
		LinodeID int      `json:"linode_id"`
	}
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&req) != nil {
		fail(w, 400, "", "Invalid JSON")
		return
	}
	l := f.linodes[req.LinodeID]
	if l == nil {
		fail(w, 400, "linode_id", "Invalid Linode ID")
		return
	}
	var set, ranges []netip.Addr
	for _, s := range req.IPs {
		ip, reason := f.shareable(s, l)
		if reason != "" {
			fail(w, 400, "ips", reason)
			return
		}
		if ip.Is4() {
			set = append(set, ip)
		} else {
			ranges = append(ranges, ip)
		}
	}
	old := map[netip.Addr]bool{}
	for _, ip := range l.shared {
		old[ip] = true
	}
	oldRanges := l.ranges
	l.shared, l.ranges = set, ranges
	for _, ip := range set {
		if !old[ip] && f.OnChange != nil {
			f.OnChange(ip, l.id)
		}
	}
	f.rangesChanged(l.id, oldRanges, ranges)
	reply(w, map[string]any{})
}

// shareable checks one entry of a share request for Linode l and returns
// it parsed, or the reason Linode refuses it: an IPv4 address or an IPv6
// range (its address, without the prefix length) of the account, of
// another Linode, in l's region; a range only where sharing is BGP-based.
func (f *Fake) shareable(s string, l *linode) (netip.Addr, string) {
	ip, err := netip.ParseAddr(s)
	invalid := fmt.Sprintf("%s is not a valid IP address", s)
	if err != nil || ip.Zone() != "" {
		return ip, invalid
	}
	var o int
	var region string
	if ip.Is4() {
		if o = f.owner[ip]; o == 0 {
			return ip, invalid
		}
		region = f.linodes[o].region
	} else {
		rg := f.ranges[ip]
		if rg == nil {
			return ip, invalid
		}
		if !rg.bgp {
			return ip, fmt.Sprintf("IPv6 range %s cannot be shared: IPv6 sharing needs a data center with BGP-based IP sharing", s)
		}
		o, region = rg.owner, rg.region
	}
	switch {
	case region != l.region:
		return ip, "Only Linodes in the same region can share IPs."
	case o == l.id:
		return ip, fmt.Sprintf("%s belongs to Linode %d and cannot be shared with it", s, o)
	}
	return ip, ""
}

// assign moves addresses to Linodes in one region; every Linode keeps a
// public IPv4 and shared addresses cannot be moved. The move shows after
// AssignDelay.
func (f *Fake) assign(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Region      string `json:"region"`
		Assignments []struct {
			Address  string `json:"address"`
			LinodeID int    `json:"linode_id"`
		} `json:"assignments"`
	}
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&req) != nil || req.Region == "" || len(req.Assignments) == 0 {
		fail(w, 400, "", "region and assignments are required")
		return
	}
	left := map[int]int{}
	for ip, o := range f.owner {
		left[o]++
		_ = ip
	}
	for _, a := range req.Assignments {
		ip, err := netip.ParseAddr(a.Address)
		o := f.owner[ip]
		to := f.linodes[a.LinodeID]
		switch {
		case err != nil || o == 0:
			fail(w, 400, "address", fmt.Sprintf("%s is not a valid IP address", a.Address))
			return
		case to == nil:
			fail(w, 400, "linode_id", "Invalid Linode ID")
			return
		case to.region != req.Region || f.linodes[o].region != req.Region:
			fail(w, 400, "region", "All Linodes and addresses must be in the region given")
			return
		}
		for _, l := range f.linodes {
			for _, s := range l.shared {
				if s == ip {
					fail(w, 400, "address", fmt.Sprintf("%s is shared and cannot be assigned; stop sharing it first", ip))
					return
				}
			}
		}
		if o != a.LinodeID {
			left[o]--
			left[a.LinodeID]++
		}
	}
	for id, n := range left {
		if n < 1 && f.linodes[id] != nil {
			fail(w, 400, "assignments", fmt.Sprintf("Linode %d must keep at least one public IPv4 address", id))
			return
		}
	}
	for _, a := range req.Assignments {
		ip := netip.MustParseAddr(a.Address)
		f.pending[ip] = assignment{to: a.LinodeID, at: time.Now()}
	}
	f.advance()
	reply(w, map[string]any{})
}
