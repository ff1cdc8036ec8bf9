package main_test

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cloudvip/floatip/internal/fakecloud/ocifake"
	"github.com/cloudvip/floatip/internal/nstest"
)

const ociTenancy = "ocid1.tenancy.oc1..labtenancy"

// ociLab is a LAN of n nodes and the OCI fake in the cloud namespace: node
// i is an instance (told apart by source address) whose primary VNIC has
// the node's eth0 MAC, in subnet 10.250.0.0/24 + 2001:db8:250::/64.
type ociLab struct {
	cloudLab
	fake  *ocifake.Fake
	vnics []*ocifake.Vnic
}

var macRe = regexp.MustCompile(`link/ether ([0-9a-f:]{17})`)

func newOCILab(t testing.TB, n int) *ociLab {
	lan := nstest.NewLAN(t, n)
	f := ocifake.New(ociTenancy, "xx-lab-1")
	s := f.AddSubnet("10.250.0.0/24", "2001:db8:250::/64")
	l := &ociLab{fake: f}
	for i, ns := range lan.Nodes {
		m := macRe.FindStringSubmatch(nstest.Run(t, "ip", "-n", ns, "-o", "link", "show", "dev", lan.NodeIf))
		addr := fmt.Sprintf("10.250.0.%d", i+1)
		_, v := f.AddInstance(addr, s, addr, m[1])
		l.vnics = append(l.vnics, v)
	}
	t.Cleanup(f.Close)
	l.cloudLab = newCloudLab(t, lan, lan.Serve(t, f))
	return l
}

func (l *ociLab) params(ip string) map[string]string {
	return map[string]string{"ip": ip, "provider": "oci", "api_url": l.url, "metadata_url": l.url, "auth_url": l.url}
}

func TestOCIOCFTester(t *testing.T) {
	needTool(t, "ocf-tester")
	for _, ip := range []string{"10.250.0.50", "2001:db8:250::50"} {
		t.Run(ip, func(t *testing.T) {
			l := newOCILab(t, 1)
			args := []string{"ip", "netns", "exec", l.lan.Nodes[0], "ocf-tester", "-n", "vip"}
			for k, v := range l.params(ip) {
				args = append(args, "-o", k+"="+v)
			}
			cmd := exec.Command(args[0], append(args[1:], bin)...)
			cmd.Env = append(os.Environ(), "HA_RSCTMP="+l.state[0])
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "passed all tests") {
				t.Fatalf("ocf-tester: %v\n%s", err, out)
			}
			if h := l.fake.Holder(ip); h != l.vnics[0].ID {
				t.Fatalf("after ocf-tester %s is on %q, want this node's VNIC", ip, h)
			}
			if n := l.fake.Count("POST /20160918/") + l.fake.Count("PUT /20160918/"); n != 1 {
				t.Fatalf("ocf-tester's starts made %d writes, want 1 (create once, then nothing)", n)
			}
		})
	}
}

// TestOCITakeover: B's start takes the IP from A's VNIC; A's depth-10
// monitor then reports 7 naming B's VNIC; the address is bound on the
// interface with the VNIC's MAC with the subnet's prefix.
func TestOCITakeover(t *testing.T) {
	l := newOCILab(t, 2)
	p := l.params("10.250.0.60")
	p["cloud_check_interval"] = "0"
	recurring := "OCF_RESKEY_CRM_meta_interval=10000"
	want(t, l.call(t, 0, "start", p), 0, "start on A")
	if a := nstest.Addrs(t, l.lan.Nodes[0], l.lan.NodeIf); !strings.Contains(a, "inet 10.250.0.60/24") {
		t.Fatalf("not bound on A's VNIC interface with the subnet prefix:\n%s", a)
	}
	want(t, l.call(t, 1, "start", p), 0, "start on B")
	if h := l.fake.Holder("10.250.0.60"); h != l.vnics[1].ID {
		t.Fatalf("holder %s, want B's VNIC", h)
	}
	r := l.call(t, 0, "monitor", p, recurring, "OCF_CHECK_LEVEL=10")
	want(t, r, 7, "A's depth-10 monitor after B took the IP")
	if !strings.Contains(r.stderr, "taken by VNIC "+l.vnics[1].ID) {
		t.Fatalf("A's monitor does not name B's VNIC:\n%s", r.stderr)
	}
	before := l.fake.Count("")
	want(t, l.call(t, 0, "stop", p), 0, "stop on A")
	if n := l.fake.Count("") - before; n != 0 {
		t.Fatalf("stop made %d requests", n)
	}
	want(t, l.call(t, 1, "monitor", p, recurring, "OCF_CHECK_LEVEL=10"), 0, "B's depth-10 monitor")
}

// TestOCIConfigFileAuth: the same start with an API key from an OCI
// config file; a key the service does not know exits 4 naming the policy.
func TestOCIConfigFileAuth(t *testing.T) {
	l := newOCILab(t, 1)
	dir := t.TempDir()
	config := func(known bool) string {
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		kf := filepath.Join(dir, fmt.Sprintf("key-%v.pem", known))
		os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
		der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		sum := md5.Sum(der)
		fp := strings.TrimSpace(strings.ReplaceAll(fmt.Sprintf("% x", sum), " ", ":"))
		user := "ocid1.user.oc1..labuser"
		if known {
			l.fake.AddAPIKey(ociTenancy+"/"+user+"/"+fp, &key.PublicKey)
		}
		cf := filepath.Join(dir, fmt.Sprintf("config-%v", known))
		os.WriteFile(cf, []byte(fmt.Sprintf("[DEFAULT]\nuser=%s\nfingerprint=%s\ntenancy=%s\nregion=xx-lab-1\nkey_file=%s\n", user, fp, ociTenancy, kf)), 0o600)
		return cf
	}
	p := l.params("10.250.0.70")
	p["oci_auth"], p["oci_config"] = "config_file", config(true)
	want(t, l.call(t, 0, "start", p), 0, "start with the config file")
	if l.fake.Count("POST /v1/x509") != 0 {
		t.Fatal("config-file auth fetched an instance-principal token")
	}
	p["oci_config"] = config(false)
	p["ip"] = "10.250.0.71"
	r := l.call(t, 0, "start", p, "OCF_RESKEY_CRM_meta_timeout=5000")
	want(t, r, 4, "start with a key OCI does not know")
	if !strings.Contains(r.reason(), "use private-ips") {
		t.Fatalf("reason does not name the IAM policy: %s", r.reason())
	}
}
