package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudvip/floatip/internal/lab"
)

func demo(args []string) int {
	fs, c := flags("demo")
	svg := fs.String("svg", "failover.svg", "where to write the timeline chart")
	keep := fs.Bool("keep-logs", false, "keep the lab's directory (logs) after tearing down")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	self, _ := os.Executable()
	say := sayer("%7.2fs")
	t := c.timing()
	say("starting a Pacemaker + Corosync cluster in namespaces: %s", t)
	cfg := lab.Config{Self: self, ActionTime: 300 * time.Millisecond, Log: say}
	t.Apply(&cfg)
	l, err := startLab(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatip-lab:", err)
		return 1
	}
	defer func() {
		l.Down()
		if !*keep {
			os.RemoveAll(l.Dir())
		} else {
			fmt.Println("logs kept in", l.Dir())
		}
	}()
	say("pcs resource create web ocf:heartbeat:anything ... clone; pcs resource create vip ocf:cloudvip:floatip provider=%s ...; colocation vip with web-clone 1000", c.provider)
	if err := l.CreateResources("ocf:cloudvip:floatip", c.provider); err != nil {
		fmt.Fprintln(os.Stderr, "floatip-lab:", err)
		return 1
	}
	out, _ := l.X(l.Nodes[0], "crm_mon", "-1")
	fmt.Println(indent(out))
	victim, err := holderNotDC(l, say)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatip-lab:", err)
		return 1
	}
	say("the client polls http://%s:%s/ every %v; hard-killing %s (the node holding the VIP)", lab.VIP(c.provider), lab.WebPort, lab.PollEvery, victim.Name)
	res, err := l.Failover("kill", c.provider, "floatip", victim)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatip-lab:", err)
		return 1
	}
	out, _ = l.X(res.Survivor, "crm_mon", "-1")
	fmt.Printf("after %s came back (stickiness keeps the VIP on %s):\n%s\n", victim.Name, res.Survivor.Name, indent(out))
	printTimeline(res)
	if err := writeChart(*svg, res); err != nil {
		fmt.Fprintln(os.Stderr, "floatip-lab:", err)
		return 1
	}
	if len(res.Problems) > 0 {
		fmt.Println("problems:", strings.Join(res.Problems, "; "))
		return 1
	}
	fmt.Println("tearing the lab down")
	return 0
}

// writeChart writes the failover's SVG timeline to path ("": none).
func writeChart(path string, res *lab.Result) error {
	if path == "" {
		return nil
	}
	if err := os.WriteFile(path, []byte(lab.Chart(res)), 0o644); err != nil {
		return err
	}
	abs, _ := filepath.Abs(path)
	fmt.Printf("chart: %s\n", abs)
	return nil
}

// holderNotDC returns the node holding the VIP, moving the VIP off the DC
// first: killing the DC adds an election, and the demo shows the common
// case.
func holderNotDC(l *lab.Lab, say func(string, ...any)) (*lab.Node, error) {
	victim, err := l.Locate("vip", nil)
	if err != nil {
		return nil, err
	}
	dc := l.DC(l.Nodes[0])
	if dc != victim {
		return victim, nil
	}
	for _, n := range l.Nodes {
		if n != dc {
			say("vip runs on the DC %s; moving it to %s first", dc.Name, n.Name)
			return n, l.MoveTo("vip", n)
		}
	}
	return victim, nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func rel(t, base time.Time) string {
	if t.IsZero() {
		return "       -   "
	}
	return fmt.Sprintf("%8.0f ms", float64(t.Sub(base).Microseconds())/1000)
}

func printTimeline(res *lab.Result) {
	fmt.Printf("\ntimeline of the failover (provider %s, %s -> %s)\n", res.Provider, res.Victim.Name, res.Survivor.Name)
	fmt.Printf("  %s  %s hard-killed\n", rel(res.At, res.At), res.Victim.Name)
	if !res.TokenLost.IsZero() {
		fmt.Printf("  %s  Corosync on %s declares the token lost (consensus follows)\n", rel(res.TokenLost, res.At), res.Survivor.Name)
	}
	fmt.Printf("  %s  Corosync on %s forms a new membership\n", rel(res.Membership, res.At), res.Survivor.Name)
	if !res.Started.IsZero() {
		fmt.Printf("  %s  floatip start begins on %s (Pacemaker's log)\n", rel(res.Started.Add(-res.Start), res.At), res.Survivor.Name)
		fmt.Printf("  %s  floatip start done (%v)\n", rel(res.Started, res.At), res.Start)
	}
	if !res.CloudMoved.IsZero() {
		fmt.Printf("  %s  the cloud routes the IP to %s (move confirmed)\n", rel(res.CloudMoved, res.At), res.Survivor.Name)
	}
	fmt.Printf("  %s  first good reply from %s\n", rel(res.FirstReply, res.At), res.Survivor.Name)
	fmt.Printf("outage seen by the client: %.0f ms, %d requests lost; floatip's start on %s took %v (Pacemaker's log)\n",
		float64(res.Outage.Microseconds())/1000, res.Lost, res.Survivor.Name, res.Start)
}
