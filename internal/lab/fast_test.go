package lab

import (
	"testing"
	"time"
)

// TestFastFailover: one hard kill of the VIP's holder (not the DC) with
// the README's fast-failover timing on 3 nodes. Corosync must declare the
// token lost within its 500 ms (plus scheduling slack), not after the
// default's 1650 ms; Pacemaker must not add the controller's one-second
// wait for pending CIB updates (transition-delay avoids it); and the
// whole failover must take less than the README's 2 s.
func TestFastFailover(t *testing.T) {
	requireLab(t)
	cfg := Config{Self: self, Log: t.Logf}
	fast := Fast(3)
	fast.Apply(&cfg)
	l := upLab(t, cfg)
	if err := l.CreateResources("ocf:cloudvip:floatip", "none"); err != nil {
		t.Fatal(err)
	}
	victim, err := l.nonDCHolder()
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Failover("kill", "none", "floatip", victim)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		t.Error(p)
	}
	bd, ok := BreakdownOf(res)
	if !ok {
		t.Fatalf("the logs lack a step of the failover: token lost %v, membership %v, start %v", res.TokenLost, res.Membership, res.Started)
	}
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	t.Logf("%s: outage %v (token %v, consensus %v, Pacemaker %v, start %v, reply %v)", fast, ms(res.Outage),
		ms(bd.Token), ms(bd.Consensus), ms(bd.Pacemaker), bd.Start, ms(bd.Reply))
	tok, cons := fast.Effective()
	if bd.Token > tok+700*time.Millisecond {
		t.Errorf("Corosync declared the token lost %v after the kill; the token is %v", ms(bd.Token), tok)
	}
	if bd.Consensus > cons+700*time.Millisecond {
		t.Errorf("consensus took %v; it is %v", ms(bd.Consensus), cons)
	}
	if bd.Pacemaker >= time.Second {
		t.Errorf("Pacemaker took %v from the new membership to the start: the controller's one-second wait was not avoided", ms(bd.Pacemaker))
	}
	if res.Outage >= 2*time.Second {
		t.Errorf("outage %v, not under the README's 2 s", ms(res.Outage))
	}
}
