package lab

// The lab without Pacemaker: keepalived (unicast peers, as in clouds) or
// ucarp on every node, moving the VIP through floatip's keepalived-fifo or
// ucarp scripts, or on their own (keepalived's virtual_ipaddress, ucarp with
// `ip addr` scripts) as the baseline.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Engine is what decides which node holds the VIP.
type Engine string

// The engines: Pacemaker (the default) or a VRRP daemon.
const (
	Pacemaker  Engine = ""
	Keepalived Engine = "keepalived"
	Ucarp      Engine = "ucarp"
)

// Installed is where make install puts floatip; the VRRP engines run it
// from there, as a user's configuration would.
const Installed = "/usr/lib/ocf/resource.d/cloudvip/floatip"

// VRRP is how the engine moves the VIP.
type VRRP struct {
	// Floatip: keepalived's notify FIFO or ucarp's scripts run floatip
	// with Provider; otherwise the engine binds the LAN VIP itself.
	Floatip  bool
	Provider string
	Extra    []string // more floatip parameters, key=value
}

// VIPProvider is the provider whose VIP v moves ("none" for the bare engine).
func (v VRRP) VIPProvider() string {
	if !v.Floatip {
		return "none"
	}
	return v.Provider
}

// Name describes v ("keepalived", "keepalived + floatip (digitalocean)").
func (l *Lab) Name(v VRRP) string {
	if !v.Floatip {
		return string(l.cfg.Engine)
	}
	return fmt.Sprintf("%s + floatip (%s)", l.cfg.Engine, v.Provider)
}

// ConfigureVRRP writes every node's engine configuration for v and
// restarts the nodes (gracefully), then waits until one node is master and
// holds the VIP.
func (l *Lab) ConfigureVRRP(v VRRP) error {
	v.Provider = v.VIPProvider()
	if err := l.vrrpScripts(); err != nil {
		return err
	}
	for i, n := range l.Nodes {
		conf := filepath.Join(n.Dir, "floatip.conf")
		body := strings.Join(append(l.Params(v.Provider), v.Extra...), "\n") + "\n"
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return err
		}
		argv := l.engineArgv(i, n, v, conf)
		b, _ := json.Marshal(argv)
		if err := os.WriteFile(filepath.Join(n.Dir, "engine.json"), b, 0o644); err != nil {
			return err
		}
	}
	for _, n := range l.Nodes {
		if err := l.Stop(n); err != nil {
			return err
		}
	}
	// One node first, the others once it is master: nodes that start
	// together all become master for a moment and the last claim wins,
	// which may be a node that is backup a second later (ucarp has no
	// event that would make the real master claim again).
	t0 := time.Now()
	if err := l.Start(l.Nodes[0]); err != nil {
		return err
	}
	for end := time.Now().Add(15 * time.Second); l.Nodes[0].MasterAfter(t0).IsZero() && time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
	}
	for _, n := range l.Nodes[1:] {
		if err := l.Start(n); err != nil {
			return err
		}
	}
	if p := l.WaitVRRP(v.Provider, 30*time.Second); p != nil {
		return fmt.Errorf("lab: %s: no single holder after starting: %v", l.Name(v), p)
	}
	l.logf("%s on %d nodes", l.Name(v), len(l.Nodes))
	return nil
}

// engineArgv is node i's keepalived or ucarp command line (and, for
// keepalived, its configuration file).
func (l *Lab) engineArgv(i int, n *Node, v VRRP, conf string) []string {
	vip := VIP(v.Provider)
	if l.cfg.Engine == Ucarp {
		up, down := filepath.Join(l.cfg.Dir, "bin/vip-up"), filepath.Join(l.cfg.Dir, "bin/vip-down")
		if v.Floatip {
			up, down = filepath.Join(l.cfg.Dir, "bin/floatip-ucarp-up"), filepath.Join(l.cfg.Dir, "bin/floatip-ucarp-down")
		}
		// advskew orders the nodes; -z runs the down script when ucarp stops.
		return []string{"ucarp", "--interface=eth0", "--srcip=" + n.Addr, "--vhid=10", "--pass=floatiplab", "--addr=" + vip,
			"--advbase=1", "--deadratio=3", "--advskew=" + strconv.Itoa(10*i), "--shutdown",
			"--upscript=" + up, "--downscript=" + down, "--xparam=" + conf}
	}
	kconf := filepath.Join(n.Dir, "keepalived.conf")
	_ = os.WriteFile(kconf, []byte(l.keepalivedConf(i, n, v, conf)), 0o644) // read back by keepalived at once: an error shows there
	return []string{"keepalived", "--dont-fork", "--log-console", "--log-detail", "--vrrp",
		"--use-file=" + kconf, "--pid=/run/keepalived.pid", "--vrrp_pid=/run/keepalived-vrrp.pid"}
}

// keepalivedConf is node i's keepalived.conf: one instance, unicast to the
// other nodes (clouds carry no multicast), all BACKUP with nopreempt so a
// node that comes back does not take the VIP back (each move is a cloud
// write), priorities 150, 140, ...
func (l *Lab) keepalivedConf(i int, n *Node, v VRRP, conf string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id %s\n    script_user root\n    enable_script_security\n", n.Name)
	if v.Floatip {
		fmt.Fprintf(&b, "    vrrp_notify_fifo /run/keepalived-notify.fifo\n    vrrp_notify_fifo_script \"%s keepalived-fifo --map VI_1=%s\"\n", Installed, conf)
	}
	fmt.Fprintf(&b, "}\nvrrp_instance VI_1 {\n    state BACKUP\n    nopreempt\n    interface eth0\n    virtual_router_id 51\n    priority %d\n    advert_int 1\n", 150-10*i)
	fmt.Fprintf(&b, "    unicast_src_ip %s\n    unicast_peer {\n", n.Addr)
	for _, m := range l.Nodes {
		if m != n {
			fmt.Fprintf(&b, "        %s\n", m.Addr)
		}
	}
	b.WriteString("    }\n")
	if !v.Floatip {
		fmt.Fprintf(&b, "    virtual_ipaddress {\n        %s/24 dev eth0\n    }\n", LANVIP)
	}
	b.WriteString("}\n")
	return b.String()
}

// vrrpScripts writes ucarp's baseline scripts (what Debian's ucarp example
// does: ip addr add/del) and the links floatip's ucarp mode is run through.
func (l *Lab) vrrpScripts() error {
	bin := filepath.Join(l.cfg.Dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	for name, body := range map[string]string{
		"vip-up":   "#!/bin/sh\nexec ip addr add \"$2\"/24 dev \"$1\"\n",
		"vip-down": "#!/bin/sh\nexec ip addr del \"$2\"/24 dev \"$1\"\n",
	} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			return err
		}
	}
	for _, name := range []string{"floatip-ucarp-up", "floatip-ucarp-down"} {
		link := filepath.Join(bin, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(Installed, link); err != nil {
			return err
		}
	}
	return nil
}

// EngineLog is node n's keepalived or ucarp output, each line prefixed with
// the Unix time in nanoseconds when the node's init read it.
func (n *Node) EngineLog() string { return filepath.Join(n.Dir, "engine.log") }

// stateRe matches keepalived's and ucarp's state changes.
var stateRe = regexp.MustCompile(`^(\d+) .*(?:Entering (\w+) STATE|Switching to state: (\w+))`)

// Transition is a VRRP state the engine entered.
type Transition struct {
	At    time.Time
	State string
}

// Transitions lists node n's state changes since its engine last started.
func (n *Node) Transitions() []Transition {
	f, err := os.Open(n.EngineLog())
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []Transition
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasSuffix(line, " "+engineStarted) {
			out = nil
			continue
		}
		m := stateRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, Transition{time.Unix(0, ns), m[2] + m[3]})
	}
	return out
}

// State is node n's VRRP state ("" when down or not yet known).
func (n *Node) State() string {
	if !n.Up() {
		return ""
	}
	t := n.Transitions()
	if len(t) == 0 {
		return ""
	}
	return t[len(t)-1].State
}

// MasterAfter is when node n entered MASTER after t (zero if not).
func (n *Node) MasterAfter(t time.Time) time.Time {
	for _, tr := range n.Transitions() {
		if tr.State == "MASTER" && tr.At.After(t) {
			return tr.At
		}
	}
	return time.Time{}
}

// Master is the one node in MASTER state, nil if none or several.
func (l *Lab) Master() *Node {
	var m []*Node
	for _, n := range l.Nodes {
		if n.State() == "MASTER" {
			m = append(m, n)
		}
	}
	if len(m) != 1 {
		return nil
	}
	return m[0]
}

// VRRPProblems checks the invariants: one master, it alone holds the VIP
// locally, and the cloud routes the VIP to it.
func (l *Lab) VRRPProblems(provider string) []string {
	var masters, holders []string
	for _, n := range l.Nodes {
		if n.State() == "MASTER" {
			masters = append(masters, n.Name)
		}
	}
	for _, n := range l.Holders(provider) {
		holders = append(holders, n.Name)
	}
	if len(masters) != 1 {
		return []string{fmt.Sprintf("%d masters %v", len(masters), masters)}
	}
	var p []string
	if len(holders) != 1 || holders[0] != masters[0] {
		p = append(p, fmt.Sprintf("master %s, but %v hold the VIP locally", masters[0], holders))
	}
	if provider != "none" && !l.CloudAgrees(provider, l.Node(masters[0])) {
		p = append(p, fmt.Sprintf("the cloud routes the VIP to %s, not to master %s", nodeName(l.CloudHolder(provider)), masters[0]))
	}
	return p
}

// WaitVRRP waits until the invariants hold on five polls in a row (one
// second), at most d; it returns the problems seen last, nil when they hold.
func (l *Lab) WaitVRRP(provider string, d time.Duration) []string {
	var last []string
	for ok, end := 0, time.Now().Add(d); ok < 5; time.Sleep(200 * time.Millisecond) {
		if last = l.VRRPProblems(provider); last == nil {
			ok++
		} else {
			ok = 0
		}
		if time.Now().After(end) {
			return last
		}
	}
	return nil
}

// boundOn reports whether vip is on node n's eth0 (read from outside the
// node, so it works for a node whose processes are gone).
func (l *Lab) boundOn(n *Node, vip string) bool {
	out, err := exec.Command("ip", "-n", n.NS, "-o", "addr", "show", "dev", "eth0").Output()
	return err == nil && strings.Contains(string(out), " "+vip+"/")
}

// VRRPFailover fails the master ("kill": power off; "stop": the engine
// stops gracefully) while the client polls, measures the outage from the
// failure and from the survivor's MASTER transition to its first reply,
// checks the invariants, brings the victim back and checks that the VIP
// stays (no fail-back, one holder). After a graceful stop the victim must
// have released the VIP.
func (l *Lab) VRRPFailover(kind, provider string) (*Result, error) {
	victim := l.Master()
	if victim == nil {
		return nil, fmt.Errorf("lab: no single master before the %s", kind)
	}
	vip := VIP(provider)
	c, err := l.watch(vip, victim, true)
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	res := &Result{Kind: kind, Provider: provider, Agent: string(l.cfg.Engine), Victim: victim, At: time.Now()}
	l.Record(fmt.Sprintf("%s %s", kind, victim.Name))
	if kind == "kill" {
		err = l.Kill(victim)
	} else {
		err = l.Stop(victim)
	}
	if err != nil {
		return nil, err
	}
	answered := func(r Reply) bool { return r.OK && r.Body != victim.Name }
	first, ok := c.waitFor(res.At, 30*time.Second, answered)
	if !ok {
		return res, fmt.Errorf("lab: no answer from another node within 30 s of the %s of %s; %s", kind, victim.Name, l.diagnose(c))
	}
	// Requests overlap: one started earlier may still succeed, within its
	// 250 ms timeout.
	time.Sleep(300 * time.Millisecond)
	first, _ = c.waitFor(res.At, 0, answered)
	res.FirstReply, res.Outage, res.Survivor = first.At, first.At.Sub(res.At), l.Node(first.Body)
	if res.Membership = res.Survivor.MasterAfter(res.At); res.Membership.IsZero() {
		res.Problems = append(res.Problems, fmt.Sprintf("%s answered before its engine entered MASTER", res.Survivor.Name))
	}
	for _, r := range c.Replies() {
		if r.At.After(res.At) && r.At.Before(first.At) && !r.OK {
			res.Lost++
		}
	}
	for _, e := range l.Events() {
		if e.At.After(res.At) && strings.HasPrefix(e.What, "cloud routes") && strings.Contains(e.What, "("+res.Survivor.Name+")") {
			res.CloudMoved = e.At
			break
		}
	}
	res.Problems = append(res.Problems, l.WaitVRRP(provider, 20*time.Second)...)
	if kind == "stop" && provider != "digitalocean" && l.boundOn(victim, vip) {
		res.Problems = append(res.Problems, fmt.Sprintf("%s stopped gracefully but still has %s bound", victim.Name, vip))
	}
	if m := l.Master(); m != res.Survivor {
		res.Problems = append(res.Problems, fmt.Sprintf("%s answered first, but the master is %s", res.Survivor.Name, nodeName(m)))
	}
	err = l.comeback(res, provider)
	res.Replies, res.Events = c.Replies(), l.Events()
	return res, err
}

// comeback restarts the victim: it must come back as BACKUP, and the VIP
// stays with the survivor.
func (l *Lab) comeback(res *Result, provider string) error {
	victim := res.Victim
	if err := l.Start(victim); err != nil {
		return err
	}
	for end := time.Now().Add(15 * time.Second); victim.State() != "BACKUP" && time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
	}
	if s := victim.State(); s != "BACKUP" {
		res.Problems = append(res.Problems, fmt.Sprintf("%s came back as %q, not BACKUP", victim.Name, s))
	}
	res.Problems = append(res.Problems, l.WaitVRRP(provider, 20*time.Second)...)
	if m := l.Master(); m != res.Survivor {
		res.Problems = append(res.Problems, fmt.Sprintf("after %s came back the master is %s, not %s: fail-back", victim.Name, nodeName(m), res.Survivor.Name))
	}
	return nil
}

// Split drops the given percentage of VRRP packets arriving at every node
// (100: a full split brain); Heal removes the rule.
func (l *Lab) Split(percent int) error {
	match := fmt.Sprintf("numgen random mod 100 < %d ", percent)
	if percent >= 100 {
		match = ""
	}
	rule := "add table inet flsplit; add chain inet flsplit in { type filter hook input priority 0; }; " +
		"add rule inet flsplit in ip protocol vrrp " + match + "drop"
	for _, n := range l.Nodes {
		if err := sh("ip", "netns", "exec", n.NS, "nft", rule); err != nil {
			return err
		}
	}
	l.Record(fmt.Sprintf("split: %d%% of VRRP dropped", percent))
	return nil
}

// Heal undoes Split.
func (l *Lab) Heal() error {
	for _, n := range l.Nodes {
		if err := sh("ip", "netns", "exec", n.NS, "nft", "delete table inet flsplit"); err != nil {
			return err
		}
	}
	l.Record("healed")
	return nil
}

// CloudMoves lists, per node, when the fake cloud routed a VIP to it
// between from and to.
func (l *Lab) CloudMoves(from, to time.Time) map[string][]time.Time {
	out := map[string][]time.Time{}
	for _, e := range l.Events() {
		if !strings.HasPrefix(e.What, "cloud routes") || e.At.Before(from) || e.At.After(to) {
			continue
		}
		for _, n := range l.Nodes {
			if strings.HasSuffix(e.What, "("+n.Name+")") {
				out[n.Name] = append(out[n.Name], e.At)
			}
		}
	}
	return out
}
