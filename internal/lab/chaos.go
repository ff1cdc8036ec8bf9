package lab

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud"
)

// Chaos scenarios: a cloud or node fault switched on at the moment the
// node holding the VIP is killed (all but ByHand, which kills nothing).
const (
	API503   = "api-503"        // the API answers 503 for 10 s
	APIDown  = "api-down"       // the API answers 503 for longer than two start timeouts
	Storm429 = "429-storm"      // the API answers 429 with Retry-After for 10 s
	MetaDown = "metadata-down"  // one survivor's metadata service is down, its cache cleared
	Frozen   = "frozen-start"   // the survivor's start is stopped (SIGSTOP) until Pacemaker's timeout
	Returns  = "victim-returns" // the killed node comes back while the survivor moves the IP
	ByHand   = "moved-by-hand"  // someone moves the IP to another node in the cloud
)

// ChaosScenarios lists every scenario, in the order.
var ChaosScenarios = []string{API503, APIDown, Storm429, MetaDown, Frozen, Returns, ByHand}

// ChaosConfig is the lab the chaos scenarios run in: starts time out after
// 20 s, a depth-10 monitor every 10 s, and fail counts expire after 30 s,
// so a node banned by a failed start is tried again without cleanup.
func ChaosConfig(self string, log func(string, ...any)) Config {
	return Config{Nodes: 3, Token: 1000, Self: self, ActionTime: 300 * time.Millisecond,
		StartTimeout: 20 * time.Second, Depth10: 10 * time.Second, FailureTimeout: 30 * time.Second, Log: log}
}

// ChaosResult is one scenario, measured.
type ChaosResult struct {
	Scenario, Provider string
	Victim, Holder     *Node         // who held the VIP before, and after settling
	Outage             time.Duration // fault -> the client's first good reply from the final holder
	Writes             int           // cloud write requests (failed ones included)
	Moves              int           // writes the cloud carried out
	Problems           []string      // invariant violations after settling
	Events             []Event
}

// injector is the fake behind provider.
func (l *Lab) injector(provider string) *fakecloud.Injector {
	switch {
	case provider == "oci":
		return &l.OCI.Injector
	case strings.HasPrefix(provider, "linode"):
		return &l.Linode.Injector
	}
	return &l.Fake.Injector
}

// apiPath and metadataPath are the fakes' path prefixes per provider.
func apiPath(provider string) string {
	switch {
	case provider == "oci":
		return "/20160918/"
	case strings.HasPrefix(provider, "linode"):
		return "/v4/"
	}
	return "/v2/"
}

func metadataPath(provider string) string {
	switch {
	case provider == "oci":
		return "/opc/"
	case strings.HasPrefix(provider, "linode"):
		return "/v1/"
	}
	return "/metadata/"
}

// writes are the request prefixes that move the IP, per provider.
func writes(provider string) []string {
	switch provider {
	case "oci":
		return []string{"PUT /20160918/privateIps/", "POST /20160918/privateIps"}
	case "linode-assign":
		return []string{"POST /v4/networking/ips/assign"}
	case "linode-share":
		return []string{"POST /v4/networking/ips/share"}
	}
	return []string{"POST /v2/reserved_ips/"}
}

// Writes counts the cloud write requests for provider's VIP so far.
func (l *Lab) Writes(provider string) int {
	in, n := l.injector(provider), 0
	for _, w := range writes(provider) {
		n += in.Count(w)
	}
	return n
}

// cacheFiles are the per-boot caches of the instance's identity.
var cacheFiles = []string{"floatip-digitalocean.droplet-id", "floatip-linode.instance", "floatip-oci.session"}

// ClearCache removes node n's cached instance identity and session, so
// its next action asks the metadata service.
func (l *Lab) ClearCache(n *Node) {
	pid := n.initPID()
	for _, f := range cacheFiles {
		os.Remove(fmt.Sprintf("/proc/%d/root/run/resource-agents/%s", pid, f))
	}
}

// agentPIDs returns the host PIDs of floatip processes running action on
// node n (Pacemaker's execd runs "<agent> <action>").
func (l *Lab) agentPIDs(n *Node, action string) []int {
	init := n.initPID()
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", init))
	if init == 0 || err != nil {
		return nil
	}
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if other, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err != nil || other != ns {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
		if err == nil && len(args) >= 2 && filepath.Base(string(args[0])) == "floatip" && string(args[1]) == action {
			out = append(out, pid)
		}
	}
	return out
}

// freezeStart waits up to d for a floatip start on any node but not and
// stops it (SIGSTOP); Pacemaker's timeout ends it.
func (l *Lab) freezeStart(not *Node, d time.Duration) (*Node, error) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		for _, n := range l.Nodes {
			if n == not || !n.Up() {
				continue
			}
			for _, pid := range l.agentPIDs(n, "start") {
				if err := syscall.Kill(pid, syscall.SIGSTOP); err == nil {
					l.Record(fmt.Sprintf("froze the start on %s (PID %d)", n.Name, pid))
					return n, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("lab: no floatip start seen within %v", d)
}

// Chaos runs one scenario for provider against the VIP's current holder
// (moved off the DC first: a DC kill adds an election). The lab's VIP
// resource must exist for provider. Afterwards the faults are cleared, the
// victim is back, and fail counts are cleaned up for the next scenario.
func (l *Lab) Chaos(scenario, provider string) (*ChaosResult, error) {
	in := l.injector(provider)
	defer in.ClearFaults()
	l.Settle(l.firstUp(), 60*time.Second)
	victim, err := l.nonDCHolder()
	if err != nil {
		return nil, err
	}
	res := &ChaosResult{Scenario: scenario, Provider: provider, Victim: victim}
	target := l.OtherThan(victim) // the node a fault is aimed at: not the DC if it can be
	for _, n := range l.Nodes {
		if n != victim && n != l.DC(l.firstUp()) {
			target = n
		}
	}
	if scenario == MetaDown {
		// Make the faulty node Pacemaker's first choice once the victim
		// dies (stickiness keeps the VIP where it is until then).
		if _, err := l.X(l.firstUp(), "pcs", "constraint", "location", "vip", "prefers", target.Name+"=50"); err != nil {
			return nil, err
		}
		defer func() {
			_, _ = l.X(l.firstUp(), "pcs", "constraint", "location", "remove", "location-vip-"+target.Name+"-50")
		}()
		l.Settle(l.firstUp(), 30*time.Second)
		l.ClearCache(target)
	}
	c, err := l.watch(VIP(provider), victim, false)
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	w0, moves0 := l.Writes(provider), len(l.cloudMoves(time.Time{}))
	at := time.Now()
	l.Record(fmt.Sprintf("chaos %s (%s): %s", scenario, provider, victim.Name))
	l.inject(scenario, provider, target, at)
	if scenario == ByHand {
		if err := l.MoveByHand(provider, target); err != nil {
			return nil, err
		}
		moves0 = len(l.cloudMoves(time.Time{})) // the move by hand is not the agent's
	} else if err := l.chaosKill(scenario, provider, victim, w0); err != nil {
		return nil, err
	}
	l.awaitHolder(res, c, at)
	in.ClearFaults()
	time.Sleep(time.Second)
	l.Settle(l.OtherThan(victim), 60*time.Second)
	r := &Result{}
	if res.Holder != nil {
		l.checkInvariants(r, provider, res.Holder)
	}
	res.Problems = append(res.Problems, r.Problems...)
	res.Problems = append(res.Problems, l.Leftovers(provider, res.Holder)...)
	res.Writes = l.Writes(provider) - w0
	res.Moves = len(l.cloudMoves(time.Time{})) - moves0
	res.Events = l.Events()
	return res, l.restore(res)
}

// inject switches on scenario's fault in provider's fake at at.
func (l *Lab) inject(scenario, provider string, target *Node, at time.Time) {
	in, api := l.injector(provider), apiPath(provider)
	switch scenario {
	case API503:
		in.Inject(fakecloud.Fault{Path: api, Status: 503, Until: at.Add(10 * time.Second)})
	case APIDown:
		// Past both survivors' starts: each fails and bans its node, and
		// only failure-timeout brings the VIP back.
		in.Inject(fakecloud.Fault{Path: api, Status: 503, Until: at.Add(2*l.startTimeout() + 15*time.Second)})
	case Storm429:
		in.Inject(fakecloud.Fault{Path: api, Status: 429, RetryAfter: 2, Until: at.Add(10 * time.Second)})
	case MetaDown:
		in.Inject(fakecloud.Fault{Path: metadataPath(provider), Status: 503, From: target.Addr})
	case Frozen, Returns:
		// Hold the first write a while: the start is caught in the middle.
		for _, w := range writes(provider) {
			m, p, _ := strings.Cut(w, " ")
			in.Inject(fakecloud.Fault{Method: m, Path: p, Delay: 2 * time.Second, Times: 1})
		}
	}
}

// chaosKill kills victim, then freezes the survivor's start (Frozen) or
// brings the victim back as soon as the survivor's first write reaches
// the cloud (Returns; w0 is the write count before the kill).
func (l *Lab) chaosKill(scenario, provider string, victim *Node, w0 int) error {
	if err := l.Kill(victim); err != nil {
		return err
	}
	switch scenario {
	case Frozen:
		_, err := l.freezeStart(victim, 30*time.Second)
		return err
	case Returns:
		for end := time.Now().Add(30 * time.Second); l.Writes(provider) == w0 && time.Now().Before(end); {
			time.Sleep(5 * time.Millisecond)
		}
		if err := l.Start(victim); err != nil {
			return err
		}
		l.Record(victim.Name + " is back")
	}
	return nil
}

// awaitHolder waits until one node holds the VIP where Pacemaker and the
// cloud say, and sets res.Holder and res.Outage: the client's first good
// reply from it after at (after a move by hand, when all agree again: the
// client may never notice).
func (l *Lab) awaitHolder(res *ChaosResult, c *Client, at time.Time) {
	wait := 90*time.Second + 2*l.startTimeout()
	for end := time.Now().Add(wait); time.Now().Before(end); {
		time.Sleep(time.Second)
		h, err := l.Locate("vip", l.OtherThan(res.Victim))
		if err != nil || !l.CloudAgrees(res.Provider, h) || len(l.Holders(res.Provider)) != 1 {
			continue
		}
		if res.Scenario == ByHand {
			res.Holder, res.Outage = h, time.Since(at)
			return
		}
		if first, ok := c.waitFor(at, 30*time.Second, func(r Reply) bool { return r.OK && r.Body == h.Name }); ok {
			res.Holder, res.Outage = h, first.At.Sub(at)
			return
		}
	}
	res.Problems = append(res.Problems, fmt.Sprintf("no node held the VIP with the cloud's and Pacemaker's agreement within %v; %s", wait, l.diagnose(c)))
}

// restore brings the victim back and cleans up fail counts: a whole, clean
// cluster for the next scenario, the VIP still where it settled.
func (l *Lab) restore(res *ChaosResult) error {
	if !res.Victim.Up() {
		if err := l.Start(res.Victim); err != nil {
			return err
		}
	}
	if err := l.WaitOnline(l.Nodes, 90*time.Second); err != nil {
		return err
	}
	_, err := l.X(l.firstUp(), "pcs", "resource", "cleanup", "vip")
	time.Sleep(time.Second)
	l.Settle(l.firstUp(), 60*time.Second)
	if res.Holder != nil {
		if at, err := l.Locate("vip", nil); err != nil || at != res.Holder {
			res.Problems = append(res.Problems, fmt.Sprintf("after cleanup the VIP is on %s (%v), not on %s", nodeName(at), err, res.Holder.Name))
		}
	}
	return err
}

// cloudMoves lists the cloud's moves since t.
func (l *Lab) cloudMoves(t time.Time) []Event {
	var out []Event
	for _, e := range l.Events() {
		if strings.HasPrefix(e.What, "cloud routes") && !e.At.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

// Leftovers names what nodes other than holder keep of the VIP: an
// announcer, a claim record, a bound address, an agent process still
// running (a frozen or hung start).
func (l *Lab) Leftovers(provider string, holder *Node) []string {
	var out []string
	for _, n := range l.Nodes {
		if !n.Up() || n == holder {
			continue
		}
		if l.holds(n, provider) {
			out = append(out, n.Name+" still holds the VIP locally")
		}
		for _, action := range []string{"start", "_announce"} {
			if pids := l.agentPIDs(n, action); len(pids) > 0 {
				out = append(out, fmt.Sprintf("%s still runs floatip %s (PIDs %v)", n.Name, action, pids))
			}
		}
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/root/run/resource-agents", n.initPID()))
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".claim") {
				out = append(out, fmt.Sprintf("%s keeps the record %s", n.Name, e.Name()))
			}
		}
	}
	return out
}

// MoveByHand moves provider's VIP to node n in the fake cloud, as someone
// using the console would.
func (l *Lab) MoveByHand(provider string, n *Node) error {
	switch provider {
	case "digitalocean":
		l.Fake.Assign(ReservedIP, l.Droplet(n))
	case "oci":
		for id, m := range l.vnics {
			if m == n {
				l.OCI.Move(OCIVIP, l.OCI.Vnic(id))
			}
		}
	case "linode-assign":
		l.Linode.SetOwner(LinodeVIP2, linodeBase+1+l.index(n))
	default:
		return fmt.Errorf("lab: no move by hand for %s", provider)
	}
	l.Record(fmt.Sprintf("moved by hand to %s", n.Name))
	return nil
}

// nonDCHolder returns the node running the VIP, after moving it off the DC.
func (l *Lab) nonDCHolder() (*Node, error) {
	victim, err := l.Locate("vip", nil)
	if err != nil {
		return nil, err
	}
	if dc := l.DC(l.firstUp()); dc == victim {
		n := l.OtherThan(dc)
		if err := l.MoveTo("vip", n); err != nil {
			return nil, err
		}
		l.Settle(n, 30*time.Second)
		return n, nil
	}
	return victim, nil
}

// OtherThan returns the first up node that is not n.
func (l *Lab) OtherThan(n *Node) *Node {
	for _, m := range l.Nodes {
		if m != n && m.Up() {
			return m
		}
	}
	return nil
}

func (l *Lab) startTimeout() time.Duration {
	if l.cfg.StartTimeout > 0 {
		return l.cfg.StartTimeout
	}
	return 60 * time.Second
}
