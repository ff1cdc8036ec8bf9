package agent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/param"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/provider/all"
	"github.com/cloudvip/floatip/internal/provider/digitalocean"
	"github.com/cloudvip/floatip/internal/provider/linode"
	"github.com/cloudvip/floatip/internal/provider/oci"
	"github.com/cloudvip/floatip/internal/runstate"
	"github.com/cloudvip/floatip/ocf"
)

// coreNames are the core parameters in Parse's order.
var coreNames = func() []string {
	var out []string
	for _, p := range core {
		out = append(out, p.Name)
	}
	return out
}()

// namedParam is the parameter an error message starts with ("ip=...",
// "iflabel is ..."): the longest name in names followed by '=' or ' '.
func namedParam(msg string, names []string) string {
	best := ""
	for _, n := range names {
		if (strings.HasPrefix(msg, n+"=") || strings.HasPrefix(msg, n+" ")) && len(n) > len(best) {
			best = n
		}
	}
	return best
}

// formatConfig gives back the parameters a Config stands for.
func formatConfig(c *Config) map[string]string {
	m := map[string]string{
		"ip": c.IP.String(), "nodad": strconv.FormatBool(c.NoDAD), "noprefixroute": strconv.FormatBool(c.NoPrefixRoute),
		"arp_count": strconv.Itoa(c.ARPCount), "arp_interval": strconv.Itoa(c.ARPInterval),
		"arp_count_refresh": strconv.Itoa(c.ARPRefresh), "check_link_status": strconv.FormatBool(c.CheckLink),
		"provider": c.Provider, "preferred_lft": "forever",
	}
	if c.PreferredLft != Forever {
		m["preferred_lft"] = strconv.FormatUint(uint64(c.PreferredLft), 10)
	}
	if c.PrefixSet {
		m["cidr_netmask"] = strconv.Itoa(c.Prefix)
	}
	for k, v := range map[string]string{"nic": c.NIC, "iflabel": c.Label, "broadcast": c.Broadcast} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// FuzzParse checks the core parameters' syntax check (Parse): what it
// accepts is what the parameter reference documents (a unicast address
// without zone or prefix, a prefix within the address family, an interface
// name and label the kernel takes, the ranges of the integers, a known
// provider, the IPv4-only parameters only with IPv4), it formats back to
// parameters that parse to the same Config, and a refusal is one
// *param.Error that names a parameter the input set.
func FuzzParse(f *testing.F) {
	for _, s := range [][13]string{
		{"192.0.2.10", "24", "eth0", "vip", "+", "", "", "", "5", "200", "0", "true", "none"},
		{"2001:db8::10", "64", "", "", "", "0", "yes", "", "", "", "", "", "digitalocean"},
		{"2001:DB8::0:1", "128", "lo", "", "", "forever", "1", "on", "0", "1", "1000", "off", "oci"},
		{" 192.0.2.1 ", "255.255.255.192", "", "", "-", "", "no", "", "1000", "60000", "", "n", "linode"},
		{"fe80::10", "64", "eth1", "", "", "4294967294sec", "", "", "", "", "", "", ""},
		{"fe80::10", "", "", "", "", "", "", "", "", "", "", "", ""},
		{"fe80::1%eth0", "", "", "", "", "", "", "", "", "", "", "", ""},
		{"192.0.2.1/24", "", "", "", "", "", "", "", "", "", "", "", ""},
		{"::ffff:192.0.2.1", "", "", "", "", "", "", "", "", "", "", "", ""},
		{"224.0.0.1", "", "", "", "", "", "", "", "", "", "", "", ""},
		{"255.255.255.255", "", "", "", "", "", "", "", "", "", "", "", ""},
		{"0.0.0.0", "", "", "", "", "", "", "", "", "", "", "", ""},
		{"192.0.2.1", "0.0.0.0", "", "", "", "", "", "", "", "", "", "", ""},
		{"192.0.2.1", "255.0.255.0", "", "", "", "", "", "", "", "", "", "", ""},
		{"192.0.2.1", "33", "", "", "", "", "", "", "", "", "", "", ""},
		{"2001:db8::1", "255.255.255.0", "", "", "", "", "", "", "", "", "", "", ""},
		{"192.0.2.1", "", "eth0:0", "", "", "", "", "", "", "", "", "", ""},
		{"192.0.2.1", "", "this-name-is-too-long", "", "", "", "", "", "", "", "", "", ""},
		{"192.0.2.1", "", "eth0", "eleven-char", "", "", "", "", "", "", "", "", ""},
		{"192.0.2.1", "", "", "a b", "", "", "", "", "", "", "", "", ""},
		{"2001:db8::1", "", "", "v", "+", "", "", "", "", "", "", "", ""},
		{"192.0.2.1", "", "", "", "2001:db8::ff", "", "", "", "", "", "", "", ""},
		{"192.0.2.1", "", "", "", "", "4294967295", "perhaps", "", "-1", "0", "1e3", "2", "aws"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12])
	}
	f.Fuzz(func(t *testing.T, ip, cidr, nic, label, bcast, lft, nodad, noprefix, count, interval, refresh, link, prov string) {
		in := map[string]string{"ip": ip, "cidr_netmask": cidr, "nic": nic, "iflabel": label, "broadcast": bcast,
			"preferred_lft": lft, "nodad": nodad, "noprefixroute": noprefix, "arp_count": count, "arp_interval": interval,
			"arp_count_refresh": refresh, "check_link_status": link, "provider": prov}
		c, _, err := Parse(get(in))
		if err != nil {
			var pe *param.Error
			if !errors.As(err, &pe) {
				t.Fatalf("%v: %T %v, want a *param.Error", in, err, err)
			}
			n := namedParam(err.Error(), coreNames)
			if n == "" || (n != "ip" && in[n] == "") {
				t.Fatalf("%v: %q names no parameter the input set", in, err)
			}
			return
		}
		a := c.IP
		if !a.IsValid() || a.Zone() != "" || a.Is4In6() || a.IsUnspecified() || a.IsMulticast() || a == netip.MustParseAddr("255.255.255.255") {
			t.Fatalf("ip=%q accepted as %v", ip, a)
		}
		if c.PrefixSet != (cidr != "") || (c.PrefixSet && (c.Prefix < 1 || c.Prefix > a.BitLen())) {
			t.Fatalf("cidr_netmask=%q accepted as %d (set %v) for %v", cidr, c.Prefix, c.PrefixSet, a)
		}
		if c.NIC != nic || (nic != "" && (len(nic) > 15 || nic == "." || nic == ".." || strings.ContainsAny(nic, "/: \t\n\r\v\f"))) {
			t.Fatalf("nic=%q accepted as %q", nic, c.NIC)
		}
		if c.Label != label || len(label) > 13 || strings.ContainsAny(label, "/: \t\n") || (nic != "" && label != "" && len(nic)+1+len(label) > 15) {
			t.Fatalf("iflabel=%q (nic=%q) accepted as %q", label, nic, c.Label)
		}
		if b := c.Broadcast; b != "" && b != "+" && b != "-" {
			if p, err := netip.ParseAddr(b); err != nil || !p.Is4() || p.String() != b {
				t.Fatalf("broadcast=%q accepted as %q", bcast, b)
			}
		}
		if a.Is6() && (c.Label != "" || c.Broadcast != "") {
			t.Fatalf("IPv6 %v accepted with iflabel %q, broadcast %q", a, c.Label, c.Broadcast)
		}
		if a.Is6() && a.IsLinkLocalUnicast() && c.NIC == "" {
			t.Fatalf("link-local %v accepted without nic", a)
		}
		if c.ARPCount < 0 || c.ARPCount > 1000 || c.ARPInterval < 1 || c.ARPInterval > 60000 || c.ARPRefresh < 0 || c.ARPRefresh > 1000 {
			t.Fatalf("%v: ARP settings out of range: %+v", in, c)
		}
		if (c.PreferredLft == Forever) != (lft == "" || lft == "forever") {
			t.Fatalf("preferred_lft=%q accepted as %d", lft, c.PreferredLft)
		}
		if _, ok := all.Providers.Lookup(c.Provider); !ok {
			t.Fatalf("provider=%q accepted as %q", prov, c.Provider)
		}
		again, _, err := Parse(get(formatConfig(c)))
		if err != nil || *again != *c {
			t.Fatalf("%v parsed to %+v; formatted back, %v parses to %+v, %v", in, c, formatConfig(c), again, err)
		}
	})
}

// FuzzValidate checks the level-0 validation every action starts with
// (Agent.parse: the core parameters, the interval parameters and the
// provider's own): a refusal is OCF_ERR_CONFIGURED and names a parameter
// the input set (or the real endpoint a test run forbids); an accepted
// configuration has its intervals within 0-86400 s, endpoints that are
// canonical origins, ids within 1-2^31-1 or from metadata, an absolute
// token file and a known mode.
func FuzzValidate(f *testing.F) {
	for _, s := range [][14]string{
		{"192.0.2.10", "none", "", "", "", "", "", "", "", "", "", "", "", ""},
		{"203.0.113.50", "digitalocean", "http://127.0.0.1:8080", "http://127.0.0.1:8081", "/etc/cloudvip/digitalocean.token", "", "", "", "", "", "", "60", "5", "10"},
		{"2001:db8::50", "digitalocean", "http://127.0.0.1:8080", "", "", "2147483647", "", "", "", "", "", "0", "0", "0"},
		{"203.0.113.50", "digitalocean", "http://127.0.0.1:8080", "", "relative.token", "42", "", "", "", "", "", "", "", ""},
		{"203.0.113.50", "digitalocean", "", "", "", "42", "", "", "", "", "", "", "", ""},
		{"203.0.113.50", "digitalocean", "http://127.0.0.1:8080/v2", "", "", "0", "", "", "", "", "", "86401", "-1", "x"},
		{"198.51.100.7", "linode", "http://[::1]:9000", "http://[::1]:9001", "", "", "12345", "share", "", "", "", "", "", ""},
		{"198.51.100.7", "linode", "http://127.0.0.1:9000", "http://127.0.0.1:9001", "", "", "", "assign", "", "", "", "", "", ""},
		{"198.51.100.7", "linode", "http://127.0.0.1:9000", "", "", "", "1", "shared", "", "", "", "", "", ""},
		{"10.0.0.5", "oci", "http://127.0.0.1:7000", "http://127.0.0.1:7001", "", "", "", "", "instance_principal", "ocid1.vnic.oc1.phx.abc", "http://127.0.0.1:7002", "", "", ""},
		{"2001:db8:a::5", "oci", "http://127.0.0.1:7000", "http://127.0.0.1:7001", "", "", "", "", "config_file", "", "", "", "", ""},
		{"10.0.0.5", "oci", "http://127.0.0.1:7000", "http://127.0.0.1:7001", "", "", "", "", "api_key", "vnic1", "", "", "", ""},
		{"10.0.0.5", "oci", "", "", "", "", "", "", "", "", "", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13])
	}
	names := func() []string {
		var out []string
		for _, p := range Specs() {
			out = append(out, p.Name)
		}
		return out
	}()
	state := runstate.Dir(f.TempDir())
	f.Fuzz(func(t *testing.T, ip, prov, api, meta, token, droplet, linodeID, mode, auth, vnic, authURL, check, claim, keep string) {
		in := map[string]string{"ip": ip, "provider": prov, "api_url": api, "metadata_url": meta, "token_file": token,
			"droplet_id": droplet, "linode_id": linodeID, "linode_mode": mode, "oci_auth": auth, "vnic_id": vnic,
			"auth_url": authURL, "cloud_check_interval": check, "claim_interval": claim, "keep_interval": keep}
		e := ocf.FromLookup("validate-all", func(k string) (string, bool) {
			v, ok := in[strings.TrimPrefix(k, "OCF_RESKEY_")]
			return v, ok && strings.HasPrefix(k, "OCF_RESKEY_")
		})
		a := &Agent{Env: e, Log: ocf.NewLogger(Name, e, io.Discard), State: state}
		j, err := a.parse()
		if err != nil {
			if st := ocf.StatusOf(err); st != ocf.ErrConfigured {
				t.Fatalf("%v: %v exits %v, want OCF_ERR_CONFIGURED", in, err, st)
			}
			n := namedParam(err.Error(), names)
			if n == "" || (n != "ip" && in[n] == "" && !strings.Contains(err.Error(), provider.ForbidRealEndpoints)) {
				t.Fatalf("%v: %q names no parameter the input set", in, err)
			}
			return
		}
		for _, d := range []struct {
			name string
			got  time.Duration
			def  time.Duration
		}{{"cloud_check_interval", j.checkEvery, time.Minute}, {"claim_interval", j.claimEvery, 5 * time.Second}, {"keep_interval", j.keepEvery, 10 * time.Second}} {
			want := d.def
			if v := in[d.name]; v != "" {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil || n < 0 || n > 86400 {
					t.Fatalf("%s=%q accepted as %v", d.name, v, d.got)
				}
				want = time.Duration(n) * time.Second
			}
			if d.got != want {
				t.Fatalf("%s=%q: %v, want %v", d.name, in[d.name], d.got, want)
			}
		}
		if j.spec.Name != j.Provider {
			t.Fatalf("provider %q opened %q", j.Provider, j.spec.Name)
		}
		origin := func(name, v string) {
			t.Helper()
			if o, err := param.ParseOrigin(name, v); err != nil || o != v {
				t.Fatalf("%v: %s accepted as %q, not an origin (%q, %v)", in, name, v, o, err)
			}
		}
		id := func(name string, got int) {
			t.Helper()
			v := in[name]
			if v == "" {
				if got != 0 {
					t.Fatalf("%s unset but %d", name, got)
				}
				return
			}
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err != nil || n != got || n < 1 || n > 1<<31-1 {
				t.Fatalf("%s=%q accepted as %d", name, v, got)
			}
		}
		switch p := j.cloud.(type) {
		case *digitalocean.DO:
			origin("api_url", p.API)
			origin("metadata_url", p.Metadata)
			id("droplet_id", p.DropletID)
			if !filepath.IsAbs(p.TokenFile) {
				t.Fatalf("token_file %q accepted", p.TokenFile)
			}
		case *linode.Linode:
			origin("api_url", p.API)
			origin("metadata_url", p.Metadata)
			id("linode_id", p.ID)
			if !filepath.IsAbs(p.TokenFile) || (p.Mode != "share" && p.Mode != "assign") {
				t.Fatalf("token_file %q, linode_mode %q accepted", p.TokenFile, p.Mode)
			}
		case *oci.OCI:
			origin("metadata_url", p.Metadata)
			// Unset, the SDK finds the region's endpoints.
			if p.API != "" || in["api_url"] != "" {
				origin("api_url", p.API)
			}
			if p.AuthURL != "" || in["auth_url"] != "" {
				origin("auth_url", p.AuthURL)
			}
			if (p.Auth != "instance_principal" && p.Auth != "config_file") || (p.VnicID != "" && !strings.HasPrefix(p.VnicID, "ocid1.vnic.")) {
				t.Fatalf("oci_auth %q, vnic_id %q accepted", p.Auth, p.VnicID)
			}
		default:
			if j.isCloud() {
				t.Fatalf("provider %q opened as %T", j.Provider, p)
			}
		}
	})
}

// FuzzConfigFile checks the CLI's config file reader (floatip up --config,
// keepalived-fifo's INSTANCE.conf): what it accepts holds parameter names
// only, each with the trimmed value of its last line, and written back as
// name=value lines reads the same; a refusal is OCF_ERR_CONFIGURED naming
// the file and a line that is neither blank, a comment nor name=value of a
// known parameter (or, for a line longer than the reader takes, ERR_PERM:
// TestConfigFileLongLine; no seed has one, as minimizing 64 KiB inputs
// byte by byte stalled the fuzzer for its whole -fuzzminimizetime).
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"ip=192.0.2.10\n",
		"# floatip up --config /etc/cloudvip/vip.conf\nip = 203.0.113.50\nprovider=digitalocean\ncidr-netmask=32\n\n  # indented comment\ntoken_file=/etc/cloudvip/digitalocean.token\n",
		"ip=10.0.0.5\r\nprovider=oci\r\nvnic_id=ocid1.vnic.oc1.phx.abc\r\n",
		"ip=198.51.100.7\nprovider=linode\nlinode-mode=assign\nip=198.51.100.8\n",
		"ip=192.0.2.63\n\ntoken=abc\n",
		"ip\n",
		"=192.0.2.1\n",
		"ip=192.0.2.1 # not a comment\n",
		"nic==eth0",
		"\xef\xbb\xbfip=192.0.2.1\n",
		"ip=192.0.2.1\rnic=eth0\n",
	} {
		f.Add([]byte(s))
	}
	const path = "/etc/cloudvip/vip.conf"
	known := map[string]bool{}
	for _, p := range Specs() {
		known[p.Name] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1024 {
			return // see maxInput in ../provider/linode/fuzz_test.go
		}
		m, err := ReadConfigFile(bytes.NewReader(data), path)
		// The file's lines as the reader sees them (bufio.ScanLines).
		var lines []string
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, len(data)+1)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if err != nil {
			switch ocf.StatusOf(err) {
			case ocf.ErrPerm:
				if !slices.ContainsFunc(lines, func(l string) bool { return len(l) >= bufio.MaxScanTokenSize }) {
					t.Fatalf("%q: %v, but no line is too long", data, err)
				}
			case ocf.ErrConfigured:
				var n int
				if _, serr := fmt.Sscanf(err.Error(), "--config "+path+" line %d:", &n); serr != nil || n < 1 || n > len(lines) {
					t.Fatalf("%q: %q does not name the file and one of its %d lines", data, err, len(lines))
				}
				s := strings.TrimSpace(lines[n-1])
				k, _, ok := strings.Cut(s, "=")
				if s == "" || strings.HasPrefix(s, "#") || (ok && known[strings.ReplaceAll(strings.TrimSpace(k), "-", "_")]) {
					t.Fatalf("%q: %q blames line %d, %q, which is fine", data, err, n, lines[n-1])
				}
			default:
				t.Fatalf("%q: %v exits %v", data, err, ocf.StatusOf(err))
			}
			return
		}
		for k, v := range m {
			if !known[k] || v != strings.TrimSpace(v) || strings.ContainsAny(v, "\n") {
				t.Fatalf("%q: accepted %q=%q", data, k, v)
			}
			// The value is that of the parameter's last line.
			last := ""
			for _, l := range lines {
				if lk, lv, ok := strings.Cut(strings.TrimSpace(l), "="); ok && !strings.HasPrefix(strings.TrimSpace(l), "#") &&
					strings.ReplaceAll(strings.TrimSpace(lk), "-", "_") == k {
					last = strings.TrimSpace(lv)
				}
			}
			if v != last {
				t.Fatalf("%q: %s=%q, but its last line says %q", data, k, v, last)
			}
		}
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(&b, "%s=%s\n", k, m[k])
		}
		again, err := ReadConfigFile(strings.NewReader(b.String()), path)
		if err != nil || !maps.Equal(again, m) {
			t.Fatalf("%q read as %v; written back as %q it reads %v, %v", data, m, b.String(), again, err)
		}
	})
}
