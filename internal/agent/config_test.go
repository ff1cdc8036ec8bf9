package agent

import (
	"flag"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudvip/floatip/internal/param"
)

var update = flag.Bool("update", false, "rewrite golden files and the README's parameter table")

func get(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseDefaults(t *testing.T) {
	c, warns, err := Parse(get(map[string]string{"ip": "192.0.2.1"}))
	if err != nil || len(warns) != 0 {
		t.Fatal(err, warns)
	}
	want := Config{IP: netip.MustParseAddr("192.0.2.1"), PreferredLft: Forever, ARPCount: 5, ARPInterval: 200,
		CheckLink: true, Provider: "none"}
	if *c != want {
		t.Fatalf("got %+v\nwant %+v", *c, want)
	}
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		params map[string]string
		check  func(*Config) bool
		warn   string
	}{
		{map[string]string{"ip": "2001:DB8::0:1"}, func(c *Config) bool { return c.IP.String() == "2001:db8::1" }, ""},
		{map[string]string{"ip": " 192.0.2.1 "}, func(c *Config) bool { return c.IP.String() == "192.0.2.1" }, ""},
		{map[string]string{"ip": "192.0.2.1", "cidr_netmask": "255.255.255.192"}, func(c *Config) bool { return c.PrefixSet && c.Prefix == 26 }, "dotted netmask"},
		{map[string]string{"ip": "192.0.2.1", "cidr_netmask": "32"}, func(c *Config) bool { return c.Prefix == 32 }, ""},
		{map[string]string{"ip": "2001:db8::1", "cidr_netmask": "128", "preferred_lft": "0"}, func(c *Config) bool { return c.Prefix == 128 && c.PreferredLft == 0 }, ""},
		{map[string]string{"ip": "192.0.2.1", "nodad": "yes"}, func(c *Config) bool { return c.NoDAD }, "no effect"},
		{map[string]string{"ip": "192.0.2.1", "broadcast": "-", "iflabel": "vip", "nic": "eth0"}, func(c *Config) bool { return c.Broadcast == "-" && c.Label == "vip" }, ""},
		{map[string]string{"ip": "192.0.2.1", "check_link_status": "off", "arp_count": ""}, func(c *Config) bool { return c.ARPCount == 5 && !c.CheckLink }, ""},
		{map[string]string{"ip": "192.0.2.1", "cidr_netmask": ""}, func(c *Config) bool { return !c.PrefixSet }, ""},
	} {
		c, warns, err := Parse(get(tc.params))
		if err != nil {
			t.Errorf("%v: %v", tc.params, err)
			continue
		}
		if !tc.check(c) {
			t.Errorf("%v: got %+v", tc.params, c)
		}
		if got := strings.Join(warns, ";"); (tc.warn == "") != (got == "") || !strings.Contains(got, tc.warn) {
			t.Errorf("%v: warnings %q, want one containing %q", tc.params, got, tc.warn)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		params map[string]string
		want   string // the parameter named in the one-line message
	}{
		{map[string]string{}, "ip is required"},
		{map[string]string{"ip": ""}, "ip is empty"},
		{map[string]string{"ip": "10.0.0.300"}, "ip=10.0.0.300"},
		{map[string]string{"ip": "fe80::1%eth0"}, "ip=fe80::1%eth0 has a zone"},
		{map[string]string{"ip": "0.0.0.0"}, "ip=0.0.0.0"},
		{map[string]string{"ip": "::"}, "ip=::"},
		{map[string]string{"ip": "224.0.0.1"}, "ip=224.0.0.1 is a multicast"},
		{map[string]string{"ip": "255.255.255.255"}, "ip=255.255.255.255"},
		{map[string]string{"ip": "::ffff:192.0.2.1"}, "use ip=192.0.2.1"},
		{map[string]string{"ip": "192.0.2.1", "cidr_netmask": "33"}, "cidr_netmask=33"},
		{map[string]string{"ip": "192.0.2.1", "cidr_netmask": "0"}, "cidr_netmask=0"},
		{map[string]string{"ip": "192.0.2.1", "cidr_netmask": "0.0.0.0"}, "cidr_netmask=0.0.0.0 is a /0"},
		{map[string]string{"ip": "fe80::10"}, "ip=fe80::10 is an IPv6 link-local address; set nic"},
		{map[string]string{"ip": "2001:db8::1", "cidr_netmask": "129"}, "cidr_netmask=129"},
		{map[string]string{"ip": "2001:db8::1", "cidr_netmask": "255.255.255.0"}, "cidr_netmask=255.255.255.0"},
		{map[string]string{"ip": "192.0.2.1", "cidr_netmask": "abc"}, "cidr_netmask=abc"},
		{map[string]string{"ip": "192.0.2.1", "nic": "this-name-is-too-long"}, "nic="},
		{map[string]string{"ip": "192.0.2.1", "nic": "eth0:0"}, "iflabel=0"},
		{map[string]string{"ip": "192.0.2.1", "iflabel": "fourteen-chars"}, "iflabel=fourteen-chars"},
		{map[string]string{"ip": "192.0.2.1", "iflabel": "a b"}, "iflabel="},
		{map[string]string{"ip": "192.0.2.1", "nic": "eth0", "iflabel": "eleven-char"}, "iflabel=eleven-char"},
		{map[string]string{"ip": "2001:db8::1", "iflabel": "v"}, "iflabel"},
		{map[string]string{"ip": "2001:db8::1", "broadcast": "+"}, "broadcast"},
		{map[string]string{"ip": "192.0.2.1", "broadcast": "2001:db8::ff"}, "broadcast=2001:db8::ff"},
		{map[string]string{"ip": "192.0.2.1", "preferred_lft": "soon"}, "preferred_lft=soon"},
		{map[string]string{"ip": "192.0.2.1", "nodad": "perhaps"}, "nodad"},
		{map[string]string{"ip": "192.0.2.1", "arp_count": "-1"}, "arp_count=-1"},
		{map[string]string{"ip": "192.0.2.1", "arp_count": "abc"}, "arp_count=abc"},
		{map[string]string{"ip": "192.0.2.1", "arp_interval": "0"}, "arp_interval=0"},
		{map[string]string{"ip": "192.0.2.1", "arp_count_refresh": "1e3"}, "arp_count_refresh=1e3"},
		{map[string]string{"ip": "192.0.2.1", "check_link_status": "2"}, "check_link_status"},
		{map[string]string{"ip": "192.0.2.1", "provider": "aws"}, "provider=aws is unknown"},
	} {
		_, _, err := Parse(get(tc.params))
		if err == nil {
			t.Errorf("%v: accepted", tc.params)
			continue
		}
		if _, ok := err.(*param.Error); !ok || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %q, want one line containing %q", tc.params, err, tc.want)
		}
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/agent -update)", err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s is out of date; run go test ./internal/agent -update and review the diff", path)
	}
}

func TestMetadataGolden(t *testing.T) {
	x, err := Metadata().XML()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "metadata.xml", x)
}

// TestMetadataDTD validates the meta-data the way ocf-tester does.
func TestMetadataDTD(t *testing.T) {
	const dtdDir = "/usr/share/resource-agents"
	if _, err := os.Stat(filepath.Join(dtdDir, "ra-api-1.dtd")); err != nil {
		t.Skip("resource-agents' ra-api-1.dtd is not installed (.ci/run installs resource-agents)")
	}
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint is not installed (.ci/run installs libxml2-utils)")
	}
	x, err := Metadata().XML()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("xmllint", "--noout", "--valid", "-")
	cmd.Dir = dtdDir
	cmd.Stdin = strings.NewReader(string(x))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xmllint --valid: %v\n%s", err, out)
	}
}

// TestReadmeParameters keeps the README's parameter reference rendered from
// the same table as the meta-data.
func TestReadmeParameters(t *testing.T) {
	const begin, end = "<!-- parameters:begin -->\n", "<!-- parameters:end -->"
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", begin, end)
	}
	table := param.Markdown(Specs())
	if s[i+len(begin):j] == table {
		return
	}
	if !*update {
		t.Fatal("README.md's parameter table is out of date; run go test ./internal/agent -update")
	}
	s = s[:i+len(begin)] + table + s[j:]
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The man pages come from the parameter table, the actions and the verbs;
// the packages ship the golden files. man renders both without a warning.
func TestManPages(t *testing.T) {
	for name, page := range map[string]string{"man/ocf_cloudvip_floatip.7": ManOCF(), "man/floatip.8": ManCLI()} {
		golden(t, name, []byte(page))
		for _, p := range Specs() {
			if !strings.Contains(page, `\fB`+param.RoffEscape(p.Name)+`\fR`) && strings.HasSuffix(name, ".7") {
				t.Errorf("%s lacks parameter %s", name, p.Name)
			}
		}
		if _, err := exec.LookPath("man"); err != nil {
			continue
		}
		cmd := exec.Command("man", "--warnings", "-l", filepath.Join("..", "..", "testdata", name))
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=0", "PAGER=cat")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 || len(out) < 1000 {
			t.Errorf("man -l %s: %v, %d bytes, warnings:\n%s", name, err, len(out), stderr.String())
		}
	}
}

// The keepalived example the packages ship is the README's recipe.
func TestKeepalivedExample(t *testing.T) {
	ex, err := os.ReadFile(filepath.Join("..", "..", "testdata", "examples", "keepalived.conf"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	body := string(ex)
	for strings.HasPrefix(body, "#") {
		_, body, _ = strings.Cut(body, "\n")
	}
	if !strings.Contains(string(readme), "```\n"+body+"```\n") {
		t.Fatal("README.md's keepalived recipe differs from testdata/examples/keepalived.conf (past its comment)")
	}
}
