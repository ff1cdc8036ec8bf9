// Command floatip is the OCF resource agent ocf:cloudvip:floatip.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cloudvip/floatip/internal/agent"
	"github.com/cloudvip/floatip/internal/runstate"
	"github.com/cloudvip/floatip/ocf"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, agent.Usage)
		os.Exit(int(ocf.ErrArgs))
	}
	if os.Args[1] == agent.AnnounceCommand {
		if err := agent.RunAnnouncer(runstate.FromEnv(), os.Args[2:]); err != nil {
			os.Exit(1)
		}
		return
	}
	os.Exit(int(runOCF(os.Args[1])))
}

func runOCF(action string) ocf.Status {
	start := time.Now()
	env := ocf.FromEnviron(action)
	log := ocf.NewLogger(agent.Name, env, os.Stderr)
	defer log.Close()
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	ctx, cancel := context.WithDeadline(context.Background(), env.Deadline(start))
	defer cancel()
	a := &agent.Agent{Env: env, Log: log, Out: os.Stdout, State: runstate.FromEnv(), Self: self}
	err = a.Run(ctx)
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
