package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudvip/floatip/internal/lab"
)

// sample is what the sampler saw at one moment.
type sample struct {
	holders int  // nodes holding the VIP locally
	placed  bool // Pacemaker names one node for it
	agrees  bool // and the cloud routes it there
}

// soaker keeps the soak's tallies.
type soaker struct {
	l                                   *lab.Lab
	say                                 func(string, ...any)
	outages                             map[string][]time.Duration
	bad                                 []string
	runs, samples, twoHolders, disagree int
}

// soak hard-kills the VIP's holder again and again (the DC every third
// run), the runs shared out among the providers in turn, while a sampler
// checks every 200 ms that no two nodes hold the VIP and, while the
// cluster is settled, that Pacemaker and the cloud agree; after each run
// nothing may be left behind on the other nodes.
func soak(args []string) int {
	fs, c := flags("soak")
	runs := fs.Int("runs", 100, "hard-kill failovers in all")
	providers := fs.StringSlice("providers", []string{"none", "digitalocean", "oci", "linode-assign", "linode-share"}, "providers, in turn")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	self, _ := os.Executable()
	say := sayer("%7.1fs")
	l, err := startLab(lab.Config{Nodes: c.nodes, Token: c.token, Self: self, ActionTime: 300 * time.Millisecond, Log: say})
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatip-lab:", err)
		return 1
	}
	defer func() { l.Down(); os.RemoveAll(l.Dir()) }()
	s := &soaker{l: l, say: say, outages: map[string][]time.Duration{}}
	per := (*runs + len(*providers) - 1) / len(*providers)
	for _, p := range *providers {
		if err := l.CreateResources("ocf:cloudvip:floatip", p); err != nil {
			fmt.Fprintln(os.Stderr, "floatip-lab:", err)
			return 1
		}
		for i := 0; i < per && s.runs < *runs; i++ {
			if err := s.run(p, *runs); err != nil {
				fmt.Fprintln(os.Stderr, "floatip-lab:", err)
				return 1
			}
		}
		if err := l.DeleteVIP(); err != nil {
			fmt.Fprintln(os.Stderr, "floatip-lab:", err)
			return 1
		}
	}
	s.summary(*providers, c)
	if s.twoHolders > 0 || s.disagree > 0 || len(s.bad) > 0 {
		return 1
	}
	return 0
}

// run is one hard kill of the VIP's holder (moved to the DC first every
// third run), sampled while settled before it and throughout.
func (s *soaker) run(p string, of int) error {
	l := s.l
	l.Settle(l.Nodes[0], 60*time.Second)
	settled := sampleFor(l, p, 2*time.Second)
	victim, err := s.victim()
	if err != nil {
		return err
	}
	isDC := l.DC(victim) == victim
	var during []sample
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); during = sampleUntil(l, p, stop) }()
	res, err := l.Failover("kill", p, "floatip", victim)
	close(stop)
	wg.Wait()
	if err != nil {
		return err
	}
	s.runs++
	for _, x := range append(settled, during...) {
		s.samples++
		if x.holders > 1 {
			s.twoHolders++
		}
	}
	for _, x := range settled {
		if !x.placed || !x.agrees || x.holders != 1 {
			s.disagree++
		}
	}
	problems := res.Problems
	if h, err := l.Locate("vip", nil); err != nil {
		problems = append(problems, err.Error())
	} else {
		problems = append(problems, l.Leftovers(p, h)...)
	}
	if len(problems) > 0 {
		s.bad = append(s.bad, fmt.Sprintf("run %d (%s, %s): %s", s.runs, p, victim.Name, strings.Join(problems, "; ")))
	}
	s.outages[p] = append(s.outages[p], res.Outage)
	dc, note := "", ""
	if isDC {
		dc = " (the DC)"
	}
	if len(problems) > 0 {
		note = " PROBLEMS: " + strings.Join(problems, "; ")
	}
	s.say("run %d/%d %s: killed %s%s, %s answers after %v%s", s.runs, of, p, victim.Name, dc, res.Survivor.Name, res.Outage.Round(time.Millisecond), note)
	return nil
}

// victim is the node to kill: every third one the DC (its kill adds an
// election), the others not; the VIP is moved there first where needed.
func (s *soaker) victim() (*lab.Node, error) {
	l := s.l
	victim, err := l.Locate("vip", nil)
	if err != nil {
		return nil, err
	}
	wantDC := s.runs%3 == 2
	if dc := l.DC(victim); dc != nil && (dc == victim) != wantDC {
		to := dc
		if !wantDC {
			to = l.OtherThan(dc)
		}
		if err := l.MoveTo("vip", to); err != nil {
			return nil, err
		}
		victim = to
		l.Settle(to, 30*time.Second)
	}
	return victim, nil
}

func (s *soaker) summary(providers []string, c *common) {
	fmt.Printf("\n%d hard kills, %d nodes, corosync token %d ms; %d samples every 200 ms: %d with two holders, %d settled samples where Pacemaker and the cloud disagreed; %d runs with problems\n\n",
		s.runs, c.nodes, c.token, s.samples, s.twoHolders, s.disagree, len(s.bad))
	fmt.Printf("| provider | kills | median outage | p95 | max |\n|---|---|---|---|---|\n")
	for _, p := range providers {
		out := s.outages[p]
		if len(out) == 0 {
			continue
		}
		slices.Sort(out)
		fmt.Printf("| %s | %d | %.2f s | %.2f s | %.2f s |\n", p, len(out), out[len(out)/2].Seconds(),
			out[min(len(out)-1, (len(out)*95+99)/100-1)].Seconds(), out[len(out)-1].Seconds())
	}
	for _, b := range s.bad {
		fmt.Println("PROBLEM", b)
	}
}

func take(l *lab.Lab, p string) sample {
	x := sample{holders: len(l.Holders(p))}
	if n, err := l.Locate("vip", nil); err == nil {
		x.placed = true
		x.agrees = p == "none" || l.CloudAgrees(p, n)
	}
	return x
}

func sampleFor(l *lab.Lab, p string, d time.Duration) []sample {
	var out []sample
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		out = append(out, take(l, p))
	}
	return out
}

func sampleUntil(l *lab.Lab, p string, stop chan struct{}) []sample {
	var out []sample
	for {
		select {
		case <-stop:
			return out
		case <-time.After(200 * time.Millisecond):
			out = append(out, take(l, p))
		}
	}
}
