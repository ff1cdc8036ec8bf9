package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cloudvip/floatip/internal/lab"
)

// chaos runs every chaos scenario for each provider in a 3-node lab, then
// the two-node split brain with takeback_guard off and on, and prints the
// README's tables.
func chaos(args []string) int {
	fs, _ := flags("chaos")
	providers := fs.StringSlice("providers", []string{"digitalocean", "oci", "linode-assign"}, "providers to run")
	scenarios := fs.StringSlice("scenarios", lab.ChaosScenarios, "chaos scenarios to run (none: only the split brain)")
	split := fs.Duration("split", 120*time.Second, "how long the ring stays split (0: no split-brain runs)")
	guards := fs.IntSlice("guards", []int{0, 60}, "takeback_guard values for the split brain")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	self, _ := os.Executable()
	say := sayer("%7.1fs")
	ok := true
	if len(*scenarios) > 0 && (*scenarios)[0] != "none" {
		ok = chaosScenarios(self, say, *providers, *scenarios)
	}
	if *split > 0 {
		ok = splitBrains(self, say, *providers, *guards, *split) && ok
	}
	if !ok {
		return 1
	}
	return 0
}

// chaosScenarios runs scenarios for each provider in one 3-node lab and
// prints the table; false if any failed.
func chaosScenarios(self string, say func(string, ...any), providers, scenarios []string) bool {
	l, err := startLab(lab.ChaosConfig(self, say))
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatip-lab:", err)
		return false
	}
	defer func() { l.Down(); os.RemoveAll(l.Dir()) }()
	var rows []string
	ok := true
	for _, p := range providers {
		if err := l.CreateResources("ocf:cloudvip:floatip", p); err != nil {
			fmt.Fprintln(os.Stderr, "floatip-lab:", err)
			return false
		}
		for _, s := range scenarios {
			if s == lab.ByHand && p == "linode-share" {
				continue // a share has no single owner to move
			}
			res, err := l.Chaos(s, p)
			if err != nil {
				fmt.Fprintln(os.Stderr, "floatip-lab:", err)
				ok = false
				continue
			}
			final := "one holder, Pacemaker and the cloud agree, nothing left behind"
			if len(res.Problems) > 0 {
				final, ok = strings.Join(res.Problems, "; "), false
			}
			say("%s %s: victim %s, holder %s, outage %.1f s, %d writes, %d moves: %s", p, s, res.Victim.Name, name(res.Holder), res.Outage.Seconds(), res.Writes, res.Moves, final)
			rows = append(rows, fmt.Sprintf("| %s | %s | %.1f s | %d (%d moved) | %s |", s, p, res.Outage.Seconds(), res.Writes, res.Moves, final))
		}
		if err := l.DeleteVIP(); err != nil {
			fmt.Fprintln(os.Stderr, "floatip-lab:", err)
			return false
		}
	}
	fmt.Printf("\n| scenario | provider | outage | cloud writes | final state |\n|---|---|---|---|---|\n%s\n\n", strings.Join(rows, "\n"))
	return ok
}

// splitBrains splits a fresh two-node lab's ring for each provider and
// takeback_guard and prints the table; false if any failed.
func splitBrains(self string, say func(string, ...any), providers []string, guards []int, split time.Duration) bool {
	var rows []string
	ok := true
	for _, p := range providers {
		if p == "linode-share" {
			continue
		}
		for _, g := range guards {
			res, err := splitBrain(self, say, p, g, split)
			if err != nil {
				fmt.Fprintln(os.Stderr, "floatip-lab:", err)
				ok = false
				continue
			}
			var moves []string
			for _, n := range []string{"n1", "n2"} {
				var at []string
				for _, t := range res.Moves[n] {
					at = append(at, t.Format("15:04:05"))
				}
				moves = append(moves, fmt.Sprintf("%s %d", n, len(res.Moves[n])))
				say("takeback_guard=%d %s: moves to %s at %v", g, p, n, at)
			}
			final := "one holder, Pacemaker and the cloud agree"
			if len(res.Problems) > 0 {
				final, ok = strings.Join(res.Problems, "; "), false
			}
			say("takeback_guard=%d %s: %d writes in a %v split (%s); after healing: %s on %s, settled in %.1f s", g, p, res.Writes, split, strings.Join(moves, ", "), final, name(res.Holder), res.Settled.Seconds())
			rows = append(rows, fmt.Sprintf("| %s | %d | %d | %s | %.1f s | %s |", p, g, res.Writes, strings.Join(moves, ", "), res.Settled.Seconds(), final))
		}
	}
	fmt.Printf("\n%v ring split, 2 nodes (two_node, no-quorum-policy=ignore, no fencing), depth-10 monitor and cloud_check_interval 10 s, failure-timeout 30 s\n\n", split)
	fmt.Printf("| provider | takeback_guard | cloud writes during the split | moves per node | heal -> settled | final state |\n|---|---|---|---|---|---|\n%s\n", strings.Join(rows, "\n"))
	return ok
}

// splitBrain is one split of a fresh two-node lab.
func splitBrain(self string, say func(string, ...any), p string, guard int, split time.Duration) (res *lab.SplitResult, err error) {
	l, err := startLab(lab.SplitBrainConfig(self, guard, say))
	if err != nil {
		return nil, err
	}
	defer func() {
		l.Down()
		if err == nil {
			os.RemoveAll(l.Dir())
		}
	}()
	if err := l.CreateResources("ocf:cloudvip:floatip", p); err != nil {
		return nil, err
	}
	return l.SplitBrain(p, split)
}

func name(n *lab.Node) string {
	if n == nil {
		return "nobody"
	}
	return n.Name
}
