// Package lab runs a real Pacemaker + Corosync cluster on one machine: N
// nodes, each in its own network, mount, UTS, IPC and PID namespaces, on a
// bridge in a "cloud" namespace that also runs the fake cloud API and
// metadata service as a real HTTP server and routes a client namespace to
// the nodes. Nothing touches the host's interfaces; every process the lab
// starts is recorded and only those are signalled.
package lab

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/cloudvip/floatip/internal/fakecloud/dofake"
	"github.com/cloudvip/floatip/internal/fakecloud/linodefake"
	"github.com/cloudvip/floatip/internal/fakecloud/ocifake"
	"github.com/cloudvip/floatip/internal/nstest"
)

// Addresses. Nodes and the cloud router share 10.250.0.0/24 (the LAN, and
// each node's address doubles as its DigitalOcean anchor IP); the client
// sits behind the router on 10.250.9.0/24, so it reaches a LAN VIP through
// the router's ARP cache and a reserved IP through the router's DNAT.
const (
	RouterLAN   = "10.250.0.100"
	RouterWAN   = "10.250.9.1"
	ClientAddr  = "10.250.9.2"
	LANVIP      = "10.250.0.200"
	OCIVIP      = "10.250.0.60"
	LinodeVIP   = "10.250.0.70" // share mode
	LinodeVIP2  = "10.250.0.71" // assign mode
	LinodeToken = "linode-lab-0123456789abcdef"
	linodeBase  = 300
	ReservedIP  = "203.0.113.50"
	OCITenancy  = "ocid1.tenancy.oc1..floatiplab"
	DOToken     = "dop_v1_lab0123456789abcdef0123456789abcdef"
	WebPort     = "8080"
	dropletBase = 200
)

// Config shapes a lab.
type Config struct {
	Nodes int // default 3
	Token int // corosync totem token in ms; 0 = corosync's default
	// TokenCoefficient is corosync's token_coefficient in ms (nil: its
	// default, 650 per node beyond two); Consensus its consensus timeout in
	// ms (0: its default, 1.2 x the token).
	TokenCoefficient *int
	Consensus        int
	// KnetPingTimeout is knet's link timeout in ms, with pings every
	// quarter of it (0: Corosync's defaults, token / 2 and token / 4).
	KnetPingTimeout int
	// TransitionDelay is Pacemaker's transition-delay in ms (0: unset).
	TransitionDelay int
	Dir             string // state directory; default a new /tmp directory
	Self            string // the lab binary, re-executed as each node's init
	// Engine: Pacemaker (the default) or a VRRP daemon, which runs once
	// ConfigureVRRP says how.
	Engine Engine
	// ActionTime is how long the fake DigitalOcean keeps an assign in progress.
	ActionTime time.Duration
	// StartTimeout is the VIP's start op timeout for a cloud provider
	// (default 60 s).
	StartTimeout time.Duration
	// Depth10, when set, adds a depth-10 monitor this often, with
	// cloud_check_interval the same.
	Depth10 time.Duration
	// FailureTimeout, when set, is the VIP's failure-timeout meta attribute.
	FailureTimeout time.Duration
	// Extra are more floatip parameters for the VIP ("name=value").
	Extra []string
	// IgnoreQuorum sets no-quorum-policy=ignore, as the two-node guides
	// without fencing do (the default is stop).
	IgnoreQuorum bool
	Log          func(format string, args ...any)
	// Created, if set, gets the lab as soon as it exists, before the
	// cluster is up, so an interrupt handler can tear down a half-built one.
	Created func(*Lab)
	// BGP, when set, makes the lab a Linode BGP data center (bgp.go): a
	// route server in the cloud namespace, FRR on every node, IPv6.
	BGP *BGPConfig
}

// Node is one cluster node.
type Node struct {
	Name  string // n1, n2, ...
	NS    string // network namespace
	Addr  string
	Addr6 string // eth0's IPv6 address (BGP lab), "" otherwise
	Dir   string
	cmd   *exec.Cmd // unshare, parent of the node's init
}

// Lab is a running cluster.
type Lab struct {
	cfg    Config
	ID     string
	Cloud  string // namespace: bridge, router, fake cloud
	Client string // namespace
	Nodes  []*Node
	Fake   *dofake.Fake
	OCI    *ocifake.Fake
	Linode *linodefake.Fake
	vnics  map[string]*Node // OCI VNIC id -> node
	API    string           // fake cloud origin, as nodes see it
	srv    *http.Server
	mu     sync.Mutex
	events []Event
	owned  []string     // namespaces to delete
	rs     *routeServer // BGP lab
}

// Event is something the lab observed, for timelines.
type Event struct {
	At   time.Time
	What string
}

// Record adds an event.
func (l *Lab) Record(what string) { l.recordAt(time.Now(), what) }

// recordAt adds an event that happened at t.
func (l *Lab) recordAt(t time.Time, what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, Event{t, what})
}

// Events returns the recorded events.
func (l *Lab) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

func (l *Lab) logf(format string, args ...any) {
	if l.cfg.Log != nil {
		l.cfg.Log(format, args...)
	}
}

func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// Up builds the namespaces, starts every node and waits until all are
// online in one partition with quorum. On error everything is torn down.
func Up(cfg Config) (l *Lab, err error) {
	if err := checkTools(cfg); err != nil {
		return nil, err
	}
	if cfg.Nodes == 0 {
		cfg.Nodes = 3
	}
	if cfg.Dir == "" {
		if cfg.Dir, err = os.MkdirTemp("", "floatip-lab-"); err != nil {
			return nil, err
		}
	}
	id := strconv.Itoa(os.Getpid() % 100000)
	l = &Lab{cfg: cfg, ID: id, Cloud: "flc" + id, Client: "flk" + id}
	if cfg.Created != nil {
		cfg.Created(l)
	}
	defer func() {
		if err != nil {
			l.Down()
		}
	}()
	if err := l.network(); err != nil {
		return l, err
	}
	if err := l.cloud(); err != nil {
		return l, err
	}
	if cfg.BGP != nil {
		if err := l.startRouteServer(); err != nil {
			return l, err
		}
	}
	t0 := time.Now()
	for _, n := range l.Nodes {
		if err := l.prepare(n); err != nil {
			return l, err
		}
		if err := l.Start(n); err != nil {
			return l, err
		}
	}
	if cfg.Engine != Pacemaker {
		return l, nil
	}
	if err := l.WaitOnline(l.Nodes, 90*time.Second); err != nil {
		return l, err
	}
	if err := l.WaitSessions(l.Nodes, 60*time.Second); err != nil {
		return l, err
	}
	l.logf("cluster of %d nodes up after %.1f s (corosync token %d ms)", len(l.Nodes), time.Since(t0).Seconds(), cfg.Token)
	return l, nil
}

// checkTools: root, and every program the lab runs installed.
func checkTools(cfg Config) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("lab: needs root (namespaces, corosync, pacemaker)")
	}
	tools := []string{"corosync", "pacemakerd", "crm_mon", "nsenter", "unshare", "ip", "nft"}
	if cfg.Engine != Pacemaker {
		tools = []string{string(cfg.Engine), "nsenter", "unshare", "ip", "nft"}
	}
	if cfg.BGP != nil {
		tools = append(tools, frrLib+"/zebra", frrLib+"/bgpd")
		if cfg.BGP.BFD {
			tools = append(tools, frrLib+"/bfdd")
		}
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("lab: %s is not installed (make deps installs it)", tool)
		}
	}
	return nil
}

func (l *Lab) addNS(name string) error {
	if err := sh("ip", "netns", "add", name); err != nil {
		return err
	}
	l.owned = append(l.owned, name)
	return sh("ip", "-n", name, "link", "set", "lo", "up")
}

func (l *Lab) network() error {
	var names []string
	for i := 1; i <= l.cfg.Nodes; i++ {
		n := &Node{Name: fmt.Sprintf("n%d", i), NS: fmt.Sprintf("fln%s-%d", l.ID, i), Addr: fmt.Sprintf("10.250.0.%d", 10+i),
			Dir: filepath.Join(l.cfg.Dir, fmt.Sprintf("n%d", i))}
		if l.cfg.BGP != nil {
			n.Addr6 = fmt.Sprintf("2001:db8:250::%d", 10+i)
		}
		l.Nodes = append(l.Nodes, n)
		names = append(names, n.NS)
	}
	// The LAN: the cloud namespace's bridge and a veth into it per node
	// (addresses come with each node's Start, as a reboot resets them).
	made, err := nstest.BuildLAN(l.Cloud, names)
	l.owned = append(l.owned, made...)
	if err != nil {
		return err
	}
	if err := l.addNS(l.Client); err != nil {
		return err
	}
	c, k := l.Cloud, l.Client
	for _, cmd := range [][]string{
		{"ip", "-n", c, "addr", "add", RouterLAN + "/24", "dev", "br0"},
		{"ip", "-n", c, "link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns", k},
		{"ip", "-n", c, "addr", "add", RouterWAN + "/24", "dev", "wan0"},
		{"ip", "-n", c, "link", "set", "wan0", "up"},
		{"ip", "-n", k, "addr", "add", ClientAddr + "/24", "dev", "eth0"},
		{"ip", "-n", k, "link", "set", "eth0", "up"},
		{"ip", "-n", k, "route", "add", "10.250.0.0/24", "via", RouterWAN},
		{"ip", "-n", k, "route", "add", "203.0.113.0/24", "via", RouterWAN},
		{"ip", "netns", "exec", c, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
		{"ip", "netns", "exec", c, "nft", "add table ip floatip; add chain ip floatip pre { type nat hook prerouting priority -100; }"},
	} {
		if err := sh(cmd...); err != nil {
			return err
		}
	}
	if l.cfg.BGP != nil {
		return l.network6()
	}
	return nil
}

// digitalOcean: every node is a droplet; when the fake completes an
// assign, an nftables DNAT moves the reserved IP to the holder's anchor.
func (l *Lab) digitalOcean() *dofake.Fake {
	f := dofake.New(DOToken)
	f.ActionTime = l.cfg.ActionTime
	f.PerMinute, f.PerHour = 250, 5000
	for i, n := range l.Nodes {
		f.AddDroplet(dropletBase+i+1, n.Addr)
	}
	f.AddIP(ReservedIP, "fra1", 0)
	f.OnRoute = func(ip netip.Addr, droplet int) {
		rule := fmt.Sprintf("flush chain ip floatip pre; add rule ip floatip pre ip daddr %s counter dnat to %s", ip, l.anchor(droplet))
		if droplet == 0 {
			rule = "flush chain ip floatip pre"
		}
		if err := sh("ip", "netns", "exec", l.Cloud, "nft", rule); err != nil {
			l.logf("cloud: route %s: %v", ip, err)
		}
		if err := l.forgetFlows(ip); err != nil {
			l.logf("cloud: forget flows to %s: %v", ip, err)
		}
		l.Record(fmt.Sprintf("cloud routes %s to %s", ip, l.DropletName(droplet)))
	}
	return f
}

// forgetFlows deletes the router's conntrack entries to ip, so every new
// connection meets the new DNAT rule. Otherwise a client whose source port
// comes round again (after some 15 000 requests) reuses an old entry and
// its old DNAT: the lab saw replies from the previous holder right after
// killing the current one.
func (l *Lab) forgetFlows(ip netip.Addr) error {
	_, err := nstest.In(l.Cloud, func() (uint, error) {
		f := &netlink.ConntrackFilter{}
		if err := f.AddIP(netlink.ConntrackOrigDstIP, ip.AsSlice()); err != nil {
			return 0, err
		}
		return netlink.ConntrackDeleteFilters(netlink.ConntrackTable, netlink.FAMILY_V4, f)
	})
	return err
}

// oci: every node is an instance whose primary VNIC has its eth0 MAC, in
// the LAN's subnet.
func (l *Lab) oci() (*ocifake.Fake, error) {
	o := ocifake.New(OCITenancy, "xx-lab-1")
	sub := o.AddSubnet("10.250.0.0/24", "")
	l.vnics = map[string]*Node{}
	for _, n := range l.Nodes {
		out, err := exec.Command("ip", "-n", n.NS, "-o", "link", "show", "dev", "eth0").Output()
		m := macRe.FindSubmatch(out)
		if err != nil || m == nil {
			return nil, fmt.Errorf("lab: MAC of %s: %v", n.Name, err)
		}
		_, v := o.AddInstance(n.Addr, sub, n.Addr, string(m[1]))
		l.vnics[v.ID] = n
	}
	o.OnMove = func(ip netip.Addr, vnic string) {
		l.Record(fmt.Sprintf("cloud routes %s to VNIC of (%s)", ip, nodeName(l.vnics[vnic])))
	}
	return o, nil
}

// linode: node i is Linode 301+i owning its own address; Linode 399 owns
// the VIPs (and one more address, so it keeps one when a VIP is assigned
// away). Sharing the BGP VIP routes nothing (the route server does).
func (l *Lab) linode() *linodefake.Fake {
	lf := linodefake.New(LinodeToken)
	lf.AssignDelay = l.cfg.ActionTime
	for i, n := range l.Nodes {
		lf.AddLinode(linodeBase+i+1, "us-east", n.Addr, n.Addr)
	}
	lf.AddLinode(399, "us-east", "", LinodeVIP, LinodeVIP2, "10.250.0.99", BGPVIP)
	lf.OnChange = func(ip netip.Addr, id int) {
		name := "Linode " + strconv.Itoa(id)
		if i := id - linodeBase - 1; i >= 0 && i < len(l.Nodes) {
			name = l.Nodes[i].Name
		}
		what := "cloud routes"
		if ip.String() == BGPVIP {
			what = "cloud shares"
		}
		l.Record(fmt.Sprintf("%s %s to (%s)", what, ip, name))
	}
	// linode-bgp6's range: Linode 399's, shareable (BGP data center).
	lf.AddRange(netip.MustParsePrefix(BGPRange6), "us-east", 399, true)
	lf.OnRangeChange = func(r netip.Prefix, id int, shared bool) {
		if i := id - linodeBase - 1; shared && i >= 0 && i < len(l.Nodes) {
			l.Record(fmt.Sprintf("cloud shares range %s with (%s)", r, l.Nodes[i].Name))
		}
	}
	return lf
}

// cloud serves the three fake clouds (APIs, metadata services, OCI's token
// service) from the cloud namespace on RouterLAN:80.
func (l *Lab) cloud() error {
	l.Fake = l.digitalOcean()
	var err error
	if l.OCI, err = l.oci(); err != nil {
		return err
	}
	l.Linode = l.linode()
	if err := os.WriteFile(filepath.Join(l.cfg.Dir, "linode.token"), []byte(LinodeToken+"\n"), 0o600); err != nil {
		return err
	}
	f, o, lf := l.Fake, l.OCI, l.Linode
	mux := http.NewServeMux()
	mux.Handle("/v4/", lf)
	mux.Handle("/v1/", lf)
	mux.Handle("/v2/", f)
	mux.Handle("/metadata/", f)
	mux.Handle("/20160918/", o)
	mux.Handle("/opc/v2/", o)
	mux.Handle("/v1/x509", o)
	ln, err := nstest.In(l.Cloud, func() (net.Listener, error) { return net.Listen("tcp", RouterLAN+":80") })
	if err != nil {
		return err
	}
	l.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = l.srv.Serve(ln) }() // ends with ErrServerClosed at Down
	l.API = "http://" + RouterLAN
	return os.WriteFile(l.TokenFile(), []byte(DOToken+"\n"), 0o600)
}

var macRe = regexp.MustCompile(`link/ether ([0-9a-f:]{17})`)

// TokenFile is where the nodes read the DigitalOcean token (root-only).
func (l *Lab) TokenFile() string { return filepath.Join(l.cfg.Dir, "digitalocean.token") }

func (l *Lab) anchor(droplet int) string {
	if i := droplet - dropletBase - 1; i >= 0 && i < len(l.Nodes) {
		return l.Nodes[i].Addr
	}
	return "0.0.0.0"
}

// DropletName names a droplet by its node ("droplet 202 (n2)").
func (l *Lab) DropletName(droplet int) string {
	if droplet == 0 {
		return "nobody"
	}
	if i := droplet - dropletBase - 1; i >= 0 && i < len(l.Nodes) {
		return fmt.Sprintf("droplet %d (%s)", droplet, l.Nodes[i].Name)
	}
	return fmt.Sprintf("droplet %d", droplet)
}

// Droplet returns node n's droplet id.
func (l *Lab) Droplet(n *Node) int {
	for i, m := range l.Nodes {
		if m == n {
			return dropletBase + i + 1
		}
	}
	return 0
}

func (l *Lab) prepare(n *Node) error {
	if l.cfg.Engine != Pacemaker {
		return os.MkdirAll(n.Dir, 0o755)
	}
	for _, d := range []string{"etc/corosync", "var/lib/corosync", "var/log/corosync",
		"var/lib/pacemaker/cib", "var/lib/pacemaker/pengine", "var/lib/pacemaker/blackbox", "var/lib/pacemaker/cores",
		"var/log/pacemaker/bundles"} {
		if err := os.MkdirAll(filepath.Join(n.Dir, d), 0o750); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(n.Dir, "etc/corosync/corosync.conf"), []byte(l.corosyncConf()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(n.Dir, "var/lib/pacemaker/cib/cib.xml"), []byte(l.cib()), 0o600); err != nil {
		return err
	}
	for _, d := range []string{"var/lib/pacemaker", "var/log/pacemaker"} {
		if err := sh("chown", "-R", "hacluster:haclient", filepath.Join(n.Dir, d)); err != nil {
			return err
		}
	}
	return os.Chmod(filepath.Join(n.Dir, "var/log/pacemaker"), 0o770)
}

func (l *Lab) corosyncConf() string {
	var b strings.Builder
	b.WriteString("totem {\n    version: 2\n    cluster_name: floatiplab\n    transport: knet\n    crypto_cipher: none\n    crypto_hash: none\n")
	if l.cfg.Token > 0 {
		fmt.Fprintf(&b, "    token: %d\n", l.cfg.Token)
	}
	if l.cfg.TokenCoefficient != nil {
		fmt.Fprintf(&b, "    token_coefficient: %d\n", *l.cfg.TokenCoefficient)
	}
	if l.cfg.Consensus > 0 {
		fmt.Fprintf(&b, "    consensus: %d\n", l.cfg.Consensus)
	}
	if l.cfg.KnetPingTimeout > 0 { // per link: Corosync ignores them at the top of totem
		fmt.Fprintf(&b, "    interface {\n        linknumber: 0\n        knet_ping_timeout: %d\n        knet_ping_interval: %d\n    }\n",
			l.cfg.KnetPingTimeout, l.cfg.KnetPingTimeout/4)
	}
	b.WriteString("}\nnodelist {\n")
	for i, n := range l.Nodes {
		fmt.Fprintf(&b, "    node {\n        ring0_addr: %s\n        name: %s\n        nodeid: %d\n    }\n", n.Addr, n.Name, i+1)
	}
	b.WriteString("}\nquorum {\n    provider: corosync_votequorum\n")
	if len(l.Nodes) == 2 {
		b.WriteString("    two_node: 1\n")
	}
	b.WriteString("}\nlogging {\n    to_logfile: yes\n    logfile: /var/log/corosync/corosync.log\n    to_syslog: no\n    to_stderr: no\n    timestamp: hires\n}\n")
	return b.String()
}

// cib is seedCIB with the lab's no-quorum-policy and transition-delay.
func (l *Lab) cib() string {
	policy := "stop"
	if l.cfg.IgnoreQuorum {
		policy = "ignore"
	}
	seed := strings.Replace(seedCIB, `value="stop"`, `value="`+policy+`"`, 1)
	if l.cfg.TransitionDelay > 0 {
		seed = strings.Replace(seed, `<nvpair id="opt-dc-deadtime"`,
			fmt.Sprintf(`<nvpair id="opt-transition-delay" name="transition-delay" value="%dms"/>
        <nvpair id="opt-dc-deadtime"`, l.cfg.TransitionDelay), 1)
	}
	return seed
}

// seedCIB is every node's first CIB: no fencing (the lab has none), a
// fast first DC election, stop without quorum, and stickiness so a node
// that comes back does not pull resources back.
const seedCIB = `<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="opt-stonith-enabled" name="stonith-enabled" value="false"/>
        <nvpair id="opt-dc-deadtime" name="dc-deadtime" value="2s"/>
        <nvpair id="opt-no-quorum-policy" name="no-quorum-policy" value="stop"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
    <rsc_defaults>
      <meta_attributes id="rsc-options">
        <nvpair id="rsc-options-resource-stickiness" name="resource-stickiness" value="100"/>
      </meta_attributes>
    </rsc_defaults>
  </configuration>
  <status/>
</cib>
`

// Start (re)starts node n: like a reboot, its LAN address is reset, the
// addresses on its lo are gone (but 127.0.0.1 and ::1) and its /run is
// fresh. In a BGP lab it gets its IPv6 address and frr.conf too.
func (l *Lab) Start(n *Node) error {
	for _, cmd := range [][]string{
		{"ip", "-n", n.NS, "addr", "flush", "dev", "lo", "scope", "global"},
		{"ip", "-n", n.NS, "addr", "flush", "dev", "eth0", "scope", "global"}, // the IPv6 link-local stays
		{"ip", "-n", n.NS, "addr", "add", n.Addr + "/24", "dev", "eth0"},
		{"ip", "-n", n.NS, "link", "set", "eth0", "up"},
		{"ip", "-n", n.NS, "route", "replace", "10.250.9.0/24", "via", RouterLAN},
	} {
		if err := sh(cmd...); err != nil {
			return err
		}
	}
	if l.cfg.BGP != nil {
		if err := l.start6(n); err != nil {
			return err
		}
	}
	logf, err := os.OpenFile(filepath.Join(n.Dir, "init.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("nsenter", "--net=/run/netns/"+n.NS, "--",
		"unshare", "--mount", "--uts", "--ipc", "--pid", "--kill-child", "--mount-proc", "--propagation", "private", "--",
		l.cfg.Self, "_node", n.Name, n.Dir, string(l.cfg.Engine))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	n.cmd = cmd
	go cmd.Wait()
	if err := os.WriteFile(filepath.Join(n.Dir, "unshare.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return err
	}
	// Return once the node's init runs, so Up (and the nodes a caller
	// waits for) counts it from now on.
	for end := time.Now().Add(10 * time.Second); !n.Up(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			return fmt.Errorf("start %s: its init did not start within 10 s", n.Name)
		}
	}
	return nil
}

// initPID is the host PID of node n's init (the child of unshare), 0 if down.
func (n *Node) initPID() int {
	if n.cmd == nil || n.cmd.Process == nil || !alive(n.cmd.Process.Pid) {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", n.cmd.Process.Pid, n.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	pid, _ := strconv.Atoi(f[0])
	if !alive(pid) {
		return 0
	}
	return pid
}

// Up reports whether node n's init runs.
func (n *Node) Up() bool { return n.initPID() != 0 }

// alive: a zombie counts as dead (PID 1 here reaps orphans only every ~2 s).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// X runs a command inside node n (all its namespaces) and returns its
// combined output.
func (l *Lab) X(n *Node, args ...string) (string, error) {
	pid := n.initPID()
	if pid == 0 {
		return "", fmt.Errorf("%s is down", n.Name)
	}
	a := append([]string{"-t", strconv.Itoa(pid), "-n", "-m", "-u", "-i", "-p", "--"}, args...)
	out, err := exec.Command("nsenter", a...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s on %s: %v: %s", strings.Join(args, " "), n.Name, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// WaitOnline waits until each of nodes sees all of them online with quorum.
func (l *Lab) WaitOnline(nodes []*Node, d time.Duration) error {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	want := "Online: [ " + strings.Join(names, " ") + " ]"
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		ok := true
		for _, n := range nodes {
			out, err := l.X(n, "crm_mon", "-1")
			if err != nil || !strings.Contains(out, "partition with quorum") || !strings.Contains(out, want) {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("lab: nodes %v not all online with quorum after %v; logs in %s", names, d, l.cfg.Dir)
}

// Kill hard-kills node n, a node that lost power: its link down, then
// SIGKILL to its whole PID namespace. The link goes first so nothing the
// kernel does for the dead processes leaves the node: a killed bgpd's
// sockets would otherwise close their TCP sessions cleanly (FIN) and the
// route server withdraw at once, which a dead machine never makes it do
// (and a killed web server's connections would be reset rather than time
// out). Corosync and VRRP engines see the same thing either way.
func (l *Lab) Kill(n *Node) error {
	pid := n.initPID()
	if n.cmd == nil || n.cmd.Process == nil {
		return fmt.Errorf("%s was not started by this lab", n.Name)
	}
	if err := sh("ip", "-n", n.NS, "link", "set", "eth0", "down"); err != nil {
		return err
	}
	n.cmd.Process.Kill() // --kill-child: the namespace's init gets SIGKILL, the kernel ends the rest
	for end := time.Now().Add(10 * time.Second); pid != 0 && alive(pid) && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Stop stops node n gracefully (Pacemaker first, then Corosync).
func (l *Lab) Stop(n *Node) error {
	pid := n.initPID()
	if pid == 0 {
		return nil
	}
	if err := syscallKill(pid, "TERM"); err != nil {
		return err
	}
	// Sent again every 2 s: the kernel drops a signal that a namespace's
	// PID 1 has no handler for yet (a node stopped right after Start, as
	// ConfigureVRRP does: the lab saw a node start its engine a minute
	// after the SIGTERM it never got). A node already stopping ignores it.
	for i, end := 0, time.Now().Add(60*time.Second); alive(pid); i++ {
		if time.Now().After(end) {
			n.cmd.Process.Kill()
			return fmt.Errorf("%s did not stop within 60 s; killed", n.Name)
		}
		if i > 0 && i%20 == 0 {
			_ = syscallKill(pid, "TERM")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// LinkDown cuts node n off the LAN (a partition); LinkUp restores it.
func (l *Lab) LinkDown(n *Node) error { return sh("ip", "-n", n.NS, "link", "set", "eth0", "down") }

// LinkUp restores node n's link and its route to the client network (the
// kernel drops routes through a link that goes down).
func (l *Lab) LinkUp(n *Node) error {
	if err := sh("ip", "-n", n.NS, "link", "set", "eth0", "up"); err != nil {
		return err
	}
	if l.cfg.BGP != nil {
		for _, dst := range []string{"2001:db8:34::/64", "2001:db8:9::/64"} {
			if err := sh("ip", "-n", n.NS, "route", "replace", dst, "via", RouterLAN6); err != nil {
				return err
			}
		}
	}
	return sh("ip", "-n", n.NS, "route", "replace", "10.250.9.0/24", "via", RouterLAN)
}

// Down stops every node (gracefully, then by force), stops the fake cloud
// and deletes every namespace the lab created. Logs stay in the directory.
func (l *Lab) Down() {
	var wg sync.WaitGroup
	for _, n := range l.Nodes {
		if n.Up() {
			wg.Add(1)
			go func(n *Node) {
				defer wg.Done()
				pid := n.initPID()
				_ = syscallKill(pid, "TERM") // gone already is fine
				for end := time.Now().Add(30 * time.Second); alive(pid) && time.Now().Before(end); {
					time.Sleep(100 * time.Millisecond)
				}
				if n.cmd != nil && n.cmd.Process != nil {
					n.cmd.Process.Kill()
				}
			}(n)
		}
	}
	wg.Wait()
	l.stopRouteServer()
	if l.Fake != nil {
		l.Fake.Close()
	}
	if l.OCI != nil {
		l.OCI.Close()
	}
	if l.Linode != nil {
		l.Linode.Close()
	}
	if l.srv != nil {
		_ = l.srv.Close()
	}
	for i := len(l.owned) - 1; i >= 0; i-- {
		_ = exec.Command("ip", "netns", "del", l.owned[i]).Run() // gone already is fine
	}
	l.owned = nil
}

// Dir is the lab's state directory.
func (l *Lab) Dir() string { return l.cfg.Dir }
