package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/cloudvip/floatip/internal/netvip"
)

// fakeNet is a node's network in memory: links, on-link routes and
// addresses, with what netvip.Handle promises (ErrNoLink, ErrNoRoute, the
// most specific route, EEXIST-free idempotent delete). Links have no MAC,
// so nothing is announced.
type fakeNet struct {
	mu     sync.Mutex
	links  map[string]*netvip.Link
	macs   map[string]string       // MAC -> link name (links keep MAC nil: no frames)
	routes map[netip.Prefix]string // on-link prefix -> link name
	addrs  []netvip.Addr
	closed int
}

func newFakeNet() *fakeNet {
	n := &fakeNet{links: map[string]*netvip.Link{}, routes: map[netip.Prefix]string{}, macs: map[string]string{}}
	n.link("lo", "")
	return n
}

// link adds an up interface with a carrier, and an on-link route for each
// prefix in routes.
func (n *fakeNet) link(name string, routes ...string) *fakeNet {
	n.links[name] = &netvip.Link{Index: len(n.links) + 1, Name: name, AdminUp: true, Oper: 6 /* up */}
	for _, r := range routes {
		if r != "" {
			n.routes[netip.MustParsePrefix(r)] = name
		}
	}
	return n
}

// bound lists the addresses as "ip/prefix@link", sorted.
func (n *fakeNet) bound() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, a := range n.addrs {
		out = append(out, fmt.Sprintf("%s/%d@%s", a.IP, a.Prefix, a.Link.Name))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func (n *fakeNet) LinkByName(name string) (netvip.Link, error) {
	if l, ok := n.links[name]; ok {
		return *l, nil
	}
	return netvip.Link{}, fmt.Errorf("interface %s: %w", name, netvip.ErrNoLink)
}

func (n *fakeNet) LinkByMAC(mac net.HardwareAddr) (netvip.Link, error) {
	if name, ok := n.macs[mac.String()]; ok {
		return *n.links[name], nil
	}
	return netvip.Link{}, fmt.Errorf("MAC %s: %w", mac, netvip.ErrNoLink)
}

func (n *fakeNet) OnLinkRoute(ip netip.Addr, nic string) (netvip.Link, int, error) {
	best := -1
	var on string
	for p, l := range n.routes {
		if p.Contains(ip) && (nic == "" || nic == l) && p.Bits() > best {
			best, on = p.Bits(), l
		}
	}
	if best < 0 {
		return netvip.Link{}, 0, fmt.Errorf("%s: %w", ip, netvip.ErrNoRoute)
	}
	return *n.links[on], best, nil
}

func (n *fakeNet) Find(ip netip.Addr, link *netvip.Link) (*netvip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range n.addrs {
		if a.IP == ip && (link == nil || link.Index == a.Link.Index) {
			a := a
			return &a, nil
		}
	}
	return nil, nil
}

func (n *fakeNet) Add(s netvip.Spec) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.addrs = append(n.addrs, netvip.Addr{IP: s.IP, Prefix: s.Prefix, Link: s.Link})
	return nil
}

func (n *fakeNet) Del(a *netvip.Addr) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, b := range n.addrs {
		if b.IP == a.IP && b.Link.Index == a.Link.Index {
			n.addrs = append(n.addrs[:i], n.addrs[i+1:]...)
			break
		}
	}
	return nil
}

func (n *fakeNet) SetUp(netvip.Link) error { return nil }

func (n *fakeNet) WaitDAD(_ context.Context, ip netip.Addr, l netvip.Link) (*netvip.Addr, error) {
	return n.Find(ip, &l)
}

func (n *fakeNet) Close() {
	n.mu.Lock()
	n.closed++
	n.mu.Unlock()
}
