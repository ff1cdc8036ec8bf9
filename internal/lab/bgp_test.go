package lab

import (
	"os"
	"testing"
	"time"
)

// requireFRR skips a BGP lab test where FRR is missing (.ci/run and make
// deps install it).
func requireFRR(t *testing.T) {
	for _, d := range []string{"zebra", "bgpd"} {
		if _, err := os.Stat(frrLib + "/" + d); err != nil {
			t.Skipf("FRR's %s is not installed (make deps / .ci/run install frr)", d)
		}
	}
}

// TestBGP: a Linode BGP data center (route server in the cloud namespace,
// FRR on every node, hold 9 s as lelastic's). For IPv4 (linode-bgp) and
// IPv6 (linode-bgp6, a shared range announced as the /64): the node
// holding the VIP (not the DC) is hard-killed, the VIP fails over, the
// route server's best path moves to the survivor (the client's traffic
// follows it), the killed node comes back and nothing moves.
func TestBGP(t *testing.T) {
	requireLab(t)
	requireFRR(t)
	l := upLab(t, Config{Nodes: 3, Token: 1000, Self: self, BGP: &BGPConfig{Hold: 9}, Log: t.Logf})
	for _, provider := range []string{"linode-bgp", "linode-bgp6"} {
		t.Run(provider, func(t *testing.T) {
			if err := l.CreateResources("ocf:cloudvip:floatip", provider); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := l.DeleteVIP(); err != nil {
					t.Error(err)
				}
			}()
			victim, err := l.nonDCHolder()
			if err != nil {
				t.Fatal(err)
			}
			if h := l.CloudHolder(provider); h != victim {
				t.Fatalf("before the kill the route server routes %s to %s, not to %s", VIP(provider), nodeName(h), victim.Name)
			}
			res, err := l.Failover("kill", provider, "floatip", victim)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("kill of %s: %s answers after %v (%d requests lost), floatip start %v, route server moved after %v",
				victim.Name, res.Survivor.Name, res.Outage.Round(time.Millisecond), res.Lost, res.Start, res.CloudMoved.Sub(res.At).Round(time.Millisecond))
			for _, p := range res.Problems {
				t.Error(p)
			}
			if res.Survivor == victim {
				t.Errorf("the VIP never left %s", victim.Name)
			}
			if res.CloudMoved.IsZero() {
				t.Errorf("the route server never routed %s to %s", VIP(provider), res.Survivor.Name)
			}
			// Hold 9 s plus Pacemaker's failover: generous.
			if bound := 25 * time.Second; res.Outage > bound {
				t.Errorf("outage %v, want under %v", res.Outage, bound)
			}
			if h := l.CloudHolder(provider); h != res.Survivor {
				t.Errorf("after %s came back the route server routes %s to %s, not to %s", victim.Name, VIP(provider), nodeName(h), res.Survivor.Name)
			}
			if lo := l.Leftovers(provider, res.Survivor); len(lo) > 0 {
				t.Errorf("leftovers: %v", lo)
			}
		})
	}
}
