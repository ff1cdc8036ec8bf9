package runstate

import (
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kinds are the records the agent keeps (internal/agent: claim,
// cloudcheck, moved, lost).
var kinds = []string{"claim", "cloudcheck", "moved", "lost"}

// FuzzRecords checks the records kept under /run/resource-agents for any
// id and content: a record reads back byte for byte as one file directly
// in the state directory (an id cannot lead outside it), with nothing
// left behind; it fails only for an id the file system cannot name (a NUL
// byte, a name over 255 bytes); two addresses never share a record;
// deleting is final and idempotent. The announcer's PID record names a
// live process only when it holds that PID (and never one without the
// marks asked for), a PID written reads back, and Remove removes the
// record only when it names the PID given.
func FuzzRecords(f *testing.F) {
	for _, s := range []struct {
		id, id2 string
		kind    uint8
		data    string
		pidFile string
		pid     int
	}{
		{"192.0.2.10", "192.0.2.11", 0, "", "12345\n", 12345},
		{"2001:db8::10", "2001:db8::11", 1, `{"where":1,"other":"droplet 42"}`, "1\n", 1},
		{"2001:db8::10", "2001:db8::10", 2, "2026-12-02T07:46:00.123456789Z\n", " 42 ", 42},
		{"fe80::1", "fe80::2", 3, `{"where":1,"other":"VNIC ocid1.vnic.oc1.phx.b"}`, "+42\n", 42},
		{"linode-101-share", "192.0.2.10", 0, "x", "0", 0},
		{"../../etc/passwd", "..", 1, "root::0:0", "-1", -1},
		{"a/b:c", "a_b_c", 2, "", "", 0},
		{"nul\x00byte", "x", 3, "data", "abc", 0},
		{strings.Repeat("a", 240), strings.Repeat("b", 255), 0, "long", "99999999999999999999", 0},
	} {
		f.Add(s.id, s.id2, s.kind, []byte(s.data), []byte(s.pidFile), s.pid)
	}
	root := f.TempDir()
	d := Dir(filepath.Join(root, "resource-agents"))
	f.Fuzz(func(t *testing.T, id, id2 string, k uint8, data, pidFile []byte, pid int) {
		kind := kinds[int(k)%len(kinds)]
		nameable := func(id, suffix string) bool {
			return !strings.ContainsRune(id, 0) && len(filepath.Base(d.path(id, suffix))) <= 255
		}
		entries := func() []string {
			var names []string
			es, _ := os.ReadDir(string(d))
			for _, e := range es {
				names = append(names, e.Name())
			}
			return names
		}
		if top, _ := os.ReadDir(root); len(top) > 1 {
			t.Fatalf("something outside the state directory: %v", top)
		}
		err := d.Put(id, kind, data)
		if (err == nil) != nameable(id, "."+kind+".tmp") {
			t.Fatalf("Put(%q, %s): %v", id, kind, err)
		}
		if err != nil {
			if names := entries(); len(names) != 0 {
				t.Fatalf("Put(%q) failed and left %v", id, names)
			}
			return
		}
		got, at, err := d.Get(id, kind)
		if err != nil || !bytes.Equal(got, data) || time.Since(at) > time.Minute {
			t.Fatalf("Get(%q, %s) = %q, %v, %v; put %q", id, kind, got, at, err, data)
		}
		if names := entries(); len(names) != 1 || names[0] != filepath.Base(d.path(id, "."+kind)) {
			t.Fatalf("Put(%q, %s) made %v in the state directory", id, kind, names)
		}
		if top, _ := os.ReadDir(root); len(top) != 1 {
			t.Fatalf("Put(%q) wrote outside the state directory: %v", id, top)
		}

		// Two addresses (as the agent names them) never share a record.
		a1, err1 := netip.ParseAddr(id)
		a2, err2 := netip.ParseAddr(id2)
		if err1 == nil && err2 == nil && a1.String() == id && a2.String() == id2 && id != id2 {
			if err := d.Put(id2, kind, append([]byte("other "), data...)); err != nil {
				t.Fatal(err)
			}
			if got, _, err := d.Get(id, kind); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%q's record changed to %q, %v when %q's was written", id, got, err, id2)
			}
			if err := d.Del(id2, kind); err != nil {
				t.Fatal(err)
			}
		}

		// The announcer's PID record.
		if nameable(id, ".announce.pid") {
			if err := os.WriteFile(d.PIDFile(id), pidFile, 0o644); err != nil {
				t.Fatal(err)
			}
			want, aerr := strconv.Atoi(strings.TrimSpace(string(pidFile)))
			if r := d.Running(id); r != 0 {
				if _, serr := os.Stat("/proc/" + strconv.Itoa(r)); aerr != nil || r != want || r <= 1 || serr != nil {
					t.Fatalf("PID record %q: Running says %d", pidFile, r)
				}
			}
			if r := d.Running(id, "floatip-fuzz-\x01-no-process-has-this"); r != 0 {
				t.Fatalf("PID record %q: Running says %d without its mark", pidFile, r)
			}
			d.Remove(id, pid)
			_, serr := os.Stat(d.PIDFile(id))
			if gone := errors.Is(serr, fs.ErrNotExist); gone != (strings.TrimSpace(string(pidFile)) == strconv.Itoa(pid)) {
				t.Fatalf("PID record %q, Remove(%d): removed %v", pidFile, pid, gone)
			}
			if err := d.WritePID(id, os.Getpid()); err != nil {
				t.Fatal(err)
			}
			if r := d.Running(id, os.Args[0]); r != os.Getpid() {
				t.Fatalf("WritePID(%d): Running says %d", os.Getpid(), r)
			}
			d.Remove(id, os.Getpid())
			if _, err := os.Stat(d.PIDFile(id)); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Remove(%d) after WritePID: %v", os.Getpid(), err)
			}
		}

		if err := d.Del(id, kind); err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.Get(id, kind); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Get after Del(%q): %v", id, err)
		}
		if err := d.Del(id, kind); err != nil {
			t.Fatalf("a second Del(%q): %v", id, err)
		}
		if names := entries(); len(names) != 0 {
			t.Fatalf("left behind: %v", names)
		}
	})
}
