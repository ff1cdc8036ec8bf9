package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cloudvip/floatip/internal/lab"
)

// timings are the Corosync settings the sweep tries: on 3 nodes each
// token with Corosync's defaults, with token_coefficient 0, and with an
// explicit consensus of 1.2 x the token alone (below the default, which
// counts the coefficient); on 2 nodes (two_node) each token (the
// coefficient only counts nodes beyond two, and consensus cannot go below
// 1.2 x the token, its default there).
func timings(nodes []int, tokens []int) []lab.Timing {
	zero := 0
	var out []lab.Timing
	for _, n := range nodes {
		for _, tok := range tokens {
			out = append(out, lab.Timing{Nodes: n, Token: tok})
			if n > 2 {
				out = append(out, lab.Timing{Nodes: n, Token: tok, Coefficient: &zero},
					lab.Timing{Nodes: n, Token: tok, Consensus: tok * 12 / 10})
			}
		}
	}
	return out
}

// timingSweep hard-kills the VIP's holder (floatip, provider none, never
// the DC) runs times per Corosync setting and prints outage median / p95
// / max with where the time went: the token, consensus, Pacemaker until
// it starts the agent, the agent's start and the first good reply.
func timingSweep(args []string) int {
	fs, c := flags("timing")
	runs := fs.Int("runs", 10, "hard kills per setting")
	one := fs.Bool("one", false, "only the setting the timing flags describe (--nodes, --token, --fast, ...)")
	nodes := fs.IntSlice("cluster", []int{3, 2}, "cluster sizes")
	tokens := fs.IntSlice("tokens", []int{1000, 500, 300}, "corosync tokens (ms)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	self, _ := os.Executable()
	say := sayer("%7.1fs")
	type row struct {
		t    lab.Timing
		rs   []*lab.Result
		note string
	}
	var rows []row
	sweep := timings(*nodes, *tokens)
	for i := range sweep {
		sweep[i].PingTimeout, sweep[i].TransitionDelay = c.ping, c.delay
	}
	if *one {
		sweep = []lab.Timing{c.timing()}
	}
	for _, t := range sweep {
		say("lab: %s", t)
		rs, err := timingRuns(t, self, *runs, say)
		r := row{t: t, rs: rs}
		if err != nil {
			r.note = err.Error()
			say("%s: %v", t, err)
		}
		rows = append(rows, r)
	}
	fmt.Printf("\nfloatip, provider none, monitor 2 s, client request every %v; outage = kill -> first good reply; victims never the DC\n\n", lab.PollEvery)
	fmt.Println("| nodes | token | coefficient | consensus | effective token + consensus | runs | median | p95 | max | token lost | consensus | Pacemaker | start | reply | problems |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Println(timingRow(r.t, r.rs, r.note))
	}
	return 0
}

// timingRuns brings a lab up with timing t and kills the VIP's holder runs
// times.
func timingRuns(t lab.Timing, self string, runs int, say func(string, ...any)) ([]*lab.Result, error) {
	cfg := lab.Config{Self: self, Log: say}
	t.Apply(&cfg)
	l, err := startLab(cfg)
	if err != nil {
		return nil, err
	}
	defer func() { l.Down(); os.RemoveAll(l.Dir()) }()
	b := &bench{l: l, say: say, results: map[string][]*lab.Result{}}
	cf := benchConfig{t.String(), "ocf:cloudvip:floatip", "none"}
	for i := 0; i < runs; i++ {
		if err := b.run(cf, i); err != nil {
			return b.results[cf.name], err
		}
		if bd, ok := lab.BreakdownOf(b.results[cf.name][i]); ok {
			say("  token %v, consensus %v, Pacemaker %v, start %v, reply %v", bd.Token.Round(time.Millisecond),
				bd.Consensus.Round(time.Millisecond), bd.Pacemaker.Round(time.Millisecond), bd.Start, bd.Reply.Round(time.Millisecond))
		}
	}
	return b.results[cf.name], nil
}

// timingRow is one setting's line of the table: outages and the medians
// of each part of them.
func timingRow(t lab.Timing, rs []*lab.Result, note string) string {
	coef, cons := t.Labels()
	tok, c := t.Effective()
	head := fmt.Sprintf("| %d | %d | %s | %s | %v + %v | %d ", t.Nodes, t.Token, coef, cons, tok, c, len(rs))
	if len(rs) == 0 {
		return head + "| - | - | - | - | - | - | - | - | " + oneLine(note) + " |"
	}
	var out []time.Duration
	var parts [5][]time.Duration
	probs := 0
	for _, r := range rs {
		out = append(out, r.Outage)
		probs += len(r.Problems)
		if bd, ok := lab.BreakdownOf(r); ok {
			for i, d := range []time.Duration{bd.Token, bd.Consensus, bd.Pacemaker, bd.Start, bd.Reply} {
				parts[i] = append(parts[i], d)
			}
		}
	}
	slices.Sort(out)
	s := head + fmt.Sprintf("| %.0f ms | %.0f ms | %.0f ms ", ms(out[len(out)/2]), ms(out[min(len(out)-1, (len(out)*95+99)/100-1)]), ms(out[len(out)-1]))
	for _, p := range parts {
		if len(p) == 0 {
			s += "| - "
			continue
		}
		slices.Sort(p)
		s += fmt.Sprintf("| %.0f ms ", ms(p[len(p)/2]))
	}
	if note != "" {
		return s + fmt.Sprintf("| %d; %s |", probs, oneLine(note))
	}
	return s + fmt.Sprintf("| %d |", probs)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}
