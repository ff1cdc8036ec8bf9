package netvip

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// rib is a blocking NETLINK_ROUTE socket for dumps, bound to the network
// namespace it was opened in.
type rib struct {
	fd  int
	seq uint32
}

func openRIB() (*rib, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink: bind: %w", err)
	}
	return &rib{fd: fd}, nil
}

func (r *rib) close() { unix.Close(r.fd) }

// dump sends an NLM_F_DUMP request of type typ for family and returns every
// message of the answer.
func (r *rib) dump(typ uint16, family int) ([]syscall.NetlinkMessage, error) {
	r.seq++
	req := make([]byte, unix.NLMSG_HDRLEN+4) // header + rtgenmsg, padded
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], typ)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], r.seq)
	req[unix.NLMSG_HDRLEN] = byte(family)
	if err := unix.Sendto(r.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink: dump request: %w", err)
	}
	var out []syscall.NetlinkMessage
	for {
		buf := make([]byte, 32<<10)
		n, _, err := unix.Recvfrom(r.fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("netlink: dump: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("netlink: parse dump: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != r.seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
						return nil, fmt.Errorf("netlink: dump: %w", syscall.Errno(-e))
					}
				}
				return out, nil
			}
			out = append(out, m)
		}
	}
}
