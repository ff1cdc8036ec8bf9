package lab

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// VIP is the address clients use for provider p.
func VIP(p string) string {
	switch p {
	case "digitalocean":
		return ReservedIP
	case "oci":
		return OCIVIP
	case "linode-share":
		return LinodeVIP
	case "linode-assign":
		return LinodeVIP2
	case "linode-bgp":
		return BGPVIP
	case "linode-bgp6":
		return BGPVIP6
	}
	return LANVIP
}

// isBGP reports whether provider is a linode_mode=bgp one.
func isBGP(provider string) bool { return strings.HasPrefix(provider, "linode-bgp") }

// CreateResources configures, with the commands a user types on a node, a
// cloned web service and the VIP colocated with it, and waits until the
// VIP runs. agent is "ocf:cloudvip:floatip" or "ocf:heartbeat:IPaddr2"
// (provider none only).
func (l *Lab) CreateResources(agent, provider string) error {
	n := l.firstUp()
	if n == nil {
		return fmt.Errorf("lab: no node is up")
	}
	if _, err := l.X(n, "crm_resource", "--locate", "-r", "web-clone"); err != nil {
		if _, err := l.X(n, "pcs", "resource", "create", "web", "ocf:heartbeat:anything",
			"binfile="+l.cfg.Self, "cmdline_options=_web", "op", "monitor", "interval=5s", "clone"); err != nil {
			return err
		}
	}
	args := []string{"pcs", "resource", "create", "vip", agent}
	if strings.HasSuffix(agent, "IPaddr2") {
		args = append(args, "ip="+LANVIP, "cidr_netmask=24", "nic=eth0")
	} else {
		args = append(args, l.Params(provider)...)
	}
	if provider != "none" {
		args = append(args, l.cfg.Extra...)
		if l.cfg.Depth10 > 0 {
			args = append(args, fmt.Sprintf("cloud_check_interval=%d", int(l.cfg.Depth10.Seconds())))
		}
		args = append(args, "op", "start", fmt.Sprintf("timeout=%ds", int(l.startTimeout().Seconds())))
	}
	args = append(args, "op", "monitor", "interval=2s", "timeout=20s")
	if provider != "none" && l.cfg.Depth10 > 0 {
		args = append(args, "op", "monitor", fmt.Sprintf("interval=%ds", int(l.cfg.Depth10.Seconds())), "timeout=30s", "OCF_CHECK_LEVEL=10")
	}
	if l.cfg.FailureTimeout > 0 {
		args = append(args, "meta", fmt.Sprintf("failure-timeout=%ds", int(l.cfg.FailureTimeout.Seconds())))
	}
	if _, err := l.X(n, args...); err != nil {
		return err
	}
	// A finite score: with INFINITY every node running the web clone scores
	// INFINITY, stickiness (100) is absorbed, and in this lab the VIP
	// failed back to a node rejoining after a partition.
	if _, err := l.X(n, "pcs", "constraint", "colocation", "add", "vip", "with", "web-clone", "1000"); err != nil {
		return err
	}
	_, err := l.WaitRunning("vip", nil, 30*time.Second)
	return err
}

// Params are floatip's parameters for provider in this lab, as pcs takes
// them and a config file holds them: the fake cloud's URLs, the token files.
func (l *Lab) Params(provider string) []string {
	switch {
	case provider == "digitalocean":
		return []string{"ip=" + ReservedIP, "provider=digitalocean", "api_url=" + l.API, "metadata_url=" + l.API,
			"token_file=" + l.TokenFile()}
	case provider == "oci":
		return []string{"ip=" + OCIVIP, "provider=oci", "api_url=" + l.API, "metadata_url=" + l.API, "auth_url=" + l.API}
	case isBGP(provider):
		return l.bgpParams(provider)
	case strings.HasPrefix(provider, "linode-"):
		return []string{"ip=" + VIP(provider), "provider=linode", "linode_mode=" + strings.TrimPrefix(provider, "linode-"),
			"api_url=" + l.API, "metadata_url=" + l.API, "token_file=" + filepath.Join(l.cfg.Dir, "linode.token")}
	}
	return []string{"ip=" + LANVIP, "cidr_netmask=24", "nic=eth0"}
}

// DeleteVIP removes the vip resource and waits until it is gone.
func (l *Lab) DeleteVIP() error {
	n := l.firstUp()
	if _, err := l.X(n, "pcs", "resource", "delete", "vip", "--force"); err != nil {
		return err
	}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if out, _ := l.X(n, "crm_mon", "-1"); !strings.Contains(out, "vip\t") && !strings.Contains(out, " vip ") {
			return nil
		}
	}
	return fmt.Errorf("lab: vip still configured")
}

func (l *Lab) firstUp() *Node {
	for _, n := range l.Nodes {
		if n.Up() {
			return n
		}
	}
	return nil
}

var runningOn = regexp.MustCompile(`is running on: (\S+)`)

// Locate returns where Pacemaker runs rsc, asked on node from (nil: any up node).
func (l *Lab) Locate(rsc string, from *Node) (*Node, error) {
	if from == nil {
		from = l.firstUp()
	}
	out, err := l.X(from, "crm_resource", "--locate", "-r", rsc)
	if err != nil {
		return nil, err
	}
	m := runningOn.FindAllStringSubmatch(out, -1)
	if len(m) != 1 {
		return nil, fmt.Errorf("lab: %s runs on %d nodes: %s", rsc, len(m), strings.TrimSpace(out))
	}
	return l.Node(m[0][1]), nil
}

func (l *Lab) index(n *Node) int {
	for i, m := range l.Nodes {
		if m == n {
			return i
		}
	}
	return -1
}

// Node returns the node called name.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// WaitRunning waits until rsc runs on exactly one node other than not.
func (l *Lab) WaitRunning(rsc string, not *Node, d time.Duration) (*Node, error) {
	var last error
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, from := range l.Nodes {
			if from == not || !from.Up() {
				continue
			}
			n, err := l.Locate(rsc, from)
			if err == nil && n != nil && n != not {
				return n, nil
			}
			last = err
			break
		}
	}
	return nil, fmt.Errorf("lab: %s not running after %v: %v", rsc, d, last)
}

var dcRe = regexp.MustCompile(`Current DC: (\S+)`)

// DC returns the designated controller as node from sees it.
func (l *Lab) DC(from *Node) *Node {
	out, _ := l.X(from, "crm_mon", "-1")
	if m := dcRe.FindStringSubmatch(out); m != nil {
		return l.Node(m[1])
	}
	return nil
}

// MoveTo moves rsc to node n and drops the move constraint (stickiness
// keeps it there).
func (l *Lab) MoveTo(rsc string, n *Node) error {
	from := l.firstUp()
	if _, err := l.X(from, "crm_resource", "--move", "-r", rsc, "-N", n.Name); err != nil {
		return err
	}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if at, err := l.Locate(rsc, from); err == nil && at == n {
			break
		}
	}
	_, err := l.X(from, "crm_resource", "--clear", "-r", rsc)
	return err
}

// Holders lists the nodes that hold the VIP locally: the address bound
// (provider none) or floatip's claim record (a cloud provider), or (BGP)
// the address bound on lo or announced by the node's bgpd.
func (l *Lab) Holders(provider string) []*Node {
	var out []*Node
	for _, n := range l.Nodes {
		if n.Up() && l.holds(n, provider) { // a dead node's leftovers serve nobody
			out = append(out, n)
		}
	}
	return out
}

func (l *Lab) holds(n *Node, provider string) bool {
	if isBGP(provider) {
		return l.holdsBGP(n, provider)
	}
	if provider == "digitalocean" {
		pid := n.initPID()
		if pid == 0 {
			return false
		}
		_, err := os.Stat(fmt.Sprintf("/proc/%d/root/run/resource-agents/floatip-%s.claim", pid, ReservedIP))
		return err == nil
	}
	out, err := exec.Command("ip", "-n", n.NS, "-o", "-4", "addr", "show", "dev", "eth0").Output()
	return err == nil && strings.Contains(string(out), " "+VIP(provider)+"/")
}

// CloudAgrees reports whether the fake cloud lets provider's VIP reach
// node n: it routes or assigns it there, or (Linode share mode, where
// shares persist because stop never unshares) n is in the VIP's share set,
// or (BGP) the route server's best path leads to n, which the VIP is
// shared with.
func (l *Lab) CloudAgrees(provider string, n *Node) bool {
	if isBGP(provider) {
		return l.bgpAgrees(provider, n)
	}
	if provider == "linode-share" {
		for _, ip := range l.Linode.Shared(linodeBase + 1 + l.index(n)) {
			if ip == LinodeVIP {
				return true
			}
		}
		return false
	}
	return l.CloudHolder(provider) == n
}

// CloudHolder is the node the fake cloud routes provider's VIP to (BGP:
// the route server's best path).
func (l *Lab) CloudHolder(provider string) *Node {
	switch provider {
	case "oci":
		return l.vnics[l.OCI.Holder(OCIVIP)]
	case "linode-assign":
		if i := l.Linode.Owner(LinodeVIP2) - linodeBase - 1; i >= 0 && i < len(l.Nodes) {
			return l.Nodes[i]
		}
		return nil
	case "linode-bgp", "linode-bgp6":
		return l.RouteServerHolder(VIP(provider))
	}
	d := l.Fake.Holder(ReservedIP)
	if i := d - dropletBase - 1; i >= 0 && i < len(l.Nodes) {
		return l.Nodes[i]
	}
	return nil
}

// PacemakerLog returns node n's pacemaker.log.
func (n *Node) PacemakerLog() string { return filepath.Join(n.Dir, "var/log/pacemaker/pacemaker.log") }

// CorosyncLog returns node n's corosync.log.
func (n *Node) CorosyncLog() string { return filepath.Join(n.Dir, "var/log/corosync/corosync.log") }

// execRe matches pacemaker-execd's line for a finished start, with the
// log's millisecond timestamp.
var execRe = regexp.MustCompile(`^(\w{3} +\d+ \d\d:\d\d:\d\d\.\d{3}) .* (\S+) start \(call \d+, PID \d+\) exited with status 0 \(execution time (\d+)ms`)

// StartTime returns when the last start of rsc on n after t finished and
// how long it took (from the Pacemaker log); zero if none.
func (n *Node) StartTime(rsc string, t time.Time) (time.Time, time.Duration) {
	f, err := os.Open(n.PacemakerLog())
	if err != nil {
		return time.Time{}, 0
	}
	defer f.Close()
	var end time.Time
	var took time.Duration
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := execRe.FindStringSubmatch(sc.Text())
		if m == nil || m[2] != rsc {
			continue
		}
		at, ok := logTime(m[1], t)
		if !ok || at.Before(t) {
			continue
		}
		ms, _ := strconv.Atoi(m[3])
		end, took = at, time.Duration(ms)*time.Millisecond
	}
	return end, took
}

// logTime parses "Nov 22 01:15:39.835" in the year of ref.
func logTime(s string, ref time.Time) (time.Time, bool) {
	at, err := time.ParseInLocation("Jan 2 15:04:05.000", strings.Join(strings.Fields(s), " "), time.Local)
	if err != nil {
		return time.Time{}, false
	}
	return at.AddDate(ref.Year(), 0, 0), true
}

// membershipRe matches corosync's "A new membership" line with hires
// timestamps; tokenLostRe its "A processor failed, forming new
// configuration" (the token timed out; consensus follows).
var (
	membershipRe = regexp.MustCompile(`^(\w{3} +\d+ \d\d:\d\d:\d\d\.\d{3}) .*A new membership`)
	tokenLostRe  = regexp.MustCompile(`^(\w{3} +\d+ \d\d:\d\d:\d\d\.\d{3}) .*A processor failed, forming new configuration`)
	linkDownRe   = regexp.MustCompile(`^(\w{3} +\d+ \d\d:\d\d:\d\d\.\d{3}) .*link: host: \d+ link: \d+ is down`)
)

// CorosyncEvents counts, in n's Corosync log after t, the new
// memberships, the token losses and knet's links declared down.
func (n *Node) CorosyncEvents(t time.Time) (memberships, tokenLost, linkDown int) {
	f, err := os.Open(n.CorosyncLog())
	if err != nil {
		return 0, 0, 0
	}
	defer f.Close()
	counts := []struct {
		re *regexp.Regexp
		n  *int
	}{{membershipRe, &memberships}, {tokenLostRe, &tokenLost}, {linkDownRe, &linkDown}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for _, c := range counts {
			if m := c.re.FindStringSubmatch(sc.Text()); m != nil {
				if at, ok := logTime(m[1], t); ok && at.After(t) {
					*c.n++
				}
			}
		}
	}
	return memberships, tokenLost, linkDown
}

// MembershipAfter returns when node n's Corosync formed its first new
// membership after t (zero if none).
func (n *Node) MembershipAfter(t time.Time) time.Time { return n.corosyncAfter(membershipRe, t) }

// TokenLostAfter returns when node n's Corosync first declared the token
// lost after t (zero if none).
func (n *Node) TokenLostAfter(t time.Time) time.Time { return n.corosyncAfter(tokenLostRe, t) }

// corosyncAfter returns the time of the first line of n's Corosync log
// after t that re matches.
func (n *Node) corosyncAfter(re *regexp.Regexp, t time.Time) time.Time {
	f, err := os.Open(n.CorosyncLog())
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		at, ok := logTime(m[1], t)
		if ok && at.After(t) {
			return at
		}
	}
	return time.Time{}
}
