// Command floatip-lab runs floatip in a real Pacemaker + Corosync cluster
// built from network, mount, UTS, IPC and PID namespaces on this machine
// (root, no systemd, no Docker): the demo, and the failover benchmark.
//
//	floatip-lab demo [--provider none|digitalocean] [--nodes 3] [--token 1000] [--svg failover.svg]
//	floatip-lab bench-failover [--runs 20] [--nodes 3] [--token 1000]
//	floatip-lab soak [--runs 100] [--providers none,digitalocean,...]
//	floatip-lab chaos [--providers digitalocean,oci,linode-assign] [--scenarios ...] [--split 120s]
//	floatip-lab bgp [--runs 10] [--only hold9,hold3,bfd]
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/cloudvip/floatip/internal/lab"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "_node": // PID 1 of a node: name, directory, engine ("" for Pacemaker)
		init := lab.NodeInit
		if len(os.Args) > 4 && os.Args[4] != "" {
			init = lab.VRRPInit
		}
		if err := init(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "node:", err)
			os.Exit(1)
		}
		return
	case "_web": // the web service on every node
		web()
		return
	case "_poll": // the client
		lab.Poll(os.Args[2], len(os.Args) > 3 && os.Args[3] == "overlap", os.Stdout)
		return
	case "demo":
		os.Exit(demo(os.Args[2:]))
	case "bench-failover":
		os.Exit(benchFailover(os.Args[2:]))
	case "chaos":
		os.Exit(chaos(os.Args[2:]))
	case "soak":
		os.Exit(soak(os.Args[2:]))
	case "bgp":
		os.Exit(bgpSweep(os.Args[2:]))
	case "timing":
		os.Exit(timingSweep(os.Args[2:]))
	case "idle":
		os.Exit(idleSoak(os.Args[2:]))
	}
	usage()
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: floatip-lab demo|bench-failover|timing|idle|chaos|soak|bgp [flags] (see --help)")
	os.Exit(2)
}

func web() {
	host, _ := os.Hostname()
	srv := &http.Server{Addr: ":" + lab.WebPort, ReadHeaderTimeout: time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, host) })}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = srv.Serve(ln) // runs until the node stops
}

// sayer returns a printf that stamps each line with the seconds since now
// (stamp is the stamp's format, e.g. "%7.1fs").
func sayer(stamp string) func(format string, a ...any) {
	t0 := time.Now()
	return func(format string, a ...any) {
		fmt.Printf(stamp+"  %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, a...))
	}
}

// onInterrupt runs cleanup and exits when Ctrl-C or SIGTERM arrives.
func onInterrupt(cleanup func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Println("\ninterrupted: tearing the lab down")
		cleanup()
		os.Exit(130)
	}()
}

type common struct {
	nodes, token    int
	coef, consensus int
	ping, delay     int
	fast            bool
	provider        string
}

// timing is the Corosync timing the flags ask for (--fast: lab.Fast).
func (c *common) timing() lab.Timing {
	if c.fast {
		return lab.Fast(c.nodes)
	}
	t := lab.Timing{Nodes: c.nodes, Token: c.token, Consensus: c.consensus, PingTimeout: c.ping, TransitionDelay: c.delay}
	if c.coef >= 0 {
		coef := c.coef
		t.Coefficient = &coef
	}
	return t
}

func flags(name string) (*pflag.FlagSet, *common) {
	fs := pflag.NewFlagSet(name, pflag.ExitOnError)
	c := &common{}
	fs.IntVar(&c.nodes, "nodes", 3, "cluster nodes")
	fs.IntVar(&c.token, "token", 1000, "corosync totem token (ms)")
	fs.IntVar(&c.coef, "token-coefficient", -1, "corosync token_coefficient (ms; -1: corosync's default, 650)")
	fs.IntVar(&c.consensus, "consensus", 0, "corosync consensus (ms; 0: corosync's default, 1.2 x the token)")
	fs.IntVar(&c.ping, "knet-ping-timeout", 0, "knet link timeout (ms), pings every quarter of it (0: corosync's default, token / 2)")
	fs.IntVar(&c.delay, "transition-delay", 0, "Pacemaker's transition-delay (ms; 0: unset)")
	fs.BoolVar(&c.fast, "fast", false, "the README's fast-failover timing (token 500 ms, token_coefficient 0, knet ping timeout 1000 ms, transition-delay 200 ms), overriding the other timing flags")
	fs.StringVar(&c.provider, "provider", "none", "floatip provider: none, digitalocean, oci, linode-share or linode-assign")
	return fs, c
}
