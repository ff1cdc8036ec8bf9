package lab

import (
	"strings"
	"testing"
	"time"
)

func TestTimingEffective(t *testing.T) {
	zero, c300 := 0, 300
	for _, tc := range []struct {
		t               Timing
		token, cons     time.Duration
		coefLbl, consLb string
	}{
		{Timing{Nodes: 3}, 1650 * time.Millisecond, 1980 * time.Millisecond, "default", "default"},
		{Timing{Nodes: 3, Token: 500, Coefficient: &zero}, 500 * time.Millisecond, 600 * time.Millisecond, "0", "default"},
		{Timing{Nodes: 4, Token: 500, Coefficient: &c300}, 1100 * time.Millisecond, 1320 * time.Millisecond, "300", "default"},
		{Timing{Nodes: 3, Token: 500, Consensus: 600}, 1150 * time.Millisecond, 600 * time.Millisecond, "default", "600"},
		{Timing{Nodes: 2, Token: 300, Coefficient: &c300}, 300 * time.Millisecond, 360 * time.Millisecond, "300", "default"},
	} {
		tok, cons := tc.t.Effective()
		coef, consLbl := tc.t.Labels()
		if tok != tc.token || cons != tc.cons || coef != tc.coefLbl || consLbl != tc.consLb {
			t.Errorf("%s: effective %v + %v, labels %s / %s; want %v + %v, %s / %s", tc.t, tok, cons, coef, consLbl, tc.token, tc.cons, tc.coefLbl, tc.consLb)
		}
	}
}

// TestFastConfig: the fast timing reaches corosync.conf and the seed CIB
// as the README's blocks say, and a default lab writes none of it.
func TestFastConfig(t *testing.T) {
	nodes := []*Node{{Name: "n1", Addr: "10.250.0.11"}, {Name: "n2", Addr: "10.250.0.12"}, {Name: "n3", Addr: "10.250.0.13"}}
	var cfg Config
	Fast(3).Apply(&cfg)
	l := &Lab{cfg: cfg, Nodes: nodes}
	conf, cib := l.corosyncConf(), l.cib()
	for _, want := range []string{"    token: 500\n", "    token_coefficient: 0\n", "    interface {\n        linknumber: 0\n        knet_ping_timeout: 1000\n        knet_ping_interval: 250\n    }\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("corosync.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "consensus") || strings.Contains(conf, "two_node") {
		t.Errorf("corosync.conf sets consensus or two_node on 3 nodes:\n%s", conf)
	}
	if !strings.Contains(cib, `name="transition-delay" value="200ms"`) || !strings.Contains(cib, `name="dc-deadtime"`) {
		t.Errorf("seed CIB lacks transition-delay 200ms or dc-deadtime:\n%s", cib)
	}
	def := &Lab{Nodes: nodes[:2]}
	conf, cib = def.corosyncConf(), def.cib()
	for _, unwanted := range []string{"token", "knet_ping", "consensus"} {
		if strings.Contains(conf, unwanted) {
			t.Errorf("a default lab's corosync.conf sets %s:\n%s", unwanted, conf)
		}
	}
	if !strings.Contains(conf, "two_node: 1") || strings.Contains(cib, "transition-delay") {
		t.Errorf("a default 2-node lab: two_node missing or transition-delay set:\n%s\n%s", conf, cib)
	}
}
