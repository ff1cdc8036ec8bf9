package ocf

import (
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout is Pacemaker's default operation timeout
// (PCMK_DEFAULT_ACTION_TIMEOUT_MS), used when CRM_meta_timeout is unset.
const DefaultTimeout = 20 * time.Second

// Env is what Pacemaker (or crm_resource, crmsh, ocf-tester) tells an agent
// through its environment.
type Env struct {
	Action   string
	Instance string // OCF_RESOURCE_INSTANCE; "default" when unset
	// Timeout is OCF_RESKEY_CRM_meta_timeout; DefaultTimeout when unset or bad.
	Timeout time.Duration
	// Interval is OCF_RESKEY_CRM_meta_interval; 0 when unset (a probe).
	Interval time.Duration
	// CheckLevel is OCF_CHECK_LEVEL (0, 10 or 20; default 0).
	CheckLevel int
	Debug      bool   // HA_debug set and not 0
	Facility   string // HA_LOGFACILITY (or PCMK_logfacility); "" or "none" = stderr only

	lookup func(string) (string, bool)
}

// FromEnviron reads the process environment for action.
func FromEnviron(action string) *Env { return FromLookup(action, os.LookupEnv) }

// FromLookup builds an Env from an arbitrary lookup function (tests).
func FromLookup(action string, lookup func(string) (string, bool)) *Env {
	get := func(k string) string { v, _ := lookup(k); return v }
	e := &Env{Action: action, lookup: lookup, Timeout: DefaultTimeout}
	e.Instance = get("OCF_RESOURCE_INSTANCE")
	if e.Instance == "" {
		e.Instance = "default"
	}
	if ms, ok := millis(get("OCF_RESKEY_CRM_meta_timeout")); ok {
		e.Timeout = ms
	}
	if ms, ok := millis(get("OCF_RESKEY_CRM_meta_interval")); ok {
		e.Interval = ms
	}
	// Pacemaker passes the op attribute OCF_CHECK_LEVEL unprefixed; older
	// tools used OCF_RESKEY_OCF_CHECK_LEVEL.
	lvl := get("OCF_CHECK_LEVEL")
	if lvl == "" {
		lvl = get("OCF_RESKEY_OCF_CHECK_LEVEL")
	}
	if n, err := strconv.Atoi(strings.TrimSpace(lvl)); err == nil && n > 0 {
		e.CheckLevel = n
	}
	if d := get("HA_debug"); d != "" && d != "0" {
		e.Debug = true
	}
	e.Facility = get("HA_LOGFACILITY")
	if e.Facility == "" {
		e.Facility = get("PCMK_logfacility")
	}
	if e.Facility == "none" {
		e.Facility = ""
	}
	return e
}

// millis reads a positive number of milliseconds; false when v is not one
// or is beyond time.Duration's range (about 292 years), which would wrap
// round to a negative timeout.
func millis(v string) (time.Duration, bool) {
	ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || ms <= 0 || ms > math.MaxInt64/int64(time.Millisecond) {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// Param returns OCF_RESKEY_<name> and whether it was set at all.
func (e *Env) Param(name string) (string, bool) { return e.lookup("OCF_RESKEY_" + name) }

// IsProbe reports a monitor without an interval: Pacemaker's one-off check
// of where a resource runs, sent to every node, including nodes that never
// ran it. crm_resource --force-check also looks like one.
func (e *Env) IsProbe() bool {
	return (e.Action == "monitor" || e.Action == "status") && e.Interval == 0
}

// Deadline is when the agent must have finished: before Pacemaker's SIGKILL
// at Timeout, with a margin to print the exit reason and exit cleanly.
func (e *Env) Deadline(start time.Time) time.Time {
	return start.Add(e.Timeout - SafetyMargin(e.Timeout))
}

// SafetyMargin is how long before the operation timeout the agent gives up:
// a tenth of it, at least 200 ms and at most 2 s.
func SafetyMargin(timeout time.Duration) time.Duration {
	m := timeout / 10
	if m < 200*time.Millisecond {
		m = 200 * time.Millisecond
	}
	if m > 2*time.Second {
		m = 2 * time.Second
	}
	if m > timeout/2 {
		m = timeout / 2
	}
	return m
}
