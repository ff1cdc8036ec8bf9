//go:build packagetest

// Package pkgtest installs, upgrades and removes floatip's packages on this
// machine (root): make package-test, run last by make test, which purges
// the package and runs make install again at the end.
package pkgtest

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/nstest"
)

const (
	repo  = "../.."
	agent = "/usr/lib/ocf/resource.d/cloudvip/floatip"
)

func run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pkgs builds the packages into dir (make package) and returns the .deb
// and .rpm per architecture.
func pkgs(t *testing.T, dir string, extra ...string) map[string]string {
	t.Helper()
	run(t, append([]string{"make", "-s", "package", "DIST=" + dir}, extra...)...)
	out := map[string]string{}
	for _, pat := range []string{"*_amd64.deb", "*_arm64.deb", "*.x86_64.rpm", "*.aarch64.rpm"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		if len(m) == 1 {
			out[pat] = m[0]
		}
	}
	return out
}

func TestPackages(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: installs the package with dpkg (CI runs this as root)")
	}
	for _, tool := range []string{"dpkg", "lintian", "rpm", "qemu-aarch64-static", "man", "pcs", "ocf-tester"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (make deps / .ci/run install it)", tool)
		}
	}
	_, etcBefore := os.Stat("/etc/cloudvip")
	t.Cleanup(func() {
		_ = exec.Command("dpkg", "-P", "floatip").Run() // gone already is fine
		os.Remove("/etc/cloudvip/digitalocean.token")
		if os.IsNotExist(etcBefore) {
			os.RemoveAll("/etc/cloudvip")
		}
		if out, err := exec.Command("make", "-C", repo, "-s", "install").CombinedOutput(); err != nil {
			t.Errorf("make install after the package tests: %v\n%s", err, out)
		}
	})
	a, b := t.TempDir(), t.TempDir()
	p := pkgs(t, a)
	if len(p) != 4 {
		t.Fatalf("make package built %v, want a .deb and a .rpm for amd64 and arm64", p)
	}
	t.Run("reproducible", func(t *testing.T) { reproducible(t, a, b) })
	t.Run("lintian", func(t *testing.T) {
		out, err := exec.Command("lintian", "--fail-on", "error,warning", "--display-info", p["*_amd64.deb"]).CombinedOutput()
		t.Logf("lintian:\n%s", out)
		if err != nil {
			t.Fatalf("lintian: %v", err)
		}
	})
	t.Run("rpm matches deb", func(t *testing.T) { rpmMatchesDeb(t, p["*_amd64.deb"], p["*.x86_64.rpm"]) })
	t.Run("arm64", func(t *testing.T) { arm64(t, filepath.Join(a, "arm64", "floatip")) })
	version := strings.TrimSpace(run(t, "dpkg-deb", "-f", p["*_amd64.deb"], "Version"))
	t.Run("install", func(t *testing.T) { installed(t, p["*_amd64.deb"], version) })
	t.Run("upgrade with a VIP running", func(t *testing.T) {
		up := pkgs(t, t.TempDir(), "VERSION="+version+"+up1", "ARCHES=amd64")
		upgrade(t, up["*_amd64.deb"], version+"+up1")
	})
	t.Run("remove and purge", removeAndPurge)
}

// reproducible: a second build of the same commit gives the same bytes.
func reproducible(t *testing.T, a, b string) {
	pkgs(t, b)
	sa, _ := os.ReadFile(filepath.Join(a, "SHA256SUMS"))
	sb, _ := os.ReadFile(filepath.Join(b, "SHA256SUMS"))
	if len(sa) == 0 || !bytes.Equal(sa, sb) {
		t.Fatalf("two builds differ:\n%s\n%s", sa, sb)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		x, _ := os.ReadFile(filepath.Join(a, arch, "floatip"))
		y, _ := os.ReadFile(filepath.Join(b, arch, "floatip"))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Fatalf("two %s binaries differ", arch)
		}
	}
}

// rpmMatchesDeb: the same paths, modes and link targets, and neither has
// maintainer scripts; the .deb alone carries Debian's changelog and the
// lintian overrides.
func rpmMatchesDeb(t *testing.T, deb, rpm string) {
	debOnly := []string{"/usr/share/doc/floatip/changelog.gz", "/usr/share/lintian/overrides/floatip"}
	var dl []string
	for _, l := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(l)
		if strings.HasPrefix(f[0], "d") && f[5] != "./etc/cloudvip/" && f[5] != "./etc/cloudvip/keepalived/" {
			continue // directories dpkg creates on the way
		}
		path := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")
		if slices.Contains(debOnly, path) {
			continue
		}
		mode := f[0]
		if strings.HasPrefix(mode, "l") {
			mode = "l -> " + f[7]
		}
		dl = append(dl, path+" "+mode)
	}
	var rl []string
	for _, l := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--qf", `[%{FILENAMES} %{FILEMODES:perms} %{FILELINKTOS}\n]`, rpm)), "\n") {
		f := strings.Fields(l)
		mode := f[1]
		if strings.HasPrefix(mode, "l") {
			mode = "l -> " + f[2]
		}
		rl = append(rl, f[0]+" "+mode)
	}
	slices.Sort(dl)
	slices.Sort(rl)
	if !slices.Equal(dl, rl) {
		t.Fatalf("file lists differ:\n.deb:\n%s\n.rpm:\n%s", strings.Join(dl, "\n"), strings.Join(rl, "\n"))
	}
	if s := strings.TrimSpace(run(t, "rpm", "-qp", "--scripts", rpm)); s != "" {
		t.Fatalf("the .rpm has scriptlets, the .deb none:\n%s", s)
	}
	ctl := t.TempDir()
	run(t, "dpkg-deb", "-e", deb, ctl)
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		if _, err := os.Stat(filepath.Join(ctl, s)); err == nil {
			t.Fatalf("the .deb has a %s, the .rpm no scriptlet", s)
		}
	}
	t.Logf("%d entries in both, no maintainer scripts", len(dl))
}

// arm64: a static aarch64 ELF (no interpreter, no shared libraries) that
// answers meta-data under qemu.
func arm64(t *testing.T, bin string) {
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Fatalf("%s is for %v", bin, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("%s is dynamically linked (%v)", bin, p.Type)
		}
	}
	out := run(t, "qemu-aarch64-static", bin, "meta-data")
	if !strings.Contains(out, `<resource-agent name="floatip"`) || !strings.Contains(out, `name="keep_interval"`) {
		t.Fatalf("meta-data under qemu-aarch64-static:\n%.300s", out)
	}
}

// installed: dpkg -i; floatip version is the package's; pcs describes
// the agent; ocf-tester passes against the installed agent in a
// namespace; man renders both pages without a warning.
func installed(t *testing.T, deb, version string) {
	run(t, "dpkg", "-i", deb)
	if got := strings.TrimSpace(run(t, "/usr/sbin/floatip", "version")); got != "floatip "+version {
		t.Fatalf("floatip version: %q, want %q", got, "floatip "+version)
	}
	if md := run(t, agent, "meta-data"); !strings.Contains(md, `version="`+version+`"`) {
		t.Fatalf("meta-data does not carry version %s", version)
	}
	if out := run(t, "pcs", "resource", "describe", "ocf:cloudvip:floatip"); !strings.Contains(out, "keep_interval") {
		t.Fatalf("pcs resource describe:\n%s", out)
	}
	p := nstest.NewPair(t, "192.0.2.1/24", "", "192.0.2.2/24", "")
	cmd := exec.Command("ip", "netns", "exec", p.Node, "ocf-tester", "-n", "vip", "-o", "ip=192.0.2.71", "-o", "arp_count=2", agent)
	cmd.Env = append(os.Environ(), "HA_RSCTMP="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Fatalf("ocf-tester against the installed agent: %v\n%s", err, out)
	}
	for _, page := range []string{"/usr/share/man/man7/ocf_cloudvip_floatip.7.gz", "/usr/share/man/man8/floatip.8.gz", "/usr/share/man/man8/floatip-ucarp-up.8.gz"} {
		cmd := exec.Command("man", "--warnings", "-l", page)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "PAGER=cat")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 || !bytes.Contains(out, []byte(version)) {
			t.Fatalf("man -l %s: %v, warnings:\n%s", page, err, stderr.String())
		}
	}
}

// upgrade installs a higher version while a VIP is bound and its announcer
// still sends: monitor and stop answer 0 afterwards, and stop ends the
// announcer.
func upgrade(t *testing.T, deb, version string) {
	p := nstest.NewPair(t, "192.0.2.1/24", "", "192.0.2.2/24", "")
	state := t.TempDir()
	call := func(action string) int {
		cmd := exec.Command("ip", "netns", "exec", p.Node, agent, action)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HA_RSCTMP=" + state, "OCF_ROOT=/usr/lib/ocf",
			"OCF_RESKEY_ip=192.0.2.72", "OCF_RESKEY_arp_count=60", "OCF_RESKEY_arp_interval=500", "OCF_RESOURCE_INSTANCE=vip"}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			t.Logf("%s: exit %d\n%s", action, ee.ExitCode(), out)
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	if rc := call("start"); rc != 0 {
		t.Fatalf("start: %d", rc)
	}
	pidFile := filepath.Join(state, "floatip-192.0.2.72.announce.pid")
	pid, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("no announcer running before the upgrade: %v", err)
	}
	run(t, "dpkg", "-i", deb)
	if got := strings.TrimSpace(run(t, agent, "version")); got != "floatip "+version {
		t.Fatalf("after the upgrade: %q, want floatip %s", got, version)
	}
	if _, err := os.Stat("/proc/" + strings.TrimSpace(string(pid))); err != nil {
		t.Fatalf("the announcer (PID %s) did not survive the upgrade", pid)
	}
	if rc := call("monitor"); rc != 0 {
		t.Fatalf("monitor after the upgrade: %d, want 0", rc)
	}
	if rc := call("stop"); rc != 0 {
		t.Fatalf("stop after the upgrade: %d, want 0", rc)
	}
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat("/proc/" + strings.TrimSpace(string(pid))); err != nil {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the announcer (PID %s) outlived stop after the upgrade", pid)
		}
	}
}

// removeAndPurge: dpkg -r leaves only the configuration files; dpkg -P
// removes them but not a token file an admin added.
func removeAndPurge(t *testing.T) {
	token := "/etc/cloudvip/digitalocean.token"
	if err := os.WriteFile(token, []byte("dop_v1_admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "dpkg", "-r", "floatip")
	for _, gone := range []string{agent, "/usr/sbin/floatip", "/usr/sbin/floatip-ucarp-up", "/usr/share/man/man8/floatip.8.gz", "/usr/share/doc/floatip"} {
		if _, err := os.Lstat(gone); err == nil {
			t.Errorf("dpkg -r left %s", gone)
		}
	}
	for _, kept := range []string{"/etc/cloudvip/vip.conf.example", "/etc/cloudvip/keepalived/VI_1.conf.example", token} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("dpkg -r removed %s", kept)
		}
	}
	if st := run(t, "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "floatip"); !regexp.MustCompile(`^rc`).MatchString(st) {
		t.Errorf("after dpkg -r the package is %q, want rc (config files only)", st)
	}
	run(t, "dpkg", "-P", "floatip")
	for _, gone := range []string{"/etc/cloudvip/vip.conf.example", "/etc/cloudvip/keepalived/VI_1.conf.example"} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("dpkg -P left %s", gone)
		}
	}
	if b, err := os.ReadFile(token); err != nil || string(b) != "dop_v1_admin\n" {
		t.Errorf("dpkg -P removed or changed the admin's token file: %v", err)
	}
}
