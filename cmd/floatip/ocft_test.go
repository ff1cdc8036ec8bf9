package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cloudvip/floatip/internal/nstest"
)

// ocftConfigs is where Debian's resource-agents ships ocft's suites.
const ocftConfigs = "/usr/share/resource-agents/ocft/configs"

// difference is a case where floatip answers otherwise than the suite
// expects of IPaddr2, and why. README.md's "Differences from IPaddr2"
// lists the same cases.
type difference struct {
	suite string
	num   int    // the suite's "CASE No.N"
	from  string // the line the suite has
	to    string // what floatip does instead (lines)
	why   string
}

var differences = []difference{
	{"IPaddr2v4", 8, "AgentRun start OCF_ERR_GENERIC", "AgentRun start OCF_ERR_INSTALLED", "ip outside every on-link subnet: a missing local prerequisite (5), so only this node is banned"},
	{"IPaddr2v4", 9, "AgentRun start OCF_ERR_GENERIC", "AgentRun start OCF_ERR_INSTALLED", "nic has no on-link route containing ip and no cidr_netmask: 5"},
	{"IPaddr2v4", 10, "AgentRun start OCF_ERR_GENERIC", "AgentRun start OCF_ERR_CONFIGURED", "cidr_netmask wider than the on-link route: refused as IPaddr2 does, as a configuration error (6)"},
	{"IPaddr2v4", 12, "AgentRun start OCF_ERR_GENERIC", "AgentRun start OCF_ERR_INSTALLED", "nic without an on-link route containing ip: 5"},
	{"IPaddr2v4", 15, "AgentRun start OCF_ERR_GENERIC", "AgentRun start OCF_ERR_INSTALLED", "no on-link route containing ip: 5"},
	{"IPaddr2v4", 19, "AgentRun start OCF_ERR_GENERIC", "AgentRun start OCF_ERR_INSTALLED", "no on-link route containing ip: 5"},
	{"IPaddr2v6", 6, "AgentRun start OCF_ERR_GENERIC", "AgentRun start OCF_ERR_INSTALLED", "ip outside every on-link subnet: 5"},
	{"IPaddr2v6", 10, "AgentRun start OCF_ERR_GENERIC", "AgentRun start OCF_ERR_INSTALLED", "nic without an on-link route containing ip: 5"},
	{"IPaddr2v6", 11, "AgentRun start OCF_ERR_GENERIC", "AgentRun start OCF_ERR_INSTALLED", "nic has no on-link route containing ip and no cidr_netmask: 5"},
	{"IPaddr2v6", 13, "AgentRun start OCF_ERR_GENERIC", "AgentRun start OCF_SUCCESS\n\tInclude check_ip_assigned\n\tAgentRun stop OCF_SUCCESS", "a narrower prefix (/80 inside the /64) is bound as given, as for IPv4; only a wider one is refused"},
	{"IPaddr2v6", 14, "AgentRun start OCF_ERR_GENERIC", "AgentRun start OCF_ERR_CONFIGURED", "cidr_netmask wider than the on-link route: 6"},
	{"IPaddr2v6", 15, "AgentRun start OCF_ERR_GENERIC", "AgentRun start OCF_ERR_INSTALLED", "no on-link route containing ip: 5"},
}

// ocftAddresses moves the v4 suite into the documentation ranges the lab
// may use (interfaces.md); the v6 suite already uses 2001:db8::/32.
var ocftAddresses = strings.NewReplacer(
	"192.168.144.", "192.0.2.",
	"192.168.120.1", "198.51.100.1",
	"192.168.255.255", "192.0.255.255",
)

// TestIPaddr2OCFT runs IPaddr2's own ocft suites (Debian's resource-agents)
// against floatip in a namespace with eth0 and eth1: every case passes as
// written except the documented differences, which must be exactly what
// floatip does.
func TestIPaddr2OCFT(t *testing.T) {
	needTool(t, "ocft")
	for _, suite := range []string{"IPaddr2v4", "IPaddr2v6"} {
		t.Run(suite, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(ocftConfigs, suite))
			if err != nil {
				t.Skipf("no ocft suite %s: %v (Debian's resource-agents ships it)", suite, err)
			}
			name := "floatip" + strings.TrimPrefix(suite, "IPaddr2")
			dir := t.TempDir()
			cfg := ocftConfig(t, suite, string(src))
			if err := os.WriteFile(filepath.Join(dir, name), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			ns := ocftNamespace(t)
			if out, err := exec.Command("ocft", "make", "-d", dir, name).CombinedOutput(); err != nil {
				t.Fatalf("ocft make: %v\n%s", err, out)
			}
			t.Cleanup(func() { exec.Command("ocft", "clean", name).Run() })
			test := exec.Command("ip", "netns", "exec", ns, "ocft", "test", name)
			test.Env = append(os.Environ(), "PATH="+quickSleep(t)+":"+os.Getenv("PATH"),
				"OCF_RESKEY_CRM_meta_timeout=20000") // the suite's 20 s, as without quickSleep
			out, _ := test.CombinedOutput()
			text := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(string(out), "")
			if strings.Contains(text, "FAILED") || strings.Contains(text, "ERROR:") || !strings.Contains(text, "OK") {
				t.Fatalf("ocft %s:\n%s", suite, text)
			}
		})
	}
}

// ocftConfig turns IPaddr2's suite into floatip's: the agent, the address
// ranges and the documented differences.
func ocftConfig(t *testing.T, suite, src string) string {
	src = strings.Replace(src, "\tAgent IPaddr2\n", "\tAgent floatip\n", 1)
	src = regexp.MustCompile(`(?m)^\tAgentRoot .*$`).ReplaceAllString(src, "\tAgentRoot "+filepath.Dir(installed))
	src = ocftAddresses.Replace(src)
	// 1000 polls of 20 ms (quickSleep): the suite's 20 s hang timeout.
	src = strings.Replace(src, "\tHangTimeout 20\n", "\tHangTimeout 1000\n", 1)
	for _, d := range differences {
		if d.suite != suite {
			continue
		}
		head := fmt.Sprintf("# CASE No.%d\n", d.num)
		i := strings.Index(src, head)
		if i < 0 {
			t.Fatalf("%s has no case %d", suite, d.num)
		}
		end := strings.Index(src[i+len(head):], "# CASE No.")
		if end < 0 {
			end = len(src) - i - len(head)
		}
		block := src[i : i+len(head)+end]
		if !strings.Contains(block, "\t"+d.from+"\n") {
			t.Fatalf("%s case %d has no line %q: the suite changed", suite, d.num, d.from)
		}
		src = src[:i] + strings.Replace(block, "\t"+d.from+"\n", "\t# floatip: "+d.why+"\n\t"+d.to+"\n", 1) + src[i+len(block):]
	}
	return src
}

// quickSleep returns a directory with a sleep that turns ocft's "sleep 1"
// (its poll for the agent's exit, at least once per agent run) into 20 ms:
// the cases and their checks are unchanged, the suites take seconds per
// case less. ocftConfig raises HangTimeout (a count of polls) to match.
func quickSleep(t *testing.T) string {
	dir := t.TempDir()
	script := "#!/bin/sh\n[ \"$*\" = 1 ] && exec /bin/sleep 0.02\nexec /bin/sleep \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "sleep"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ocftNamespace is a namespace with eth0 and eth1, each one end of a veth
// pair whose other end is up in the same namespace (so both have a carrier).
func ocftNamespace(t *testing.T) string {
	nstest.RequireRoot(t)
	ns := fmt.Sprintf("fipocft%d", os.Getpid()%100000)
	nstest.Run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, l := range []string{"eth0", "eth1"} {
		nstest.Run(t, "ip", "-n", ns, "link", "add", l, "type", "veth", "peer", "name", l+"p")
		nstest.Run(t, "ip", "-n", ns, "link", "set", l+"p", "up")
		nstest.Run(t, "ip", "-n", ns, "link", "set", l, "up")
	}
	nstest.Run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}
