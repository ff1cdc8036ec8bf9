package agent

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cloudvip/floatip/ocf"
)

// Corrupt or truncated records under the state directory: each one's
// documented outcome (README, "Node-local state").
func TestCorruptRecords(t *testing.T) {
	for _, c := range []struct {
		name, file, content string
		action              string
		env                 []string
		want                ocf.Status
		log                 string // in the log
	}{
		// The claim record is what monitor trusts: one start did not write
		// is "not running" (Pacemaker recovers; start writes it anew).
		{"claim garbage", "floatip-203.0.113.10.claim", "\x00\xffgarbage", "monitor", []string{recurring}, ocf.NotRunning, "claim record in"},
		{"claim truncated", "floatip-203.0.113.10.claim", "", "monitor", []string{recurring}, ocf.NotRunning, "corrupt"},
		{"claim half", "floatip-203.0.113.10.claim", "provider=digitalocean\nclai", "monitor", []string{recurring}, ocf.NotRunning, "corrupt"},
		{"claim other provider", "floatip-203.0.113.10.claim", "provider=oci\nclaimed=2026-12-02T07:00:00Z\n", "monitor", nil, ocf.NotRunning, "want provider=digitalocean"},
		{"claim, then stop", "floatip-203.0.113.10.claim", "", "stop", nil, ocf.Success, ""},
		// Caches and hints are asked again or ignored.
		{"cloud check", "floatip-203.0.113.10.cloudcheck", "{\"where\":", "monitor", []string{recurring, depth10}, ocf.Success, ""},
		// {} would decode as "here": asked again, and the cloud says elsewhere.
		{"cloud check empty", "floatip-203.0.113.10.cloudcheck", "{}", "moved away, monitor", []string{recurring, depth10}, ocf.NotRunning, "taken by droplet 102"},
		{"cloud check null", "floatip-203.0.113.10.cloudcheck", "null", "moved away, monitor", []string{recurring, depth10}, ocf.NotRunning, "taken by droplet 102"},
		{"lost", "floatip-203.0.113.10.lost", "not json", "start", nil, ocf.Success, "unreadable lost record"},
		{"moved", "floatip-203.0.113.10.moved", "\x00", "start", nil, ocf.Success, ""},
		{"announcer PID", "floatip-203.0.113.10.announce.pid", "-1x", "stop", nil, ocf.Success, ""},
		{"droplet id cache", "floatip-digitalocean.droplet-id", "{", "start", nil, ocf.Success, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := digitalOceanCloud(t)
			n := cloudNode(t, cl, cl.ip)
			n.params["takeback_guard"] = "600"
			n.want(t, "start", ocf.Success)
			if err := os.WriteFile(filepath.Join(string(n.state), c.file), []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			action := c.action
			if a, ok := strings.CutPrefix(action, "moved away, "); ok {
				cl.moveAway()
				action = a
			}
			n.params["cloud_check_interval"] = "600"
			if log := n.want(t, action, c.want, c.env...); !strings.Contains(log, c.log) {
				t.Fatalf("%s: the log does not say %q:\n%s", action, c.log, log)
			}
			if c.action == "stop" {
				n.want(t, "monitor", ocf.NotRunning)
				if _, err := os.Stat(filepath.Join(string(n.state), "floatip-203.0.113.10.claim")); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("stop left the claim record: %v", err)
				}
			}
		})
	}
}

// mountTmpfs mounts a small tmpfs on dir for the test's life (root).
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a tmpfs as the state directory (CI runs this as root)")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "floatip-test", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// A read-only state directory: start refuses before the cloud (5), a
// running address keeps being monitored, and stop succeeds (the address
// and announcer go) though the claim record stays, saying so.
func TestReadOnlyStateDir(t *testing.T) {
	for _, name := range []string{"digitalocean", "oci"} {
		t.Run(name, func(t *testing.T) {
			cl := map[string]func(*testing.T) cloud{"digitalocean": digitalOceanCloud, "oci": ociCloud}[name](t)
			n := cloudNode(t, cl, cl.ip)
			mountTmpfs(t, string(n.state))
			n.want(t, "start", ocf.Success)
			if out, err := exec.Command("mount", "-o", "remount,ro", string(n.state)).CombinedOutput(); err != nil {
				t.Fatalf("remount ro: %v: %s", err, out)
			}
			n.want(t, "monitor", ocf.Success, recurring)
			n.want(t, "monitor", ocf.Success, recurring, depth10)
			log := n.want(t, "stop", ocf.Success)
			if !strings.Contains(log, "claim record stays") || !strings.Contains(log, "read-only file system") {
				t.Fatalf("stop did not say why the claim record stays:\n%s", log)
			}
			if cl.bound != "" && n.net.bound() != "" {
				t.Fatalf("stop left the address bound: %v", n.net.bound())
			}
			cl.moveAway()
			cl.fake.ResetCounts()
			log = n.want(t, "start", ocf.ErrInstalled)
			if !strings.Contains(log, "not writable") || cl.fake.Count(cl.api) != 0 {
				t.Fatalf("start on a read-only state directory called the API %d times:\n%s", cl.fake.Count(cl.api), log)
			}
		})
	}
}

// A full state directory: start refuses before the cloud (5) and binds
// nothing; monitor and stop of a running address still succeed.
func TestFullStateDir(t *testing.T) {
	cl := ociCloud(t)
	n := cloudNode(t, cl, cl.ip)
	mountTmpfs(t, string(n.state))
	n.want(t, "start", ocf.Success)
	fill(t, string(n.state))
	n.want(t, "monitor", ocf.Success, recurring, depth10)
	n.want(t, "stop", ocf.Success)
	fill(t, string(n.state)) // what stop removed made room
	cl.moveAway()
	cl.fake.ResetCounts()
	log := n.want(t, "start", ocf.ErrInstalled)
	if !strings.Contains(log, "no space left") || cl.fake.Count(cl.api) != 0 || n.net.bound() != "" {
		t.Fatalf("start on a full state directory: %d API calls, addresses %v:\n%s", cl.fake.Count(cl.api), n.net.bound(), log)
	}
	if ents, _ := os.ReadDir(string(n.state)); len(ents) > 3 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Logf("state directory after the failed start: %v", names)
	}
}

// fill writes to dir until it is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.CreateTemp(dir, "fill")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for err == nil {
		_, err = f.Write(make([]byte, 4096))
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling %s: %v", dir, err)
	}
}
