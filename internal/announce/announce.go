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

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
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
// for ip at mac with mdlayher/arp: sender and target protocol address are
// both ip. A request leaves the target hardware address zero (RFC 5227); a
// reply carries the broadcast address there, as arping -A does.
func ARP(op uint16, mac net.HardwareAddr, ip netip.Addr) []byte {
	target := make(net.HardwareAddr, 6)
	if op == OpReply {
		target = Broadcast
	}
	p, err := arp.NewPacket(arp.Operation(op), mac, ip, target, ip)
	if err != nil {
		panic(fmt.Sprintf("announce: ARP for %s at %s: %v", ip, mac, err)) // a caller's bug: an IPv6 ip or a MAC that is not Ethernet
	}
	b, err := p.MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("announce: ARP for %s: %v", ip, err))
	}
	return b
}

// NA builds an unsolicited neighbour advertisement (the IPv6 packet after
// the Ethernet header) from ip to all-nodes, with the Override flag set so
// neighbours replace their cached link-layer address, the Solicited flag
// clear, hop limit 255 and a target link-layer address option: the ICMPv6
// message and its checksum from mdlayher/ndp, the IPv6 header here (the
// packet socket sends below IP).
func NA(mac net.HardwareAddr, ip netip.Addr) []byte {
	m := &ndp.NeighborAdvertisement{Override: true, TargetAddress: ip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}}}
	msg, err := ndp.MarshalMessageChecksum(m, ip, AllNodes)
	if err != nil {
		panic(fmt.Sprintf("announce: NA for %s at %s: %v", ip, mac, err)) // a caller's bug, as for ARP
	}
	b := make([]byte, 40, 40+len(msg))
	b[0] = 6 << 4 // version 6, traffic class 0, flow label 0
	binary.BigEndian.PutUint16(b[4:], uint16(len(msg)))
	b[6] = 58  // next header: ICMPv6
	b[7] = 255 // hop limit (RFC 4861 requires 255)
	src, dst := ip.As16(), AllNodes.As16()
	copy(b[8:24], src[:])
	copy(b[24:40], dst[:])
	return append(b, msg...)
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
