package frr

import (
	"bufio"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// daemon answers each NUL-terminated command from script (command ->
// output and status), writing the answer in small pieces as a busy
// daemon's socket may deliver it.
func daemon(t *testing.T, script map[string]struct {
	out string
	st  Status
}) (dir string, seen *[]string) {
	dir = t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(dir, "bgpd.vty"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	seen = new([]string)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			cmd, err := r.ReadString(0)
			if err != nil {
				return
			}
			cmd = strings.TrimSuffix(cmd, "\x00")
			*seen = append(*seen, cmd)
			a, ok := script[cmd]
			if !ok {
				a.out, a.st = "% Unknown command: "+cmd+"\n", NoMatch
			}
			msg := append([]byte(a.out), 0, 0, 0, byte(a.st))
			for len(msg) > 0 {
				n := min(3, len(msg))
				c.Write(msg[:n])
				msg = msg[n:]
			}
		}
	}()
	return dir, seen
}

func TestVTY(t *testing.T) {
	dir, seen := daemon(t, map[string]struct {
		out string
		st  Status
	}{
		"show bgp summary json": {"{\n}\n", Warning},
		"enable":                {"", Success},
		"configure":             {"", Success},
		"router bgp 65001":      {"", Success},
		"router bgp 65002":      {"BGP is already running; AS is 65001\n", WarningConfigFails},
		"end":                   {"", Success},
		"show version":          {"FRRouting 8.4.4\n", Success},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := Dial(ctx, dir, "bgpd")
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if out, err := v.Run(ctx, "show version"); err != nil || out != "FRRouting 8.4.4\n" {
		t.Fatalf("show version: %q %v", out, err)
	}
	if out, err := v.Show(ctx, "show bgp summary json"); err != nil || out != "{\n}\n" {
		t.Fatalf("a warning with an answer: %q %v", out, err)
	}
	if _, err := v.Run(ctx, "show bgp summary json"); err == nil {
		t.Fatal("Run took a warning status for success")
	}
	err = v.Configure(ctx, []string{"router bgp 65001", "! a comment", "", "router bgp 65002", "never sent"})
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Status != WarningConfigFails || !strings.Contains(err.Error(), "AS is 65001") {
		t.Fatalf("a refused line: %v", err)
	}
	if _, err := v.Run(ctx, "bad\ncommand"); err == nil {
		t.Fatal("a command with a newline was sent")
	}
	want := "show version|show bgp summary json|show bgp summary json|enable|configure|router bgp 65001|router bgp 65002|end"
	if got := strings.Join(*seen, "|"); got != want {
		t.Fatalf("commands sent:\n%s\nwant:\n%s", got, want)
	}
}

func TestDialNotRunning(t *testing.T) {
	ctx := context.Background()
	if _, err := Dial(ctx, t.TempDir(), "bgpd"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("no socket: %v", err)
	}
	// A socket left by a daemon that died: nobody listens.
	dir := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(dir, "bgpd.vty"))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Dial(ctx, dir, "bgpd"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("a stale socket: %v", err)
	}
}
