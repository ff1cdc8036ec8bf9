package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// upVRRP starts a lab of nodes running engine, torn down with the test.
func upVRRP(t *testing.T, engine Engine, nodes int) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs keepalived or ucarp in namespaces (CI runs this as root)")
	}
	for _, tool := range []string{string(engine), "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make deps / .ci/run install it)", tool)
		}
	}
	if _, err := os.Stat(Installed); err != nil {
		t.Fatalf("floatip is not installed at %s: run make install (make e2e does)", Installed)
	}
	return upLab(t, Config{Nodes: nodes, Engine: engine, Self: self, ActionTime: 300 * time.Millisecond, Log: t.Logf})
}

// vrrpFailovers fails the master both ways for each provider, with floatip
// run by the engine: kill (power off) and a graceful stop, each followed by
// the node coming back.
func vrrpFailovers(t *testing.T, l *Lab) {
	for _, provider := range []string{"none", "digitalocean", "oci"} {
		if err := l.ConfigureVRRP(VRRP{Floatip: true, Provider: provider}); err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{"kill", "stop"} {
			t.Run(provider+"/"+kind, func(t *testing.T) {
				res, err := l.VRRPFailover(kind, provider)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s of %s: %s answers after %v (%v after it became master; %d requests lost)", kind, res.Victim.Name,
					res.Survivor.Name, res.Outage.Round(time.Millisecond), res.FirstReply.Sub(res.Membership).Round(time.Millisecond), res.Lost)
				for _, p := range res.Problems {
					t.Error(p)
				}
				if res.Membership.IsZero() {
					t.Errorf("%s answered but its engine log has no MASTER transition after the %s", res.Survivor.Name, kind)
				}
				if provider != "none" && res.CloudMoved.IsZero() {
					t.Errorf("the fake cloud never routed the IP to %s", res.Survivor.Name)
				}
				if res.Outage > 15*time.Second { // VRRP: 3 adverts of 1 s, then the move
					t.Errorf("outage %v, want under 15 s", res.Outage)
				}
			})
		}
	}
}

// TestKeepalived: 3 nodes, unicast VRRP, keepalived's notify FIFO consumed
// by floatip keepalived-fifo; then a split brain.
func TestKeepalived(t *testing.T) {
	l := upVRRP(t, Keepalived, 3)
	vrrpFailovers(t, l)
	t.Run("split brain", func(t *testing.T) { splitBrain(t, l) })
}

// splitBrain cuts VRRP between the keepalived nodes for 5 s (every node
// becomes master and claims the address), then drops 70% of it for 10 s
// (nodes flap between MASTER and BACKUP, each MASTER a claim and each
// master hearing a lower priority a re-claim), with OCI and claim_interval
// at its default of 5 s. After healing, exactly one node holds the VIP in
// the kernel and the cloud routes it there; during the split no node moved
// the VIP to itself twice within claim_interval.
func splitBrain(t *testing.T, l *Lab) {
	const provider, interval = "oci", 5 * time.Second
	if p := l.WaitVRRP(provider, 20*time.Second); p != nil {
		t.Fatalf("before the split: %v", p)
	}
	masters := map[string]bool{nodeName(l.Master()): true}
	t0 := time.Now()
	for _, phase := range []struct {
		percent int
		d       time.Duration
	}{{100, 5 * time.Second}, {70, 10 * time.Second}} {
		if err := l.Split(phase.percent); err != nil {
			t.Fatal(err)
		}
		time.Sleep(phase.d)
		if err := l.Heal(); err != nil {
			t.Fatal(err)
		}
	}
	healed := time.Now()
	if p := l.WaitVRRP(provider, 30*time.Second); p != nil {
		t.Errorf("30 s after healing: %v", p)
	}
	for _, n := range l.Nodes {
		for _, tr := range n.Transitions() {
			if tr.State == "MASTER" && tr.At.After(t0) && tr.At.Before(healed) {
				masters[n.Name] = true
			}
		}
	}
	if len(masters) != len(l.Nodes) {
		t.Errorf("only %v were master during the split: it split nothing", keys(masters))
	}
	moves, total := l.CloudMoves(t0, time.Now()), 0
	for node, at := range moves {
		total += len(at)
		for i := 1; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap < interval-100*time.Millisecond {
				t.Errorf("%s moved the VIP to itself twice %v apart, inside claim_interval (%v)", node, gap.Round(time.Millisecond), interval)
			}
		}
	}
	var lines []string
	for _, n := range l.Nodes {
		var ev []string
		for _, tr := range n.Transitions() {
			if tr.At.After(t0) {
				ev = append(ev, fmt.Sprintf("%s@%.1fs", tr.State, tr.At.Sub(t0).Seconds()))
			}
		}
		for _, at := range moves[n.Name] {
			ev = append(ev, fmt.Sprintf("cloud-move@%.1fs", at.Sub(t0).Seconds()))
		}
		lines = append(lines, n.Name+": "+strings.Join(ev, " "))
	}
	t.Logf("split brain, VRRP cut for 5 s then 70%% dropped for 10 s, healed at %.1fs: masters %v, %d cloud moves; after healing %s holds the VIP\n%s",
		healed.Sub(t0).Seconds(), keys(masters), total, nodeName(l.Master()), strings.Join(lines, "\n"))
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestUcarp: 2 nodes, ucarp's up and down scripts are floatip's links.
func TestUcarp(t *testing.T) {
	l := upVRRP(t, Ucarp, 2)
	vrrpFailovers(t, l)
	t.Run("late claim", func(t *testing.T) { lateClaim(t, l) })
}

// lateClaim: the backup claims the reserved IP and releases it at once
// (floatip up then down, by hand: what a node that was master for a moment
// leaves when its claim lands after the real master's; ucarp has no event
// that would make the master claim again). The master's keeper, started by
// its floatip up, must claim it back within keep_interval (2 s here) plus
// what is left of claim_interval.
func lateClaim(t *testing.T, l *Lab) {
	const provider = "digitalocean"
	if err := l.ConfigureVRRP(VRRP{Floatip: true, Provider: provider, Extra: []string{"keep_interval=2"}}); err != nil {
		t.Fatal(err)
	}
	master := l.Master()
	var backup *Node
	for _, n := range l.Nodes {
		if n != master {
			backup = n
		}
	}
	conf := backup.Dir + "/floatip.conf"
	for _, verb := range []string{"up", "down"} {
		if out, err := l.X(backup, Installed, verb, "--config", conf, "--keep-interval", "0"); err != nil {
			t.Fatalf("%s on %s: %v\n%s", verb, backup.Name, err, out)
		}
	}
	stale := time.Now()
	if h := l.CloudHolder(provider); h != backup {
		t.Fatalf("after %s's up and down the cloud routes to %s, not %s", backup.Name, nodeName(h), backup.Name)
	}
	if p := l.WaitVRRP(provider, 20*time.Second); p != nil {
		t.Fatalf("20 s after %s's late claim: %v", backup.Name, p)
	}
	back := l.CloudMoves(stale, time.Now())[master.Name]
	if len(back) == 0 {
		t.Fatalf("the cloud agrees again but never moved back to %s", master.Name)
	}
	t.Logf("%s's keeper claimed the IP back %v after %s's late claim", master.Name, back[0].Sub(stale).Round(time.Millisecond), backup.Name)
}

// TestCheck runs floatip check on a lab node for each provider, ready and
// then with one failure a user could cause, injected by a command on the
// node; the failing check must name it, and check must write nothing.
func TestCheck(t *testing.T) {
	l := upVRRP(t, Keepalived, 1)
	n := l.Nodes[0]
	for _, tc := range []struct {
		provider, fails string
		inject, undo    []string
	}{
		{"digitalocean", "FAIL credentials", []string{"sh", "-c", "echo dop_v1_revoked > " + n.Dir + "/do.token"}, nil},
		{"oci", "FAIL interface and route", []string{"ip", "link", "set", "eth0", "address", "02:00:5e:00:53:99"}, nil},
		{"linode-share", "FAIL proxy", []string{"env", "HTTP_PROXY=http://10.250.0.100:3128"}, nil},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			params := l.Params(tc.provider)
			if tc.provider == "digitalocean" {
				tok, _ := os.ReadFile(l.TokenFile())
				os.WriteFile(n.Dir+"/do.token", tok, 0o600)
				params = append(params, "token_file="+n.Dir+"/do.token")
			}
			conf := n.Dir + "/check.conf"
			os.WriteFile(conf, []byte(strings.Join(params, "\n")+"\n"), 0o600)
			// As a user types it: the command, then its exit code.
			check := "floatip check --config " + conf
			run := func(prefix string) (string, string) {
				out, err := l.X(n, "sh", "-c", "PATH=$PATH:"+filepath.Dir(Installed)+"; "+prefix+check+"; echo exit $?")
				if err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(strings.TrimSpace(out), "\n")
				return out, lines[len(lines)-1]
			}
			out, code := run("")
			t.Logf("# %s, ready\n$ %s\n%s", tc.provider, check, out)
			if code != "exit 0" {
				t.Fatalf("check fails on a ready node: %s", code)
			}
			writes := l.Events()
			prefix := ""
			if tc.inject[0] == "env" {
				prefix = strings.Join(tc.inject, " ") + " "
			} else if _, err := l.X(n, tc.inject...); err != nil {
				t.Fatal(err)
			}
			out, code = run(prefix)
			injected := "$ " + strings.Join(tc.inject, " ") + "\n"
			if prefix != "" {
				injected = ""
			}
			t.Logf("# %s, one failure\n%s$ %s%s\n%s", tc.provider, injected, prefix, check, out)
			if code == "exit 0" || !strings.Contains(out, tc.fails) {
				t.Errorf("after %v check passed or did not name %q", tc.inject, tc.fails)
			}
			if len(l.Events()) != len(writes) {
				t.Errorf("check moved the VIP: %v", l.Events()[len(writes):])
			}
		})
	}
}
