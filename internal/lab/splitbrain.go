package lab

import (
	"fmt"
	"time"
)

// SplitBrainConfig is a two-node cluster the way the seed guides build
// one: two_node, no-quorum-policy=ignore, no fencing; a depth-10 monitor
// and cloud_check_interval every 10 s, fail counts expiring after 30 s.
// guard is floatip's takeback_guard (0: the rule off).
func SplitBrainConfig(self string, guard int, log func(string, ...any)) Config {
	return Config{Nodes: 2, Token: 1000, Self: self, ActionTime: 300 * time.Millisecond, IgnoreQuorum: true,
		StartTimeout: 20 * time.Second, Depth10: 10 * time.Second, FailureTimeout: 30 * time.Second,
		Extra: []string{fmt.Sprintf("takeback_guard=%d", guard)}, Log: log}
}

// SplitResult is one split of the ring, measured.
type SplitResult struct {
	Provider string
	Split    time.Duration
	Writes   int                    // cloud write requests during the split
	Moves    map[string][]time.Time // the cloud's moves during the split, per node
	Holder   *Node                  // after healing and settling
	Settled  time.Duration          // heal -> one holder that Pacemaker and the cloud agree on
	Problems []string
}

// RingSplit drops Corosync's traffic (UDP 5405) on every node: the cluster
// splits, while the nodes still reach the cloud and the client.
func (l *Lab) RingSplit() error {
	rule := "add table inet flring; add chain inet flring in { type filter hook input priority 0; }; add rule inet flring in udp dport 5405 drop"
	for _, n := range l.Nodes {
		if err := sh("ip", "netns", "exec", n.NS, "nft", rule); err != nil {
			return err
		}
	}
	l.Record("ring split")
	return nil
}

// RingHeal undoes RingSplit.
func (l *Lab) RingHeal() error {
	for _, n := range l.Nodes {
		if err := sh("ip", "netns", "exec", n.NS, "nft", "delete table inet flring"); err != nil {
			return err
		}
	}
	l.Record("ring healed")
	return nil
}

// SplitBrain splits the ring for d, counts the cloud writes meanwhile,
// heals, and checks that one node holds the VIP where Pacemaker and the
// cloud say. The VIP resource for provider must run.
func (l *Lab) SplitBrain(provider string, d time.Duration) (*SplitResult, error) {
	l.Settle(l.firstUp(), 60*time.Second)
	res := &SplitResult{Provider: provider, Split: d}
	w0 := l.Writes(provider)
	t0 := time.Now()
	if err := l.RingSplit(); err != nil {
		return nil, err
	}
	time.Sleep(d)
	res.Writes = l.Writes(provider) - w0
	res.Moves = l.CloudMoves(t0, time.Now())
	if err := l.RingHeal(); err != nil {
		return res, err
	}
	healed := time.Now()
	if err := l.WaitOnline(l.Nodes, 90*time.Second); err != nil {
		res.Problems = append(res.Problems, err.Error())
	}
	for end := time.Now().Add(90 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		h, err := l.Locate("vip", nil)
		if err == nil && len(l.Holders(provider)) == 1 && l.CloudAgrees(provider, h) {
			res.Holder, res.Settled = h, time.Since(healed)
			break
		}
	}
	time.Sleep(time.Second)
	l.Settle(l.firstUp(), 60*time.Second)
	if res.Holder == nil {
		res.Problems = append(res.Problems, "no single holder that Pacemaker and the cloud agree on within 90 s of healing")
		return res, nil
	}
	r := &Result{}
	l.checkInvariants(r, provider, res.Holder)
	res.Problems = append(res.Problems, r.Problems...)
	res.Problems = append(res.Problems, l.Leftovers(provider, res.Holder)...)
	_, err := l.X(l.firstUp(), "pcs", "resource", "cleanup", "vip")
	return res, err
}
