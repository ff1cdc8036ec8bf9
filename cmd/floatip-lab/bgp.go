package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cloudvip/floatip/internal/lab"
)

// bgpLab is one lab of the BGP sweep (the route server's and nodes'
// timers are the lab's) and the configurations measured in it.
type bgpLab struct {
	key  string // --only name
	name string
	cfg  lab.BGPConfig
	runs []benchConfig
}

// bgpLabs: lelastic's timers (hold 9) with Linode's ARP share mode next
// to it in the same lab, a shorter hold (3), and BFD (hold 9).
func bgpLabs() []bgpLab {
	fl := "ocf:cloudvip:floatip"
	return []bgpLab{
		{"hold9", "hold 9 s", lab.BGPConfig{Hold: 9}, []benchConfig{
			{"linode share (ARP)", fl, "linode-share"}, {"linode bgp, hold 9 s", fl, "linode-bgp"}}},
		{"hold3", "hold 3 s", lab.BGPConfig{Hold: 3}, []benchConfig{{"linode bgp, hold 3 s", fl, "linode-bgp"}}},
		{"bfd", "hold 9 s + BFD", lab.BGPConfig{Hold: 9, BFD: true}, []benchConfig{{"linode bgp, hold 9 s + BFD", fl, "linode-bgp"}}},
	}
}

// bgpSweep hard-kills the VIP's holder (never the DC, rotating) runs times
// per configuration in a Linode BGP data center lab: bgp mode with hold 9
// s (lelastic's), 3 s and 9 s with BFD, and share mode (ARP) beside them;
// it prints outage median / p95 / max, lost requests, the agent's start
// and kill -> the route server's best path on the survivor.
func bgpSweep(args []string) int {
	fs, c := flags("bgp")
	runs := fs.Int("runs", 10, "hard kills per configuration")
	only := fs.StringSlice("only", nil, "labs to run: hold9 (with share mode), hold3, bfd (default: all)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	self, _ := os.Executable()
	say := sayer("%7.1fs")
	results := map[string][]*lab.Result{}
	var order []benchConfig
	var notes []string
	for _, bl := range bgpLabs() {
		if len(*only) > 0 && !slices.Contains(*only, bl.key) {
			continue
		}
		order = append(order, bl.runs...)
		if err := bgpLabRuns(bl, c, self, *runs, say, results); err != nil {
			if bl.cfg.BFD && strings.Contains(strings.ToLower(err.Error()), "bfd") {
				notes = append(notes, fmt.Sprintf("%s: skipped, bfdd does not work in the lab: %v", bl.name, err))
				continue
			}
			fmt.Fprintln(os.Stderr, "floatip-lab:", err)
			return 1
		}
	}
	fmt.Printf("\n%d nodes, corosync token %d ms, monitor 2 s, client request every %v; outage = kill -> first good reply from the new holder;"+
		" route moved = kill -> the route server's best path on the new holder (sampled every 50 ms)\n\n", c.nodes, c.token, lab.PollEvery)
	bgpSummary(order, results)
	for _, n := range notes {
		fmt.Println("\n" + n)
	}
	return 0
}

// bgpLabRuns brings up bl's lab and runs its configurations, runs kills
// each, into results.
func bgpLabRuns(bl bgpLab, c *common, self string, runs int, say func(string, ...any), results map[string][]*lab.Result) error {
	cfg := bl.cfg
	say("lab: %s", bl.name)
	l, err := startLab(lab.Config{Nodes: c.nodes, Token: c.token, Self: self, BGP: &cfg, Log: say})
	if err != nil {
		return err
	}
	defer func() { l.Down(); os.RemoveAll(l.Dir()) }()
	// The announcement's UPDATE restarts the keepalive interval: killing
	// right after the move would always find the last message about
	// 0.5 s old, and a dead node's route would last nearly the whole hold
	// time every run. A node that has held the VIP for long dies at any
	// point of the interval: so does the victim here.
	keepalive := time.Duration(max(cfg.Hold, 3)/3) * time.Second
	b := &bench{l: l, say: say, results: results, pause: func() time.Duration { return rand.N(keepalive) }}
	for _, cf := range bl.runs {
		for i := 0; i < runs; i++ {
			if err := b.run(cf, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// bgpSummary prints the sweep's table.
func bgpSummary(order []benchConfig, results map[string][]*lab.Result) {
	fmt.Printf("| configuration | runs | median outage | p95 | max | median requests lost | median agent start | median route moved | problems |\n" +
		"|---|---|---|---|---|---|---|---|---|\n")
	for _, cf := range order {
		rs := results[cf.name]
		if len(rs) == 0 {
			continue
		}
		var out, start, moved []time.Duration
		var lost []int
		bad := 0
		for _, r := range rs {
			out = append(out, r.Outage)
			start = append(start, r.Start)
			lost = append(lost, r.Lost)
			if !r.CloudMoved.IsZero() && strings.HasPrefix(cf.provider, "linode-bgp") {
				moved = append(moved, r.CloudMoved.Sub(r.At))
			}
			if len(r.Problems) > 0 {
				bad++
			}
		}
		slices.Sort(out)
		slices.Sort(start)
		slices.Sort(lost)
		slices.Sort(moved)
		mv := "-"
		if len(moved) > 0 {
			mv = fmt.Sprintf("%.0f ms", ms(moved[len(moved)/2]))
		}
		fmt.Printf("| %s | %d | %.0f ms | %.0f ms | %.0f ms | %d | %v | %s | %d |\n", cf.name, len(rs), ms(out[len(out)/2]),
			ms(out[min(len(out)-1, (len(out)*95+99)/100-1)]), ms(out[len(out)-1]), lost[len(lost)/2], start[len(start)/2], mv, bad)
	}
}
