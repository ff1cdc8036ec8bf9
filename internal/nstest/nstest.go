// Package nstest builds throw-away network namespaces for root tests: a
// "node" namespace and a "peer" namespace joined by a veth pair, plus a
// capture of the ARP and neighbour advertisements the peer receives. Names
// carry the test process's PID and a counter so parallel runs never meet,
// and everything is removed in t.Cleanup.
package nstest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/cloudvip/floatip/internal/announce"
)

var counter atomic.Int32

// RequireRoot skips t with a clear message unless running as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces (CI runs this as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip to build namespaces")
	}
}

// Pair is two namespaces joined by a veth pair: Node/NodeIf and Peer/PeerIf.
type Pair struct {
	Node, Peer     string
	NodeIf, PeerIf string
}

// Run runs a command and fails t with its output on error.
func Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// NewPair creates the namespaces and links, both ends up, with node4 and
// node6 (CIDR strings, may be empty) on the node and peer4/peer6 on the
// peer. IPv6 addresses are added with nodad so they are usable at once.
func NewPair(t testing.TB, node4, node6, peer4, peer6 string) *Pair {
	t.Helper()
	RequireRoot(t)
	n := counter.Add(1)
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, n)
	p := &Pair{
		Node: "fipn" + id, Peer: "fipp" + id,
		NodeIf: "fvn" + id, PeerIf: "fvp" + id,
	}
	Run(t, "ip", "netns", "add", p.Node)
	t.Cleanup(func() { delNS(p.Node) })
	Run(t, "ip", "netns", "add", p.Peer)
	t.Cleanup(func() { delNS(p.Peer) })
	Run(t, "ip", "link", "add", p.NodeIf, "netns", p.Node, "type", "veth", "peer", "name", p.PeerIf, "netns", p.Peer)
	for _, ns := range []struct{ ns, ifc, a4, a6 string }{{p.Node, p.NodeIf, node4, node6}, {p.Peer, p.PeerIf, peer4, peer6}} {
		Run(t, "ip", "-n", ns.ns, "link", "set", "lo", "up")
		if ns.a4 != "" {
			Run(t, "ip", "-n", ns.ns, "addr", "add", ns.a4, "dev", ns.ifc)
		}
		if ns.a6 != "" {
			Run(t, "ip", "-n", ns.ns, "addr", "add", ns.a6, "dev", ns.ifc, "nodad")
		}
		Run(t, "ip", "-n", ns.ns, "link", "set", ns.ifc, "up")
	}
	return p
}

// Addrs returns `ip -o addr show` of dev in ns: one line per address.
func Addrs(t testing.TB, ns, dev string) string {
	t.Helper()
	return Run(t, "ip", "-n", ns, "-o", "addr", "show", "dev", dev)
}

// AddrsSettled is Addrs without the "tentative" flag, for comparing a
// node before and after an action: the kernel's own DAD of the link-local
// address may finish in between.
func AddrsSettled(t testing.TB, ns, dev string) string {
	t.Helper()
	return strings.ReplaceAll(Addrs(t, ns, dev), " tentative", "")
}

// Frame is one announcement seen by the peer.
type Frame struct {
	At   time.Time
	Kind string // "arp-request", "arp-reply" or "na"
	MAC  net.HardwareAddr
	// Override is the NA's O flag; Solicited its S flag.
	Override, Solicited bool
	HopLimit            uint8
}

// Capture records the announcements for one address arriving on a link.
type Capture struct {
	fd     int
	ip     netip.Addr
	mu     sync.Mutex
	frames []Frame
	stop   atomic.Bool
	done   chan struct{}
}

// Listen starts capturing, inside namespace ns on interface dev, the
// gratuitous ARP (sender address ip) and neighbour advertisements (target
// ip) that arrive. Everything else, the kernel's own DAD and MLD traffic
// included, is ignored. The capture ends in t.Cleanup.
func Listen(t testing.TB, ns, dev string, ip netip.Addr) *Capture {
	t.Helper()
	c, err := ListenNS(ns, dev, ip)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// ListenNS is Listen outside a test; call Close when done.
func ListenNS(ns, dev string, ip netip.Addr) (*Capture, error) {
	fd, err := In(ns, func() (int, error) {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(announce.Htons(unix.ETH_P_ALL)))
		if err != nil {
			return -1, err
		}
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: announce.Htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	})
	if err != nil {
		return nil, fmt.Errorf("capture in %s on %s: %w", ns, dev, err)
	}
	tv := unix.Timeval{Usec: 50000} // the reader looks at stop this often
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("capture in %s on %s: %w", ns, dev, err)
	}
	c := &Capture{fd: fd, ip: ip, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		buf := make([]byte, 2048)
		for !c.stop.Load() {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue
			}
			if f, ok := parse(buf[:n], ip); ok {
				c.mu.Lock()
				c.frames = append(c.frames, f)
				c.mu.Unlock()
			}
		}
	}()
	return c, nil
}

// Close ends the capture.
func (c *Capture) Close() {
	if c.stop.Swap(true) {
		return
	}
	<-c.done
	unix.Close(c.fd)
}

// Frames returns what was captured so far.
func (c *Capture) Frames() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.frames...)
}

// Count returns how many captured frames are of kind.
func (c *Capture) Count(kind string) int {
	n := 0
	for _, f := range c.Frames() {
		if f.Kind == kind {
			n++
		}
	}
	return n
}

// WaitCount waits until at least n frames of kind arrived or d passed, and
// returns the count.
func (c *Capture) WaitCount(kind string, n int, d time.Duration) int {
	end := time.Now().Add(d)
	for time.Now().Before(end) && c.Count(kind) < n {
		time.Sleep(10 * time.Millisecond)
	}
	return c.Count(kind)
}

func parse(b []byte, ip netip.Addr) (Frame, bool) {
	if len(b) < 14 {
		return Frame{}, false
	}
	f := Frame{At: time.Now()}
	et := binary.BigEndian.Uint16(b[12:14])
	p := b[14:]
	switch {
	case et == unix.ETH_P_ARP && ip.Is4() && len(p) >= 28:
		spa := netip.AddrFrom4([4]byte(p[14:18]))
		tpa := netip.AddrFrom4([4]byte(p[24:28]))
		if spa != ip || tpa != ip {
			return f, false
		}
		f.MAC = net.HardwareAddr(bytes.Clone(p[8:14]))
		switch binary.BigEndian.Uint16(p[6:8]) {
		case 1:
			f.Kind = "arp-request"
		case 2:
			f.Kind = "arp-reply"
		default:
			return f, false
		}
		return f, true
	case et == unix.ETH_P_IPV6 && ip.Is6() && len(p) >= 40+24:
		if p[6] != 58 || p[40] != 136 {
			return f, false
		}
		if netip.AddrFrom16([16]byte(p[40+8:40+24])) != ip {
			return f, false
		}
		f.Kind = "na"
		f.HopLimit = p[7]
		f.Override = p[44]&0x20 != 0
		f.Solicited = p[44]&0x40 != 0
		if len(p) >= 40+32 && p[40+24] == 2 {
			f.MAC = net.HardwareAddr(bytes.Clone(p[40+26 : 40+32]))
		}
		return f, true
	}
	return f, false
}

// In runs fn on a locked OS thread switched into namespace name.
// Sockets created there stay in that namespace.
func In[T any](name string, fn func() (T, error)) (T, error) {
	var zero T
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return zero, err
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		return zero, err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return zero, err
	}
	defer func() {
		// A thread left in the wrong namespace would run later code there.
		if err := netns.Set(orig); err != nil {
			panic(fmt.Sprintf("nstest: back to the original network namespace: %v", err))
		}
	}()
	return fn()
}

// delNS deletes a namespace the test made; one already gone is fine.
func delNS(name string) { _ = exec.Command("ip", "netns", "del", name).Run() }

// Start starts cmd inside network namespace ns without `ip netns exec`, so
// the child's resource usage is its own: the fork happens on a thread
// switched into ns, and the child inherits that namespace.
func Start(ns string, cmd *exec.Cmd) error {
	_, err := In(ns, func() (struct{}, error) { return struct{}{}, cmd.Start() })
	return err
}

// LAN is a "cloud" namespace with a bridge and n node namespaces, each with
// a veth into that bridge. The cloud namespace has 10.250.0.100/24 and
// 2001:db8:250::100/64 on the bridge; node i (0-based) has 10.250.0.(i+1)
// and 2001:db8:250::(i+1) on its NodeIf. No namespace has a default route.
type LAN struct {
	Cloud  string
	Nodes  []string
	NodeIf string // the interface name inside every node
}

// CloudAddr is the cloud namespace's address on the LAN.
const CloudAddr = "10.250.0.100"

// NewLAN builds the namespaces; everything goes in t.Cleanup.
func NewLAN(t testing.TB, n int) *LAN {
	t.Helper()
	RequireRoot(t)
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, counter.Add(1))
	l := &LAN{Cloud: "fipc" + id, NodeIf: "eth0"}
	for i := 0; i < n; i++ {
		l.Nodes = append(l.Nodes, fmt.Sprintf("fipn%s-%d", id, i))
	}
	made, err := BuildLAN(l.Cloud, l.Nodes)
	t.Cleanup(func() {
		for i := len(made) - 1; i >= 0; i-- {
			delNS(made[i])
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	Run(t, "ip", "-n", l.Cloud, "addr", "add", CloudAddr+"/24", "dev", "br0")
	Run(t, "ip", "-n", l.Cloud, "addr", "add", "2001:db8:250::100/64", "dev", "br0", "nodad")
	for i, ns := range l.Nodes {
		Run(t, "ip", "-n", ns, "addr", "add", fmt.Sprintf("10.250.0.%d/24", i+1), "dev", l.NodeIf)
		Run(t, "ip", "-n", ns, "addr", "add", fmt.Sprintf("2001:db8:250::%d/64", i+1), "dev", l.NodeIf, "nodad")
	}
	return l
}

// BuildLAN makes namespace cloud with bridge br0 and one namespace per
// name in nodes, each attached to the bridge by a veth pair (eth0 in the
// node, p<i> on the bridge), everything up, no addresses. It returns the
// namespaces it made, in order, also when it fails part way, so the caller
// can delete them. The tests' NewLAN and the cluster lab both build on it.
func BuildLAN(cloud string, nodes []string) (made []string, err error) {
	run := func(args ...string) error {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return nil
	}
	addNS := func(ns string) error {
		if err := run("ip", "netns", "add", ns); err != nil {
			return err
		}
		made = append(made, ns)
		return run("ip", "-n", ns, "link", "set", "lo", "up")
	}
	if err := addNS(cloud); err != nil {
		return made, err
	}
	if err := run("ip", "-n", cloud, "link", "add", "br0", "type", "bridge"); err != nil {
		return made, err
	}
	if err := run("ip", "-n", cloud, "link", "set", "br0", "up"); err != nil {
		return made, err
	}
	for i, ns := range nodes {
		if err := addNS(ns); err != nil {
			return made, err
		}
		port := fmt.Sprintf("p%d", i)
		for _, cmd := range [][]string{
			{"ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", cloud},
			{"ip", "-n", cloud, "link", "set", port, "master", "br0", "up"},
			{"ip", "-n", ns, "link", "set", "eth0", "up"},
		} {
			if err := run(cmd...); err != nil {
				return made, err
			}
		}
	}
	return made, nil
}

// Serve runs h as an HTTP server inside the cloud namespace on
// CloudAddr:port and returns its origin (http://10.250.0.100:port).
func (l *LAN) Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := In(l.Cloud, func() (net.Listener, error) { return net.Listen("tcp", CloudAddr+":0") })
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends with ErrServerClosed at cleanup
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}
