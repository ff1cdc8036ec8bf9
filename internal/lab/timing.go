package lab

import (
	"fmt"
	"time"
)

// Timing is how fast a cluster of Nodes notices a dead node: Corosync's
// token, token_coefficient, consensus and knet's link timeout (nil / 0:
// Corosync's defaults), and Pacemaker's transition-delay (0: unset), all
// in ms.
type Timing struct {
	Nodes, Token    int
	Coefficient     *int
	Consensus       int
	PingTimeout     int
	TransitionDelay int
}

// Fast is the README's fast-failover timing: token 500 ms with no
// per-node addition; knet's link timeout at 1000 ms, so a stall of a few
// tens of milliseconds does not take every link down and drop the token
// (knet checks its links every 200 ms; the default timeout is token / 2);
// and Pacemaker's transition-delay at 200 ms, which lets the DC's
// node-state updates land before it asks the scheduler and so skips the
// controller's one-second wait for them.
func Fast(nodes int) Timing {
	zero := 0
	return Timing{Nodes: nodes, Token: 500, Coefficient: &zero, PingTimeout: 1000, TransitionDelay: 200}
}

// Apply sets the timing in cfg.
func (t Timing) Apply(cfg *Config) {
	cfg.Nodes, cfg.Token, cfg.TokenCoefficient, cfg.Consensus = t.Nodes, t.Token, t.Coefficient, t.Consensus
	cfg.KnetPingTimeout, cfg.TransitionDelay = t.PingTimeout, t.TransitionDelay
}

// Effective is the token timeout Corosync uses (token plus the
// coefficient per node beyond two) and the consensus it waits after it.
func (t Timing) Effective() (token, consensus time.Duration) {
	tok, coef := t.Token, 650
	if tok == 0 {
		tok = 1000
	}
	if t.Coefficient != nil {
		coef = *t.Coefficient
	}
	if t.Nodes > 2 {
		tok += coef * (t.Nodes - 2)
	}
	cons := t.Consensus
	if cons == 0 {
		cons = tok * 12 / 10
	}
	return time.Duration(tok) * time.Millisecond, time.Duration(cons) * time.Millisecond
}

// Labels name the coefficient and consensus ("default" when unset).
func (t Timing) Labels() (coef, cons string) {
	coef, cons = "default", "default"
	if t.Coefficient != nil {
		coef = fmt.Sprint(*t.Coefficient)
	}
	if t.Consensus > 0 {
		cons = fmt.Sprint(t.Consensus)
	}
	return coef, cons
}

func (t Timing) String() string {
	coef, cons := t.Labels()
	tok, c := t.Effective()
	s := fmt.Sprintf("%d nodes, token %d, coefficient %s, consensus %s", t.Nodes, t.Token, coef, cons)
	if t.PingTimeout > 0 {
		s += fmt.Sprintf(", knet ping timeout %d", t.PingTimeout)
	}
	if t.TransitionDelay > 0 {
		s += fmt.Sprintf(", transition-delay %dms", t.TransitionDelay)
	}
	return s + fmt.Sprintf(" (effective %v + %v)", tok, c)
}

// Breakdown splits an outage where the logs allow: the token timing out on
// the survivor (kill -> "A processor failed"), consensus and the new
// membership, Pacemaker until it starts the agent, the agent's start, and
// the client's first good reply after it.
type Breakdown struct {
	Token, Consensus, Pacemaker, Start, Reply time.Duration
}

// BreakdownOf reads r's timeline; false when a step is missing from the logs.
func BreakdownOf(r *Result) (Breakdown, bool) {
	if r.TokenLost.IsZero() || r.Membership.IsZero() || r.Started.IsZero() || r.FirstReply.IsZero() {
		return Breakdown{}, false
	}
	begin := r.Started.Add(-r.Start)
	return Breakdown{
		Token:     r.TokenLost.Sub(r.At),
		Consensus: r.Membership.Sub(r.TokenLost),
		Pacemaker: begin.Sub(r.Membership),
		Start:     r.Start,
		Reply:     r.FirstReply.Sub(r.Started),
	}, true
}
