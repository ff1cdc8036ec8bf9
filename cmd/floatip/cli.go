package main

// The command for people and HA engines other than Pacemaker (keepalived,
// ucarp): verbs that never clash with an OCF action name, run through the
// same agent as the OCF actions (same parameter table, same per-IP lock,
// same exit codes).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/cloudvip/floatip/internal/agent"
	"github.com/cloudvip/floatip/ocf"
)

// verbs are the CLI's verbs, by name (the table is agent.Verbs: the man
// page is rendered from it too).
var verbs = func() map[string]agent.Verb {
	m := map[string]agent.Verb{}
	for _, v := range agent.Verbs {
		if v.Action != "" {
			m[v.Name] = v
		}
	}
	return m
}()

// runVerb parses a verb's flags and config file into the agent's
// parameters and runs its action. Exit codes are OCF's: 0 done, 1
// transient failure, 2 usage, 4 a credential or config file others may
// change, 5 a missing prerequisite, 6 bad configuration.
func runVerb(ctx context.Context, name string, args []string, stderr io.Writer) ocf.Status {
	o, params, st := parseVerb(name, args, stderr)
	if params == nil {
		return st
	}
	env := cliEnv(params, *o.timeout)
	switch name {
	case "show":
		return show(env, *o.json, *o.local, stderr)
	case "check":
		return check(env, *o.json, stderr)
	case "frr-config":
		return frrConfig(env, stderr)
	}
	st = runAction(ctx, verbs[name].Action, env, stderr)
	if name == "up" && st == ocf.Success && keeps(params) {
		startKeeper(args)
	}
	return st
}

// parseVerb reads a verb's flags and config file into the agent's
// parameters; nil parameters with the status to exit with on bad input
// (or --help).
func parseVerb(name string, args []string, stderr io.Writer) (*verbFlags, map[string]string, ocf.Status) {
	o := newVerbFlags(name)
	usage := func() {
		fmt.Fprintf(stderr, "usage: floatip %s [--config FILE] [--timeout 60s] --ip ADDRESS [--name value ...]\n%s\n\nflags:\n%s",
			name, verbs[name].Short, o.fs.FlagUsages())
	}
	if err := o.fs.Parse(args); errors.Is(err, pflag.ErrHelp) {
		usage()
		return o, nil, ocf.Success
	} else if err != nil {
		fmt.Fprintf(stderr, "floatip %s: %v\n", name, err)
		usage()
		return o, nil, ocf.ErrArgs
	}
	if o.fs.NArg() > 0 || *o.timeout <= 0 {
		if o.fs.NArg() > 0 {
			fmt.Fprintf(stderr, "floatip %s: unexpected argument %q\n", name, o.fs.Arg(0))
		} else {
			fmt.Fprintf(stderr, "floatip %s: --timeout=%v: use a positive duration, e.g. 60s\n", name, *o.timeout)
		}
		usage()
		return o, nil, ocf.ErrArgs
	}
	params, err := readConfig(*o.config)
	if err != nil {
		fmt.Fprintf(stderr, "floatip %s: %v\n", name, err)
		return o, nil, ocf.StatusOf(err)
	}
	for n, p := range o.params {
		if o.fs.Changed(n) {
			params[n] = *p
		}
	}
	if _, ok := params["ip"]; !ok {
		fmt.Fprintf(stderr, "floatip %s: --ip is required (or ip= in --config)\n", name)
		return o, nil, ocf.ErrConfigured
	}
	return o, params, ocf.Success
}

// verbFlags are a verb's flags: every parameter of the one table, and the
// verb's own.
type verbFlags struct {
	fs          *pflag.FlagSet
	params      map[string]*string
	config      *string
	timeout     *time.Duration
	json, local *bool
}

func newVerbFlags(name string) *verbFlags {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// --cidr_netmask and --cidr-netmask are the same flag.
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, n string) pflag.NormalizedName {
		return pflag.NormalizedName(strings.ReplaceAll(n, "_", "-"))
	})
	o := &verbFlags{fs: fs, params: map[string]*string{}, json: new(bool), local: new(bool)}
	for _, p := range agent.Specs() {
		o.params[p.Name] = fs.String(p.Name, "", p.Short)
	}
	o.config = fs.String("config", "", "key=value file with parameter names; flags win")
	o.timeout = fs.Duration("timeout", 60*time.Second, "how long the verb may take (in the role of Pacemaker's op timeout)")
	if name == "show" || name == "check" {
		o.json = fs.Bool("json", false, "JSON instead of lines")
	}
	if name == "show" {
		o.local = fs.Bool("local", false, "look at this node only; do not ask the cloud")
	}
	return o
}

// show prints the report, one "name: value" line each then the verdict, or
// one JSON object, and exits with the verdict's code (a failed cloud read:
// its class's code).
func show(lookup func(string) (string, bool), asJSON, local bool, stderr io.Writer) ocf.Status {
	a := newAgent("show", lookup, stderr)
	defer a.Log.Close()
	r, err := a.Show(context.Background(), local)
	if err != nil {
		a.Log.ExitReason(err.Error())
		return ocf.StatusOf(err)
	}
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
		return ocf.Status(r.Exit)
	}
	for _, l := range [][2]string{{"ip", r.IP}, {"provider", r.Provider}, {"bound", r.Bound}, {"claimed", r.Claimed},
		{"announcer", pid(r.Announcer)}, {"cloud", r.Cloud}} {
		if l[1] != "" {
			fmt.Printf("%-10s %s\n", l[0]+":", l[1])
		}
	}
	fmt.Println(r.Verdict)
	return ocf.Status(r.Exit)
}

// check prints one line per finding, a mark, the step and the detail (for
// a failure, what to fix), or a JSON list; it exits with the first
// failure's class (0 when everything is ready).
func check(lookup func(string) (string, bool), asJSON bool, stderr io.Writer) ocf.Status {
	a := newAgent("check", lookup, stderr)
	defer a.Log.Close()
	findings := a.Preflight(context.Background())
	st := ocf.Success
	for _, f := range findings {
		if !f.OK && st == ocf.Success {
			st = f.Status
			if st == ocf.Success {
				st = ocf.ErrGeneric
			}
		}
	}
	if asJSON {
		b, _ := json.Marshal(findings)
		fmt.Println(string(b))
		return st
	}
	for _, f := range findings {
		mark := "ok  "
		if !f.OK {
			mark = "FAIL"
		}
		fmt.Printf("%s %-24s %s\n", mark, f.Check, f.Detail)
	}
	return st
}

// frrConfig prints the sessions' FRR configuration for a bgp-mode address.
func frrConfig(lookup func(string) (string, bool), stderr io.Writer) ocf.Status {
	a := newAgent("frr-config", lookup, stderr)
	defer a.Log.Close()
	conf, err := a.SpeakerConfig(context.Background())
	if err != nil {
		a.Log.Errorf("%v", err)
		return ocf.StatusOf(err)
	}
	fmt.Print(conf)
	return ocf.Success
}

func pid(n int) string {
	if n == 0 {
		return ""
	}
	return "running, PID " + strconv.Itoa(n)
}

// cliEnv is the environment Pacemaker would give the action.
func cliEnv(params map[string]string, timeout time.Duration) func(string) (string, bool) {
	return func(k string) (string, bool) {
		switch {
		case k == "OCF_RESOURCE_INSTANCE":
			return "cli", true
		case k == "OCF_RESKEY_CRM_meta_timeout":
			return strconv.FormatInt(timeout.Milliseconds(), 10), true
		case strings.HasPrefix(k, "OCF_RESKEY_"):
			v, ok := params[strings.TrimPrefix(k, "OCF_RESKEY_")]
			return v, ok
		case k == "HA_debug" || k == "HA_LOGFACILITY":
			return os.LookupEnv(k)
		}
		return "", false
	}
}

// runAction runs one agent action and reports a failure on stderr.
func runAction(ctx context.Context, action string, lookup func(string) (string, bool), stderr io.Writer) ocf.Status {
	a := newAgent(action, lookup, stderr)
	defer a.Log.Close()
	err := a.Run(ctx)
	if err != nil {
		a.Log.ExitReason(err.Error())
	}
	return ocf.StatusOf(err)
}

// readConfig reads key=value lines (agent.ReadConfigFile). A file others
// may write is refused: it decides what runs as root. Tokens stay in
// token_file: there is no token parameter.
func readConfig(path string) (map[string]string, error) {
	params := map[string]string{}
	if path == "" {
		return params, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ocf.Errorf(ocf.ErrInstalled, "--config %s does not exist", path)
	}
	if err != nil {
		return nil, ocf.Errorf(ocf.ErrPerm, "--config %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, ocf.Errorf(ocf.ErrPerm, "--config %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, ocf.Errorf(ocf.ErrPerm, "--config %s is writable by group or others (mode %04o); run chmod go-w %s", path, fi.Mode().Perm(), path)
	}
	return agent.ReadConfigFile(f, path)
}
