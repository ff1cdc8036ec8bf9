package ocf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Status
	}{
		{nil, Success},
		{errors.New("plain"), ErrGeneric},
		{Errorf(ErrConfigured, "bad"), ErrConfigured},
		{fmt.Errorf("wrapped: %w", Errorf(NotRunning, "gone")), NotRunning},
		{WithStatus(ErrPerm, errors.New("x")), ErrPerm},
	} {
		if got := StatusOf(tc.err); got != tc.want {
			t.Errorf("StatusOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if WithStatus(ErrPerm, nil) != nil {
		t.Error("WithStatus(nil) must stay nil")
	}
	if ErrConfigured.String() != "OCF_ERR_CONFIGURED" || Status(42).String() != "OCF_STATUS_42" {
		t.Error("status names")
	}
}

func TestEnv(t *testing.T) {
	for _, tc := range []struct {
		name     string
		action   string
		env      map[string]string
		timeout  time.Duration
		interval time.Duration
		level    int
		probe    bool
		instance string
		debug    bool
		facility string
	}{
		{"empty", "monitor", nil, 20 * time.Second, 0, 0, true, "default", false, ""},
		{"pacemaker monitor", "monitor", map[string]string{"OCF_RESKEY_CRM_meta_timeout": "30000", "OCF_RESKEY_CRM_meta_interval": "10000", "OCF_RESOURCE_INSTANCE": "vip", "OCF_CHECK_LEVEL": "10"},
			30 * time.Second, 10 * time.Second, 10, false, "vip", false, ""},
		{"probe", "monitor", map[string]string{"OCF_RESKEY_CRM_meta_interval": "0"}, 20 * time.Second, 0, 0, true, "default", false, ""},
		{"status is monitor", "status", nil, 20 * time.Second, 0, 0, true, "default", false, ""},
		{"start is no probe", "start", nil, 20 * time.Second, 0, 0, false, "default", false, ""},
		{"garbage timeout", "start", map[string]string{"OCF_RESKEY_CRM_meta_timeout": "soon"}, 20 * time.Second, 0, 0, false, "default", false, ""},
		{"legacy check level", "monitor", map[string]string{"OCF_RESKEY_OCF_CHECK_LEVEL": "20"}, 20 * time.Second, 0, 20, true, "default", false, ""},
		{"debug", "start", map[string]string{"HA_debug": "1"}, 20 * time.Second, 0, 0, false, "default", true, ""},
		{"debug off", "start", map[string]string{"HA_debug": "0"}, 20 * time.Second, 0, 0, false, "default", false, ""},
		{"facility", "start", map[string]string{"HA_LOGFACILITY": "daemon"}, 20 * time.Second, 0, 0, false, "default", false, "daemon"},
		{"facility none", "start", map[string]string{"HA_LOGFACILITY": "none"}, 20 * time.Second, 0, 0, false, "default", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := FromLookup(tc.action, lookup(tc.env))
			if e.Timeout != tc.timeout || e.Interval != tc.interval || e.CheckLevel != tc.level ||
				e.IsProbe() != tc.probe || e.Instance != tc.instance || e.Debug != tc.debug || e.Facility != tc.facility {
				t.Fatalf("got %+v probe=%v", e, e.IsProbe())
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct{ timeout, want time.Duration }{
		{20 * time.Second, 18 * time.Second},
		{5 * time.Second, 4500 * time.Millisecond},
		{time.Second, 800 * time.Millisecond},
		{300 * time.Millisecond, 150 * time.Millisecond},
		{120 * time.Second, 118 * time.Second},
	} {
		e := &Env{Timeout: tc.timeout}
		if got := e.Deadline(now).Sub(now); got != tc.want {
			t.Errorf("timeout %v: deadline after %v, want %v", tc.timeout, got, tc.want)
		}
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	e := FromLookup("start", lookup(map[string]string{"OCF_RESOURCE_INSTANCE": "vip"}))
	l := NewLogger("floatip", e, &buf)
	l.Infof("bound %s", "192.0.2.1")
	l.Debugf("hidden")
	l.Warnf("careful")
	l.ExitReason("broken\nacross lines")
	pid := os.Getpid()
	want := fmt.Sprintf("floatip(vip)[%d]: INFO: bound 192.0.2.1\nfloatip(vip)[%d]: WARNING: careful\nfloatip(vip)[%d]: ERROR: broken across lines\nocf-exit-reason:broken across lines\n", pid, pid, pid)
	if buf.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", buf.String(), want)
	}

	buf.Reset()
	e = FromLookup("start", lookup(map[string]string{"HA_debug": "1", "OCF_EXIT_REASON_PREFIX": "why:"}))
	l = NewLogger("floatip", e, &buf)
	l.Debugf("shown")
	l.ExitReason("r")
	if !strings.Contains(buf.String(), "DEBUG: shown") || !strings.HasSuffix(buf.String(), "why:r\n") {
		t.Fatalf("debug/prefix: %q", buf.String())
	}
}

func TestMetadataXML(t *testing.T) {
	m := &Metadata{Name: "x", Version: "1", LongDesc: "long <&>", ShortDesc: "short",
		Params:  []MetaParam{{Name: "p", Required: true, Type: "integer", Default: "5"}},
		Actions: []MetaAction{{Name: "monitor", Timeout: 20 * time.Second, Interval: 1500 * time.Millisecond}, {Name: "start", Timeout: time.Minute}}}
	x, err := m.XML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n<resource-agent name=\"x\" version=\"1\">",
		"<version>1.1</version>",
		"long &lt;&amp;&gt;",
		`<parameter name="p" unique="0" required="1">`,
		`<content type="integer" default="5"></content>`,
		`<action name="monitor" timeout="20s" interval="1500ms" depth="0"></action>`,
		`<action name="start" timeout="60s"></action>`,
	} {
		if !strings.Contains(string(x), s) {
			t.Errorf("meta-data lacks %q:\n%s", s, x)
		}
	}
	m.Params[0].Type = "select"
	if _, err := m.XML(); err == nil {
		t.Error("a content type outside ra-api-1.dtd must be refused")
	}
}
