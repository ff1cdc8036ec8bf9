package lab

import (
	"testing"
	"time"
)

// TestChaos runs the two chaos scenarios CI affords (make chaos runs them
// all, for every provider): DigitalOcean's API answering 503 for 10 s from
// the moment the holder dies, and the survivor's start frozen until
// Pacemaker's timeout kills it.
func TestChaos(t *testing.T) {
	requireLab(t)
	l := upLab(t, ChaosConfig(self, t.Logf))
	const provider = "digitalocean"
	if err := l.CreateResources("ocf:cloudvip:floatip", provider); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		scenario string
		min, max time.Duration
	}{
		// No move can land before the API heals; the start's retries
		// then land within a few seconds.
		{API503, 10 * time.Second, 25 * time.Second},
		// The frozen start costs its 20 s timeout, then another node starts.
		{Frozen, 20 * time.Second, 50 * time.Second},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			res, err := l.Chaos(c.scenario, provider)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: victim %s, holder %s, outage %v, %d cloud writes, %d moves", c.scenario, res.Victim.Name, nodeName(res.Holder),
				res.Outage.Round(time.Millisecond), res.Writes, res.Moves)
			for _, p := range res.Problems {
				t.Error(p)
			}
			if res.Holder == nil {
				return
			}
			if res.Holder == res.Victim {
				t.Errorf("the VIP stayed on the killed node %s", res.Victim.Name)
			}
			if res.Outage < c.min || res.Outage > c.max {
				t.Errorf("outage %v, want between %v and %v", res.Outage.Round(time.Millisecond), c.min, c.max)
			}
			if res.Moves < 1 {
				t.Errorf("the cloud never moved the IP")
			}
		})
	}
}
