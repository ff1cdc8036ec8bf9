package linode

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/provider/providertest"
	"github.com/cloudvip/floatip/ocf"
)

var update = flag.Bool("update", false, "rewrite the golden frr.conf")

// The route servers: the parameter, else the data center's four, from
// linode_dc_id or this Linode's region.
func TestBGPPeers(t *testing.T) {
	for _, tc := range []struct {
		params map[string]string
		region string
		want   string
		status ocf.Status
	}{
		{map[string]string{"linode_dc_id": "18"}, "", "2600:3c0f:18:34::1 2600:3c0f:18:34::2 2600:3c0f:18:34::3 2600:3c0f:18:34::4", 0},
		{map[string]string{}, "fr-par", "2600:3c0f:19:34::1 2600:3c0f:19:34::2 2600:3c0f:19:34::3 2600:3c0f:19:34::4", 0},
		{map[string]string{"linode_dc_id": "18"}, "fr-par", "2600:3c0f:18:34::1 2600:3c0f:18:34::2 2600:3c0f:18:34::3 2600:3c0f:18:34::4", 0},
		{map[string]string{"bgp_peers": "2001:db8:34::1, 2001:db8:34::2"}, "fr-par", "2001:db8:34::1 2001:db8:34::2", 0},
		{map[string]string{}, "xx-new", "", ocf.ErrConfigured},
	} {
		tc.params["linode_mode"] = "bgp"
		tc.params["api_url"], tc.params["metadata_url"] = "http://127.0.0.1:1", "http://127.0.0.1:1"
		p, err := Spec.Open(providertest.Get(tc.params), provider.Env{})
		if err != nil {
			t.Fatalf("%v: %v", tc.params, err)
		}
		peers, err := p.(*Linode).bgp.peers(tc.region)
		if ocf.StatusOf(err) != tc.status || (err != nil && !strings.Contains(err.Error(), "linode_dc_id")) {
			t.Fatalf("%v in %q: %v, want status %v", tc.params, tc.region, err, tc.status)
		}
		var got []string
		for _, a := range peers {
			got = append(got, a.String())
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%v in %q: peers %v, want %s", tc.params, tc.region, got, tc.want)
		}
	}
}

// floatip frr-config's output, for a data center id, hold 9 and BFD: what
// users append to frr.conf (testdata/frr-config.golden).
func TestFRRConfigGolden(t *testing.T) {
	p, err := Spec.Open(providertest.Get(map[string]string{"linode_mode": "bgp", "linode_dc_id": "18", "linode_id": "301", "bgp_bfd": "true",
		"api_url": "http://127.0.0.1:1", "metadata_url": "http://127.0.0.1:1"}), provider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.(*Linode).Speaker().(interface {
		Config(context.Context) (string, error)
	}).Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/frr-config.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil || got != string(want) {
		t.Fatalf("frr-config differs from %s (go test -update and review):\n%s", golden, got)
	}
	for _, line := range []string{"router bgp 65001", " neighbor FLOATIP remote-as 65000", " neighbor FLOATIP timers 3 9", " neighbor FLOATIP bfd",
		" neighbor 2600:3c0f:18:34::4 peer-group FLOATIP", "  neighbor FLOATIP activate", " set community 65000:1"} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("frr-config lacks %q", line)
		}
	}
	if p.(*Linode).Speaker() == nil || (&Linode{}).Speaker() != nil {
		t.Fatal("Speaker: bgp mode only")
	}
}
