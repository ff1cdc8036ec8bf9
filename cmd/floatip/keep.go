package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cloudvip/floatip/internal/agent"
	"github.com/cloudvip/floatip/internal/provider"
)

// keeps reports whether up's parameters may want a keeper: a cloud
// provider and keep_interval not 0 (the keeper checks again, with the
// parsed values). No process is started behind a LAN address.
func keeps(params map[string]string) bool {
	p := params["provider"]
	return p != "" && p != "none" && params["keep_interval"] != "0"
}

// startKeeper leaves a keeper behind a successful up, with up's own
// arguments; the keeper decides itself whether one runs already. Its own
// session: an engine that kills up's process group must not end it. It
// must not hold up's stdout and stderr open either (a caller reading them
// to the end would wait for it), so it logs to syslog: HA_LOGFACILITY, or
// daemon.
func startKeeper(args []string) {
	self, err := os.Executable()
	if err != nil {
		return
	}
	cmd := exec.Command(self, append([]string{agent.KeepCommand}, args...)...)
	cmd.Env = keeperEnv(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cmd.Start() == nil {
		_ = cmd.Process.Release() // detached: nothing to wait for
	}
}

// keeperVars are what the keeper reads from its environment, itself and
// through net/http and the cloud SDKs: the state directory, logging, the
// test harness's guard, proxies and CAs, HOME and TZ (the OCI SDK expands
// ~ in key_file), and OCI_* (the OCI SDK's settings).
var keeperVars = []string{
	"PATH", "HOME", "TZ", "GODEBUG",
	"HA_RSCTMP", "HA_debug", "HA_LOGFACILITY", "PCMK_logfacility", provider.ForbidRealEndpoints,
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
}

// keeperEnv is the keeper's environment: of up's, only keeperVars. The
// keeper lives as long as the node holds the address; the rest of its
// caller's environment (a VRRP engine's or a shell's variables, another
// tool's credentials) has no business in a long-lived process's
// /proc/<pid>/environ. Without HA_LOGFACILITY it logs to syslog's daemon
// facility: it holds no stderr.
func keeperEnv(environ []string) []string {
	var out []string
	facility := false
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if !slices.Contains(keeperVars, k) && !strings.HasPrefix(k, "OCI_") {
			continue
		}
		out = append(out, kv)
		if k == "HA_LOGFACILITY" && v != "" {
			facility = true
		}
	}
	if !facility {
		out = append(out, "HA_LOGFACILITY=daemon")
	}
	return out
}

// keeper is the process startKeeper starts: every second it looks whether
// this node still holds the address (down ends it within that second),
// every keep_interval it asks the cloud and claims the address again when
// the cloud routes it elsewhere. SIGTERM ends it.
func keeper(args []string, stderr io.Writer) {
	o, params, _ := parseVerb("up", args, io.Discard)
	if params == nil {
		return
	}
	env := cliEnv(params, *o.timeout)
	a := newAgent("keep", env, stderr)
	k, err := a.StartKeeping()
	a.Log.Close()
	if err != nil || k == nil {
		return
	}
	defer k.Lock.Unlock()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for last := time.Now(); ; {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !a.Held(k.ID) {
			return
		}
		if time.Since(last) < k.Every {
			continue
		}
		last = time.Now()
		round := newAgent("keep", env, stderr) // each round's deadline counts from now
		err := round.KeepOnce(ctx)
		if errors.Is(err, agent.ErrReleased) {
			round.Log.Close()
			return
		}
		if err != nil && ctx.Err() == nil {
			round.Log.Warnf("%v", err)
		}
		round.Log.Close()
	}
}
