package param

import (
	"strings"
	"testing"
)

func TestParseBool(t *testing.T) {
	for v, want := range map[string]bool{"1": true, "true": true, "Yes": true, "on": true, "y": true,
		"0": false, "false": false, "NO": false, "off": false, "n": false} {
		got, err := ParseBool("p", v)
		if err != nil || got != want {
			t.Errorf("%q: %v %v", v, got, err)
		}
	}
	if _, err := ParseBool("nodad", "maybe"); err == nil || !strings.Contains(err.Error(), "nodad=true") {
		t.Errorf("maybe: %v", err)
	}
}

func TestRender(t *testing.T) {
	specs := []Spec{
		{Name: "ip", Type: "string", Required: true, Long: "the address | pipe"},
		{Name: "token_file", Type: "string", Providers: []string{"digitalocean"}, Long: "token"},
		{Name: "arp_count", Type: "integer", Default: "5", Long: "count"},
	}
	md := Markdown(specs)
	for _, s := range []string{"| `ip` | string | required | all | the address \\| pipe |", "| `token_file` | string | — | digitalocean | token |", "| `arp_count` | integer | `5` | all | count |"} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
	m := Meta(specs)
	if len(m) != 3 || !m[0].Required || m[1].LongDesc != "token (provider: digitalocean)" || m[2].Default != "5" {
		t.Errorf("meta: %+v", m)
	}
}
