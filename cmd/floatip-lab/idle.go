package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/cloudvip/floatip/internal/lab"
)

// idleSoak keeps a cluster with the VIP idle under load, one phase per
// load (a CPU hog on every core; then an I/O-heavy job), and counts what
// must not happen: new Corosync memberships and VIP moves (false
// failovers).
func idleSoak(args []string) int {
	fs, c := flags("idle")
	d := fs.Duration("duration", 20*time.Minute, "length of each load phase")
	loads := fs.StringSlice("loads", []string{"cpu", "io"}, "load phases: cpu (a busy loop per core), io (fsync'd writes and reads)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	self, _ := os.Executable()
	say := sayer("%7.1fs")
	t := c.timing()
	cfg := lab.Config{Self: self, Log: say}
	t.Apply(&cfg)
	l, err := startLab(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floatip-lab:", err)
		return 1
	}
	bad := 0
	defer func() {
		l.Down()
		if bad == 0 {
			os.RemoveAll(l.Dir())
		} else {
			fmt.Println("lab logs kept in", l.Dir())
		}
	}()
	if err := l.CreateResources("ocf:cloudvip:floatip", "none"); err != nil {
		fmt.Fprintln(os.Stderr, "floatip-lab:", err)
		return 1
	}
	fmt.Printf("\n%s; VIP idle, monitor every 2 s\n\n| load | duration | membership changes | token losses | knet links down | VIP moves | VIP not running (samples) |\n|---|---|---|---|---|---|---|\n", t)
	for _, load := range *loads {
		ph, err := idlePhase(l, load, *d, say)
		if err != nil {
			fmt.Fprintln(os.Stderr, "floatip-lab:", err)
			return 1
		}
		fmt.Printf("| %s | %v | %d | %d | %d | %d | %d |\n", load, *d, ph.memberships, ph.tokenLost, ph.linkDown, ph.moves, ph.down)
		bad += ph.memberships + ph.moves
	}
	if bad > 0 {
		return 1
	}
	return 0
}

// phase counts what one load phase saw; the Corosync counts are the
// most any one node logged.
type phase struct{ memberships, tokenLost, linkDown, moves, down int }

// idlePhase runs load for d while sampling where the VIP runs every
// second; then it counts the memberships each node's Corosync formed.
func idlePhase(l *lab.Lab, load string, d time.Duration, say func(string, ...any)) (phase, error) {
	var ph phase
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if err := startLoad(ctx, &wg, load, l.Dir()); err != nil {
		cancel()
		return ph, err
	}
	t0 := time.Now()
	say("%s load for %v", load, d)
	last, _ := l.Locate("vip", nil)
	for time.Since(t0) < d {
		time.Sleep(time.Second)
		at, err := l.Locate("vip", nil)
		switch {
		case err != nil || at == nil:
			ph.down++
		case last != nil && at != last:
			ph.moves++
			say("the VIP moved from %s to %s", last.Name, at.Name)
			last = at
		default:
			last = at
		}
	}
	cancel()
	wg.Wait()
	for _, n := range l.Nodes {
		m, tl, ld := n.CorosyncEvents(t0)
		ph.memberships, ph.tokenLost, ph.linkDown = max(ph.memberships, m), max(ph.tokenLost, tl), max(ph.linkDown, ld)
	}
	say("%s load: %d membership changes, %d token losses, %d knet links down, %d VIP moves, %d samples without the VIP running",
		load, ph.memberships, ph.tokenLost, ph.linkDown, ph.moves, ph.down)
	return ph, nil
}

// startLoad starts the load on the host until ctx ends: cpu is a busy
// loop per core; io writes 64 MiB files with fsync and reads them back.
func startLoad(ctx context.Context, wg *sync.WaitGroup, load, dir string) error {
	switch load {
	case "cpu":
		for i := 0; i < runtime.NumCPU(); i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for x := 0; ctx.Err() == nil; x++ {
					for j := 0; j < 1<<20; j++ {
						x ^= j * 31
					}
				}
			}()
		}
	case "io":
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := []byte(strings.Repeat("floatip idle soak\n", 1<<16))
			path := filepath.Join(dir, "io-load")
			defer os.Remove(path)
			for ctx.Err() == nil {
				f, err := os.Create(path)
				if err != nil {
					return
				}
				for i := 0; i < 64 && ctx.Err() == nil; i++ {
					_, _ = f.Write(buf[:1<<20])
					_ = f.Sync()
				}
				f.Close()
				_, _ = os.ReadFile(path)
			}
		}()
	default:
		return fmt.Errorf("--loads: %q is not cpu or io", load)
	}
	return nil
}
