package lab

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLogParsing reads the Pacemaker and Corosync lines the timeline is
// built from (golden snippets in testdata/lab).
func TestLogParsing(t *testing.T) {
	dir := t.TempDir()
	n := &Node{Name: "n2", Dir: dir}
	for src, dst := range map[string]string{"pacemaker.log": n.PacemakerLog(), "corosync.log": n.CorosyncLog()} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "lab", src))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(dst), 0o755)
		os.WriteFile(dst, b, 0o644)
	}
	kill := time.Date(time.Now().Year(), time.November, 22, 1, 15, 35, 0, time.Local)
	end, took := n.StartTime("vip", kill)
	if took != 13*time.Millisecond || end != kill.Add(4835*time.Millisecond) {
		t.Fatalf("start after the kill: ended %v, took %v", end, took)
	}
	if end, took := n.StartTime("vip", kill.Add(time.Minute)); !end.IsZero() || took != 0 {
		t.Fatalf("no start after t: %v %v", end, took)
	}
	if m := n.MembershipAfter(kill); m != kill.Add(4402*time.Millisecond) {
		t.Fatalf("membership after the kill: %v", m)
	}
}

func TestParseReply(t *testing.T) {
	r, ok := ParseReply("1795310134000000000 1234 ok n2")
	if !ok || !r.OK || r.Body != "n2" || r.Latency != 1234*time.Microsecond || r.At.UnixNano() != 1795310134000000000 {
		t.Fatalf("%+v %v", r, ok)
	}
	r, ok = ParseReply("1795310134000000000 250000 err Get \"http://x\": i/o timeout")
	if !ok || r.OK || r.Body != `Get "http://x": i/o timeout` {
		t.Fatalf("%+v", r)
	}
	if _, ok := ParseReply("garbage"); ok {
		t.Fatal("garbage parsed")
	}
}

// TestCorosyncEvents counts what the idle soak counts, from real lines:
// a flap under token 300 ms (links down, token lost, three memberships)
// and a lost token whose membership kept its members.
func TestCorosyncEvents(t *testing.T) {
	n := &Node{Name: "n1", Dir: t.TempDir()}
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "lab", "corosync-flap.log"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(n.CorosyncLog()), 0o755)
	os.WriteFile(n.CorosyncLog(), b, 0o644)
	at := func(h, m, s int) time.Time {
		return time.Date(time.Now().Year(), time.December, 2, h, m, s, 0, time.Local)
	}
	for _, tc := range []struct {
		after                          time.Time
		memberships, tokenLost, linkDn int
	}{
		{at(14, 53, 0), 5, 2, 2},
		{at(14, 53, 45), 4, 2, 2},
		{at(14, 53, 49), 4, 2, 0},
		{at(15, 0, 0), 1, 1, 0},
		{at(15, 16, 0), 0, 0, 0},
	} {
		m, tl, ld := n.CorosyncEvents(tc.after)
		if m != tc.memberships || tl != tc.tokenLost || ld != tc.linkDn {
			t.Errorf("after %s: %d memberships, %d token losses, %d links down; want %d, %d, %d",
				tc.after.Format("15:04:05"), m, tl, ld, tc.memberships, tc.tokenLost, tc.linkDn)
		}
	}
}
