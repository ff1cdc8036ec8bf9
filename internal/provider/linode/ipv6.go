package linode

// IPv6 in share and bgp modes. Linode shares IPv6 by range: an IPv6
// address is one of a /64 or /56 range of the account, and what joins a
// Linode's shared set is the range, named by its address without prefix
// length (the share call's ips: "IPv4 addresses and IPv6 ranges (omit /56
// and /64 prefix lengths)"), in the same list as the shared IPv4
// addresses: a write must carry both or it unshares the rest. The range is
// found in the account's list (GET /networking/ipv6/ranges); whether it
// reaches this Linode is the range's own view (GET
// /networking/ipv6/ranges/{range}: linodes, "Includes Linodes with IP
// sharing"). A Linode's IPs list the ranges routed to it (route_target its
// SLAAC address) and shared with it (no route target) in ipv6.global.
// assign mode moves IPv4 addresses only.

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/linode/linodego"

	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
)

// shares reports whether the mode shares the address (share, and bgp,
// which shares exactly like share) rather than assigning it.
func (l *Linode) shares() bool { return l.Mode != "assign" }

// supports refuses what the mode cannot do: IPv6 in assign mode.
func (l *Linode) supports(ip netip.Addr) error {
	if ip.Is6() && !l.shares() {
		return ocf.Errorf(ocf.ErrConfigured, "linode: ip=%s: linode_mode=assign moves IPv4 addresses only; for IPv6 use linode_mode=share (or bgp) with an address of an IPv6 range", ip)
	}
	return nil
}

// parseRange reads a range as Linode writes it: its address (or, to be
// lenient, address/length) and prefix length; false if that is no IPv6
// range.
func parseRange(s string, bits int) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if bits != 0 && p.Bits() != bits {
			return netip.Prefix{}, false
		}
		s, bits = p.Addr().String(), p.Bits()
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" || bits < 1 || bits > 128 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, bits), true
}

// rangeAddr reads a range's address where only the address matters (a
// range's view, ipv6.global): as Linode writes it, "2600:3c01::", or
// leniently with its prefix length.
func rangeAddr(s string) (netip.Addr, bool) {
	a, _, _ := strings.Cut(s, "/")
	ip, err := netip.ParseAddr(a)
	return ip, err == nil && ip.Is6() && !ip.Is4In6() && ip.Zone() == ""
}

// rangeName is a range as the share call and the range path take it: the
// address without prefix length.
func rangeName(r netip.Prefix) string { return r.Addr().String() }

// listRanges reads the account's IPv6 ranges, every page. An answer
// without pages is malformed: "{}" must not read as "no ranges".
func (l *Linode) listRanges(ctx context.Context, c *linodego.Client) ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := provider.Retry(ctx, func(ctx context.Context) error {
		opts := &linodego.ListOptions{PageOptions: &linodego.PageOptions{}}
		list, err := c.ListIPv6Ranges(ctx, opts)
		if err != nil {
			return apiErr(err)
		}
		if opts.Pages < 1 || opts.Results != len(list) {
			return provider.Malformed("IPv6 ranges: %d pages and %d results for %d ranges", opts.Pages, opts.Results, len(list))
		}
		out = out[:0]
		for _, r := range list {
			p, ok := parseRange(r.Range, r.Prefix)
			if !ok {
				return provider.Malformed("IPv6 ranges: range %q with prefix %d", r.Range, r.Prefix)
			}
			out = append(out, p)
		}
		return nil
	}, classify)
	if err != nil {
		return nil, l.wrap("list IPv6 ranges", err)
	}
	return out, nil
}

// sharedRange returns the account's IPv6 range that holds ip (the
// narrowest, should they nest): what share and bgp mode share, and what
// bgp mode announces. None is a configuration error, wrong on every node.
func (l *Linode) sharedRange(ctx context.Context, ip netip.Addr) (netip.Prefix, error) {
	c, err := l.api()
	if err != nil {
		return netip.Prefix{}, err
	}
	list, err := l.listRanges(ctx, c)
	if err != nil {
		return netip.Prefix{}, err
	}
	var best netip.Prefix
	for _, r := range list {
		if r.Masked().Contains(ip) && r.Bits() > best.Bits() {
			best = r
		}
	}
	if !best.IsValid() {
		return netip.Prefix{}, ocf.Errorf(ocf.ErrConfigured,
			"linode: ip=%s: no IPv6 range of the account holds it (%d ranges); give an address of a shared /64 or /56 range", ip, len(list))
	}
	return best, nil
}

// rangeLinodes reads the Linodes range r is routed or shared to.
func (l *Linode) rangeLinodes(ctx context.Context, c *linodego.Client, r netip.Prefix) ([]int, error) {
	var linodes []int
	err := provider.Retry(ctx, func(ctx context.Context) error {
		v, err := c.GetIPv6Range(ctx, rangeName(r))
		if err != nil {
			return apiErr(err)
		}
		if v == nil {
			return provider.Malformed("IPv6 range %s: no answer", r)
		}
		if got, ok := rangeAddr(v.Range); !ok || got != r.Addr() {
			return provider.Malformed("IPv6 range %s: the answer is range %q", r, v.Range)
		}
		linodes = v.Linodes
		return nil
	}, classify)
	if err != nil {
		return nil, l.wrap("get IPv6 range "+r.String(), err)
	}
	return linodes, nil
}

// globalRanges splits a Linode's ipv6.global into the ranges routed to it
// (route_target its SLAAC address) and those shared with it, by name. An
// answer without ipv6 is malformed: a shared set written from it would
// drop the shared ranges.
func globalRanges(id int, v6 *linodego.InstanceIPv6Response) (owned, shared []string, err error) {
	if v6 == nil {
		return nil, nil, provider.Malformed("IPs of Linode %d: the answer has no ipv6", id)
	}
	var me netip.Addr
	if v6.SLAAC != nil {
		me, _ = netip.ParseAddr(v6.SLAAC.Address)
	}
	for _, g := range v6.Global {
		a, ok := rangeAddr(g.Range)
		if !ok {
			return nil, nil, provider.Malformed("IPs of Linode %d: ipv6.global has range %q", id, g.Range)
		}
		if t, err := netip.ParseAddr(g.RouteTarget); err == nil && me.IsValid() && t == me {
			owned = append(owned, a.String())
		} else {
			shared = append(shared, a.String())
		}
	}
	return owned, shared, nil
}

// claim6 shares the range that holds ip with this Linode.
func (l *Linode) claim6(ctx context.Context, c *linodego.Client, me int, ip netip.Addr) error {
	r, err := l.sharedRange(ctx, ip)
	if err != nil {
		return err
	}
	l.env.Log.Debugf("linode: %s is in the IPv6 range %s", ip, r)
	return l.share(ctx, c, me, rangeName(r))
}

// check6: here when the range that holds ip reaches this Linode (routed
// or shared), else nobody.
func (l *Linode) check6(ctx context.Context, c *linodego.Client, me int, ip netip.Addr) (provider.Holder, error) {
	r, err := l.sharedRange(ctx, ip)
	if err != nil {
		return provider.Holder{}, err
	}
	return l.rangeHolder(ctx, c, me, r)
}

// rangeHolder: here when range r is among the Linodes it reaches.
func (l *Linode) rangeHolder(ctx context.Context, c *linodego.Client, me int, r netip.Prefix) (provider.Holder, error) {
	linodes, err := l.rangeLinodes(ctx, c, r)
	if err != nil {
		return provider.Holder{}, err
	}
	if slices.Contains(linodes, me) {
		return provider.Holder{Where: provider.Here}, nil
	}
	return provider.Holder{Where: provider.Nobody}, nil
}

// inspect6 is floatip check's address and cloud findings for IPv6.
func (l *Linode) inspect6(ctx context.Context, c *linodego.Client, me int, ip netip.Addr) []provider.Finding {
	r, err := l.sharedRange(ctx, ip)
	if err != nil {
		return []provider.Finding{provider.Fail("address", err)}
	}
	out := []provider.Finding{provider.Pass("address", fmt.Sprintf("%s is in the account's IPv6 range %s", ip, r))}
	h, err := l.rangeHolder(ctx, c, me, r)
	if err != nil {
		return append(out, provider.Fail("cloud", err))
	}
	return append(out, provider.Pass("cloud", h.String()))
}
