package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/nstest"
)

// The benchmarks run floatip and ocf:heartbeat:IPaddr2 (Debian's
// resource-agents) alternately in one namespace on the same VIP and report
// medians and ratios. `make bench` runs them; CI never does.

const ipaddr2 = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"

// sample is one action's cost, from wait4's rusage (the agent plus every
// child it waited for: IPaddr2's ip/grep/sed/awk runs count, its
// backgrounded send_arp does not). ru_maxrss is useless here: Go starts
// children with vfork, so the child's peak includes this test process's;
// BenchmarkPeakRSS measures memory through GNU time instead.
type sample struct {
	wall, cpu time.Duration
}

func runAction(b *testing.B, ns, agent, action string, env []string, wantRC int) sample {
	cmd := exec.Command(agent, action)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf",
		"OCF_RESOURCE_INSTANCE=bench", "OCF_RESKEY_CRM_meta_timeout=20000"}, env...)
	t0 := time.Now()
	if err := nstest.Start(ns, cmd); err != nil {
		b.Fatal(err)
	}
	err := cmd.Wait()
	wall := time.Since(t0)
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		b.Fatal(err)
	}
	if rc != wantRC {
		b.Fatalf("%s %s: rc %d, want %d", agent, action, rc, wantRC)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return sample{wall: wall, cpu: cpu}
}

type series []sample

func (s series) median(f func(sample) time.Duration) time.Duration {
	v := make([]time.Duration, len(s))
	for i, x := range s {
		v[i] = f(x)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func wallOf(x sample) time.Duration { return x.wall }
func cpuOf(x sample) time.Duration  { return x.cpu }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func benchLab(b *testing.B) *nstest.Pair {
	if _, err := os.Stat(ipaddr2); err != nil {
		b.Skip("IPaddr2 not installed (apt-get install resource-agents)")
	}
	return nstest.NewPair(b, "192.0.2.1/24", "2001:db8:1::1/64", "192.0.2.2/24", "2001:db8:1::2/64")
}

func report(b *testing.B, name string, fl, ip series) {
	fc, ic := fl.median(cpuOf), ip.median(cpuOf)
	fw, iw := fl.median(wallOf), ip.median(wallOf)
	b.ReportMetric(ms(fc), "floatip-cpu-ms")
	b.ReportMetric(ms(ic), "ipaddr2-cpu-ms")
	b.ReportMetric(float64(fc)/float64(ic), "cpu-ratio")
	b.ReportMetric(ms(fw), "floatip-wall-ms")
	b.ReportMetric(ms(iw), "ipaddr2-wall-ms")
	b.ReportMetric(float64(fw)/float64(iw), "wall-ratio")
	if b.N > 1 {
		b.Logf("%s, %d runs each, medians: floatip cpu %.2f ms wall %.2f ms | IPaddr2 cpu %.2f ms wall %.2f ms | ratio cpu %.3f (1/%.0f) wall %.3f (1/%.0f)",
			name, len(fl), ms(fc), ms(fw), ms(ic), ms(iw),
			float64(fc)/float64(ic), float64(ic)/float64(fc), float64(fw)/float64(iw), float64(iw)/float64(fw))
	}
}

// BenchmarkMonitor: monitor of a bound IPv4 VIP, both agents on the same address.
func BenchmarkMonitor(b *testing.B) {
	p := benchLab(b)
	state := b.TempDir()
	common := []string{"OCF_RESKEY_ip=192.0.2.10", "OCF_RESKEY_cidr_netmask=24", "OCF_RESKEY_nic=" + p.NodeIf,
		"OCF_RESKEY_CRM_meta_interval=10000", "HA_RSCTMP=" + state}
	runAction(b, p.Node, bin, "start", append(common, "OCF_RESKEY_arp_count=0"), 0)
	// FLOATIP_BENCH_BASELINE: another build of floatip (an earlier commit:
	// make bench-baseline) monitored in the same loop, for what a change
	// adds to every monitor.
	base := os.Getenv("FLOATIP_BENCH_BASELINE")
	var fl, ip, floor, old series
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fl = append(fl, runAction(b, p.Node, bin, "monitor", common, 0))
		ip = append(ip, runAction(b, p.Node, ipaddr2, "monitor", common, 0))
		floor = append(floor, runAction(b, p.Node, "/bin/true", "monitor", common, 0))
		if base != "" {
			old = append(old, runAction(b, p.Node, base, "monitor", common, 0))
		}
	}
	b.StopTimer()
	report(b, "monitor IPv4", fl, ip)
	if base != "" {
		r := float64(fl.median(cpuOf)) / float64(old.median(cpuOf))
		b.ReportMetric(r, "cpu-vs-baseline")
		b.Logf("this build against %s: cpu %.2f vs %.2f ms (ratio %.3f), wall %.2f vs %.2f ms", base,
			ms(fl.median(cpuOf)), ms(old.median(cpuOf)), r, ms(fl.median(wallOf)), ms(old.median(wallOf)))
	}
	// What starting any process costs here, for scale.
	b.ReportMetric(ms(floor.median(cpuOf)), "bin-true-cpu-ms")
	if b.N > 1 {
		b.Logf("exec floor: /bin/true cpu %.2f ms in the same loop (1/%.0f of IPaddr2)",
			ms(floor.median(cpuOf)), float64(ip.median(cpuOf))/float64(floor.median(cpuOf)))
	}
}

// benchStartStop times start followed by stop on a free address.
func benchStartStop(b *testing.B, vip, prefix string, floatipExtra, ipaddr2Extra []string, name string) {
	p := benchLab(b)
	state := b.TempDir()
	common := []string{"OCF_RESKEY_ip=" + vip, "OCF_RESKEY_cidr_netmask=" + prefix, "OCF_RESKEY_nic=" + p.NodeIf, "HA_RSCTMP=" + state}
	var fl, ip series
	var flStart, flStop series
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s1 := runAction(b, p.Node, bin, "start", append(common, floatipExtra...), 0)
		s2 := runAction(b, p.Node, bin, "stop", append(common, floatipExtra...), 0)
		flStart, flStop = append(flStart, s1), append(flStop, s2)
		fl = append(fl, sample{s1.wall + s2.wall, s1.cpu + s2.cpu})
		i1 := runAction(b, p.Node, ipaddr2, "start", append(common, ipaddr2Extra...), 0)
		i2 := runAction(b, p.Node, ipaddr2, "stop", append(common, ipaddr2Extra...), 0)
		ip = append(ip, sample{i1.wall + i2.wall, i1.cpu + i2.cpu})
	}
	b.StopTimer()
	report(b, name, fl, ip)
	if b.N > 1 {
		b.Logf("%s: floatip start alone wall %.2f ms cpu %.2f ms, stop alone wall %.2f ms cpu %.2f ms",
			name, ms(flStart.median(wallOf)), ms(flStart.median(cpuOf)), ms(flStop.median(wallOf)), ms(flStop.median(cpuOf)))
	}
}

// Announcements excluded: floatip sends none (arp_count=0); IPaddr2 (which
// refuses arp_count=0) backgrounds send_arp for IPv4 by default, so its
// start does not wait for the ARPs either.
func BenchmarkStartStopIPv4NoAnnounce(b *testing.B) {
	benchStartStop(b, "192.0.2.20", "24", []string{"OCF_RESKEY_arp_count=0"}, nil, "start+stop IPv4, announcements excluded")
}

// Defaults on both sides: floatip sends the first ARP pair before start
// returns and forks the announcer; IPaddr2 backgrounds send_arp.
func BenchmarkStartStopIPv4Default(b *testing.B) {
	benchStartStop(b, "192.0.2.21", "24", nil, nil, "start+stop IPv4, default arp_count=5")
}

// IPv6 with nodad on both (DAD would dominate both at about a second);
// IPaddr2 runs send_ua in the foreground for IPv6, so both send NAs.
func BenchmarkStartStopIPv6NoDAD(b *testing.B) {
	benchStartStop(b, "2001:db8:1::20", "64", []string{"OCF_RESKEY_nodad=true", "OCF_RESKEY_arp_count=1"},
		[]string{"OCF_RESKEY_nodad=true", "OCF_RESKEY_arp_count=1"}, "start+stop IPv6 nodad, 1 NA")
}

// BenchmarkBinary reports the size of the binary `make build` produces
// (the test build uses the same flags).
func BenchmarkBinary(b *testing.B) {
	st, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
	}
	b.ReportMetric(float64(st.Size())/1e6, "MB")
	if b.N > 1 {
		b.Logf("binary size %d bytes (%.1f MB), static: %v", st.Size(), float64(st.Size())/1e6, isStatic(bin))
	}
}

func isStatic(path string) string {
	out, _ := exec.Command("file", "-b", path).Output()
	if len(out) == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%q", string(out[:min(len(out), 80)]))
}

// peakRSS runs agent action under GNU time, which forks from its own small
// image, and returns the child's peak resident set in KiB.
func peakRSS(b *testing.B, ns, agent, action string, env []string) int64 {
	out := b.TempDir() + "/rss"
	cmd := exec.Command("/usr/bin/time", "-o", out, "-f", "%M", agent, action)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf",
		"OCF_RESOURCE_INSTANCE=bench", "OCF_RESKEY_CRM_meta_timeout=20000"}, env...)
	if err := nstest.Start(ns, cmd); err != nil {
		b.Fatal(err)
	}
	cmd.Wait()
	raw, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	var kb int64
	fmt.Sscan(string(raw), &kb)
	return kb
}

// BenchmarkPeakRSS reports each action's peak resident memory, the largest
// of b.N runs, for floatip and IPaddr2 (its biggest child process).
func BenchmarkPeakRSS(b *testing.B) {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("GNU time is not installed (apt-get install time)")
	}
	p := benchLab(b)
	state := b.TempDir()
	common := []string{"OCF_RESKEY_ip=192.0.2.30", "OCF_RESKEY_cidr_netmask=24", "OCF_RESKEY_nic=" + p.NodeIf,
		"OCF_RESKEY_CRM_meta_interval=10000", "HA_RSCTMP=" + state}
	peak := map[string]int64{}
	for i := 0; i < b.N; i++ {
		for _, ag := range []struct{ name, path string }{{"floatip", bin}, {"IPaddr2", ipaddr2}} {
			for _, act := range []string{"start", "monitor", "stop", "meta-data"} {
				k := ag.name + " " + act
				peak[k] = max(peak[k], peakRSS(b, p.Node, ag.path, act, common))
			}
		}
	}
	b.ReportMetric(float64(peak["floatip monitor"]), "floatip-monitor-KiB")
	b.ReportMetric(float64(peak["IPaddr2 monitor"]), "ipaddr2-monitor-KiB")
	if b.N > 1 {
		for _, act := range []string{"start", "monitor", "stop", "meta-data"} {
			b.Logf("peak RSS %-9s floatip %5d KiB | IPaddr2 %5d KiB", act, peak["floatip "+act], peak["IPaddr2 "+act])
		}
	}
}

// BenchmarkDigitalOceanStart: start moving a reserved IPv4 between two
// nodes (claim + confirm) against the fake, with 0 and 50 ms added to every
// API answer. Reports requests per start and floatip's own time above the
// injected network time, and requests per depth-10 monitor.
func BenchmarkDigitalOceanStart(b *testing.B) {
	for _, lat := range []time.Duration{0, 50 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%v", lat), func(b *testing.B) {
			l := newDOLab(b, 2)
			l.fake.Latency = lat
			// Hundreds of starts a minute: the bench measures moves, not
			// DigitalOcean's rate limit (tests cover that).
			l.fake.PerMinute, l.fake.PerHour = 1e6, 1e6
			p := l.params("203.0.113.50")
			env := func(n int) []string {
				return []string{"OCF_RESKEY_ip=203.0.113.50", "OCF_RESKEY_provider=digitalocean", "OCF_RESKEY_claim_interval=0", "OCF_RESKEY_api_url=" + l.url,
					"OCF_RESKEY_metadata_url=" + l.url, "OCF_RESKEY_token_file=" + l.token, "HA_RSCTMP=" + l.state[n]}
			}
			// Warm up: each node learns its droplet id once per boot.
			for n := range l.state {
				runAction(b, l.lan.Nodes[n], bin, "start", env(n), 0)
			}
			l.fake.ResetCounts()
			var starts series
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n := i % 2
				starts = append(starts, runAction(b, l.lan.Nodes[n], bin, "start", env(n), 0))
			}
			b.StopTimer()
			reqs := float64(l.fake.Count("")) / float64(b.N)
			wall := starts.median(wallOf)
			overhead := wall - time.Duration(reqs*float64(lat))
			b.ReportMetric(reqs, "requests/start")
			b.ReportMetric(ms(wall), "start-wall-ms")
			b.ReportMetric(ms(overhead), "overhead-ms")
			// Depth-10 monitors on the current holder, default cloud_check_interval (60 s).
			holder := (b.N - 1) % 2
			l.fake.ResetCounts()
			const monitors = 20
			for i := 0; i < monitors; i++ {
				r := l.call(b, holder, "monitor", p, "OCF_RESKEY_CRM_meta_interval=10000", "OCF_CHECK_LEVEL=10")
				if r.rc != 0 {
					b.Fatalf("depth-10 monitor: %d %s", r.rc, r.stderr)
				}
			}
			perMon := float64(l.fake.Count("")) / monitors
			b.ReportMetric(perMon, "requests/monitor10")
			if b.N > 1 {
				b.Logf("DigitalOcean start, latency %v: median wall %.1f ms, %.2f requests per start, overhead above network %.1f ms (cpu %.2f ms); %d depth-10 monitors made %.0f requests",
					lat, ms(wall), reqs, ms(overhead), ms(starts.median(cpuOf)), monitors, perMon*monitors)
			}
		})
	}
}

// BenchmarkOCIStart: start moving a secondary private IP between two
// instances' VNICs against the fake (instance principals), with 0 and
// 50 ms added to every answer: requests per start by kind, and floatip's
// own time above the injected network time.
func BenchmarkOCIStart(b *testing.B) {
	for _, lat := range []time.Duration{0, 50 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%v", lat), func(b *testing.B) {
			l := newOCILab(b, 2)
			l.fake.Latency = lat
			env := func(n int) []string {
				return []string{"OCF_RESKEY_ip=10.250.0.80", "OCF_RESKEY_provider=oci", "OCF_RESKEY_claim_interval=0", "OCF_RESKEY_api_url=" + l.url,
					"OCF_RESKEY_metadata_url=" + l.url, "OCF_RESKEY_auth_url=" + l.url, "HA_RSCTMP=" + l.state[n]}
			}
			for n := range l.state {
				runAction(b, l.lan.Nodes[n], bin, "start", env(n), 0)
			}
			l.fake.ResetCounts()
			var starts series
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				starts = append(starts, runAction(b, l.lan.Nodes[i%2], bin, "start", env(i%2), 0))
			}
			b.StopTimer()
			all := float64(l.fake.Count("")) / float64(b.N)
			api := float64(l.fake.Count("GET /20160918/")+l.fake.Count("PUT /20160918/")+l.fake.Count("POST /20160918/")) / float64(b.N)
			wall := starts.median(wallOf)
			overhead := wall - time.Duration(all*float64(lat))
			b.ReportMetric(all, "requests/start")
			b.ReportMetric(api, "api-requests/start")
			b.ReportMetric(ms(overhead), "overhead-ms")
			if b.N > 1 {
				b.Logf("OCI start (instance principal), latency %v: median wall %.1f ms, %.2f requests per start (%.2f VirtualNetwork API, the rest metadata and token), overhead above network %.1f ms (cpu %.2f ms)",
					lat, ms(wall), all, api, ms(overhead), ms(starts.median(cpuOf)))
			}
		})
	}
}

// BenchmarkLinodeStart: start in share mode (the address joins the node's
// shared set, then the node is stopped so the next start shares again) and
// assign mode (moving between two Linodes), against the fake with 0 and
// 50 ms added to every answer.
func BenchmarkLinodeStart(b *testing.B) {
	for _, mode := range []string{"share", "assign"} {
		for _, lat := range []time.Duration{0, 50 * time.Millisecond} {
			b.Run(fmt.Sprintf("%s/latency=%v", mode, lat), func(b *testing.B) {
				l := newLinodeLab(b, 2)
				l.fake.Latency = lat
				l.fake.PerMinute = 1e6
				env := func(n int) []string {
					return []string{"OCF_RESKEY_ip=10.250.0.73", "OCF_RESKEY_provider=linode", "OCF_RESKEY_claim_interval=0", "OCF_RESKEY_linode_mode=" + mode,
						"OCF_RESKEY_api_url=" + l.url, "OCF_RESKEY_metadata_url=" + l.url, "OCF_RESKEY_token_file=" + l.token,
						"OCF_RESKEY_arp_count=1", "HA_RSCTMP=" + l.state[n]}
				}
				for n := range l.state {
					runAction(b, l.lan.Nodes[n], bin, "start", env(n), 0)
					runAction(b, l.lan.Nodes[n], bin, "stop", env(n), 0)
				}
				var starts series
				reqs := 0
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					n := i % 2
					if mode == "share" {
						l.fake.Share(301 + n) // unshared again: every start writes
					}
					l.fake.ResetCounts()
					starts = append(starts, runAction(b, l.lan.Nodes[n], bin, "start", env(n), 0))
					reqs += l.fake.Count("")
					b.StopTimer()
					runAction(b, l.lan.Nodes[n], bin, "stop", env(n), 0)
					b.StartTimer()
				}
				b.StopTimer()
				per := float64(reqs) / float64(b.N)
				wall := starts.median(wallOf)
				b.ReportMetric(per, "requests/start")
				b.ReportMetric(ms(wall-time.Duration(per*float64(lat))), "overhead-ms")
				if b.N > 1 {
					b.Logf("Linode %s start, latency %v: median wall %.1f ms, %.2f requests per start, overhead above network %.1f ms (cpu %.2f ms)",
						mode, lat, ms(wall), per, ms(wall-time.Duration(per*float64(lat))), ms(starts.median(cpuOf)))
				}
			})
		}
	}
}
