package announce

import (
	"fmt"
	"net"

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

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// WriteTo sends payload as one frame of etherType to dst.
func (c *PacketConn) WriteTo(payload []byte, etherType uint16, dst net.HardwareAddr) error {
	sa := &unix.SockaddrLinklayer{Protocol: htons(etherType), Ifindex: c.ifindex, Halen: uint8(len(dst))}
	copy(sa.Addr[:], dst)
	return unix.Sendto(c.fd, payload, 0, sa)
}

// Close closes the socket.
func (c *PacketConn) Close() error { return unix.Close(c.fd) }
