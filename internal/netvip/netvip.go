// Package netvip binds, finds and removes a virtual IP address through
// rtnetlink, the way `ip addr` would, without running `ip`.
package netvip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrNoLink means the named interface does not exist.
var ErrNoLink = errors.New("no such interface")

// ErrNoRoute means no on-link route contains the address.
var ErrNoRoute = errors.New("no on-link route contains the address")

// ErrDADFailed means IPv6 duplicate address detection found another owner.
var ErrDADFailed = errors.New("duplicate address detected (dadfailed)")

// Link is the part of an interface the agent cares about.
type Link struct {
	Index   int
	Name    string
	MAC     net.HardwareAddr // nil on loopback and other links without one
	AdminUp bool
	Oper    netlink.LinkOperState
}

// CarrierOK is false when the kernel reports the link DOWN or
// LOWERLAYERDOWN (what IPaddr2's check_link_status looks for). UNKNOWN
// counts as up: loopback and many virtual links never report anything else.
func (l Link) CarrierOK() bool {
	return l.AdminUp && l.Oper != netlink.OperDown && l.Oper != netlink.OperLowerLayerDown
}

// Addr is an address as the kernel holds it.
type Addr struct {
	IP        netip.Addr
	Prefix    int
	Link      Link
	Label     string
	Tentative bool // IPv6 DAD still running
	DADFailed bool
}

// Handle talks rtnetlink in the network namespace it was opened in.
// Reads use a blocking dump socket (see dump.go); the vishvananda/netlink
// handle for changes and route lookups is opened on first use, in the same
// namespace.
type Handle struct {
	rib *rib
	ns  netns.NsHandle
	nl  *netlink.Handle
}

// Open returns a handle for the current network namespace.
func Open() (*Handle, error) {
	r, err := openRIB()
	if err != nil {
		return nil, err
	}
	ns, err := netns.Get()
	if err != nil {
		r.close()
		return nil, fmt.Errorf("netlink: current namespace: %w", err)
	}
	return &Handle{rib: r, ns: ns}, nil
}

// Close releases the sockets.
func (h *Handle) Close() {
	h.rib.close()
	_ = h.ns.Close()
	if h.nl != nil {
		h.nl.Close()
	}
}

// mut returns the netlink handle for changes, opening it on first use.
func (h *Handle) mut() (*netlink.Handle, error) {
	if h.nl == nil {
		nl, err := netlink.NewHandleAt(h.ns, unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("netlink: open: %w", err)
		}
		h.nl = nl
	}
	return h.nl, nil
}

func family(ip netip.Addr) int {
	if ip.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// LinkByName looks an interface up; ErrNoLink when it does not exist.
func (h *Handle) LinkByName(name string) (Link, error) {
	links, err := h.dumpLinks()
	if err != nil {
		return Link{}, err
	}
	for _, l := range links {
		if l.Name == name {
			return l, nil
		}
	}
	return Link{}, fmt.Errorf("interface %s: %w", name, ErrNoLink)
}

// LinkByMAC finds the interface with hardware address mac; ErrNoLink when
// none has it.
func (h *Handle) LinkByMAC(mac net.HardwareAddr) (Link, error) {
	links, err := h.dumpLinks()
	if err != nil {
		return Link{}, err
	}
	for _, l := range links {
		if l.MAC != nil && l.MAC.String() == mac.String() {
			return l, nil
		}
	}
	return Link{}, fmt.Errorf("interface with MAC %s: %w", mac, ErrNoLink)
}

func (h *Handle) linkByIndex(i int) (Link, error) {
	links, err := h.dumpLinks()
	if err != nil {
		return Link{}, err
	}
	l, ok := links[i]
	if !ok {
		return Link{}, fmt.Errorf("netlink: link %d: %w", i, ErrNoLink)
	}
	return l, nil
}

// OnLinkRoute finds the directly connected route (no gateway) in the main
// table whose subnet contains ip, like IPaddr2's findif: the most specific
// one, then the lowest metric. If nic is not empty only routes through that
// interface count.
func (h *Handle) OnLinkRoute(ip netip.Addr, nic string) (Link, int, error) {
	var filter netlink.Route
	mask := uint64(netlink.RT_FILTER_TABLE)
	filter.Table = unix.RT_TABLE_MAIN
	if nic != "" {
		l, err := h.LinkByName(nic)
		if err != nil {
			return Link{}, 0, err
		}
		filter.LinkIndex = l.Index
		mask |= netlink.RT_FILTER_OIF
	}
	nl, err := h.mut()
	if err != nil {
		return Link{}, 0, err
	}
	routes, err := nl.RouteListFiltered(family(ip), &filter, mask)
	if err != nil {
		return Link{}, 0, fmt.Errorf("netlink: list routes: %w", err)
	}
	best, bestLen, bestPrio := -1, -1, 0
	for i, r := range routes {
		if r.Dst == nil || r.Gw != nil || len(r.MultiPath) > 0 || r.Type != unix.RTN_UNICAST {
			continue
		}
		if ip.Is4() && r.Scope != netlink.SCOPE_LINK {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		if ones == 0 || !r.Dst.Contains(net.IP(ip.AsSlice())) {
			continue
		}
		if ones > bestLen || (ones == bestLen && r.Priority < bestPrio) {
			best, bestLen, bestPrio = i, ones, r.Priority
		}
	}
	if best < 0 {
		return Link{}, 0, ErrNoRoute
	}
	l, err := h.linkByIndex(routes[best].LinkIndex)
	if err != nil {
		return Link{}, 0, err
	}
	return l, bestLen, nil
}

// Find returns where ip is bound: on link when link is not nil (the
// returned Addr then carries that copy of the link, so read it fresh when
// its state matters), on any interface otherwise. nil, nil when it is not
// bound.
func (h *Handle) Find(ip netip.Addr, link *Link) (*Addr, error) {
	fam := syscall.AF_INET
	if ip.Is6() {
		fam = syscall.AF_INET6
	}
	addrs, err := h.dumpAddrs(fam)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if a.ip != ip || (link != nil && a.index != link.Index) {
			continue
		}
		var l Link
		if link != nil {
			l = *link // the caller's copy: one dump less on the monitor path
		} else if l, err = h.linkByIndex(a.index); err != nil {
			return nil, err
		}
		return &Addr{IP: ip, Prefix: a.prefix, Link: l, Label: a.label,
			Tentative: a.flags&unix.IFA_F_TENTATIVE != 0,
			DADFailed: a.flags&unix.IFA_F_DADFAILED != 0}, nil
	}
	return nil, nil
}

// Spec is an address to add.
type Spec struct {
	IP            netip.Addr
	Prefix        int
	Link          Link
	Label         string // full label (nic:iflabel), IPv4 only
	Broadcast     string // "" or "+": host bits set; "-": host bits reset; else an IPv4 address
	PreferredLft  uint32 // ^0 = forever
	NoDAD         bool
	NoPrefixRoute bool
}

// Add binds the address. It fails with an error wrapping unix.EEXIST when
// the address is already there.
func (h *Handle) Add(s Spec) error {
	a := &netlink.Addr{
		IPNet: &net.IPNet{IP: net.IP(s.IP.AsSlice()), Mask: net.CIDRMask(s.Prefix, s.IP.BitLen())},
		Label: s.Label,
	}
	if s.NoDAD && s.IP.Is6() {
		a.Flags |= unix.IFA_F_NODAD
	}
	if s.NoPrefixRoute {
		a.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if s.IP.Is4() {
		switch s.Broadcast {
		case "", "+": // netlink sets the host bits for prefixes up to /30
		case "-":
			// ip-address(8): reset the host bits, up to /30 only.
			if s.Prefix <= 30 {
				a.Broadcast = net.IP(netip.PrefixFrom(s.IP, s.Prefix).Masked().Addr().AsSlice())
			}
		default:
			a.Broadcast = net.ParseIP(s.Broadcast).To4()
		}
	} else if s.PreferredLft != ^uint32(0) {
		a.ValidLft = int(^uint32(0))
		a.PreferedLft = int(s.PreferredLft)
	}
	nl, err := h.mut()
	if err != nil {
		return err
	}
	link := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: s.Link.Index, Name: s.Link.Name}}
	if err := nl.AddrAdd(link, a); err != nil {
		return fmt.Errorf("netlink: add %s/%d to %s: %w", s.IP, s.Prefix, s.Link.Name, err)
	}
	return nil
}

// Del removes a bound address. An address that is already gone is success.
func (h *Handle) Del(a *Addr) error {
	na := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(a.IP.AsSlice()), Mask: net.CIDRMask(a.Prefix, a.IP.BitLen())}}
	nl, err := h.mut()
	if err != nil {
		return err
	}
	link := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: a.Link.Index, Name: a.Link.Name}}
	if err := nl.AddrDel(link, na); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("netlink: delete %s/%d from %s: %w", a.IP, a.Prefix, a.Link.Name, err)
	}
	return nil
}

// SetUp brings the interface administratively up, as IPaddr2 does after
// adding the address.
func (h *Handle) SetUp(l Link) error {
	if l.AdminUp {
		return nil
	}
	nl, err := h.mut()
	if err != nil {
		return err
	}
	if err := nl.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: l.Index, Name: l.Name}}); err != nil {
		return fmt.Errorf("netlink: set %s up: %w", l.Name, err)
	}
	return nil
}

// WaitDAD polls until the kernel has finished duplicate address detection
// for ip on link. It returns ErrDADFailed when another host owns the address
// and ctx's error when the deadline comes first. Polling the address is
// cheaper to get right than a netlink subscription and DAD takes about a
// second anyway.
func (h *Handle) WaitDAD(ctx context.Context, ip netip.Addr, link Link) (*Addr, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		a, err := h.Find(ip, &link)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, fmt.Errorf("%s vanished from %s during duplicate address detection", ip, link.Name)
		}
		if a.DADFailed {
			return a, ErrDADFailed
		}
		if !a.Tentative {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return a, fmt.Errorf("waiting for duplicate address detection of %s: %w", ip, ctx.Err())
		case <-tick.C:
		}
	}
}
