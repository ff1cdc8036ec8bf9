package main

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cloudvip/floatip/internal/lab"
)

// benchFailover hard-kills the node holding the VIP again and again,
// rotating the victim and never killing the DC (a DC kill adds an
// election): floatip and IPaddr2 alternate for provider none, then floatip
// with DigitalOcean. It prints median / p95 / max outage, lost requests
// and the agent's own start time from Pacemaker's log.
func benchFailover(args []string) int {
	fs, c := flags("bench-failover")
	runs := fs.Int("runs", 20, "failovers per configuration")
	keep := fs.Bool("keep-logs", false, "keep the lab's logs (and a list of its events) after a keepalived or ucarp run")
	only := fs.String("only", "", "run one configuration: floatip, ipaddr2, digitalocean, oci, linode (both modes), keepalived or ucarp (default: all)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *only == "keepalived" || *only == "ucarp" {
		return benchVRRP([]lab.Engine{lab.Engine(*only)}, *runs, *keep)
	}
	none, clouds, err := benchConfigs(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatip-lab:", err)
		return 2
	}
	self, _ := os.Executable()
	say := sayer("%7.1fs")
	cfg := lab.Config{Self: self, Log: say}
	c.timing().Apply(&cfg)
	l, err := startLab(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatip-lab:", err)
		return 1
	}
	defer func() { l.Down(); os.RemoveAll(l.Dir()) }()
	b := &bench{l: l, say: say, results: map[string][]*lab.Result{}}
	// floatip and IPaddr2 alternate, run by run; the clouds one after the other.
	var order []benchRun
	for i := 0; i < *runs; i++ {
		for _, cf := range none {
			order = append(order, benchRun{cf, i})
		}
	}
	for _, cf := range clouds {
		for i := 0; i < *runs; i++ {
			order = append(order, benchRun{cf, i})
		}
	}
	for _, r := range order {
		if err := b.run(r.cf, r.i); err != nil {
			fmt.Fprintln(os.Stderr, "floatip-lab:", err)
			return 1
		}
	}
	fmt.Printf("\n%s, monitor 2 s, client request every %v; outage = kill -> first good reply\n\n", c.timing(), lab.PollEvery)
	b.summary(none, clouds)
	if *only != "" {
		return 0
	}
	l.Down()
	return benchVRRP([]lab.Engine{lab.Keepalived, lab.Ucarp}, *runs, *keep)
}

// startLab brings the lab up; Ctrl-C or SIGTERM, even while it comes up,
// tears down what exists. One handler for the process, which downs the
// latest lab: a command that runs labs one after another (timing, bgp,
// chaos) registered one per lab before, and the first lab's, long gone,
// exited before the running one was down (a sweep left its namespaces).
func startLab(cfg lab.Config) (*lab.Lab, error) {
	interruptOnce.Do(func() {
		onInterrupt(func() {
			current.Lock()
			defer current.Unlock()
			if current.l != nil {
				current.l.Down()
			}
		})
	})
	cfg.Created = func(l *lab.Lab) {
		current.Lock()
		current.l = l
		current.Unlock()
	}
	return lab.Up(cfg)
}

var (
	interruptOnce sync.Once
	current       struct {
		sync.Mutex
		l *lab.Lab
	}
)

// benchConfig is one configuration of bench-failover.
type benchConfig struct{ name, agent, provider string }

type benchRun struct {
	cf benchConfig
	i  int
}

// benchConfigs picks the configurations --only names: the LAN ones
// (floatip and IPaddr2, alternated) and the clouds.
func benchConfigs(only string) (none, clouds []benchConfig, err error) {
	none = []benchConfig{{"floatip (none)", "ocf:cloudvip:floatip", "none"}, {"IPaddr2", "ocf:heartbeat:IPaddr2", "none"}}
	clouds = []benchConfig{{"floatip (digitalocean)", "ocf:cloudvip:floatip", "digitalocean"}, {"floatip (oci)", "ocf:cloudvip:floatip", "oci"},
		{"floatip (linode share)", "ocf:cloudvip:floatip", "linode-share"}, {"floatip (linode assign)", "ocf:cloudvip:floatip", "linode-assign"}}
	switch only {
	case "":
		return none, clouds, nil
	case "floatip":
		return none[:1], nil, nil
	case "ipaddr2":
		return none[1:], nil, nil
	case "digitalocean":
		return nil, clouds[:1], nil
	case "oci":
		return nil, clouds[1:2], nil
	case "linode":
		return nil, clouds[2:], nil
	}
	return nil, nil, fmt.Errorf("--only=%s: use floatip, ipaddr2, digitalocean, oci or linode", only)
}

// bench runs failovers in one lab and keeps their results.
type bench struct {
	l       *lab.Lab
	say     func(format string, a ...any)
	results map[string][]*lab.Result
	current string // the configuration whose resources exist
	// pause, if set, is how long to wait between moving the VIP to the
	// victim and killing it (the BGP sweep: a random point of the
	// keepalive interval, as for a node that has held the VIP for long).
	pause func() time.Duration
}

// run is failover i of cf: the VIP on a non-DC node (rotating), killed.
func (b *bench) run(cf benchConfig, i int) error {
	l := b.l
	if b.current != cf.name {
		if b.current != "" {
			if err := l.DeleteVIP(); err != nil {
				return err
			}
		}
		if err := l.CreateResources(cf.agent, cf.provider); err != nil {
			return err
		}
		b.current = cf.name
	}
	dc := l.DC(l.Nodes[0])
	var cands []*lab.Node
	for _, n := range l.Nodes {
		if n != dc {
			cands = append(cands, n)
		}
	}
	target := cands[i%len(cands)]
	if at, err := l.Locate("vip", nil); err != nil {
		return err
	} else if at != target {
		if err := l.MoveTo("vip", target); err != nil {
			return err
		}
	}
	if b.pause != nil {
		time.Sleep(b.pause())
	}
	res, err := l.Failover("kill", cf.provider, cf.agent, target)
	if err != nil {
		return err
	}
	b.results[cf.name] = append(b.results[cf.name], res)
	b.say("%-24s run %2d: killed %s, %s answers after %4.0f ms, %2d requests lost, agent start %v%s",
		cf.name, i+1, target.Name, res.Survivor.Name, ms(res.Outage), res.Lost, res.Start, problems(res))
	return nil
}

// summary prints the table of outages (median, p95, max), lost requests and
// agent starts, and the floatip / IPaddr2 ratio when both ran.
func (b *bench) summary(none, clouds []benchConfig) {
	fmt.Printf("| configuration | runs | median outage | p95 | max | median requests lost | median agent start |\n|---|---|---|---|---|---|---|\n")
	med := map[string]time.Duration{}
	for _, cf := range append(none, clouds...) {
		rs := b.results[cf.name]
		if len(rs) == 0 {
			continue
		}
		var out, start []time.Duration
		var lost []int
		for _, r := range rs {
			out = append(out, r.Outage)
			start = append(start, r.Start)
			lost = append(lost, r.Lost)
		}
		slices.Sort(out)
		slices.Sort(start)
		slices.Sort(lost)
		med[cf.name] = out[len(out)/2]
		fmt.Printf("| %s | %d | %.0f ms | %.0f ms | %.0f ms | %d | %v |\n", cf.name, len(rs), ms(out[len(out)/2]),
			ms(out[min(len(out)-1, (len(out)*95+99)/100-1)]), ms(out[len(out)-1]), lost[len(lost)/2], start[len(start)/2])
	}
	if len(none) == 2 {
		fmt.Printf("\nratio of median outages, floatip / IPaddr2 (provider none): %.3f\n", float64(med[none[0].name])/float64(med[none[1].name]))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func problems(r *lab.Result) string {
	if len(r.Problems) == 0 {
		return ""
	}
	return fmt.Sprintf(" PROBLEMS: %v", r.Problems)
}
