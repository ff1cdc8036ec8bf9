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
	at      time.Time
	holders int       // nodes holding the VIP locally
	pcmk    *lab.Node // where Pacemaker runs it (nil: nowhere or unknown)
	cloud   bool      // the cloud agrees with Pacemaker
}

// soak hard-kills the VIP's holder again and again (the DC every third
// run), 1/len(providers) of the runs per provider, while a sampler checks
// every 200 ms that no two nodes hold the VIP and, once the cluster has
// settled, that Pacemaker and the cloud agree; after each run nothing may
// be left behind on the other nodes.
func soak(args []string) int {
	fs, c := flags("soak")
	runs := fs.Int("runs", 100, "hard-kill failovers in all")
	providers := fs.StringSlice("providers", []string{"none", "digitalocean", "oci", "linode-assign", "linode-share"}, "providers, in turn")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	self, _ := os.Executable()
	t0 := time.Now()
	say := func(format string, a ...any) {
		fmt.Printf("%7.1fs  %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, a...))
	}
	l, err := startLab(lab.Config{Nodes: c.nodes, Token: c.token, Self: self, ActionTime: 300 * time.Millisecond, Log: say})
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatip-lab:", err)
		return 1
	}
	defer func() { l.Down(); os.RemoveAll(l.Dir()) }()
	outages := map[string][]time.Duration{}
	var bad []string
	per := (*runs + len(*providers) - 1) / len(*providers)
	total, twoHolders, disagree, samples := 0, 0, 0, 0
	for _, p := range *providers {
		if err := l.CreateResources("ocf:cloudvip:floatip", p); err != nil {
			fmt.Fprintln(os.Stderr, "floatip-lab:", err)
			return 1
		}
		for i := 0; i < per && total < *runs; i, total = i+1, total+1 {
			l.Settle(l.Nodes[0], 60*time.Second)
			// Sample the settled cluster for a while, then fail it.
			settled := sampleFor(l, p, 2*time.Second)
			victim, err := l.Locate("vip", nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, "floatip-lab:", err)
				return 1
			}
			if dc := l.DC(victim); total%3 == 2 && dc != nil && dc != victim {
				if err := l.MoveTo("vip", dc); err != nil {
					fmt.Fprintln(os.Stderr, "floatip-lab:", err)
					return 1
				}
				victim = dc
				l.Settle(dc, 30*time.Second)
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
				fmt.Fprintln(os.Stderr, "floatip-lab:", err)
				return 1
			}
			for _, s := range append(settled, during...) {
				samples++
				if s.holders > 1 {
					twoHolders++
				}
			}
			for _, s := range settled {
				if s.pcmk == nil || !s.cloud {
					disagree++
				}
			}
			problems := append(res.Problems, leftoversOf(l, p)...)
			if len(problems) > 0 {
				bad = append(bad, fmt.Sprintf("run %d (%s, %s): %s", total+1, p, victim.Name, strings.Join(problems, "; ")))
			}
			outages[p] = append(outages[p], res.Outage)
			dc := ""
			if isDC {
				dc = " (the DC)"
			}
			say("run %d/%d %s: killed %s%s, %s answers after %v%s", total+1, *runs, p, victim.Name, dc, res.Survivor.Name, res.Outage.Round(time.Millisecond), problemsOf(problems))
		}
		if err := l.DeleteVIP(); err != nil {
			fmt.Fprintln(os.Stderr, "floatip-lab:", err)
			return 1
		}
	}
	fmt.Printf("\n%d hard kills, %d nodes, corosync token %d ms; %d samples every 200 ms: %d with two holders, %d settled samples where Pacemaker and the cloud disagreed; %d runs with problems\n\n",
		total, c.nodes, c.token, samples, twoHolders, disagree, len(bad))
	fmt.Printf("| provider | kills | median outage | p95 | max |\n|---|---|---|---|---|\n")
	for _, p := range *providers {
		out := outages[p]
		if len(out) == 0 {
			continue
		}
		slices.Sort(out)
		fmt.Printf("| %s | %d | %.2f s | %.2f s | %.2f s |\n", p, len(out), out[len(out)/2].Seconds(),
			out[min(len(out)-1, (len(out)*95+99)/100-1)].Seconds(), out[len(out)-1].Seconds())
	}
	for _, b := range bad {
		fmt.Println("PROBLEM", b)
	}
	if twoHolders > 0 || disagree > 0 || len(bad) > 0 {
		return 1
	}
	return 0
}

func problemsOf(p []string) string {
	if len(p) == 0 {
		return ""
	}
	return " PROBLEMS: " + strings.Join(p, "; ")
}

// leftoversOf names what nodes other than the VIP's holder keep of it.
func leftoversOf(l *lab.Lab, p string) []string {
	h, err := l.Locate("vip", nil)
	if err != nil {
		return []string{err.Error()}
	}
	return l.Leftovers(p, h)
}

func take(l *lab.Lab, p string) sample {
	s := sample{at: time.Now(), holders: len(l.Holders(p))}
	if n, err := l.Locate("vip", nil); err == nil {
		s.pcmk = n
		s.cloud = p == "none" || l.CloudAgrees(p, n)
	}
	return s
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
