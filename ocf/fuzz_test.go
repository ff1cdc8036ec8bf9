package ocf

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzEnv builds an Env from what Pacemaker (or a person) may put in the
// environment and checks the promises the agent relies on: a positive
// timeout (the one given, when it is a positive number of milliseconds),
// a deadline after the start and before the timeout, a non-negative
// interval and check level, a probe exactly when a monitor has no
// interval, and an exit reason that Pacemaker reads back as one line: the
// reason with its newlines folded, never cut or mixed with the log line.
func FuzzEnv(f *testing.F) {
	for _, s := range [][8]string{
		{"monitor", "20000", "10000", "", "", "vip", "", "vip is not running"},
		{"monitor", "20000", "0", "10", "", "vip", "", "2001:db8::10: the cloud says taken by droplet 42 (cached answer)"},
		{"start", "", "", "", "10", "", "ocf-exit-reason:", "oci: no VNIC of this instance has a subnet containing 10.0.0.5"},
		{"stop", "1", "", "20", "", "rsc:0", "", "line one\nline two"},
		{"status", " 5000 ", "-1", "-10", "abc", "default", "X:", ""},
		{"validate-all", "9223372036854775807", "9223372036854775807", "9223372036854775807", "", "vip", "", "\n"},
		{"monitor", "9223372036854", "18446744073709", "0", "", "a\nb", "", "a\r\nb"},
		{"start", "0x10", "1e3", "+10", "", "", "", strings.Repeat("long ", 100)},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
	}
	f.Fuzz(func(t *testing.T, action, timeout, interval, level, oldLevel, instance, prefix, reason string) {
		vars := map[string]string{
			"OCF_RESKEY_CRM_meta_timeout": timeout, "OCF_RESKEY_CRM_meta_interval": interval,
			"OCF_CHECK_LEVEL": level, "OCF_RESKEY_OCF_CHECK_LEVEL": oldLevel,
			"OCF_RESOURCE_INSTANCE": instance, "OCF_EXIT_REASON_PREFIX": prefix,
		}
		e := FromLookup(action, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })

		if e.Timeout <= 0 {
			t.Fatalf("timeout %q: Timeout %v, want a positive duration", timeout, e.Timeout)
		}
		if ms, err := strconv.ParseInt(strings.TrimSpace(timeout), 10, 64); err == nil && ms > 0 && ms <= math.MaxInt64/int64(time.Millisecond) {
			if e.Timeout != time.Duration(ms)*time.Millisecond {
				t.Fatalf("timeout %q: Timeout %v, want %d ms", timeout, e.Timeout, ms)
			}
		} else if e.Timeout != DefaultTimeout {
			t.Fatalf("timeout %q (not a usable number of milliseconds): Timeout %v, want the default %v", timeout, e.Timeout, DefaultTimeout)
		}
		start := time.Unix(1_800_000_000, 0)
		if dl := e.Deadline(start); !dl.After(start) || dl.After(start.Add(e.Timeout)) {
			t.Fatalf("timeout %v: deadline %v after start, want within (0, %v]", e.Timeout, dl.Sub(start), e.Timeout)
		}
		if ms, err := strconv.ParseInt(strings.TrimSpace(interval), 10, 64); err == nil && ms > 0 && ms <= math.MaxInt64/int64(time.Millisecond) {
			if e.Interval != time.Duration(ms)*time.Millisecond {
				t.Fatalf("interval %q: Interval %v, want %d ms", interval, e.Interval, ms)
			}
		} else if e.Interval != 0 {
			t.Fatalf("interval %q (not a usable number of milliseconds): Interval %v, want 0", interval, e.Interval)
		}
		if e.Interval < 0 || e.CheckLevel < 0 {
			t.Fatalf("interval %q, level %q/%q: Interval %v, CheckLevel %d, want neither negative", interval, level, oldLevel, e.Interval, e.CheckLevel)
		}
		if e.IsProbe() != ((action == "monitor" || action == "status") && e.Interval == 0) {
			t.Fatalf("action %q interval %v: IsProbe %v", action, e.Interval, e.IsProbe())
		}
		if e.Instance == "" {
			t.Fatal("empty Instance")
		}

		// The exit reason, as Pacemaker reads it: the last stderr line that
		// starts with the prefix. (Pacemaker sets a one-line prefix.)
		if strings.Contains(prefix, "\n") {
			return
		}
		e.Facility = "" // stderr only: never this machine's syslog
		var w bytes.Buffer
		l := NewLogger("floatip", e, &w)
		l.ExitReason(reason)
		want := prefix
		if want == "" {
			want = "ocf-exit-reason:"
		}
		var got string
		found := false
		lines := strings.Split(w.String(), "\n")
		for _, line := range lines {
			if r, ok := strings.CutPrefix(line, want); ok {
				got, found = r, true
			}
		}
		if !found || got != strings.ReplaceAll(reason, "\n", " ") {
			t.Fatalf("exit reason %q: Pacemaker reads %q (found %v) from %q", reason, got, found, w.String())
		}
		if last := lines[len(lines)-2]; last != want+got || lines[len(lines)-1] != "" {
			t.Fatalf("exit reason %q: the output does not end with it on a line of its own: %q", reason, w.String())
		}
	})
}
