// Package announce tells the link that a virtual IP has moved: gratuitous
// ARP for IPv4 (RFC 5227 section 3 announcements, sent as both request and
// reply because some switches only learn from replies) and unsolicited
// neighbour advertisements with the Override flag for IPv6 (RFC 4861
// section 7.2.6).
package announce

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// EtherType values for the frames built here.
const (
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86dd
)

var (
	// Broadcast is the Ethernet broadcast address.
	Broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	// AllNodesMAC is the Ethernet address of ff02::1 (RFC 2464 section 7).
	AllNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
	// AllNodes is the link-local all-nodes multicast address.
	AllNodes = netip.MustParseAddr("ff02::1")
)

// ARP operation codes (RFC 826).
const (
	OpRequest = 1
	OpReply   = 2
)

// ARP builds a gratuitous ARP packet (the payload after the Ethernet header)
// for ip at mac: sender and target protocol address are both ip. A request
// leaves the target hardware address zero (RFC 5227); a reply carries the
// broadcast address there, as arping -A does.
func ARP(op uint16, mac net.HardwareAddr, ip netip.Addr) []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint16(b[0:], 1)      // hardware type: Ethernet
	binary.BigEndian.PutUint16(b[2:], 0x0800) // protocol type: IPv4
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], op)
	copy(b[8:14], mac)
	a4 := ip.As4()
	copy(b[14:18], a4[:])
	if op == OpReply {
		copy(b[18:24], Broadcast)
	}
	copy(b[24:28], a4[:])
	return b
}

// NA builds an unsolicited neighbour advertisement (the IPv6 packet after
// the Ethernet header) from ip to all-nodes, with the Override flag set so
// neighbours replace their cached link-layer address, the Solicited flag
// clear, hop limit 255 and a target link-layer address option.
func NA(mac net.HardwareAddr, ip netip.Addr) []byte {
	const icmpLen = 24 + 8
	b := make([]byte, 40+icmpLen)
	b[0] = 6 << 4 // version 6, traffic class 0, flow label 0
	binary.BigEndian.PutUint16(b[4:], icmpLen)
	b[6] = 58  // next header: ICMPv6
	b[7] = 255 // hop limit (RFC 4861 requires 255)
	src, dst := ip.As16(), AllNodes.As16()
	copy(b[8:24], src[:])
	copy(b[24:40], dst[:])
	m := b[40:]
	m[0] = 136 // neighbour advertisement
	m[4] = 0x20
	copy(m[8:24], src[:])
	m[24], m[25] = 2, 1 // option: target link-layer address, 8 bytes
	copy(m[26:32], mac)
	binary.BigEndian.PutUint16(m[2:], icmpChecksum(src, dst, m))
	return b
}

// icmpChecksum is the ICMPv6 checksum over the IPv6 pseudo-header
// (RFC 8200 section 8.1) and the message with a zero checksum field.
func icmpChecksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	add := func(p []byte) {
		for i := 0; i+1 < len(p); i += 2 {
			sum += uint32(p[i])<<8 | uint32(p[i+1])
		}
		if len(p)%2 == 1 {
			sum += uint32(p[len(p)-1]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:], uint32(len(msg)))
	l[7] = 58
	add(l[:])
	add(msg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// Conn sends one link-layer payload with the given EtherType to dst.
type Conn interface {
	WriteTo(payload []byte, etherType uint16, dst net.HardwareAddr) error
	Close() error
}

// Announcer sends the announcements for one address on one link.
type Announcer struct {
	Conn Conn
	MAC  net.HardwareAddr
	IP   netip.Addr
}

// Once sends one announcement: for IPv4 a gratuitous ARP request and reply,
// for IPv6 one unsolicited neighbour advertisement.
func (a *Announcer) Once() error {
	if a.IP.Is4() {
		if err := a.Conn.WriteTo(ARP(OpRequest, a.MAC, a.IP), EtherTypeARP, Broadcast); err != nil {
			return fmt.Errorf("announce: ARP request for %s: %w", a.IP, err)
		}
		if err := a.Conn.WriteTo(ARP(OpReply, a.MAC, a.IP), EtherTypeARP, Broadcast); err != nil {
			return fmt.Errorf("announce: ARP reply for %s: %w", a.IP, err)
		}
		return nil
	}
	if err := a.Conn.WriteTo(NA(a.MAC, a.IP), EtherTypeIPv6, AllNodesMAC); err != nil {
		return fmt.Errorf("announce: neighbour advertisement for %s: %w", a.IP, err)
	}
	return nil
}

// Repeat sends n announcements, the first at once and then one every
// interval, until done or ctx ends.
func (a *Announcer) Repeat(ctx context.Context, n int, interval time.Duration) error {
	for i := 0; i < n; i++ {
		if i > 0 {
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if err := a.Once(); err != nil {
			return err
		}
	}
	return nil
}
