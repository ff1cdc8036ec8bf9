package main_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cloudvip/floatip/internal/fakecloud"
	"github.com/cloudvip/floatip/internal/fakecloud/dofake"
	"github.com/cloudvip/floatip/internal/fakecloud/linodefake"
	"github.com/cloudvip/floatip/internal/fakecloud/ocifake"
	"github.com/cloudvip/floatip/internal/nstest"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/runstate"
)

// TestSecretsNeverLeak runs every provider's start, monitor (depth 0 and
// 10), stop, show, check, up (with its keeper) and down, and the API's 401
// and 403 paths, with every debug switch on (HA_debug=1, OCF_TRACE_RA=1,
// and the SDKs' own: OCI_GO_SDK_DEBUG=verbose, LINODE_DEBUG=1). Secrets:
// the DigitalOcean and Linode tokens, the OCI API key (its encrypted PEM
// lines and the key itself) and its passphrase, and whatever the fakes
// issue or receive (OCI session tokens and session keys, the instance key
// from the metadata service, Linode metadata tokens, every Authorization
// header and OCI request signature). It looks for each, and distinctive
// pieces of it (a partial or escaped print is a leak too), in: stdout and
// stderr; syslog (a socket the test binds over /run in the action's mount
// namespace; the keeper always logs there); every file under the sandbox
// (the state directory, HOME, the working directory, HA_VARLIB, the
// HA_LOGFILE/HA_DEBUGLOG paths, /run); and /proc/<pid>/cmdline and environ
// of floatip (caught in the middle of each action: its stdout and stderr
// are full pipes and the test holds the address's lock, so it blocks) and
// of the announcer and keeper it leaves behind. The announcer's
// environment is HA_RSCTMP alone; the keeper's holds nothing of up's
// beyond what it reads. The only file allowed to hold a secret is the OCI
// session cache (the session token and key), which must be 0600.
func TestSecretsNeverLeak(t *testing.T) {
	nstest.RequireRoot(t)
	for _, tool := range []string{"sh", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s to bind a syslog socket over /run in the agent's mount namespace", tool)
		}
	}
	exe, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var table []string
	for _, p := range leakProviders {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			rows := runLeakProvider(t, exe, p)
			mu.Lock()
			table = append(table, rows...)
			mu.Unlock()
		})
	}
	t.Cleanup(func() {
		sort.Strings(table)
		t.Logf("provider / step / exit / caught mid-action / children seen:\n%s", strings.Join(table, "\n"))
	})
}

// leakTarget is one provider's lab as the steps use it.
type leakTarget struct {
	name   string
	ns     string
	params map[string]string
	fake   interface {
		Inject(fakecloud.Fault)
		ClearFaults()
	}
	apiPath string   // where the API's faults go
	secrets []string // the secrets the run must have met (else the search proves nothing)
	binds   bool     // an announcer follows start and up
	cloud   bool     // a keeper follows up; the 401/403 steps apply
	session string   // the OCI session cache, the one file that may hold a secret
}

// leakProvider builds one provider's lab in a sandbox.
type leakProvider struct {
	name  string
	setup func(t *testing.T, b *leakBox) leakTarget
}

var leakProviders = []leakProvider{
	{"none", func(t *testing.T, b *leakBox) leakTarget {
		lan := nstest.NewLAN(t, 1)
		return leakTarget{ns: lan.Nodes[0], binds: true,
			params: map[string]string{"ip": "10.250.0.50", "arp_count": "30", "arp_interval": "100"}}
	}},
	{"digitalocean", func(t *testing.T, b *leakBox) leakTarget {
		lan := nstest.NewLAN(t, 1)
		tok := "dop_v1_" + leakRandom(32)
		b.sec.add("DigitalOcean token", tok)
		f := dofake.New(tok)
		f.AddDroplet(201, "10.250.0.1")
		f.AddIP("203.0.113.50", "fra1", 0)
		t.Cleanup(f.Close)
		u := lan.Serve(t, leakTap{b.sec, f})
		p := leakCloudParams("203.0.113.50", "digitalocean", u)
		p["token_file"] = b.secretFile("do.token", tok+"\n")
		return leakTarget{ns: lan.Nodes[0], params: p, fake: f, apiPath: "/v2/", cloud: true,
			secrets: []string{"DigitalOcean token"}}
	}},
	{"oci-instance-principal", func(t *testing.T, b *leakBox) leakTarget {
		lan, f, u := leakOCI(t, b)
		p := leakCloudParams("10.250.0.50", "oci", u)
		p["auth_url"], p["arp_count"], p["arp_interval"] = u, "30", "100"
		return leakTarget{ns: lan.Nodes[0], params: p, fake: f, apiPath: "/20160918/", binds: true, cloud: true,
			session: filepath.Join(b.state, "floatip-oci.session"),
			secrets: []string{"OCI instance key (metadata service)", "OCI session token", "OCI session key", "OCI request signature"}}
	}},
	{"oci-config-file", func(t *testing.T, b *leakBox) leakTarget {
		lan, f, u := leakOCI(t, b)
		p := leakCloudParams("10.250.0.50", "oci", u)
		p["arp_count"], p["arp_interval"] = "30", "100"
		p["oci_auth"], p["oci_config"] = "config_file", leakOCIConfig(t, b, f)
		return leakTarget{ns: lan.Nodes[0], params: p, fake: f, apiPath: "/20160918/", binds: true, cloud: true,
			secrets: []string{"OCI API key passphrase", "OCI API key file (encrypted PEM)", "OCI API private key", "OCI request signature"}}
	}},
	{"linode", func(t *testing.T, b *leakBox) leakTarget {
		lan := nstest.NewLAN(t, 1)
		tok := leakRandom(32)
		b.sec.add("Linode token", tok)
		f := linodefake.New(tok)
		f.AddLinode(301, "us-east", "10.250.0.1", "10.250.0.1")
		f.AddLinode(399, "us-east", "", "10.250.0.70")
		t.Cleanup(f.Close)
		u := lan.Serve(t, leakTap{b.sec, f})
		p := leakCloudParams("10.250.0.70", "linode", u)
		p["token_file"] = b.secretFile("linode.token", tok)
		p["linode_mode"], p["arp_count"], p["arp_interval"] = "share", "30", "100"
		return leakTarget{ns: lan.Nodes[0], params: p, fake: f, apiPath: "/v4/", binds: true, cloud: true,
			secrets: []string{"Linode token", "Linode metadata token"}}
	}},
}

func leakCloudParams(ip, prov, u string) map[string]string {
	return map[string]string{"ip": ip, "provider": prov, "api_url": u, "metadata_url": u,
		"cloud_check_interval": "0", "claim_interval": "0", "keep_interval": "1"}
}

// leakOCI is one instance on the OCI fake, every exchange tapped.
func leakOCI(t *testing.T, b *leakBox) (*nstest.LAN, *ocifake.Fake, string) {
	lan := nstest.NewLAN(t, 1)
	f := ocifake.New(ociTenancy, "xx-lab-1")
	s := f.AddSubnet("10.250.0.0/24", "2001:db8:250::/64")
	m := macRe.FindStringSubmatch(nstest.Run(t, "ip", "-n", lan.Nodes[0], "-o", "link", "show", "dev", lan.NodeIf))
	f.AddInstance("10.250.0.1", s, "10.250.0.1", m[1])
	t.Cleanup(f.Close)
	return lan, f, lan.Serve(t, leakTap{b.sec, f})
}

// leakOCIConfig writes an OCI config whose API key is an encrypted PEM
// with its pass_phrase, and registers the key with the fake.
func leakOCIConfig(t *testing.T, b *leakBox, f *ocifake.Fake) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pass := "pp-" + leakRandom(12)
	der := x509.MarshalPKCS1PrivateKey(key)
	// The legacy encrypted PEM the OCI CLI's setup and `openssl genrsa
	// -aes128` write, which the SDK decrypts with pass_phrase.
	blk, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", der, []byte(pass), x509.PEMCipherAES128) //nolint:staticcheck // the format OCI keys come in
	if err != nil {
		t.Fatal(err)
	}
	encPEM := pem.EncodeToMemory(blk)
	b.sec.add("OCI API key passphrase", pass)
	b.sec.addPEM("OCI API key file (encrypted PEM)", encPEM)
	b.sec.addDER("OCI API private key", der)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	sum := md5.Sum(pub)
	fp := strings.TrimSpace(strings.ReplaceAll(fmt.Sprintf("% x", sum), " ", ":"))
	user := "ocid1.user.oc1..labuser"
	f.AddAPIKey(ociTenancy+"/"+user+"/"+fp, &key.PublicKey)
	kf := b.secretFile("oci_api_key.pem", string(encPEM))
	return b.secretFile("oci.config", fmt.Sprintf("[DEFAULT]\nuser=%s\nfingerprint=%s\ntenancy=%s\nregion=xx-lab-1\nkey_file=%s\npass_phrase=%s\n",
		user, fp, ociTenancy, kf, pass))
}

func leakRandom(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// leakStep is one row of the steps table: an OCF action or a CLI verb,
// the fault the API answers with during it, and the exit code that proves
// it took the path it names.
type leakStep struct {
	name  string
	ocf   string   // an OCF action, or
	verb  []string // a CLI verb with its own flags
	env   []string // more environment for an OCF action
	fault int      // the API answers this status during the step
	rc    int
	says  string // stdout or stderr must say this
	// syslog must say this (the action logs there, HA_LOGFACILITY)
	syslog string
	cloud  bool // cloud providers only
	// keeper: after up, the keeper's next round meets the fault and logs it.
	keeper bool
}

var (
	leakRecurring = "OCF_RESKEY_CRM_meta_interval=10000"
	leakSteps     = []leakStep{
		{name: "check", verb: []string{"check"}},
		{name: "check --json", verb: []string{"check", "--json"}},
		{name: "start", ocf: "start"},
		{name: "monitor depth 0", ocf: "monitor", env: []string{leakRecurring}},
		{name: "monitor depth 10", ocf: "monitor", env: []string{leakRecurring, "OCF_CHECK_LEVEL=10"}},
		{name: "show", verb: []string{"show"}},
		{name: "show --json", verb: []string{"show", "--json"}},
		{name: "stop", ocf: "stop"},
		{name: "up", verb: []string{"up"}},
		{name: "keeper round, API 403", keeper: true, fault: 403, cloud: true},
		{name: "down", verb: []string{"down"}},
		{name: "start again", ocf: "start", cloud: true},
		{name: "monitor depth 10, API 403", ocf: "monitor", env: []string{leakRecurring, "OCF_CHECK_LEVEL=10"}, fault: 403, says: "cloud check failed", cloud: true},
		{name: "show, API 403", verb: []string{"show"}, fault: 403, rc: 4, cloud: true},
		{name: "check, API 403", verb: []string{"check"}, fault: 403, rc: 4, says: "FAIL", cloud: true},
		{name: "stop again", ocf: "stop", cloud: true},
		// One 401 row: with instance principals the OCI SDK answers a 401
		// by refreshing the token and sleeping 1 s, three times, and
		// floatip tries twice: 6 s.
		{name: "start, API 401", ocf: "start", fault: 401, rc: 4, says: "401", cloud: true},
		{name: "start, API 403", ocf: "start", fault: 403, rc: 4, says: "403", cloud: true},
		{name: "start, API 403, syslog", ocf: "start", env: []string{"HA_LOGFACILITY=daemon"}, fault: 403, rc: 4, says: "403",
			syslog: "floatip(vip)", cloud: true},
	}
)

// runLeakProvider runs the steps on one provider and returns its rows of
// the coverage table.
func runLeakProvider(t *testing.T, exe string, p leakProvider) []string {
	b := newLeakBox(t, exe)
	tg := p.setup(t, b)
	tg.name = p.name
	var rows []string
	for _, s := range leakSteps {
		if s.cloud && !tg.cloud {
			continue
		}
		if s.fault != 0 {
			tg.fake.Inject(fakecloud.Fault{Path: tg.apiPath, Status: s.fault})
		}
		var r result
		var during []leakProc
		t0 := time.Now()
		switch {
		case s.keeper:
			r, during = b.keeperRound(t)
		case s.ocf != "":
			r, during = b.ocf(t, tg, s.ocf, s.env...)
		default:
			r, during = b.cli(t, tg, s.verb...)
		}
		if s.fault != 0 {
			tg.fake.ClearFaults()
		}
		after := leakProcs(exe, b.state)
		rows = append(rows, fmt.Sprintf("%s %5dms", b.inspect(t, tg, s, r, during, after), time.Since(t0).Milliseconds()))
	}
	names, needles := b.sec.summary()
	for _, w := range tg.secrets {
		if names[w] == 0 {
			t.Errorf("the run never met the secret %q (met %v): the search proved nothing for it", w, names)
		}
	}
	t.Logf("searched for %d pieces of %v", needles, names)
	return rows
}

// inspect checks one step: its exit code, the children it must leave, and
// no secret anywhere. It returns the step's row of the table.
func (b *leakBox) inspect(t *testing.T, tg leakTarget, s leakStep, r result, during, after []leakProc) string {
	t.Helper()
	what := s.name
	if !s.keeper && (r.rc != s.rc || !strings.Contains(r.stdout+r.stderr, s.says)) {
		t.Errorf("%s: rc %d, want %d saying %q\nstdout: %s\nstderr: %s", what, r.rc, s.rc, s.says, r.stdout, r.stderr)
	}
	if !bytes.Contains(b.syslog.bytes(), []byte(s.syslog)) {
		t.Errorf("%s: syslog lacks %q:\n%s", what, s.syslog, b.syslog.bytes())
	}
	caught := !s.keeper && len(during) > 0 && during[0].role() == "floatip"
	if !s.keeper && !caught {
		t.Errorf("%s: floatip was never caught running (its /proc was not read)", what)
	}
	roles := map[string]bool{}
	for _, p := range append(slices.Clone(during), after...) {
		roles[p.role()] = true
		b.checkChildEnv(t, what, p)
	}
	wantRoles := []string{}
	if tg.binds && (s.name == "start" || s.name == "up") {
		wantRoles = append(wantRoles, "announcer")
	}
	if tg.cloud && s.name == "up" {
		wantRoles = append(wantRoles, "keeper")
	}
	for _, w := range wantRoles {
		if !roles[w] {
			t.Errorf("%s: no %s seen running after it", what, w)
		}
	}
	if s.name == "down" {
		b.waitGone(t, after)
	}
	// Every place a secret could show.
	hay := map[string][]byte{"stdout": []byte(r.stdout), "stderr": []byte(r.stderr), "syslog": b.syslog.bytes()}
	for _, p := range append(slices.Clone(during), after...) {
		hay[fmt.Sprintf("/proc/%d/cmdline (%s)", p.pid, p.role())] = []byte(strings.Join(p.argv, "\x00"))
		hay[fmt.Sprintf("/proc/%d/environ (%s)", p.pid, p.role())] = []byte(strings.Join(p.env, "\x00"))
	}
	b.readFiles(t, tg, what, hay)
	for where, data := range hay {
		for _, leak := range b.sec.find(data) {
			t.Errorf("%s: %s holds %s", what, where, leak)
		}
	}
	var kids []string
	for _, k := range []string{"announcer", "keeper"} {
		if roles[k] {
			kids = append(kids, k)
		}
	}
	return fmt.Sprintf("%-22s %-26s rc %d  caught %-5v %s", tg.name, what, r.rc, caught, strings.Join(kids, "+"))
}

// checkChildEnv: the announcer gets HA_RSCTMP and nothing else; the keeper
// none of up's environment beyond what it reads (no OCF_*, no test canary).
func (b *leakBox) checkChildEnv(t *testing.T, what string, p leakProc) {
	t.Helper()
	switch p.role() {
	case "announcer":
		if want := []string{"HA_RSCTMP=" + b.state}; !slices.Equal(p.env, want) {
			t.Errorf("%s: announcer %d has environment %q, want only %q", what, p.pid, p.env, want)
		}
	case "keeper":
		for _, kv := range p.env {
			k, _, _ := strings.Cut(kv, "=")
			if strings.HasPrefix(k, "OCF_") || k == leakCanary || k == "HA_LOGFILE" || k == "HA_VARLIB" {
				t.Errorf("%s: keeper %d inherited %s", what, p.pid, kv)
			}
		}
		if !slices.Contains(p.env, "HA_RSCTMP="+b.state) {
			t.Errorf("%s: keeper %d lacks HA_RSCTMP: %q", what, p.pid, p.env)
		}
	}
}

// waitGone waits for the announcer and keeper down must end.
func (b *leakBox) waitGone(t *testing.T, procs []leakProc) {
	t.Helper()
	end := time.Now().Add(3 * time.Second)
	for _, p := range procs {
		for alive(p.pid) {
			if time.Now().After(end) {
				t.Errorf("%s %d still running 3s after down", p.role(), p.pid)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// readFiles adds every regular file under the sandbox (not the inputs) to
// hay, after taking the OCI session's token and key as secrets: the
// session cache is the one file that may hold them, root-only.
func (b *leakBox) readFiles(t *testing.T, tg leakTarget, what string, hay map[string][]byte) {
	t.Helper()
	if tg.session != "" {
		if fi, err := os.Stat(tg.session); err == nil {
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s has mode %04o, want 0600", what, tg.session, fi.Mode().Perm())
			}
			var s struct {
				Token string `json:"token"`
				Key   []byte `json:"key"`
			}
			raw, _ := os.ReadFile(tg.session)
			if json.Unmarshal(raw, &s) != nil || s.Token == "" || len(s.Key) == 0 {
				t.Errorf("%s: the session cache holds no token and key: %.80q", what, raw)
			}
			b.sec.addJWT("OCI session token", s.Token)
			b.sec.addDER("OCI session key", s.Key)
		} else if what == "start" {
			t.Errorf("start left no OCI session cache %s: %v", tg.session, err)
		}
	}
	filepath.WalkDir(b.root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil
		case d.IsDir() && path == b.keys:
			return filepath.SkipDir
		case !d.Type().IsRegular() || path == tg.session:
			return nil
		}
		data, err := os.ReadFile(path)
		if err == nil {
			hay["file "+strings.TrimPrefix(path, b.root+"/")] = data
		}
		return nil
	})
}

// leakCanary is in every action's environment and must reach no child.
const leakCanary = "FLOATIP_TEST_CANARY"

// leakBox is one provider's sandbox: state directory, HOME, working
// directory, HA_VARLIB, log paths, a syslog socket, and the secrets seen.
type leakBox struct {
	exe                                       string
	root, state, run, home, varlib, cwd, keys string
	sec                                       *leakSecrets
	syslog                                    *leakSyslog
	env                                       []string
}

func newLeakBox(t *testing.T, exe string) *leakBox {
	root := t.TempDir()
	b := &leakBox{exe: exe, root: root, sec: &leakSecrets{}}
	for _, d := range []struct {
		p    *string
		name string
	}{{&b.state, "state"}, {&b.run, "run"}, {&b.home, "home"}, {&b.varlib, "varlib"}, {&b.cwd, "cwd"}, {&b.keys, "keys"}} {
		*d.p = filepath.Join(root, d.name)
		if err := os.Mkdir(*d.p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	b.syslog = listenSyslog(t, filepath.Join(b.run, "syslog"))
	logs := filepath.Join(root, "logs")
	os.Mkdir(logs, 0o700)
	b.env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + b.home, "HA_RSCTMP=" + b.state,
		"HA_debug=1", "OCF_TRACE_RA=1", "HA_VARLIB=" + b.varlib,
		"HA_LOGFILE=" + filepath.Join(logs, "ha-log"), "HA_DEBUGLOG=" + filepath.Join(logs, "ha-debug"),
		provider.ForbidRealEndpoints + "=1", leakCanary + "=not-for-children", "OCI_GO_SDK_DEBUG=verbose", "LINODE_DEBUG=1"}
	// Whatever fails, nothing of this sandbox keeps running: its processes
	// are found by binary and state directory, and killed by PID.
	t.Cleanup(func() {
		for _, p := range leakProcs(exe, b.state) {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	})
	return b
}

// secretFile writes an input (token file, key, OCI config) outside the
// scanned sandbox, root-only.
func (b *leakBox) secretFile(name, content string) string {
	p := filepath.Join(b.keys, name)
	os.WriteFile(p, []byte(content), 0o600)
	return p
}

// ocf runs an OCF action with the target's parameters.
func (b *leakBox) ocf(t *testing.T, tg leakTarget, action string, extra ...string) (result, []leakProc) {
	env := append(slices.Clone(b.env), "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=vip", "OCF_RESKEY_CRM_meta_timeout=10000")
	keys := make([]string, 0, len(tg.params))
	for k := range tg.params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, "OCF_RESKEY_"+k+"="+tg.params[k])
	}
	env = append(env, extra...)
	return b.exec(t, tg, action == "start" || action == "stop", []string{action}, env)
}

// cli runs a verb with the target's parameters as flags.
func (b *leakBox) cli(t *testing.T, tg leakTarget, verb ...string) (result, []leakProc) {
	argv := append(slices.Clone(verb), flagsOf(tg.params)...)
	argv = append(argv, "--timeout", "10s")
	return b.exec(t, tg, verb[0] == "up" || verb[0] == "down", argv, b.env)
}

// keeperRound waits for the keeper's next cloud check, which meets the
// step's fault, to log its warning to syslog.
func (b *leakBox) keeperRound(t *testing.T) (result, []leakProc) {
	if !b.syslog.wait("]: keeper: ", 5*time.Second) {
		t.Errorf("keeper round: no keeper warning in syslog within 5s:\n%s", b.syslog.bytes())
	}
	return result{}, nil
}

// leakMounts runs in the action's own mount namespace (ip netns exec makes
// one): the sandbox's run directory over /run, so syslog's /var/run/syslog
// is the test's socket, also over a /dev/log socket the host may have.
const leakMounts = `set -e
mount --bind "$0" /run
[ -L /var/run ] || mount --bind "$0" /var/run
[ ! -S /dev/log ] || mount --bind /run/syslog /dev/log
exec "$@"`

// exec runs floatip with argv in the target's namespace and catches it
// running: its stdout and stderr are pipes filled to the brim, so its first
// write blocks, and with lock the test holds the address's lock, which
// start, stop, up and down wait for. It returns the run and the processes
// of this sandbox seen while floatip was held, floatip first.
func (b *leakBox) exec(t *testing.T, tg leakTarget, lock bool, argv, env []string) (result, []leakProc) {
	t.Helper()
	outR, outW, outFill := fullPipe(t)
	errR, errW, errFill := fullPipe(t)
	defer outR.Close()
	defer errR.Close()
	var lk *runstate.Lock
	if lock {
		var err error
		if lk, err = runstate.Dir(b.state).Lock(context.Background(), tg.params["ip"]); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"netns", "exec", tg.ns, "sh", "-c", leakMounts, b.run, bin}, argv...)
	cmd := exec.Command("ip", args...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, b.cwd, outW, errW
	err := cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		t.Fatal(err)
	}
	during := catch(b.exe, b.state, cmd.Process.Pid)
	if lk != nil {
		lk.Unlock()
	}
	var wg sync.WaitGroup
	var so, se []byte
	wg.Add(2)
	go func() { defer wg.Done(); so = drain(outR, outFill) }()
	go func() { defer wg.Done(); se = drain(errR, errFill) }()
	wg.Wait()
	err = cmd.Wait()
	r := result{stdout: string(so), stderr: string(se)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.rc = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r, during
}

// fullPipe is a one-page pipe already full: a write to it blocks until the
// reader drains the filler.
func fullPipe(t *testing.T) (r, w *os.File, filler int) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fd := int(w.Fd()) // Fd puts w in blocking mode: the child inherits that
	unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, 4096)
	unix.SetNonblock(fd, true)
	chunk := make([]byte, 4096)
	for {
		n, err := unix.Write(fd, chunk)
		if n > 0 {
			filler += n
		}
		if err != nil {
			break
		}
	}
	unix.SetNonblock(fd, false)
	return r, w, filler
}

func drain(r io.Reader, filler int) []byte {
	b, _ := io.ReadAll(r)
	return b[min(filler, len(b)):]
}

// leakProc is one process of the sandbox as /proc shows it.
type leakProc struct {
	pid       int
	argv, env []string
}

func (p leakProc) role() string {
	if len(p.argv) > 1 {
		switch p.argv[1] {
		case "_announce":
			return "announcer"
		case "_keep":
			return "keeper"
		}
	}
	return "floatip"
}

// catch waits until pid runs floatip and reads its /proc, then the rest of
// the sandbox's processes; nil when it ended first.
func catch(exe, state string, pid int) []leakProc {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Microsecond) {
		if !alive(pid) {
			return nil
		}
		if p, ok := readProc(exe, pid); ok {
			out := []leakProc{p}
			for _, q := range leakProcs(exe, state) {
				if q.pid != pid {
					out = append(out, q)
				}
			}
			return out
		}
	}
	return nil
}

// readProc reads pid's command line and environment if it runs exe.
func readProc(exe string, pid int) (leakProc, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	if l, err := os.Readlink(dir + "/exe"); err != nil || l != exe {
		return leakProc{}, false
	}
	argv, env := readNul(dir+"/cmdline"), readNul(dir+"/environ")
	return leakProc{pid: pid, argv: argv, env: env}, len(argv) > 0
}

func readNul(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// leakProcs lists the running processes of exe whose environment names
// state as HA_RSCTMP: this sandbox's floatip, announcer and keeper.
func leakProcs(exe, state string) []leakProc {
	ents, _ := os.ReadDir("/proc")
	var out []leakProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if p, ok := readProc(exe, pid); ok && slices.Contains(p.env, "HA_RSCTMP="+state) && alive(pid) {
			out = append(out, p)
		}
	}
	return out
}

// leakSyslog is a syslog socket: every datagram, one per line.
type leakSyslog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func listenSyslog(t *testing.T, path string) *leakSyslog {
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &leakSyslog{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 64<<10)
		for {
			n, err := c.Read(b)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.buf.Write(b[:n])
			s.buf.WriteByte('\n')
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return s
}

func (s *leakSyslog) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes())
}

func (s *leakSyslog) wait(sub string, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if bytes.Contains(s.bytes(), []byte(sub)) {
			return true
		}
	}
	return false
}

// leakSecrets are the secrets of one sandbox, each with the needles that
// betray it: the whole and distinctive pieces (a partial or escaped print
// is a leak too).
type leakSecrets struct {
	mu    sync.Mutex
	items []leakSecret
	seen  map[string]bool
}

type leakSecret struct {
	name    string
	needles []string
}

// pieces are v, its last 12 characters and 12 from its middle, and those
// URL-escaped, JSON-escaped and hex-encoded where that differs.
func pieces(v string) []string {
	out := []string{v}
	if len(v) >= 24 {
		out = append(out, v[len(v)-12:], v[len(v)/2-6:len(v)/2+6])
	}
	for _, n := range slices.Clone(out) {
		j, _ := json.Marshal(n)
		for _, e := range []string{url.QueryEscape(n), string(j[1 : len(j)-1])} {
			if e != n {
				out = append(out, e)
			}
		}
		if len(n) == 12 {
			out = append(out, hex.EncodeToString([]byte(n)))
		}
	}
	return out
}

func (s *leakSecrets) addNeedles(name, key string, needles []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if key == "" || s.seen[key] {
		return
	}
	s.seen[key] = true
	s.items = append(s.items, leakSecret{name, needles})
}

// add is a token, a passphrase, a signature.
func (s *leakSecrets) add(name, v string) { s.addNeedles(name, v, pieces(v)) }

// addPEM is a PEM file: each body line, and 12 characters of its middle.
func (s *leakSecrets) addPEM(name string, b []byte) {
	var needles []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if len(l) < 24 || strings.HasPrefix(l, "-----") || strings.Contains(l, ":") {
			continue
		}
		needles = append(needles, pieces(l)...)
	}
	s.addNeedles(name, string(b), needles)
}

// addDER is a key: its base64 (every PEM line, as JSON and PEM encode it)
// and a hex piece.
func (s *leakSecrets) addDER(name string, der []byte) {
	if len(der) == 0 {
		return
	}
	b64 := base64.StdEncoding.EncodeToString(der)
	var needles []string
	for i := 0; i+64 <= len(b64); i += 64 {
		needles = append(needles, pieces(b64[i:i+64])...)
	}
	needles = append(needles, hex.EncodeToString(der[len(der)/2:len(der)/2+16]))
	s.addNeedles(name, b64, needles)
}

// addJWT is a session token: whole, and its claims (unique per token; the
// header is the same in every JWT).
func (s *leakSecrets) addJWT(name, tok string) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		s.add(name, tok)
		return
	}
	s.addNeedles(name, tok, append([]string{tok}, pieces(parts[1])...))
}

var sigField = regexp.MustCompile(`(keyId|signature)="([^"]*)"`)

// addHeader takes a credential a request carried: a bearer token, an OCI
// signature (and the session token in its keyId), a metadata token. IMDS
// v2's fixed "Bearer Oracle" is no secret.
func (s *leakSecrets) addHeader(h, v string) {
	switch {
	case v == "Bearer Oracle":
	case strings.HasPrefix(v, "Bearer "):
		s.add(h+" bearer token", strings.TrimPrefix(v, "Bearer "))
	case strings.HasPrefix(v, "Signature "):
		for _, m := range sigField.FindAllStringSubmatch(v, -1) {
			if m[1] == "signature" {
				s.add("OCI request signature", m[2])
			} else if tok, ok := strings.CutPrefix(m[2], "ST$"); ok {
				s.addJWT("OCI session token", tok)
			}
		}
	default:
		s.add(h, v)
	}
}

// summary counts the secrets by name, and the pieces searched for.
func (s *leakSecrets) summary() (map[string]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names, n := map[string]int{}, 0
	for _, it := range s.items {
		names[it.name]++
		n += len(it.needles)
	}
	return names, n
}

// find names each secret data holds and the piece that gave it away.
func (s *leakSecrets) find(data []byte) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, it := range s.items {
		for _, n := range it.needles {
			if bytes.Contains(data, []byte(n)) {
				out = append(out, fmt.Sprintf("%s (%q)", it.name, n))
				break
			}
		}
	}
	return out
}

// leakTap sits in front of a fake: it takes every credential a request
// carries and every one the fake issues (OCI session tokens, the instance
// key from the metadata service, Linode metadata tokens) as secrets before
// the agent can see the answer.
type leakTap struct {
	sec  *leakSecrets
	next http.Handler
}

func (p leakTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, h := range []string{"Authorization", "Metadata-Token"} {
		if v := r.Header.Get(h); v != "" {
			p.sec.addHeader(h, v)
		}
	}
	switch r.URL.Path {
	case "/v1/x509", "/opc/v2/identity/key.pem", "/v1/token":
	default:
		p.next.ServeHTTP(w, r)
		return
	}
	rec := &heldAnswer{h: w.Header(), status: http.StatusOK}
	p.next.ServeHTTP(rec, r)
	if rec.status == http.StatusOK {
		switch r.URL.Path {
		case "/v1/x509":
			var v struct {
				Token string `json:"token"`
			}
			if json.Unmarshal(rec.body.Bytes(), &v) == nil {
				p.sec.addJWT("OCI session token", v.Token)
			}
		case "/opc/v2/identity/key.pem":
			p.sec.addPEM("OCI instance key (metadata service)", rec.body.Bytes())
		case "/v1/token":
			p.sec.add("Linode metadata token", strings.TrimSpace(rec.body.String()))
		}
	}
	w.WriteHeader(rec.status)
	w.Write(rec.body.Bytes())
}

// heldAnswer keeps an answer until the tap has taken its secret.
type heldAnswer struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (a *heldAnswer) Header() http.Header         { return a.h }
func (a *heldAnswer) WriteHeader(s int)           { a.status = s }
func (a *heldAnswer) Write(b []byte) (int, error) { return a.body.Write(b) }
