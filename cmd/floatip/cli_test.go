package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/agent"
	"github.com/cloudvip/floatip/internal/nstest"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/runstate"
)

// cli runs the binary with args in namespace ns ("" for the current one)
// with state as its state directory.
func cli(t *testing.T, ns, state string, args ...string) result {
	t.Helper()
	argv := append([]string{bin}, args...)
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HA_RSCTMP=" + state, provider.ForbidRealEndpoints + "=1"}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := result{stdout: so.String(), stderr: se.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.rc = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("%v killed by %v\n%s", args, ws.Signal(), r.stderr)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// up and down do what start and stop do, with the parameters as flags
// (either spelling) or from a root-only config file, flags winning.
func TestCLIUpDown(t *testing.T) {
	p, state := lab(t)
	want(t, cli(t, p.Node, state, "up", "--ip", "192.0.2.60", "--cidr_netmask", "25", "--arp-count", "1"), 0, "up")
	if a := nstest.Addrs(t, p.Node, p.NodeIf); !strings.Contains(a, "inet 192.0.2.60/25") {
		t.Fatalf("not bound after up:\n%s", a)
	}
	want(t, cli(t, p.Node, state, "up", "--ip", "192.0.2.60", "--cidr-netmask", "25", "--arp-count", "1"), 0, "up again")
	want(t, cli(t, p.Node, state, "down", "--ip", "192.0.2.60"), 0, "down")
	want(t, cli(t, p.Node, state, "down", "--ip", "192.0.2.60"), 0, "down again")
	if a := nstest.Addrs(t, p.Node, p.NodeIf); strings.Contains(a, "192.0.2.60") {
		t.Fatalf("still bound after down:\n%s", a)
	}

	cfg := filepath.Join(t.TempDir(), "vip.conf")
	os.WriteFile(cfg, []byte("# the VIP\nip = 192.0.2.61\ncidr-netmask=24\narp_count=1\n"), 0o600)
	want(t, cli(t, p.Node, state, "up", "--config", cfg, "--cidr-netmask", "26"), 0, "up from a config file")
	if a := nstest.Addrs(t, p.Node, p.NodeIf); !strings.Contains(a, "inet 192.0.2.61/26") {
		t.Fatalf("the flag did not win over the file:\n%s", a)
	}
	want(t, cli(t, p.Node, state, "down", "--config", cfg), 0, "down from a config file")
}

// up takes the same per-address lock as the OCF actions: while a start (or
// a hook) holds it, up waits for its timeout and fails without binding.
func TestCLISharesTheLock(t *testing.T) {
	p, state := lab(t)
	l, err := runstate.Dir(state).Lock(context.Background(), "192.0.2.62")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	t0 := time.Now()
	r := cli(t, p.Node, state, "up", "--ip", "192.0.2.62", "--timeout", "1s")
	want(t, r, 1, "up while the lock is held")
	if took := time.Since(t0); took > 3*time.Second || !strings.Contains(r.stderr, "held by another process") {
		t.Fatalf("after %v:\n%s", took, r.stderr)
	}
	if a := nstest.Addrs(t, p.Node, p.NodeIf); strings.Contains(a, "192.0.2.62") {
		t.Fatalf("bound while another action held the lock:\n%s", a)
	}
}

// Bad input: one line naming the problem, the OCF exit code, a verb's
// usage where the command line is wrong, and nothing changed.
func TestCLIBadInput(t *testing.T) {
	p, state := lab(t)
	dir := t.TempDir()
	writable := filepath.Join(dir, "writable.conf")
	os.WriteFile(writable, []byte("ip=192.0.2.63\n"), 0o600)
	os.Chmod(writable, 0o666)
	unknown := filepath.Join(dir, "unknown.conf")
	os.WriteFile(unknown, []byte("ip=192.0.2.63\n\ntoken=abc\n"), 0o600)
	before := nstest.AddrsSettled(t, p.Node, p.NodeIf)
	for _, tc := range []struct {
		args []string
		rc   int
		says string
	}{
		{[]string{"up", "--ip", "192.0.2.63", "--no-such-flag"}, 2, "unknown flag: --no-such-flag"},
		{[]string{"up", "--ip", "192.0.2.63", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"up"}, 6, "--ip is required"},
		{[]string{"down", "--timeout", "-1s", "--ip", "192.0.2.63"}, 2, "--timeout=-1s"},
		{[]string{"up", "--ip", "192.0.2.300"}, 6, "ip=192.0.2.300"},
		{[]string{"up", "--config", writable}, 4, "writable by group or others"},
		{[]string{"up", "--config", unknown}, 6, "line 3: token is not a parameter"},
		{[]string{"up", "--config", filepath.Join(dir, "absent.conf")}, 5, "does not exist"},
	} {
		r := cli(t, p.Node, state, tc.args...)
		if r.rc != tc.rc || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("%v: rc %d, want %d saying %q:\n%s", tc.args, r.rc, tc.rc, tc.says, r.stderr)
		}
		if tc.rc == 2 && !strings.Contains(r.stderr, "usage: floatip "+tc.args[0]) {
			t.Errorf("%v: no usage of the verb:\n%s", tc.args, r.stderr)
		}
	}
	if after := nstest.AddrsSettled(t, p.Node, p.NodeIf); after != before {
		t.Fatalf("bad input changed the node:\n%s\nwas:\n%s", after, before)
	}
}

func TestCLIVersionAndHelp(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := cli(t, "", t.TempDir(), args...)
		if r.rc != 0 || r.stdout != "floatip "+agent.Version+"\n" {
			t.Errorf("%v: rc %d, %q", args, r.rc, r.stdout)
		}
	}
	r := cli(t, "", t.TempDir(), "help")
	if r.rc != 0 || !strings.Contains(r.stdout, "floatip {up|down}") || !strings.Contains(r.stdout, "floatip {start|stop|monitor") {
		t.Errorf("help: rc %d\n%s", r.rc, r.stdout)
	}
	if r := cli(t, "", t.TempDir(), "up", "--help"); r.rc != 0 || !strings.Contains(r.stderr, "--cidr-netmask") {
		t.Errorf("up --help: rc %d\n%s", r.rc, r.stderr)
	}
	// An unknown first word stays OCF's answer: usage, exit 3.
	if r := cli(t, "", t.TempDir(), "sideways"); r.rc != 3 {
		t.Errorf("unknown first word: rc %d", r.rc)
	}
}

// flagsOf turns parameters into the verbs' flags.
func flagsOf(p map[string]string) []string {
	var out []string
	for k, v := range p {
		out = append(out, "--"+strings.ReplaceAll(k, "_", "-"), v)
	}
	return out
}

// show on a LAN: here after up, not here after down; --json says the same.
func TestCLIShowLAN(t *testing.T) {
	p, state := lab(t)
	want(t, cli(t, p.Node, state, "up", "--ip", "192.0.2.64", "--arp-count", "1"), 0, "up")
	r := cli(t, p.Node, state, "show", "--ip", "192.0.2.64")
	want(t, r, 0, "show after up")
	if !strings.Contains(r.stdout, "bound:     192.0.2.64/24 on "+p.NodeIf) || !strings.HasSuffix(r.stdout, "\nhere\n") {
		t.Fatalf("show after up:\n%s", r.stdout)
	}
	want(t, cli(t, p.Node, state, "down", "--ip", "192.0.2.64"), 0, "down")
	r = cli(t, p.Node, state, "show", "--ip", "192.0.2.64", "--json")
	want(t, r, 7, "show after down")
	var rep agent.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Here || rep.Verdict != "not here" || rep.Exit != 7 {
		t.Fatalf("show --json after down: %+v %v\n%s", rep, err, r.stdout)
	}
}

// show against the DigitalOcean fake: consistent here (0), inconsistent
// once another droplet took the IP (10), consistent after down (7, also
// where the cloud still routes the IP here: stop never unassigns); --local
// never asks; a refused token is the credential class (4).
func TestCLIShowDigitalOcean(t *testing.T) {
	l := newDOLab(t, 2)
	args := flagsOf(l.params("203.0.113.50"))
	show := func(node int, extra ...string) result {
		return cli(t, l.lan.Nodes[node], l.state[node], append(append([]string{"show"}, args...), extra...)...)
	}
	want(t, cli(t, l.lan.Nodes[0], l.state[0], append([]string{"up"}, args...)...), 0, "up on A")
	if r := show(0); r.rc != 0 || !strings.HasSuffix(r.stdout, "here; the cloud agrees\n") {
		t.Fatalf("A after up: rc %d\n%s%s", r.rc, r.stdout, r.stderr)
	}
	want(t, cli(t, l.lan.Nodes[1], l.state[1], append([]string{"up"}, args...)...), 0, "up on B")
	if r := show(0); r.rc != 10 || !strings.Contains(r.stdout, "here, but the cloud says taken by droplet 202") {
		t.Fatalf("A after B took it: rc %d\n%s%s", r.rc, r.stdout, r.stderr)
	}
	l.fake.ResetCounts()
	if r := show(0, "--local"); r.rc != 0 || l.fake.Count("") != 0 {
		t.Fatalf("--local: rc %d, %d requests\n%s", r.rc, l.fake.Count(""), r.stdout)
	}
	want(t, cli(t, l.lan.Nodes[0], l.state[0], append([]string{"down"}, args...)...), 0, "down on A")
	if r := show(0); r.rc != 7 || !strings.Contains(r.stdout, "not here; the cloud says taken by droplet 202") {
		t.Fatalf("A after down: rc %d\n%s", r.rc, r.stdout)
	}
	want(t, cli(t, l.lan.Nodes[1], l.state[1], append([]string{"down"}, args...)...), 0, "down on B")
	if r := show(1); r.rc != 7 || !strings.Contains(r.stdout, "the cloud still routes it here") {
		t.Fatalf("B after down: rc %d\n%s", r.rc, r.stdout)
	}
	l.fake.Token = "rotated"
	if r := show(1, "--timeout", "2s"); r.rc != 4 {
		t.Fatalf("a refused token: rc %d\n%s", r.rc, r.stderr)
	}
}

// waitAddr waits until ns's dev does (or does not) list ip.
func waitAddr(t *testing.T, ns, dev, ip string, present bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(nstest.Addrs(t, ns, dev), "inet "+ip+"/") == present {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s present=%v never came:\n%s", ip, present, nstest.Addrs(t, ns, dev))
		}
	}
}

// keepalived-fifo consumes keepalived's notify FIFO as keepalived runs it
// (the FIFO's path last): MASTER binds, BACKUP releases, a master hearing a
// lower priority re-claims, lines that are not INSTANCE lines are ignored,
// and SIGTERM ends it once keepalived closes its end.
func TestKeepalivedFifo(t *testing.T) {
	p, state := lab(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "notify.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "VI_1.conf")
	os.WriteFile(cfg, []byte("ip=192.0.2.66\narp_count=1\n"), 0o600)
	if r := cli(t, "", state, "keepalived-fifo", cfg); r.rc != 5 || !strings.Contains(r.stderr, "is not a FIFO") {
		t.Fatalf("a regular file as the FIFO: rc %d\n%s", r.rc, r.stderr)
	}
	cmd := exec.Command("ip", "netns", "exec", p.Node, bin, "keepalived-fifo", "--map", "VI_1="+cfg, "--timeout", "10s", fifo)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HA_RSCTMP=" + state}
	var se bytes.Buffer
	cmd.Stderr = &se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // blocks until the consumer reads
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	say := func(line string) { fmt.Fprintln(w, line) }
	say(`INSTANCE "VI_1" MASTER 100`)
	waitAddr(t, p.Node, p.NodeIf, "192.0.2.66", true)
	say(`GROUP "VG_1" BACKUP`)
	say(`INSTANCE "VI_1" BACKUP 100`)
	waitAddr(t, p.Node, p.NodeIf, "192.0.2.66", false)
	say(`INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100`)
	waitAddr(t, p.Node, p.NodeIf, "192.0.2.66", true)
	// keepalived signals the script as it writes its shutdown's STOP: the
	// STOP after SIGTERM still runs, and the writer closing ends it.
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	say(`INSTANCE "VI_1" STOP 100`)
	w.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("keepalived-fifo after SIGTERM: %v\n%s", err, se.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("keepalived-fifo did not end on SIGTERM\n%s", se.String())
	}
	if out := nstest.Addrs(t, p.Node, p.NodeIf); strings.Contains(out, "192.0.2.66") {
		t.Fatalf("the STOP after SIGTERM did not release the address:\n%s\n%s", out, se.String())
	}
	if !strings.Contains(se.String(), "VI_1 MASTER_RX_LOWER_PRI -> floatip up: OCF_SUCCESS") {
		t.Fatalf("log:\n%s", se.String())
	}
}

// ucarp runs its scripts with the interface, the address and --xparam:
// links named floatip-ucarp-up and -down take exactly that.
func TestUcarpScripts(t *testing.T) {
	p, state := lab(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	for _, n := range []string{"floatip-ucarp-up", "floatip-ucarp-down"} {
		if err := os.Symlink(bin, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "ucarp.conf")
	os.WriteFile(cfg, []byte("arp_count=1\n"), 0o600)
	run := func(script string, args ...string) result {
		cmd := exec.Command("ip", append([]string{"netns", "exec", p.Node, filepath.Join(dir, script)}, args...)...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HA_RSCTMP=" + state}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		r := result{stderr: string(out)}
		if errors.As(err, &ee) {
			r.rc = ee.ExitCode()
		}
		return r
	}
	want(t, run("floatip-ucarp-down", p.NodeIf, "192.0.2.67", cfg), 0, "down at ucarp's start (BACKUP)")
	want(t, run("floatip-ucarp-up", p.NodeIf, "192.0.2.67", cfg), 0, "up")
	if a := nstest.Addrs(t, p.Node, p.NodeIf); !strings.Contains(a, "inet 192.0.2.67/24") {
		t.Fatalf("not bound on %s:\n%s", p.NodeIf, a)
	}
	want(t, run("floatip-ucarp-down", p.NodeIf, "192.0.2.67", cfg), 0, "down")
	waitAddr(t, p.Node, p.NodeIf, "192.0.2.67", false)
	want(t, run("floatip-ucarp-up", p.NodeIf), 2, "up without the address")
}

// floatip check: a line per step, exit 0 when ready; a refused token is
// named with its fix and exits 4; nothing is written either way.
func TestCLICheck(t *testing.T) {
	p, state := lab(t)
	r := cli(t, p.Node, state, "check", "--ip", "192.0.2.68")
	t.Logf("floatip check, provider none:\n%s", r.stdout)
	if r.rc != 0 || !strings.Contains(r.stdout, "ok   interface and route") || strings.Contains(r.stdout, "FAIL") {
		t.Fatalf("rc %d:\n%s%s", r.rc, r.stdout, r.stderr)
	}
	l := newDOLab(t, 1)
	args := append([]string{"check"}, flagsOf(l.params("203.0.113.50"))...)
	r = cli(t, l.lan.Nodes[0], l.state[0], args...)
	t.Logf("floatip check, DigitalOcean:\n%s", r.stdout)
	if r.rc != 0 || !strings.Contains(r.stdout, "ok   cloud                    routed to nobody") {
		t.Fatalf("rc %d:\n%s%s", r.rc, r.stdout, r.stderr)
	}
	l.fake.Token = "revoked"
	r = cli(t, l.lan.Nodes[0], l.state[0], append(args, "--timeout", "3s")...)
	t.Logf("floatip check, DigitalOcean, token refused:\n%s", r.stdout)
	if r.rc != 4 || !strings.Contains(r.stdout, "FAIL credentials and address") || !strings.Contains(r.stdout, "read and write scope") {
		t.Fatalf("rc %d:\n%s%s", r.rc, r.stdout, r.stderr)
	}
	if n := l.fake.Count("POST"); n != 0 {
		t.Fatalf("check wrote %d times", n)
	}
}
