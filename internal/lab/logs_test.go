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
