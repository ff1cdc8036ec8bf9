package linodefake

// IPv6 ranges (/56 or /64) as the published description has them: a range
// is routed to one Linode (route_target is that Linode's SLAAC address)
// and can be shared with others of its region, by its address without
// prefix length in the share call's ips. GET /networking/ipv6/ranges lists
// them in pages (range, prefix, region, route_target); GET
// /networking/ipv6/ranges/{range} shows one (range, prefix, region,
// is_bgp, linodes: its Linode and every Linode it is shared with). A
// Linode's IPs list the ranges routed to it in ipv6.global with its SLAAC
// as route_target and those shared with it with an empty route_target.

import (
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
)

type ipv6Range struct {
	prefix netip.Prefix
	region string
	owner  int  // the Linode it is routed to; 0: none
	bgp    bool // its data center shares by BGP: it can be shared
}

// AddRange adds the IPv6 range prefix (a /56 or /64, given masked) in
// region, routed to Linode owner (0: to none; else a Linode of that
// region). bgp says its data center shares IPs by BGP: only then can the
// range be shared (IPv6 sharing is BGP-only).
func (f *Fake) AddRange(prefix netip.Prefix, region string, owner int, bgp bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !prefix.Addr().Is6() || prefix.Addr().Is4In6() || prefix.Masked() != prefix || (prefix.Bits() != 56 && prefix.Bits() != 64) {
		panic(fmt.Sprintf("linodefake: AddRange: %s is not a masked IPv6 /56 or /64", prefix))
	}
	if o := f.linodes[owner]; owner != 0 && (o == nil || o.region != region) {
		panic(fmt.Sprintf("linodefake: AddRange: %s: owner %d is not a Linode in %s", prefix, owner, region))
	}
	f.ranges[prefix.Addr()] = &ipv6Range{prefix: prefix, region: region, owner: owner, bgp: bgp}
}

// SharedRanges returns the IPv6 ranges shared with Linode id, as the share
// call names them (the address without prefix length), in the order given.
func (f *Fake) SharedRanges(id int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.linodes[id].ranges {
		out = append(out, a.String())
	}
	return out
}

// RangeLinodes returns the Linodes range (its address) is routed or
// shared to, as GET /networking/ipv6/ranges/{range} lists them.
func (f *Fake) RangeLinodes(rng string) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rangeLinodes(netip.MustParseAddr(rng))
}

// rangeLinodes: its owner, then the Linodes it is shared with, by id.
func (f *Fake) rangeLinodes(a netip.Addr) []int {
	out := []int{}
	var shared []int
	for id, l := range f.linodes {
		for _, r := range l.ranges {
			if r == a && id != f.ranges[a].owner {
				shared = append(shared, id)
				break
			}
		}
	}
	sort.Ints(shared)
	if o := f.ranges[a].owner; o != 0 {
		out = append(out, o)
	}
	return append(out, shared...)
}

// rangesChanged calls OnRangeChange for what joined or left Linode id's
// shared ranges.
func (f *Fake) rangesChanged(id int, before, after []netip.Addr) {
	if f.OnRangeChange == nil {
		return
	}
	in := func(list []netip.Addr, a netip.Addr) bool {
		for _, x := range list {
			if x == a {
				return true
			}
		}
		return false
	}
	for _, a := range after {
		if !in(before, a) {
			f.OnRangeChange(f.ranges[a].prefix, id, true)
		}
	}
	for _, a := range before {
		if !in(after, a) {
			f.OnRangeChange(f.ranges[a].prefix, id, false)
		}
	}
}

// slaac is Linode id's SLAAC address (as instanceIPs shows it).
func slaac(id int) string { return fmt.Sprintf("2001:db8:%d::%x", id, id) }

// rangeJSON is a range as lists and ipv6.global show it; routeTarget is
// the SLAAC address it is routed to ("" for a range shared with the
// Linode whose IPs are shown).
func (f *Fake) rangeJSON(r *ipv6Range, routeTarget string) map[string]any {
	return map[string]any{"range": r.prefix.Addr().String(), "prefix": r.prefix.Bits(), "region": r.region, "route_target": routeTarget}
}

func (f *Fake) routeTarget(r *ipv6Range) string {
	if r.owner == 0 {
		return ""
	}
	return slaac(r.owner)
}

// sortedRanges returns the ranges by address.
func (f *Fake) sortedRanges() []*ipv6Range {
	var out []*ipv6Range
	for _, r := range f.ranges {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].prefix.Addr().Less(out[j].prefix.Addr()) })
	return out
}

// globalJSON is Linode id's ipv6.global: the ranges routed to it, then
// those shared with it (without route target).
func (f *Fake) globalJSON(id int) []any {
	out := []any{}
	for _, r := range f.sortedRanges() {
		if r.owner == id {
			out = append(out, f.rangeJSON(r, slaac(id)))
		}
	}
	for _, a := range f.linodes[id].ranges {
		if r := f.ranges[a]; r.owner != id {
			out = append(out, f.rangeJSON(r, ""))
		}
	}
	return out
}

// rangesAPI answers GET /v4/networking/ipv6/ranges (rest empty) and GET
// /v4/networking/ipv6/ranges/{range} (rest the range, without prefix
// length: "2001:db8::/64" in the path is no range).
func (f *Fake) rangesAPI(w http.ResponseWriter, r *http.Request, rest []string) {
	switch len(rest) {
	case 0:
		f.listRanges(w, r)
	case 1:
		a, err := netip.ParseAddr(rest[0])
		rg := f.ranges[a]
		if err != nil || rg == nil {
			fail(w, 404, "", "Not found")
			return
		}
		// is_bgp: "Whether this IPv6 range is shared".
		linodes := f.rangeLinodes(a)
		shared := len(linodes) > 0 && (rg.owner == 0 || len(linodes) > 1)
		reply(w, map[string]any{"range": a.String(), "prefix": rg.prefix.Bits(), "region": rg.region, "is_bgp": shared, "linodes": linodes})
	default:
		fail(w, 404, "", "Not found")
	}
}

// listRanges answers one page (page, page_size: 25 to 500, default 100 or
// PageSize) of the account's ranges, by address.
func (f *Fake) listRanges(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, size := 1, f.PageSize
	if size <= 0 {
		size = 100
	}
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fail(w, 400, "page", "page must be an integer of at least 1")
			return
		}
		page = n
	}
	if s := q.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 25 || n > 500 {
			fail(w, 400, "page_size", "page_size must be an integer from 25 to 500")
			return
		}
		size = n
	}
	all := f.sortedRanges()
	start := min((page-1)*size, len(all))
	end := min(start+size, len(all))
	data := []any{}
	for _, rg := range all[start:end] {
		data = append(data, f.rangeJSON(rg, f.routeTarget(rg)))
	}
	reply(w, map[string]any{"data": data, "page": page, "pages": max(1, (len(all)+size-1)/size), "results": len(all)})
}
