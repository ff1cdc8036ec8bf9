package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cloudvip/floatip/internal/lab"
)

// vrrpConfigs are what bench-failover compares for a VRRP engine: the
// engine binding the VIP itself, the engine running floatip (none), and
// floatip with the DigitalOcean fake (claim_interval=0: the runs come
// faster than its default and the wait is not what is measured).
var vrrpConfigs = []lab.VRRP{
	{},
	{Floatip: true, Provider: "none"},
	{Floatip: true, Provider: "digitalocean", Extra: []string{"claim_interval=0"}},
}

// benchVRRP hard-kills the master runs times per configuration, for each
// engine (keepalived on 3 nodes, ucarp on 2): the bare engine and floatip
// (none) alternate run by run, then the cloud. VRRP detection varies by up
// to an advert interval, so the figure compared is the survivor's entry
// into MASTER (its engine's log line, stamped on arrival) to the client's
// first good reply.
func benchVRRP(engines []lab.Engine, runs int, keep bool) int {
	self, _ := os.Executable()
	say := sayer("%7.1fs")
	for _, engine := range engines {
		nodes := 3
		if engine == lab.Ucarp {
			nodes = 2
		}
		l, err := startLab(lab.Config{Nodes: nodes, Engine: engine, Self: self, ActionTime: 300 * time.Millisecond, Log: say})
		if err != nil {
			fmt.Fprintln(os.Stderr, "floatip-lab:", err)
			return 1
		}
		results, err := vrrpRuns(l, runs, say)
		l.Down()
		if keep {
			var ev strings.Builder
			for _, e := range l.Events() {
				fmt.Fprintf(&ev, "%d %s\n", e.At.UnixNano(), e.What)
			}
			_ = os.WriteFile(filepath.Join(l.Dir(), "events.txt"), []byte(ev.String()), 0o644) // best effort: the logs are kept anyway
			say("logs kept in %s", l.Dir())
		} else {
			os.RemoveAll(l.Dir())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "floatip-lab:", err)
			return 1
		}
		fmt.Printf("\n%s, %d nodes, advert interval 1 s, client request every %v, DigitalOcean fake action %v\n\n", engine, nodes, lab.PollEvery, 300*time.Millisecond)
		vrrpSummary(l, results)
	}
	return 0
}

func vrrpRuns(l *lab.Lab, runs int, say func(string, ...any)) (map[string][]*lab.Result, error) {
	results := map[string][]*lab.Result{}
	var order []lab.VRRP
	for i := 0; i < runs; i++ {
		order = append(order, vrrpConfigs[0], vrrpConfigs[1])
	}
	for i := 0; i < runs; i++ {
		order = append(order, vrrpConfigs[2])
	}
	current := ""
	for _, v := range order {
		name := l.Name(v)
		if name != current {
			if err := l.ConfigureVRRP(v); err != nil {
				return nil, err
			}
			current = name
		}
		res, err := l.VRRPFailover("kill", v.VIPProvider())
		if err != nil {
			return nil, err
		}
		results[name] = append(results[name], res)
		say("%-36s run %2d: killed %s, %s master -> reply %4.0f ms, kill -> reply %5.0f ms, %2d lost%s", name, len(results[name]),
			res.Victim.Name, res.Survivor.Name, ms(res.FirstReply.Sub(res.Membership)), ms(res.Outage), res.Lost, problems(res))
	}
	return results, nil
}

func vrrpSummary(l *lab.Lab, results map[string][]*lab.Result) {
	fmt.Printf("| configuration | runs | median MASTER -> first reply | p95 | max | median kill -> first reply | median requests lost | median minus the bare engine's |\n|---|---|---|---|---|---|---|---|\n")
	var base time.Duration
	for i, v := range vrrpConfigs {
		rs := results[l.Name(v)]
		if len(rs) == 0 {
			continue
		}
		var fromMaster, outage []time.Duration
		var lost []int
		for _, r := range rs {
			fromMaster = append(fromMaster, r.FirstReply.Sub(r.Membership))
			outage = append(outage, r.Outage)
			lost = append(lost, r.Lost)
		}
		slices.Sort(fromMaster)
		slices.Sort(outage)
		slices.Sort(lost)
		med := fromMaster[len(fromMaster)/2]
		if i == 0 {
			base = med
		}
		fmt.Printf("| %s | %d | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %d | %+.0f ms |\n", l.Name(v), len(rs), ms(med),
			ms(fromMaster[min(len(fromMaster)-1, (len(fromMaster)*95+99)/100-1)]), ms(fromMaster[len(fromMaster)-1]),
			ms(outage[len(outage)/2]), lost[len(lost)/2], ms(med-base))
	}
	fmt.Println()
}
