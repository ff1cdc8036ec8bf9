package announce

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// PacketConn is an AF_PACKET datagram socket bound to one interface: the
// kernel adds the Ethernet header from the destination given per write.
// It is opened with protocol 0, so it never receives anything.
type PacketConn struct {
	fd      int
	ifindex int
}

// Open opens a send-only packet socket on the interface with index ifindex
// (needs CAP_NET_RAW).
func Open(ifindex int) (*PacketConn, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("announce: packet socket: %w", err)
	}
	return &PacketConn{fd: fd, ifindex: ifindex}, nil
}

// Htons puts an EtherType in network byte order for sockaddr_ll (amd64 and
// arm64 are little-endian).
func Htons(v uint16) uint16 { return v<<8 | v>>8 }

// WriteTo sends payload as one frame of etherType to dst.
func (c *PacketConn) WriteTo(payload []byte, etherType uint16, dst net.HardwareAddr) error {
	sa := &unix.SockaddrLinklayer{Protocol: Htons(etherType), Ifindex: c.ifindex, Halen: uint8(len(dst))}
	copy(sa.Addr[:], dst)
	return unix.Sendto(c.fd, payload, 0, sa)
}

// FromFile wraps a packet socket inherited from a parent process.
func FromFile(f *os.File, ifindex int) *PacketConn {
	return &PacketConn{fd: int(f.Fd()), ifindex: ifindex}
}

// File hands the socket over as an *os.File (to pass to a child process);
// c must not be used afterwards. Closing an AF_PACKET socket waits for an
// RCU grace period in the kernel (packet_release calls synchronize_net,
// about 10 ms here), so a short-lived agent leaves the last close to a
// process nobody waits for.
func (c *PacketConn) File() *os.File {
	f := os.NewFile(uintptr(c.fd), "packet")
	c.fd = -1
	return f
}

// Close closes the socket (see File for its cost).
func (c *PacketConn) Close() error {
	if c.fd < 0 {
		return nil
	}
	return unix.Close(c.fd)
}
