package lab

// The BGP variant of the lab (Config.BGP): a Linode BGP data center. The
// cloud namespace, already the router between the nodes' LAN and the
// client, runs FRR as Linode's route server (ASN 65000, 2001:db8:34::1 on
// its lo, a different subnet than the nodes', so the sessions are
// multihop as at Linode, whose route servers are 2600:3c0f:<dc>:34::1-4);
// every node runs its own zebra and bgpd (and bfdd with BFD) configured
// with floatip's `linode.BGP.Config`, and floatip (linode_mode=bgp)
// announces the VIP through the node's bgpd: provider linode-bgp
// (198.51.100.70/32) and linode-bgp6 (its range 2001:db8:70::/64). The route server's zebra
// installs the best route in the cloud namespace's kernel, so the client's
// traffic to the VIP follows BGP.
//
// What Linode documents: community 65000:1 marks the primary, 65000:2 a
// secondary, and the primary wins. What the emulation assumes beyond it:
// the preference is local-preference 200 against 100 and routes with
// neither community are refused; the route server keeps FRR's defaults
// otherwise, so between two primaries the older path stays best (RFC
// 5004) until its session drops (a dead node's route lasts until the hold
// timer or BFD ends its session), and only that one best path carries
// traffic (maximum-paths 1: with FRR's default the two primaries' paths
// would share it as ECMP); the route server accepts the hold time the
// node offers (its own is FRR's 180 s), sends the nodes nothing, and runs
// BFD (multihop) only when the lab's nodes do.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cloudvip/floatip/internal/frr"
	"github.com/cloudvip/floatip/internal/provider/linode"
)

// BGPConfig makes the lab a Linode BGP data center.
type BGPConfig struct {
	Hold int  // the nodes' hold time (floatip's bgp_hold and frr.conf); 0: 9, lelastic's
	BFD  bool // BFD on the sessions (bfdd on the route server and the nodes)
}

// Addresses of the BGP lab.
const (
	RouteServer = "2001:db8:34::1"   // on the cloud's lo
	BGPVIP      = "198.51.100.70"    // linode-bgp, owned by Linode 399
	BGPVIP6     = "2001:db8:70::10"  // linode-bgp6, an address of BGPRange6
	BGPRange6   = "2001:db8:70::/64" // Linode 399's range, shared and announced whole
	RouterLAN6  = "2001:db8:250::100"
	RouterWAN6  = "2001:db8:9::1"
	ClientAddr6 = "2001:db8:9::2"
	nodesNet6   = "2001:db8:250::/64"
	frrLib      = "/usr/lib/frr"
)

// hold is the hold time the lab's nodes use.
func (c *BGPConfig) hold() int {
	if c.Hold == 0 {
		return 9
	}
	return c.Hold
}

// nodeConfig is a node's frr.conf: floatip's own (sessions only).
func (c *BGPConfig) nodeConfig() string {
	b := linode.BGP{Hold: c.hold(), BFD: c.BFD}
	return b.Config([]netip.Addr{netip.MustParseAddr(RouteServer)})
}

// rsConfig is the route server's bgpd configuration: every address of the
// nodes' /64 may open a session (peer group NODES, ASN 65001, multihop),
// both address families, Linode's policy inbound, nothing outbound.
func (c *BGPConfig) rsConfig() string {
	var b strings.Builder
	b.WriteString(`frr defaults traditional
hostname routeserver
log timestamp precision 3
bgp community-list standard LINODE-PRIMARY seq 5 permit ` + linode.Primary + `
bgp community-list standard LINODE-SECONDARY seq 5 permit ` + linode.Secondary + `
route-map NODES-IN permit 10
 match community LINODE-PRIMARY
 set local-preference 200
exit
route-map NODES-IN permit 20
 match community LINODE-SECONDARY
 set local-preference 100
exit
route-map NODES-IN deny 30
exit
route-map NODES-OUT deny 10
exit
router bgp 65000
 bgp router-id 10.250.0.100
 bgp log-neighbor-changes
 no bgp ebgp-requires-policy
 bgp route-map delay-timer 1
 neighbor NODES peer-group
 neighbor NODES remote-as 65001
 neighbor NODES ebgp-multihop 10
 neighbor NODES update-source ` + RouteServer + "\n")
	if c.BFD {
		b.WriteString(" neighbor NODES bfd\n")
	}
	b.WriteString(" bgp listen range " + nodesNet6 + " peer-group NODES\n")
	for _, af := range []string{"ipv4", "ipv6"} {
		fmt.Fprintf(&b, " address-family %s unicast\n  maximum-paths 1\n  neighbor NODES activate\n  neighbor NODES route-map NODES-IN in\n"+
			"  neighbor NODES route-map NODES-OUT out\n exit-address-family\n", af)
	}
	b.WriteString("exit\n")
	return b.String()
}

// zebraConfig is every zebra's configuration (the lines of frr.conf only
// zebra knows: each daemon reads its own file here, without vtysh -b).
const zebraConfig = "frr defaults traditional\nlog timestamp precision 3\nipv6 nht resolve-via-default\n"

// routeServer is FRR in the cloud namespace.
type routeServer struct {
	dir     string
	cmds    []*exec.Cmd
	stop    chan struct{}
	stopped bool
	done    sync.WaitGroup
	mu      sync.Mutex
	where   map[string]string // VIP -> the node the route server routes it to
}

// frrOwner chowns path to FRR's user: the daemons run as frr:frr, as
// Debian's do (-u root is refused: root is not in the vty group frrvty),
// so their pid files and sockets go in directories frr can write.
func frrOwner(path string) error {
	u, err := user.Lookup("frr")
	if err != nil {
		return fmt.Errorf("lab: FRR's user: %w (is frr installed?)", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(path, uid, gid)
}

// frrArgs are a daemon's arguments: config file, no TCP vty, its pid file,
// zebra's socket and the vty sockets in run, the log in logDir.
func frrArgs(daemon, conf, run, logDir string) []string {
	return []string{filepath.Join(frrLib, daemon), "-f", conf, "-P", "0", "-i", filepath.Join(run, daemon+".pid"),
		"-z", filepath.Join(run, "zserv.api"), "--vty_socket", run, "--log", "file:" + filepath.Join(logDir, "frr-"+daemon+".log")}
}

// frrDaemons are the daemons to run: zebra, bgpd, and bfdd with BFD.
func frrDaemons(bfd bool) []string {
	if bfd {
		return []string{"zebra", "bfdd", "bgpd"}
	}
	return []string{"zebra", "bgpd"}
}

// startRouteServer writes the route server's configuration and starts its
// daemons in the cloud namespace (children of this process, ended by PID
// at Down), then watches where it routes the VIPs.
func (l *Lab) startRouteServer() error {
	c := l.cfg.BGP
	rs := &routeServer{dir: filepath.Join(l.cfg.Dir, "routeserver"), stop: make(chan struct{}), where: map[string]string{}}
	l.rs = rs
	// FRR's daemons (user frr) read their configuration and write their
	// pid files under the lab's directory: they need to traverse it (the
	// token files in it stay root's alone).
	if err := os.Chmod(l.cfg.Dir, 0o711); err != nil {
		return err
	}
	if err := os.MkdirAll(rs.dir, 0o755); err != nil {
		return err
	}
	if err := frrOwner(rs.dir); err != nil {
		return err
	}
	confs := map[string]string{"zebra": zebraConfig, "bgpd": c.rsConfig(), "bfdd": "frr defaults traditional\n"}
	for _, d := range frrDaemons(c.BFD) {
		conf := filepath.Join(rs.dir, d+".conf")
		if err := os.WriteFile(conf, []byte(confs[d]), 0o644); err != nil {
			return err
		}
		cmd := exec.Command("ip", append([]string{"netns", "exec", l.Cloud}, frrArgs(d, conf, rs.dir, rs.dir)...)...)
		out, err := os.OpenFile(filepath.Join(rs.dir, d+".out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = out, out
		err = cmd.Start()
		out.Close()
		if err != nil {
			return fmt.Errorf("route server %s: %w", d, err)
		}
		rs.cmds = append(rs.cmds, cmd)
		if err := waitSocket(filepath.Join(rs.dir, d+".vty"), 10*time.Second); err != nil {
			return fmt.Errorf("route server %s: %w; see %s", d, err, rs.dir)
		}
	}
	rs.done.Add(1)
	go l.watchRoutes()
	return nil
}

// waitSocket waits until a daemon's vty socket exists.
func waitSocket(path string, d time.Duration) error {
	for end := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s did not appear within %v", path, d)
		}
	}
}

// stopRouteServer ends the watcher and the route server's daemons (by
// their PIDs: SIGTERM, then SIGKILL after 5 s).
func (l *Lab) stopRouteServer() {
	rs := l.rs
	if rs == nil || rs.stopped {
		return
	}
	rs.stopped = true
	close(rs.stop)
	rs.done.Wait()
	for i := len(rs.cmds) - 1; i >= 0; i-- {
		cmd := rs.cmds[i]
		_ = cmd.Process.Signal(unix.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
}

// bgpPath is one path of bgpd's "show bgp <afi> unicast <prefix> json".
type bgpPath struct {
	Valid    bool `json:"valid"`
	Sourced  bool `json:"sourced"`
	Bestpath struct {
		Overall bool `json:"overall"`
	} `json:"bestpath"`
	Nexthops []struct {
		IP string `json:"ip"`
	} `json:"nexthops"`
	Community struct {
		List []string `json:"list"`
	} `json:"community"`
}

// bgpRoute asks the bgpd whose vty socket is in dir for its paths to ip.
func bgpRoute(dir, ip string) ([]bgpPath, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := frr.Dial(ctx, dir, "bgpd")
	if err != nil {
		return nil, err
	}
	defer func() { _ = v.Close() }()
	return routeVia(ctx, v, ip)
}

func routeVia(ctx context.Context, v *frr.VTY, ip string) ([]bgpPath, error) {
	fam := "ipv4"
	if strings.Contains(ip, ":") {
		fam = "ipv6"
	}
	out, err := v.Run(ctx, fmt.Sprintf("show bgp %s unicast %s json", fam, ip))
	if err != nil {
		return nil, err
	}
	var r struct {
		Paths []bgpPath `json:"paths"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return nil, fmt.Errorf("bgpd's route to %s: %v", ip, err)
	}
	return r.Paths, nil
}

// byNextHop returns the node whose eth0 has address a, nil if none.
func (l *Lab) byNextHop(a string) *Node {
	for _, n := range l.Nodes {
		if a != "" && (a == n.Addr || a == n.Addr6) {
			return n
		}
	}
	return nil
}

// bestVia returns the node the best of paths leads to (nil: no route).
func (l *Lab) bestVia(paths []bgpPath) *Node {
	for _, p := range paths {
		if p.Valid && p.Bestpath.Overall && len(p.Nexthops) > 0 {
			return l.byNextHop(p.Nexthops[0].IP)
		}
	}
	return nil
}

// RouteServerHolder is the node the route server's best path to ip leads
// to, nil when it has no route (or is not running).
func (l *Lab) RouteServerHolder(ip string) *Node {
	if l.rs == nil {
		return nil
	}
	paths, err := bgpRoute(l.rs.dir, ip)
	if err != nil {
		return nil
	}
	return l.bestVia(paths)
}

// kernelRoute is the cloud namespace's route to ip, as ip route get
// shows it.
func (l *Lab) kernelRoute(ip string) string {
	out, _ := exec.Command("ip", "-n", l.Cloud, "route", "get", ip).CombinedOutput()
	return strings.Join(strings.Fields(string(out)), " ")
}

// announces reports whether node n's bgpd announces ip as its own (a
// sourced path), asked through the node's vty socket from outside.
func (n *Node) announces(ip string) bool {
	pid := n.initPID()
	if pid == 0 {
		return false
	}
	paths, err := bgpRoute(fmt.Sprintf("/proc/%d/root/run/frr", pid), ip)
	if err != nil {
		return false
	}
	for _, p := range paths {
		if p.Sourced {
			return true
		}
	}
	return false
}

// watchRoutes records, every 50 ms, where the route server routes the
// BGP VIPs ("cloud routes <vip> to (n2) (route server)"), for timelines.
func (l *Lab) watchRoutes() {
	rs := l.rs
	defer rs.done.Done()
	var v *frr.VTY
	defer func() {
		if v != nil {
			_ = v.Close()
		}
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-rs.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if v == nil {
			v, _ = frr.Dial(ctx, rs.dir, "bgpd")
		}
		for _, ip := range []string{BGPVIP, BGPVIP6} {
			if v == nil {
				break
			}
			at := time.Now()
			paths, err := routeVia(ctx, v, ip)
			if err != nil {
				_ = v.Close()
				v = nil
				break
			}
			l.routeSeen(rs, ip, nodeName(l.bestVia(paths)), at)
		}
		cancel()
	}
}

// routeSeen records a change of where the route server routes ip, seen
// by the query sent at at.
func (l *Lab) routeSeen(rs *routeServer, ip, where string, at time.Time) {
	rs.mu.Lock()
	old, known := rs.where[ip]
	rs.where[ip] = where
	rs.mu.Unlock()
	if known && old == where || !known && where == "nowhere" {
		return
	}
	if where == "nowhere" {
		l.recordAt(at, fmt.Sprintf("route server withdraws %s (was via %s)", ip, old))
		return
	}
	l.recordAt(at, fmt.Sprintf("cloud routes %s to (%s) (route server)", ip, where))
}

// sessionsUp reports which of nodes have an established session with the
// route server (its dynamic neighbours are the nodes' eth0 IPv6 addresses).
func (l *Lab) sessionsUp() (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := frr.Dial(ctx, l.rs.dir, "bgpd")
	if err != nil {
		return nil, err
	}
	defer func() { _ = v.Close() }()
	out, err := v.Run(ctx, "show bgp ipv6 unicast summary json")
	if err != nil {
		return nil, err
	}
	var sum struct {
		Peers map[string]struct {
			State string `json:"state"`
		} `json:"peers"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		return nil, err
	}
	up := map[string]bool{}
	for p, s := range sum.Peers {
		up[p] = s.State == "Established"
	}
	return up, nil
}

// WaitSessions waits until every one of nodes has its session with the
// route server established, and with BFD its BFD session up (a BGP lab;
// at once otherwise).
func (l *Lab) WaitSessions(nodes []*Node, d time.Duration) error {
	if l.rs == nil {
		return nil
	}
	if err := l.waitBGP(nodes, d); err != nil {
		return err
	}
	return l.WaitBFD(nodes, d)
}

// waitBGP waits until every one of nodes has its BGP session established.
func (l *Lab) waitBGP(nodes []*Node, d time.Duration) error {
	var missing []string
	for end := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		up, err := l.sessionsUp()
		missing = missing[:0]
		for _, n := range nodes {
			if err != nil || !up[n.Addr6] {
				missing = append(missing, n.Name)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("lab: no BGP session with the route server from %v after %v (%v); logs in %s", missing, d, err, l.cfg.Dir)
		}
	}
}

// network6 gives a BGP lab IPv6: the route server's address on the
// cloud's lo, the cloud's addresses on the LAN and towards the client,
// the client's address and route, and the sysctls every namespace needs
// (no router advertisements, addresses kept over a link down, forwarding
// in the cloud).
func (l *Lab) network6() error {
	c, k := l.Cloud, l.Client
	cmds := [][]string{
		{"ip", "netns", "exec", c, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.all.accept_ra=0",
			"net.ipv6.conf.default.accept_ra=0", "net.ipv6.conf.all.keep_addr_on_down=1", "net.ipv6.conf.default.keep_addr_on_down=1"},
		{"ip", "-n", c, "addr", "add", RouteServer + "/128", "dev", "lo"},
		{"ip", "-n", c, "addr", "add", RouterLAN6 + "/64", "dev", "br0", "nodad"},
		{"ip", "-n", c, "addr", "add", RouterWAN6 + "/64", "dev", "wan0", "nodad"},
		{"ip", "netns", "exec", k, "sysctl", "-qw", "net.ipv6.conf.all.accept_ra=0", "net.ipv6.conf.default.accept_ra=0"},
		{"ip", "-n", k, "addr", "add", ClientAddr6 + "/64", "dev", "eth0", "nodad"},
		{"ip", "-n", k, "route", "add", "2001:db8::/32", "via", RouterWAN6},
		{"ip", "-n", k, "route", "add", "198.51.100.0/24", "via", RouterWAN},
	}
	for _, n := range l.Nodes {
		cmds = append(cmds, []string{"ip", "netns", "exec", n.NS, "sysctl", "-qw", "net.ipv6.conf.all.accept_ra=0",
			"net.ipv6.conf.default.accept_ra=0", "net.ipv6.conf.eth0.accept_ra=0",
			"net.ipv6.conf.all.keep_addr_on_down=1", "net.ipv6.conf.eth0.keep_addr_on_down=1"})
	}
	for _, cmd := range cmds {
		if err := sh(cmd...); err != nil {
			return err
		}
	}
	return nil
}

// start6 gives node n (re)starting in a BGP lab its IPv6 address and
// routes, and its frr.conf and zebra.conf (which its init starts FRR
// with). Each daemon reads its own file here (no vtysh -b dispatching an
// integrated frr.conf), so bgpd, reading floatip's frr.conf, logs its one
// zebra line (ipv6 nht resolve-via-default) as unknown: zebra.conf has it.
func (l *Lab) start6(n *Node) error {
	for _, cmd := range [][]string{
		{"ip", "-n", n.NS, "addr", "add", n.Addr6 + "/64", "dev", "eth0", "nodad"},
		{"ip", "-n", n.NS, "route", "replace", "2001:db8:34::/64", "via", RouterLAN6},
		{"ip", "-n", n.NS, "route", "replace", "2001:db8:9::/64", "via", RouterLAN6},
	} {
		if err := sh(cmd...); err != nil {
			return err
		}
	}
	if err := os.Chmod(n.Dir, 0o711); err != nil { // FRR (user frr) reads its configuration here
		return err
	}
	if err := os.WriteFile(filepath.Join(n.Dir, "zebra.conf"), []byte(zebraConfig), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(n.Dir, "frr.conf"), []byte(l.cfg.BGP.nodeConfig()), 0o644)
}

// startFRR runs in a node's init (its own /run mounted): when the lab
// wrote frr.conf to dir, zebra, bgpd (and bfdd when frr.conf asks for
// BFD) start as the init's children, so they die with the node, with
// their sockets in /var/run/frr (floatip's default frr_vty_dir) and their
// logs in dir.
func startFRR(dir string) error {
	conf := filepath.Join(dir, "frr.conf")
	b, err := os.ReadFile(conf)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	run := "/run/frr"
	if err := os.MkdirAll(run, 0o755); err != nil {
		return err
	}
	if err := frrOwner(run); err != nil {
		return err
	}
	confs := map[string]string{"zebra": filepath.Join(dir, "zebra.conf"), "bgpd": conf, "bfdd": filepath.Join(dir, "bfdd.conf")}
	if err := os.WriteFile(confs["bfdd"], []byte("frr defaults traditional\n"), 0o644); err != nil {
		return err
	}
	for _, d := range frrDaemons(strings.Contains(string(b), " bfd\n")) {
		a := frrArgs(d, confs[d], run, dir)
		cmd := exec.Command(a[0], a[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		if err := waitSocket(filepath.Join(run, d+".vty"), 10*time.Second); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return nil
}

// bgpParams are floatip's parameters for linode-bgp and linode-bgp6: those
// of share mode, mode bgp, the lab's route server and timers.
func (l *Lab) bgpParams(provider string) []string {
	c := l.cfg.BGP
	if c == nil {
		c = &BGPConfig{}
	}
	return []string{"ip=" + VIP(provider), "provider=linode", "linode_mode=bgp", "bgp_peers=" + RouteServer,
		"bgp_hold=" + strconv.Itoa(c.hold()), "bgp_bfd=" + strconv.FormatBool(c.BFD),
		"api_url=" + l.API, "metadata_url=" + l.API, "token_file=" + filepath.Join(l.cfg.Dir, "linode.token")}
}

// holdsBGP: n holds the VIP when it is bound on n's lo or n's bgpd
// announces it.
func (l *Lab) holdsBGP(n *Node, provider string) bool {
	vip := VIP(provider)
	out, err := exec.Command("ip", "-n", n.NS, "-o", "addr", "show", "dev", "lo").Output()
	if err == nil && strings.Contains(string(out), " "+vip+"/") {
		return true
	}
	return n.announces(vip)
}

// bgpAgrees: the route server's best path leads to n, the cloud's kernel
// routes the VIP there, and the fake shares
// the VIP with n's Linode (the IPv4 address; for IPv6 its range, by the
// range's address as the share call names it).
func (l *Lab) bgpAgrees(provider string, n *Node) bool {
	if n == nil || l.RouteServerHolder(VIP(provider)) != n {
		return false
	}
	if !strings.Contains(l.kernelRoute(VIP(provider))+" ", " via "+n.Addr+" ") && !strings.Contains(l.kernelRoute(VIP(provider))+" ", " via "+n.Addr6+" ") {
		return false // bgpd chose n, zebra did not install it (yet)
	}
	id := linodeBase + 1 + l.index(n)
	shared, want := l.Linode.Shared(id), BGPVIP
	if provider == "linode-bgp6" {
		shared, want = l.Linode.SharedRanges(id), netip.MustParsePrefix(BGPRange6).Addr().String()
	}
	for _, ip := range shared {
		if ip == want {
			return true
		}
	}
	return false
}

// WaitBFD waits until the route server's bfdd has an up session with each
// of nodes (a lab with BFD; at once otherwise).
func (l *Lab) WaitBFD(nodes []*Node, d time.Duration) error {
	if l.rs == nil || !l.cfg.BGP.BFD {
		return nil
	}
	var missing []string
	var err error
	for end := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		var up map[string]bool
		up, err = l.bfdUp()
		missing = missing[:0]
		for _, n := range nodes {
			if !up[n.Addr6] {
				missing = append(missing, n.Name)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("lab: no BFD session up between the route server and %v after %v (%v); logs in %s", missing, d, err, l.cfg.Dir)
		}
	}
}

// bfdUp returns the peers whose BFD session with the route server is up.
func (l *Lab) bfdUp() (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := frr.Dial(ctx, l.rs.dir, "bfdd")
	if err != nil {
		return nil, err
	}
	defer func() { _ = v.Close() }()
	if _, err := v.Run(ctx, "enable"); err != nil { // bfdd has its show commands there
		return nil, err
	}
	out, err := v.Run(ctx, "show bfd peers json")
	if err != nil {
		return nil, err
	}
	var peers []struct {
		Peer   string `json:"peer"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &peers); err != nil {
		return nil, fmt.Errorf("bfdd's peers: %v", err)
	}
	up := map[string]bool{}
	for _, p := range peers {
		up[p.Peer] = up[p.Peer] || p.Status == "up"
	}
	return up, nil
}
