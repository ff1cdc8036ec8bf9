// Package agent implements floatip's OCF actions: parse and validate the
// parameters, then start = claim in the cloud, bind locally (where the
// provider binds) and announce; stop = unbind, locally only; monitor =
// local check, plus a cached cloud check at depth 10.
package agent

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cloudvip/floatip/internal/param"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/provider/all"
	"github.com/cloudvip/floatip/internal/runstate"
	"github.com/cloudvip/floatip/ocf"
)

// Name is the agent's type name.
const Name = "floatip"

// Version is floatip's one version: floatip version, the meta-data's
// resource-agent version attribute and the packages'. This is the release
// a build belongs to; the Makefile sets it through -ldflags -X for builds
// between tags ("0.3.0~git20261202.1a2b3c4"), so tests see this value.
var Version = "0.3.0"

// AnnounceCommand is the hidden first argument that runs the background
// announcer. It cannot collide with an OCF action or a CLI subcommand.
const AnnounceCommand = "_announce"

// Agent runs one OCF action.
type Agent struct {
	Env   *ocf.Env
	Log   *ocf.Logger
	Out   io.Writer // meta-data and usage go here
	State runstate.Dir
	// Self is the executable started as the background announcer.
	Self string
	// OpenNet opens the node's network and NetAdmin says whether this
	// process may change it; nil: rtnetlink and the CAP_NET_ADMIN check.
	OpenNet  func() (Net, error)
	NetAdmin func() bool
	// Deadline bounds every action that may wait (see ocf.Env.Deadline).
	// A depth-0 monitor takes no timer at all: a pending timer wakes Go's
	// netpoller, a measurable cost on a path that runs every few seconds.
	Deadline time.Time
}

// bounded returns ctx limited by a.Deadline.
func (a *Agent) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.Deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, a.Deadline)
}

// Usage is printed for usage/help and before exiting 3 on an unknown action.
const Usage = `usage: floatip {start|stop|monitor|status|meta-data|validate-all|usage|help}
       floatip {up|down} --ip ADDRESS [--config FILE] [--timeout 60s] [--<parameter> value ...]
       floatip show --ip ADDRESS [--json] [--local] [--config FILE] [...]
       floatip check --ip ADDRESS [--json] [--config FILE] [...]
       floatip frr-config --ip ADDRESS --provider linode --linode-mode bgp [...]
       floatip keepalived-fifo [--map INSTANCE=FILE]... [--timeout 60s] FIFO
       floatip-ucarp-up / floatip-ucarp-down INTERFACE ADDRESS [CONFIG]   (links, for ucarp)
       floatip {version|--version}

floatip is the OCF resource agent ocf:cloudvip:floatip. Pacemaker passes its
parameters as OCF_RESKEY_<name> environment variables; see "floatip meta-data".
For keepalived, ucarp and people: "floatip up" does what start does (claim,
bind, announce) and "floatip down" what stop does (local only), under the
same per-address lock, with the same parameters as flags (--cidr-netmask or
--cidr_netmask) or key=value lines in --config, and OCF's exit codes.
`

// Run performs the action in a.Env and returns nil or an error that carries
// its OCF status (see ocf.StatusOf).
func (a *Agent) Run(ctx context.Context) error {
	switch a.Env.Action {
	case "meta-data":
		x, err := Metadata().XML()
		if err != nil {
			return err
		}
		_, err = a.Out.Write(x)
		return err
	case "usage", "help":
		fmt.Fprint(a.Out, Usage)
		return nil
	case "validate-all":
		return a.validate(ctx)
	case "start":
		return a.start(ctx)
	case "stop":
		return a.stop(ctx)
	case "monitor", "status":
		return a.monitor(ctx)
	}
	fmt.Fprint(a.Out, Usage)
	return ocf.Errorf(ocf.ErrUnimplemented, "action %q is not implemented", a.Env.Action)
}

// Metadata describes the agent for the meta-data action.
func Metadata() *ocf.Metadata {
	return &ocf.Metadata{
		Name:    Name,
		Version: Version,
		LongDesc: "floatip moves a virtual IP address to the node it runs on: it claims the address " +
			"from the cloud provider (provider=none on a plain LAN), binds it through netlink and " +
			"announces it with gratuitous ARP (IPv4) or unsolicited neighbour advertisements (IPv6). " +
			"It replaces ocf:heartbeat:IPaddr2 and shares its parameter names where they mean the same. " +
			"A depth-10 monitor (OCF_CHECK_LEVEL=10) also asks the cloud, at most once per cloud_check_interval.",
		ShortDesc: "Virtual IP address for LANs and clouds",
		Params:    param.Meta(Specs()),
		Actions: []ocf.MetaAction{
			{Name: "start", Timeout: 20 * time.Second},
			{Name: "stop", Timeout: 20 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Depth: 0},
			{Name: "monitor", Timeout: 30 * time.Second, Interval: 60 * time.Second, Depth: 10},
			{Name: "meta-data", Timeout: 5 * time.Second},
			{Name: "validate-all", Timeout: 20 * time.Second},
		},
	}
}

// job is one action's parsed configuration and provider.
type job struct {
	*Config
	spec  *provider.Spec
	cloud provider.Provider
	local provider.Local
	// speaker announces the address with a routing protocol (nil: the
	// cloud or the LAN learns the holder otherwise).
	speaker provider.Speaker
	// checkEvery is cloud_check_interval, claimEvery claim_interval,
	// keepEvery keep_interval, guard takeback_guard.
	checkEvery, claimEvery, keepEvery, guard time.Duration
}

// isCloud is true for providers with a cloud side (not "none").
func (j *job) isCloud() bool { return j.spec.Cloud }

// id names the address in the state directory.
func (j *job) id() string { return j.IP.String() }

// parse checks every parameter's syntax (no network, no files, no netlink)
// and opens the provider. A malformed parameter is OCF_ERR_CONFIGURED.
func (a *Agent) parse() (*job, error) {
	c, warns, err := Parse(a.Env.Param)
	for _, w := range warns {
		a.Log.Warnf("%s", w)
	}
	if err != nil {
		return nil, ocf.WithStatus(ocf.ErrConfigured, err)
	}
	j := &job{Config: c, checkEvery: 60 * time.Second, claimEvery: 5 * time.Second, keepEvery: 10 * time.Second, guard: 60 * time.Second}
	j.spec, _ = all.Providers.Lookup(c.Provider)
	j.local = j.spec.Local(c.IP)
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{"cloud_check_interval", &j.checkEvery}, {"claim_interval", &j.claimEvery}, {"keep_interval", &j.keepEvery}, {"takeback_guard", &j.guard}} {
		if v, ok := a.Env.Param(d.name); ok && v != "" {
			n, err := param.ParseInt(d.name, v, 0, 86400)
			if err != nil {
				return nil, ocf.WithStatus(ocf.ErrConfigured, err)
			}
			*d.to = time.Duration(n) * time.Second
		}
	}
	j.cloud, err = j.spec.Open(a.Env.Param, provider.Env{Log: a.Log, Cache: string(a.State)})
	if err != nil {
		return nil, ocf.WithStatus(ocf.ErrConfigured, err)
	}
	if p, ok := j.cloud.(provider.Placer); ok {
		j.local = p.Local(c.IP)
	}
	if s, ok := j.cloud.(provider.Speaking); ok {
		j.speaker = s.Speaker()
	}
	return j, nil
}

// warnUnused names parameters the chosen provider ignores. Only start and
// validate-all say it: a monitor every few seconds would merge every
// provider's table and repeat the same line in the log each time.
func (a *Agent) warnUnused(j *job) {
	for _, p := range all.Providers.Params() {
		if v, ok := a.Env.Param(p.Name); ok && v != "" && !contains(p.Providers, j.Provider) {
			a.Log.Warnf("%s is not used by provider %s; ignored", p.Name, j.Provider)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (a *Agent) lock(ctx context.Context, j *job) (*runstate.Lock, error) {
	l, err := a.State.Lock(ctx, j.id())
	if err != nil {
		return nil, ocf.WithStatus(ocf.ErrGeneric, err)
	}
	return l, nil
}
