package main_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/cloudvip/floatip/internal/agent"
	"github.com/cloudvip/floatip/internal/nstest"
)

// installed is where `make install` puts the agent; Pacemaker's tools only
// look under /usr/lib/ocf/resource.d.
const installed = "/usr/lib/ocf/resource.d/cloudvip/floatip"

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed (.ci/run installs it)", name)
	}
}

func TestOCFTester(t *testing.T) {
	needTool(t, "ocf-tester")
	for _, vip := range []string{"192.0.2.70", "2001:db8:1::70"} {
		t.Run(vip, func(t *testing.T) {
			p, state := lab(t)
			cmd := exec.Command("ip", "netns", "exec", p.Node, "ocf-tester", "-n", "vip", "-o", "ip="+vip, "-o", "arp_count=2", bin)
			cmd.Env = append(os.Environ(), "HA_RSCTMP="+state)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "passed all tests") {
				t.Fatalf("ocf-tester: %v\n%s", err, out)
			}
			if a := nstest.Addrs(t, p.Node, p.NodeIf); strings.Contains(a, vip+"/") {
				t.Fatalf("ocf-tester left %s bound:\n%s", vip, a)
			}
		})
	}
}

// TestValidateAsNobody runs validate-all level 0 as an unprivileged user
// with a nic this machine does not have: syntax only, so it succeeds.
func TestValidateAsNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to user nobody")
	}
	for _, tc := range []struct {
		ip string
		rc int
	}{{"192.0.2.9", 0}, {"192.0.2.300", 6}} {
		cmd := exec.Command(bin, "validate-all")
		cmd.Env = []string{"OCF_ROOT=/usr/lib/ocf", "OCF_RESKEY_ip=" + tc.ip, "OCF_RESKEY_nic=nosuchnic9", "OCF_RESKEY_cidr_netmask=24"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		rc := 0
		if ee, ok := err.(*exec.ExitError); ok {
			rc = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if rc != tc.rc {
			t.Fatalf("validate-all ip=%s as nobody: rc %d, want %d\n%s", tc.ip, rc, tc.rc, out)
		}
	}
	cmd := exec.Command(bin, "meta-data")
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("meta-data as nobody with an empty environment: %v\n%s", err, out)
	}
}

// requireInstalled fails unless `make install` put this very agent where
// Pacemaker's tools look (make test installs before testing).
var agentVersion = regexp.MustCompile(`(<resource-agent name="floatip") version="[^"]*"`)

func requireInstalled(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the tools read the agent from " + installed)
	}
	st, err := os.Stat(installed)
	if err != nil {
		t.Fatalf("%v: run `make install` first (`make test` does)", err)
	}
	if st.Mode().Perm() != 0o755 {
		t.Fatalf("%s has mode %v, want 0755", installed, st.Mode().Perm())
	}
	// make install stamps its version (0.3.0~git...) through -ldflags; the
	// rest of the meta-data must be this build's.
	a, _ := exec.Command(installed, "meta-data").Output()
	b, _ := exec.Command(bin, "meta-data").Output()
	if agentVersion.ReplaceAllString(string(a), "$1") != agentVersion.ReplaceAllString(string(b), "$1") {
		t.Fatalf("%s is not this build (meta-data differs): run `make install`", installed)
	}
}

func TestCrmResourceValidate(t *testing.T) {
	needTool(t, "crm_resource")
	requireInstalled(t)
	run := func(opts ...string) (int, string) {
		args := []string{"--validate", "--class", "ocf", "--provider", "cloudvip", "--agent", "floatip"}
		for _, o := range opts {
			args = append(args, "--option", o)
		}
		out, err := exec.Command("crm_resource", args...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		return 0, string(out)
	}
	if rc, out := run("ip=192.0.2.80", "cidr_netmask=24", "nic=nosuchnic9"); rc != 0 {
		t.Fatalf("valid options: rc %d\n%s", rc, out)
	}
	rc, out := run("ip=192.0.2.80", "arp_count=abc")
	if rc == 0 || !strings.Contains(out, "arp_count=abc is not an integer") {
		t.Fatalf("bad arp_count: rc %d\n%s", rc, out)
	}
}

// describeTools checks that pcs and crmsh list every parameter.
func TestPcsAndCrmDescribe(t *testing.T) {
	requireInstalled(t)
	for _, tool := range [][]string{
		{"pcs", "resource", "describe", "ocf:cloudvip:floatip"},
		{"crm", "ra", "info", "ocf:cloudvip:floatip"},
	} {
		t.Run(tool[0], func(t *testing.T) {
			needTool(t, tool[0])
			out, err := exec.Command(tool[0], tool[1:]...).CombinedOutput()
			if err != nil || strings.Contains(string(out), "ERROR") {
				t.Fatalf("%s: %v\n%s", strings.Join(tool, " "), err, out)
			}
			for _, p := range agent.Specs() {
				if !strings.Contains(string(out), p.Name) {
					t.Fatalf("%s does not show parameter %s:\n%s", tool[0], p.Name, out)
				}
			}
		})
	}
}

// stop as a user who cannot take the lock under the state directory: 0 when
// nothing is bound (the README's promise), 1 when the address is there and
// cannot be removed.
func TestStopAsNobody(t *testing.T) {
	p, state := lab(t)
	if err := os.Chmod(state, 0o755); err != nil {
		t.Fatal(err)
	}
	params := map[string]string{"ip": "192.0.2.53"}
	asNobody := func(action string) result {
		return call(t, p.Node, state, action, params, "FLOATIP_TEST_AS=nobody")
	}
	want(t, asNobody("stop"), 0, "stop as nobody with nothing bound")
	want(t, call(t, p.Node, state, "start", params), 0, "start as root")
	r := asNobody("stop")
	want(t, r, 1, "stop as nobody with the address bound")
	if !strings.Contains(nstest.Addrs(t, p.Node, p.NodeIf), "192.0.2.53/24") {
		t.Fatal("the address went away")
	}
	want(t, call(t, p.Node, state, "stop", params), 0, "stop as root")
}
