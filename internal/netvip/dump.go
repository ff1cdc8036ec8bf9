package netvip

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Reads (the monitor path) use a blocking rtnetlink dump (rib.go), parsed
// with the standard library as net.Interfaces does. vishvananda/netlink
// makes its sockets non-blocking and parks on Go's netpoller, which costs
// about a millisecond of CPU per process in thread wake-ups; monitors run
// every few seconds on every node, so the read path avoids it. Changes and
// route lookups still go through vishvananda/netlink.

func (h *Handle) dumpLinks() (map[int]Link, error) {
	msgs, err := h.rib.dump(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
	if err != nil {
		return nil, err
	}
	links := map[int]Link{}
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
			continue
		}
		ifi := (*syscall.IfInfomsg)(unsafePointer(m.Data))
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return nil, fmt.Errorf("netlink: parse link attributes: %w", err)
		}
		l := Link{Index: int(ifi.Index), AdminUp: ifi.Flags&syscall.IFF_UP != 0}
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.IFLA_IFNAME:
				l.Name = cString(a.Value)
			case syscall.IFLA_ADDRESS:
				if len(a.Value) == 6 && ifi.Flags&syscall.IFF_LOOPBACK == 0 {
					l.MAC = net.HardwareAddr(a.Value)
				}
			case unix.IFLA_OPERSTATE:
				if len(a.Value) == 1 {
					l.Oper = netlink.LinkOperState(a.Value[0])
				}
			}
		}
		links[l.Index] = l
	}
	return links, nil
}

// rawAddr is one RTM_NEWADDR entry.
type rawAddr struct {
	ip     netip.Addr
	prefix int
	index  int
	label  string
	flags  uint32
}

func (h *Handle) dumpAddrs(family int) ([]rawAddr, error) {
	msgs, err := h.rib.dump(syscall.RTM_GETADDR, family)
	if err != nil {
		return nil, err
	}
	var out []rawAddr
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != syscall.RTM_NEWADDR || len(m.Data) < syscall.SizeofIfAddrmsg {
			continue
		}
		ifa := (*syscall.IfAddrmsg)(unsafePointer(m.Data))
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return nil, fmt.Errorf("netlink: parse address attributes: %w", err)
		}
		r := rawAddr{prefix: int(ifa.Prefixlen), index: int(ifa.Index), flags: uint32(ifa.Flags)}
		var local, address netip.Addr
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.IFA_LOCAL:
				local, _ = netip.AddrFromSlice(a.Value)
			case syscall.IFA_ADDRESS:
				address, _ = netip.AddrFromSlice(a.Value)
			case syscall.IFA_LABEL:
				r.label = cString(a.Value)
			case unix.IFA_FLAGS:
				if len(a.Value) == 4 {
					r.flags = binary.NativeEndian.Uint32(a.Value)
				}
			}
		}
		// On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is ours.
		r.ip = address
		if local.IsValid() {
			r.ip = local
		}
		if r.ip.IsValid() {
			r.ip = r.ip.Unmap()
			out = append(out, r)
		}
	}
	return out, nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
