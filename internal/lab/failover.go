package lab

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// Client is the poller running in the client namespace.
type Client struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	replies []Reply
	done    chan struct{}
}

// StartClient polls http://vip:8080/ from the client namespace, one
// request at a time, or with overlapping requests (see Poll).
func (l *Lab) StartClient(vip string, overlap bool) (*Client, error) {
	mode := "serial"
	if overlap {
		mode = "overlap"
	}
	cmd := exec.Command("ip", "netns", "exec", l.Client, l.cfg.Self, "_poll", "http://"+net.JoinHostPort(vip, WebPort)+"/", mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &Client{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if r, ok := ParseReply(sc.Text()); ok {
				c.mu.Lock()
				c.replies = append(c.replies, r)
				c.mu.Unlock()
			}
		}
	}()
	return c, nil
}

// Stop ends the poller (by its PID).
func (c *Client) Stop() {
	c.cmd.Process.Kill()
	c.cmd.Wait()
	<-c.done
}

// Replies returns the replies so far, by the time their request started.
func (c *Client) Replies() []Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]Reply(nil), c.replies...)
	slices.SortStableFunc(out, func(a, b Reply) int { return a.At.Compare(b.At) })
	return out
}

// waitFor waits until a reply after t satisfies ok.
func (c *Client) waitFor(t time.Time, d time.Duration, ok func(Reply) bool) (Reply, bool) {
	for end := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		for _, r := range c.Replies() {
			if r.At.After(t) && ok(r) {
				return r, true
			}
		}
		if !time.Now().Before(end) {
			return Reply{}, false
		}
	}
}

// Result is one failover, measured.
type Result struct {
	Kind, Provider, Agent string
	Victim, Survivor      *Node
	At                    time.Time     // the failure
	TokenLost             time.Time     // the survivor's Corosync declared the token lost
	Membership            time.Time     // the survivor's Corosync formed a new membership
	CloudMoved            time.Time     // the fake cloud routed the IP to the survivor
	FirstReply            time.Time     // the client's first good answer from the survivor
	Outage                time.Duration // At -> FirstReply
	Lost                  int           // failed client requests in between
	Start                 time.Duration // the agent's start on the survivor (Pacemaker's log)
	Started               time.Time     // when that start finished
	Replies               []Reply
	Events                []Event
	Problems              []string // invariant violations
}

// watch starts the client on vip and returns once it gets answers from
// victim (the state before a failure); the client is stopped on error.
func (l *Lab) watch(vip string, victim *Node, overlap bool) (*Client, error) {
	c, err := l.StartClient(vip, overlap)
	if err != nil {
		return nil, err
	}
	if _, ok := c.waitFor(time.Now(), 10*time.Second, func(r Reply) bool { return r.OK && r.Body == victim.Name }); !ok {
		err := fmt.Errorf("lab: the client never reached %s through %s; %s", victim.Name, vip, l.diagnose(c))
		c.Stop()
		return nil, err
	}
	time.Sleep(200 * time.Millisecond)
	return c, nil
}

// Failover makes victim fail in the given way ("kill", "partition" or
// "standby") while the client polls the VIP, measures the outage, checks
// the invariants after settling (one holder, the one Pacemaker names, and
// the cloud agrees), brings the victim back and checks that the VIP does
// not fail back and no duplicate appears.
func (l *Lab) Failover(kind, provider, agent string, victim *Node) (*Result, error) {
	c, err := l.watch(VIP(provider), victim, false)
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	res := &Result{Kind: kind, Provider: provider, Agent: agent, Victim: victim}
	var other *Node
	for _, n := range l.Nodes {
		if n != victim && n.Up() {
			other = n
			break
		}
	}
	res.At = time.Now()
	l.Record(fmt.Sprintf("%s %s", kind, victim.Name))
	if err := l.fail(kind, victim, other, true); err != nil {
		return nil, err
	}
	first, ok := c.waitFor(res.At, 60*time.Second, func(r Reply) bool { return r.OK && r.Body != victim.Name })
	if !ok {
		return res, fmt.Errorf("lab: no answer from another node within 60 s of the %s of %s; %s", kind, victim.Name, l.diagnose(c))
	}
	res.FirstReply = first.At
	res.Outage = first.At.Sub(res.At)
	res.Survivor = l.Node(first.Body)
	for _, r := range c.Replies() {
		if r.At.After(res.At) && r.At.Before(first.At) && !r.OK {
			res.Lost++
		}
	}
	// Settle, then sample every namespace: one holder, the one Pacemaker
	// names, and the cloud routes the IP there.
	time.Sleep(time.Second)
	l.Settle(res.Survivor, 60*time.Second)
	l.checkInvariants(res, provider, res.Survivor)
	l.timeline(res)
	// Bring the victim back: no fail-back (stickiness), no duplicate.
	if err := l.fail(kind, victim, other, false); err != nil {
		return res, err
	}
	if err := l.WaitOnline(l.upNodes(), 90*time.Second); err != nil {
		return res, err
	}
	// "Online" shows before the rejoined node's join ends; until then the
	// CIB still holds its history from before the failure (the VIP
	// "running" there too).
	time.Sleep(time.Second)
	l.Settle(res.Survivor, 60*time.Second)
	l.checkInvariants(res, provider, res.Survivor)
	if at, err := l.Locate("vip", res.Survivor); err != nil || at != res.Survivor {
		res.Problems = append(res.Problems, fmt.Sprintf("after %s came back the VIP is on %v (%v), not on %s: fail-back", victim.Name, nodeName(at), err, res.Survivor.Name))
	}
	res.Replies = c.Replies()
	res.Events = l.Events()
	return res, nil
}

// Settle waits, from node n, until the DC's controller has been idle
// (S_IDLE: no join, no transition) for three polls 100 ms apart, at most d.
// (crm_resource --wait does the same in 2 s steps.) A cluster that does not
// settle is left for the checks that follow to report.
func (l *Lab) Settle(n *Node, d time.Duration) {
	for idle, end := 0, time.Now().Add(d); idle < 3 && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		idle++
		dc := l.DC(n)
		if dc == nil {
			idle = 0
			continue
		}
		if out, err := l.X(n, "crmadmin", "-q", "-S", dc.Name); err != nil || !strings.Contains(out, "S_IDLE") {
			idle = 0
		}
	}
}

// fail makes victim fail in the given way, or (undo) brings it back.
func (l *Lab) fail(kind string, victim, other *Node, do bool) error {
	var err error
	switch {
	case kind == "kill" && do:
		err = l.Kill(victim)
	case kind == "kill":
		err = l.Start(victim)
	case kind == "partition" && do:
		err = l.LinkDown(victim)
	case kind == "partition":
		err = l.LinkUp(victim)
	case kind == "standby" && do:
		_, err = l.X(other, "pcs", "node", "standby", victim.Name)
	case kind == "standby":
		_, err = l.X(other, "pcs", "node", "unstandby", victim.Name)
	default:
		err = fmt.Errorf("lab: unknown failure %q", kind)
	}
	if err == nil && !do {
		err = l.WaitSessions([]*Node{victim}, 60*time.Second) // a BGP lab: back means its session is up
	}
	return err
}

// timeline fills in when the survivor's start ran, the new membership
// formed and the cloud moved the address, from the logs and the events.
func (l *Lab) timeline(res *Result) {
	res.Started, res.Start = res.Survivor.StartTime("vip", res.At)
	res.Membership = res.Survivor.MembershipAfter(res.At)
	res.TokenLost = res.Survivor.TokenLostAfter(res.At)
	for _, e := range l.Events() {
		if e.At.After(res.At) && strings.HasPrefix(e.What, "cloud routes") && strings.Contains(e.What, "("+res.Survivor.Name+")") {
			res.CloudMoved = e.At
			break
		}
	}
}

func nodeName(n *Node) string {
	if n == nil {
		return "nowhere"
	}
	return n.Name
}

func (l *Lab) upNodes() []*Node {
	var out []*Node
	for _, n := range l.Nodes {
		if n.Up() {
			out = append(out, n)
		}
	}
	return out
}

// checkInvariants asks from (a node in the majority) where Pacemaker runs
// the VIP and samples every node and the cloud.
func (l *Lab) checkInvariants(res *Result, provider string, from *Node) {
	holders := l.Holders(provider)
	if len(holders) != 1 {
		names := []string{}
		for _, h := range holders {
			names = append(names, h.Name)
		}
		res.Problems = append(res.Problems, fmt.Sprintf("%d nodes hold the VIP locally: %v", len(holders), names))
		return
	}
	at, err := l.Locate("vip", from)
	if err != nil || at != holders[0] {
		res.Problems = append(res.Problems, fmt.Sprintf("Pacemaker says vip runs on %s (%v) but %s holds it", nodeName(at), err, holders[0].Name))
	}
	if provider != "none" && !l.CloudAgrees(provider, holders[0]) {
		res.Problems = append(res.Problems, fmt.Sprintf("the cloud does not route the IP to %s, where Pacemaker runs it", holders[0].Name))
	}
}

// diagnose describes the data plane for an error message.
func (l *Lab) diagnose(c *Client) string {
	out := func(args ...string) string {
		b, _ := exec.Command(args[0], args[1:]...).CombinedOutput()
		return strings.TrimSpace(string(b))
	}
	last := "no replies"
	if r := c.Replies(); len(r) > 0 {
		x := r[len(r)-1]
		last = fmt.Sprintf("last reply ok=%v %q", x.OK, x.Body)
	}
	var hold []string
	for _, p := range []string{"none", "digitalocean"} {
		for _, n := range l.Holders(p) {
			hold = append(hold, p+":"+n.Name)
		}
	}
	bgp := ""
	if l.rs != nil {
		for _, p := range []string{"linode-bgp", "linode-bgp6"} {
			for _, n := range l.Holders(p) {
				hold = append(hold, p+":"+n.Name)
			}
			bgp += fmt.Sprintf("; route server: %s via %s, kernel: %q", VIP(p), nodeName(l.RouteServerHolder(VIP(p))), l.kernelRoute(VIP(p)))
		}
	}
	return fmt.Sprintf("%s; holders %v; router neighbours: %s; nft: %s%s", last, hold,
		out("ip", "-n", l.Cloud, "neigh"), strings.Join(strings.Fields(out("ip", "netns", "exec", l.Cloud, "nft", "list", "chain", "ip", "floatip", "pre")), " "), bgp)
}
