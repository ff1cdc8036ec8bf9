// Command floatip is the OCF resource agent ocf:cloudvip:floatip.
//
// Every action is a short-lived process and monitors run every few seconds
// on every node, so start-up cost matters: no background GOMAXPROCS updater
// goroutine. (Setting GOMAXPROCS(1) in init helped the SDK-free binary by
// a few percent; with the cloud SDKs linked its stop-the-world cost more
// than it saved: 5.55 -> 5.15 ms median CPU per monitor over 8 interleaved
// A/B rounds against IPaddr2, so it is gone.)

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudvip/floatip/internal/agent"
	"github.com/cloudvip/floatip/internal/runstate"
	"github.com/cloudvip/floatip/ocf"
)

func main() {
	switch filepath.Base(os.Args[0]) {
	case "floatip-ucarp-up":
		os.Exit(int(ucarpScript("up", os.Args[1:], os.Stderr)))
	case "floatip-ucarp-down":
		os.Exit(int(ucarpScript("down", os.Args[1:], os.Stderr)))
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, agent.Usage)
		os.Exit(int(ocf.ErrArgs))
	}
	switch os.Args[1] {
	case agent.AnnounceCommand:
		if err := agent.RunAnnouncer(runstate.FromEnv(), os.Args[2:]); err != nil {
			os.Exit(1)
		}
		return
	case agent.KeepCommand:
		keeper(os.Args[2:], os.Stderr)
		return
	case "keepalived-fifo":
		os.Exit(int(keepalivedFifo(os.Args[2:], os.Stderr)))
	case "version", "--version":
		fmt.Printf("floatip %s\n", agent.Version)
		return
	}
	if _, ok := verbs[os.Args[1]]; ok {
		os.Exit(int(runVerb(context.Background(), os.Args[1], os.Args[2:], os.Stderr)))
	}
	os.Exit(int(runOCF(os.Args[1])))
}

// newAgent is the agent for one action: its environment from lookup, its
// log on stderr (or syslog), the state directory from HA_RSCTMP, and the
// deadline from the action's timeout, counted from now.
func newAgent(action string, lookup func(string) (string, bool), stderr io.Writer) *agent.Agent {
	env := ocf.FromLookup(action, lookup)
	return &agent.Agent{Env: env, Log: ocf.NewLogger(agent.Name, env, stderr), Out: os.Stdout,
		State: runstate.FromEnv(), Self: "/proc/self/exe", Deadline: env.Deadline(time.Now())}
}

func runOCF(action string) ocf.Status {
	start := time.Now()
	a := newAgent(action, os.LookupEnv, os.Stderr)
	defer a.Log.Close()
	env, log := a.Env, a.Log
	err := a.Run(context.Background())
	st := ocf.StatusOf(err)
	switch {
	case err == nil:
	case st == ocf.NotRunning && env.IsProbe():
		log.Debugf("%v", err)
	case st == ocf.NotRunning && action != "stop":
		log.Infof("%v", err)
	default:
		log.ExitReason(err.Error())
	}
	log.Debugf("%s finished in %v: %s", action, time.Since(start).Round(time.Microsecond), st)
	return st
}
