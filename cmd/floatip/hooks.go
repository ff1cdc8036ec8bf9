package main

// keepalived and ucarp drive floatip through these entry points: the
// consumer of keepalived's notify FIFO, and ucarp's up/down scripts.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/cloudvip/floatip/ocf"
)

// fifoEvent is one line keepalived writes to its notify FIFO:
// `INSTANCE "VI_1" MASTER 100` (type, quoted name, state, priority).
type fifoEvent struct {
	instance, state string
}

// parseFifoLine reads an INSTANCE line; other lines (GROUP, virtual and real
// servers) are not floatip's (ok false).
func parseFifoLine(line string) (fifoEvent, bool) {
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "INSTANCE" {
		return fifoEvent{}, false
	}
	return fifoEvent{instance: strings.Trim(f[1], `"`), state: f[2]}, true
}

// verbFor maps a VRRP state to a verb: MASTER (and a master that hears a
// lower-priority advert, keepalived #950's MASTER_RX_LOWER_PRI) claims,
// BACKUP, FAULT and STOP release.
func verbFor(state string) (string, bool) {
	switch state {
	case "MASTER", "MASTER_RX_LOWER_PRI":
		return "up", true
	case "BACKUP", "FAULT", "STOP":
		return "down", true
	}
	return "", false
}

// fifoQueue holds events in order; take returns the next one that no later
// event for the same instance has superseded (a MASTER followed by a BACKUP
// is skipped: only the last state matters, and it runs after the others).
type fifoQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	events []fifoEvent
	closed bool
	// draining: SIGTERM came; the reader closes the queue when keepalived
	// closes its end of the FIFO.
	draining atomic.Bool
	// running is the event being carried out and how to cancel it.
	running       fifoEvent
	cancelRunning context.CancelFunc
}

func newFifoQueue() *fifoQueue {
	q := &fifoQueue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// put queues e; once closed (SIGTERM), new events are dropped. A release
// of the instance whose claim is running cancels that claim: a backup must
// not go on waiting out claim_interval to move the address to itself.
func (q *fifoQueue) put(e fifoEvent) {
	q.mu.Lock()
	if !q.closed {
		q.events = append(q.events, e)
		if q.cancelRunning != nil && q.running.instance == e.instance && claims(q.running.state) && !claims(e.state) {
			q.cancelRunning()
		}
	}
	q.mu.Unlock()
	q.cond.Signal()
}

// begin records e as running; its context ends with done or when a
// release of the same instance supersedes it.
func (q *fifoQueue) begin(ctx context.Context, e fifoEvent) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	q.mu.Lock()
	q.running, q.cancelRunning = e, cancel
	q.mu.Unlock()
	return ctx, func() {
		q.mu.Lock()
		q.running, q.cancelRunning = fifoEvent{}, nil
		q.mu.Unlock()
		cancel()
	}
}

func claims(state string) bool {
	verb, _ := verbFor(state)
	return verb == "up"
}

func (q *fifoQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// take waits for an event; ok false once closed and empty. skipped lists
// the events superseded on the way.
func (q *fifoQueue) take() (e fifoEvent, skipped []fifoEvent, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		for len(q.events) > 0 {
			e, q.events = q.events[0], q.events[1:]
			if !q.superseded(e) {
				return e, skipped, true
			}
			skipped = append(skipped, e)
		}
		if q.closed {
			return fifoEvent{}, skipped, false
		}
		q.cond.Wait()
	}
}

func (q *fifoQueue) superseded(e fifoEvent) bool {
	for _, later := range q.events {
		if later.instance == e.instance {
			return true
		}
	}
	return false
}

// keepalivedFifo is `floatip keepalived-fifo [--map INSTANCE=FILE]...
// [--timeout 60s] FIFO`, run by keepalived as vrrp_notify_fifo_script (the
// FIFO's path comes last). Each VRRP instance maps to a config file
// (default /etc/cloudvip/keepalived/INSTANCE.conf) and its events run in
// order, one at a time, each bounded by --timeout; a claim that a release
// of its instance supersedes while it runs is cancelled. On SIGTERM it reads on
// until keepalived closes its end of the FIFO (at most drainGrace), runs
// what is queued and ends: keepalived 2.2.7 signals the script as it
// writes the STOP events of its shutdown, so the STOP may come after the
// signal and must still release the address.
func keepalivedFifo(args []string, stderr io.Writer) ocf.Status {
	fs := pflag.NewFlagSet("keepalived-fifo", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	maps := fs.StringArray("map", nil, "INSTANCE=FILE: the config file of a VRRP instance")
	dir := fs.String("dir", "/etc/cloudvip/keepalived", "where INSTANCE.conf is for instances without --map")
	timeout := fs.Duration("timeout", 60*time.Second, "the longest one event may take")
	err := fs.Parse(args)
	if err != nil || fs.NArg() != 1 || *timeout <= 0 {
		if err == nil {
			err = fmt.Errorf("want one FIFO path (keepalived passes it last) and a positive --timeout")
		}
		fmt.Fprintf(stderr, "floatip keepalived-fifo: %v\nusage: floatip keepalived-fifo [--map INSTANCE=FILE]... [--dir DIR] [--timeout 60s] FIFO\n%s", err, fs.FlagUsages())
		return ocf.ErrArgs
	}
	files := map[string]string{}
	for _, m := range *maps {
		inst, file, ok := strings.Cut(m, "=")
		if !ok || inst == "" || file == "" {
			fmt.Fprintf(stderr, "floatip keepalived-fifo: --map %s: use --map INSTANCE=FILE\n", m)
			return ocf.ErrArgs
		}
		files[inst] = file
	}
	configOf := func(inst string) string {
		if f, ok := files[inst]; ok {
			return f
		}
		return filepath.Join(*dir, inst+".conf")
	}
	// A path that is not a FIFO would read EOF at once, again and again.
	if fi, err := os.Stat(fs.Arg(0)); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		fmt.Fprintf(stderr, "floatip keepalived-fifo: %s is not a FIFO (keepalived creates it for vrrp_notify_fifo_script)\n", fs.Arg(0))
		return ocf.ErrInstalled
	}
	q := newFifoQueue()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-term
		q.draining.Store(true)
		time.AfterFunc(drainGrace, q.close)
	}()
	go readFifo(fs.Arg(0), q, stderr)
	for {
		e, skipped, ok := q.take()
		for _, s := range skipped {
			fmt.Fprintf(stderr, "floatip keepalived-fifo: %s %s skipped: a later event for %s came first\n", s.instance, s.state, s.instance)
		}
		if !ok {
			return ocf.Success
		}
		verb, known := verbFor(e.state)
		if !known {
			continue
		}
		ctx, done := q.begin(context.Background(), e)
		st := runVerb(ctx, verb, []string{"--config", configOf(e.instance), "--timeout", timeout.String()}, stderr)
		done()
		fmt.Fprintf(stderr, "floatip keepalived-fifo: %s %s -> floatip %s: %s\n", e.instance, e.state, verb, st)
	}
}

// drainGrace bounds how long keepalived-fifo reads on after SIGTERM.
const drainGrace = 2 * time.Second

// readFifo feeds q with the FIFO's INSTANCE lines, reopening it when
// keepalived closes and reopens its end; after SIGTERM, keepalived closing
// its end closes q.
func readFifo(path string, q *fifoQueue, stderr io.Writer) {
	for {
		f, err := os.Open(path) // blocks until keepalived opens its end
		if err != nil {
			fmt.Fprintf(stderr, "floatip keepalived-fifo: %v\n", err)
			q.close()
			return
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if e, ok := parseFifoLine(sc.Text()); ok {
				q.put(e)
			}
		}
		f.Close()
		if q.draining.Load() {
			q.close()
			return
		}
	}
}

// ucarpScript is floatip run as ucarp's --upscript or --downscript through
// a link named floatip-ucarp-up or floatip-ucarp-down: ucarp passes the
// interface, the address and --xparam, which names the config file
// (default /etc/cloudvip/ucarp.conf when it exists).
func ucarpScript(verb string, args []string, stderr io.Writer) ocf.Status {
	if len(args) < 2 || len(args) > 3 {
		fmt.Fprintf(stderr, "usage: floatip-ucarp-%s INTERFACE ADDRESS [CONFIG] (ucarp passes them; --xparam=CONFIG)\n", verb)
		return ocf.ErrArgs
	}
	flags := []string{"--nic", args[0], "--ip", args[1]}
	config := "/etc/cloudvip/ucarp.conf"
	if len(args) == 3 {
		config = args[2]
	}
	if _, err := os.Stat(config); err == nil || len(args) == 3 {
		flags = append(flags, "--config", config)
	}
	return runVerb(context.Background(), verb, flags, stderr)
}
