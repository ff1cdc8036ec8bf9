// Command floatip-demo shows a virtual IP moving between two nodes on one
// LAN, with everything in throw-away network namespaces on this machine
// (root): node A and node B run a tiny web server each, a client polls the
// VIP every 20 ms and watches the ARP/NA announcements, A's link is cut,
// floatip starts the VIP on B, and the demo prints the timeline and the
// outage the client saw. It is `make demo`; the cluster lab (Pacemaker and
// Corosync deciding the move) replaces the manual step later.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cloudvip/floatip/internal/nstest"
)

const (
	vip4   = "192.0.2.10"
	vip6   = "2001:db8:d::10"
	port   = "8080"
	pollMS = 20
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "serve": // inside a node namespace
			serve(os.Args[2])
			return
		case "poll": // inside the client namespace
			poll(os.Args[2])
			return
		}
	}
	agent := flag.String("agent", "bin/floatip", "the floatip binary to run on the nodes")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "floatip-demo: run as root: it creates network namespaces")
		os.Exit(1)
	}
	abs, err := filepath.Abs(*agent)
	if err == nil {
		_, err = os.Stat(abs)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "floatip-demo: -agent %s: %v (run make build)\n", *agent, err)
		os.Exit(1)
	}
	d := &demo{agent: abs, id: fmt.Sprint(os.Getpid() % 100000)}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; fmt.Println("\ninterrupted: cleaning up"); d.cleanup(); os.Exit(130) }()
	err = d.run()
	d.cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatip-demo:", err)
		os.Exit(1)
	}
}

type demo struct {
	agent, id  string
	namespaces []string
	procs      []*exec.Cmd // started by us; ended by PID
	state      string
	t0         time.Time
}

func (d *demo) ns(n string) string { return "fdemo" + n + d.id }

func (d *demo) sh(args ...string) (string, error) {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (d *demo) must(args ...string) string {
	out, err := d.sh(args...)
	if err != nil {
		panic(err)
	}
	return out
}

func (d *demo) say(format string, args ...any) {
	fmt.Printf("%8.3fs  %s\n", time.Since(d.t0).Seconds(), fmt.Sprintf(format, args...))
}

func (d *demo) cleanup() {
	for _, p := range d.procs {
		if p.Process != nil {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
	}
	d.procs = nil
	for _, n := range d.namespaces {
		// Stop the agent's announcer (if any) before the namespace goes.
		exec.Command("ip", "netns", "del", n).Run()
	}
	d.namespaces = nil
	if d.state != "" {
		os.RemoveAll(d.state)
	}
}

// setup builds A and B, each with a veth into the client namespace, where a
// bridge joins them: one LAN, no default route anywhere.
func (d *demo) setup() error {
	for _, n := range []string{"a", "b", "c"} {
		if _, err := d.sh("ip", "netns", "add", d.ns(n)); err != nil {
			return err
		}
		d.namespaces = append(d.namespaces, d.ns(n))
		d.must("ip", "-n", d.ns(n), "link", "set", "lo", "up")
	}
	c := d.ns("c")
	d.must("ip", "-n", c, "link", "add", "br0", "type", "bridge")
	d.must("ip", "-n", c, "addr", "add", "192.0.2.100/24", "dev", "br0")
	d.must("ip", "-n", c, "addr", "add", "2001:db8:d::100/64", "dev", "br0", "nodad")
	d.must("ip", "-n", c, "link", "set", "br0", "up")
	for i, n := range []string{"a", "b"} {
		d.must("ip", "link", "add", "eth0", "netns", d.ns(n), "type", "veth", "peer", "name", "to"+n, "netns", c)
		d.must("ip", "-n", c, "link", "set", "to"+n, "master", "br0", "up")
		d.must("ip", "-n", d.ns(n), "addr", "add", fmt.Sprintf("192.0.2.%d/24", i+1), "dev", "eth0")
		d.must("ip", "-n", d.ns(n), "addr", "add", fmt.Sprintf("2001:db8:d::%d/64", i+1), "dev", "eth0", "nodad")
		d.must("ip", "-n", d.ns(n), "link", "set", "eth0", "up")
	}
	var err error
	d.state, err = os.MkdirTemp("", "floatip-demo-")
	return err
}

func (d *demo) start(args ...string) (*exec.Cmd, io.Reader, error) {
	cmd := exec.Command(args[0], args[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	d.procs = append(d.procs, cmd)
	return cmd, out, nil
}

// agentRun runs one floatip action on node n and returns how long it took.
func (d *demo) agentRun(n, action, ip string) (time.Duration, error) {
	cmd := exec.Command("ip", "netns", "exec", d.ns(n), d.agent, action)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_RESOURCE_INSTANCE=vip", "HA_RSCTMP=" + d.state + "/" + n,
		"OCF_RESKEY_ip=" + ip, "OCF_RESKEY_arp_count=5", "OCF_RESKEY_arp_interval=200", "OCF_RESKEY_CRM_meta_timeout=20000"}
	t := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(t)
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			d.say("  node %s: %s", strings.ToUpper(n), l)
		}
	}
	if err != nil {
		return took, fmt.Errorf("floatip %s on %s: %v", action, n, err)
	}
	return took, nil
}

type reply struct {
	at   time.Time
	ok   bool
	body string
}

func (d *demo) run() error {
	d.t0 = time.Now()
	fmt.Println("floatip demo: nodes A and B and a client on one bridge, in network namespaces")
	fmt.Printf("VIP %s and %s, served by a web server on each node; the client polls every %d ms\n\n", vip4, vip6, pollMS)
	if err := d.setup(); err != nil {
		return err
	}
	self, _ := os.Executable()
	for _, n := range []string{"a", "b"} {
		if _, _, err := d.start("ip", "netns", "exec", d.ns(n), self, "serve", "node-"+strings.ToUpper(n)); err != nil {
			return err
		}
	}
	capt4, err := nstest.ListenNS(d.ns("c"), "br0", netip.MustParseAddr(vip4))
	if err != nil {
		return err
	}
	defer capt4.Close()
	capt6, err := nstest.ListenNS(d.ns("c"), "br0", netip.MustParseAddr(vip6))
	if err != nil {
		return err
	}
	defer capt6.Close()
	macA := linkMAC(d.must("ip", "-n", d.ns("a"), "-o", "link", "show", "eth0"))
	macB := linkMAC(d.must("ip", "-n", d.ns("b"), "-o", "link", "show", "eth0"))
	d.say("node A eth0 %s, node B eth0 %s", macA, macB)

	d.say("floatip start on node A (IPv4, then IPv6 with duplicate address detection)")
	took, err := d.agentRun("a", "start", vip4)
	if err != nil {
		return err
	}
	d.say("  IPv4 start took %v", took.Round(time.Microsecond))
	took, err = d.agentRun("a", "start", vip6)
	if err != nil {
		return err
	}
	d.say("  IPv6 start took %v (DAD included)", took.Round(time.Millisecond))

	_, out, err := d.start("ip", "netns", "exec", d.ns("c"), self, "poll", "http://"+vip4+":"+port+"/")
	if err != nil {
		return err
	}
	replies := make(chan reply, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.SplitN(sc.Text(), " ", 2)
			replies <- reply{time.Now(), f[0] == "ok", f[len(f)-1]}
		}
	}()
	first := waitReply(replies, "node-A", 5*time.Second)
	if first.at.IsZero() {
		return errors.New("the client never reached node A")
	}
	d.say("client: %s answers from %s", vip4, first.body)
	d.say("client neighbour table: %s", strings.TrimSpace(d.must("ip", "-n", d.ns("c"), "neigh", "show", vip4)))
	time.Sleep(1200 * time.Millisecond) // let A's announcements finish
	n4a, n6a := capt4.Count("arp-request"), capt6.Count("na")
	d.say("client saw from A: %d gratuitous ARP requests + %d replies, %d neighbour advertisements", n4a, capt4.Count("arp-reply"), n6a)
	drain(replies)

	fmt.Println()
	d.say("node A dies: its link is cut (the address stays on the dead node)")
	kill := time.Now()
	d.must("ip", "-n", d.ns("a"), "link", "set", "eth0", "down")
	time.Sleep(300 * time.Millisecond) // what a cluster would spend noticing
	d.say("floatip start on node B")
	startAt := time.Now()
	took, err = d.agentRun("b", "start", vip4)
	if err != nil {
		return err
	}
	d.say("  IPv4 start took %v", took.Round(time.Microsecond))
	got := waitReply(replies, "node-B", 5*time.Second)
	if got.at.IsZero() {
		return errors.New("the client never reached node B")
	}
	var firstARP time.Time
	for _, f := range capt4.Frames() {
		if f.MAC.String() == macB {
			firstARP = f.At
			break
		}
	}
	d.say("client: %s answers from %s", vip4, got.body)
	d.say("client neighbour table: %s", strings.TrimSpace(d.must("ip", "-n", d.ns("c"), "neigh", "show", vip4)))
	if _, err := d.agentRun("b", "start", vip6); err != nil {
		return err
	}
	time.Sleep(1200 * time.Millisecond)
	fromB := 0
	for _, f := range capt4.Frames() {
		if f.MAC.String() == macB {
			fromB++
		}
	}
	nb6 := capt6.Count("na") - n6a
	fmt.Println()
	fmt.Println("timeline (from the moment node A died)")
	fmt.Printf("  %8.1f ms  node A's link cut\n", 0.0)
	fmt.Printf("  %8.1f ms  floatip start on B begins (a cluster's detection time stands in here)\n", ms(startAt.Sub(kill)))
	fmt.Printf("  %8.1f ms  first gratuitous ARP from B seen by the client\n", ms(firstARP.Sub(kill)))
	fmt.Printf("  %8.1f ms  floatip start on B returned (%.1f ms)\n", ms(startAt.Add(took).Sub(kill)), ms(took))
	fmt.Printf("  %8.1f ms  first good reply from node B\n", ms(got.at.Sub(kill)))
	fmt.Printf("outage seen by the client: %.0f ms, of which floatip's start was %.1f ms\n", ms(got.at.Sub(kill)), ms(took))
	fmt.Printf("announcements from B seen by the client: %d ARP frames (5 requests + 5 replies expected), %d neighbour advertisements (5 expected)\n", fromB, nb6)

	for _, n := range []string{"b", "a"} {
		for _, ip := range []string{vip4, vip6} {
			d.agentRun(n, "stop", ip)
		}
	}
	fmt.Println("\ncleaning up: namespaces, servers, poller")
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func waitReply(ch <-chan reply, body string, d time.Duration) reply {
	end := time.After(d)
	for {
		select {
		case r := <-ch:
			if r.ok && r.body == body {
				return r
			}
		case <-end:
			return reply{}
		}
	}
}

func drain(ch <-chan reply) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func linkMAC(s string) string {
	f := strings.Fields(s)
	for i, w := range f {
		if w == "link/ether" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return "?"
}

func serve(name string) {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, name) })
	srv := &http.Server{Addr: ":" + port, ReadHeaderTimeout: time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// poll prints "ok <body>" or "err <error>" per request, one every pollMS.
func poll(url string) {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: 100 * time.Millisecond}).DialContext}
	cl := &http.Client{Transport: tr, Timeout: 150 * time.Millisecond}
	w := bufio.NewWriter(os.Stdout)
	for range time.Tick(pollMS * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := cl.Do(req)
		if err != nil {
			fmt.Fprintf(w, "err %v\n", err)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fmt.Fprintf(w, "ok %s\n", b)
		}
		cancel()
		if w.Flush() != nil {
			return
		}
	}
}
