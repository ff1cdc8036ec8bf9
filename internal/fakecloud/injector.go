// Package fakecloud holds what the local cloud fakes share: request
// counting and injected latency and faults. Each fake (dofake, ocifake,
// linodefake) embeds an Injector and renders faults in its own error shape.
package fakecloud

import (
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fault is an injected failure for requests whose method and path match.
type Fault struct {
	Method string // "" matches any
	Path   string // prefix of the request path; "" matches any
	Status int    // answer with this status, in the fake's error shape
	Code   string // the provider's error code, where it has one
	// RetryAfter is sent as Retry-After (seconds) with the status.
	RetryAfter int
	Reset      bool // drop the connection without an answer
	// Body answers 200 with this body instead of the fake's own answer (a
	// glitching API or proxy: "{}", truncated or wrongly shaped JSON).
	Body string
	// Lost lets the fake carry the request out, then drops the connection:
	// the write happened but the client never hears of it.
	Lost  bool
	Delay time.Duration // wait before answering (timeouts)
	Times int           // how many requests it hits; 0 = every one
	// From limits the fault to one client address (the metadata service of
	// one instance); "" matches every client.
	From string
	// Until ends the fault (an outage of a given length); zero: never.
	Until time.Time
}

// Injector counts requests and applies latency and faults.
type Injector struct {
	// Latency is added to every answer.
	Latency time.Duration

	mu     sync.Mutex
	faults []*Fault
	counts map[string]int
	closed chan struct{}
}

func (in *Injector) lazy() {
	if in.counts == nil {
		in.counts = map[string]int{}
	}
	if in.closed == nil {
		in.closed = make(chan struct{})
	}
}

// Inject adds a fault.
func (in *Injector) Inject(f Fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults = append(in.faults, &f)
}

// ClearFaults removes every fault.
func (in *Injector) ClearFaults() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults = nil
}

// Count returns how many requests matched "METHOD /path/prefix" ("" for all).
func (in *Injector) Count(prefix string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for k, v := range in.counts {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

// ResetCounts zeroes the request counters.
func (in *Injector) ResetCounts() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.counts = map[string]int{}
}

// Close ends delayed answers still waiting (call before closing the server).
func (in *Injector) Close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.lazy()
	select {
	case <-in.closed:
	default:
		close(in.closed)
	}
}

// Serve counts r, adds the latency and applies the first matching fault;
// without one, or for a Lost fault, next answers r. write renders a fault's
// status in the fake's error shape.
func (in *Injector) Serve(w http.ResponseWriter, r *http.Request, write func(http.ResponseWriter, *Fault), next http.HandlerFunc) {
	f, abandoned := in.intercept(r)
	switch {
	case abandoned:
	case f == nil:
		next(w, r)
	case f.Lost && f.Body == "":
		next(discard{}, r)
		reset(w)
	case f.Reset:
		reset(w)
	case f.Body != "":
		if f.Lost {
			next(discard{}, r)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, f.Body)
	case f.Status != 0:
		write(w, f)
	default:
		next(w, r) // a pure delay
	}
}

// discard is a ResponseWriter whose answer goes nowhere.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// reset drops the connection with a TCP RST, not a FIN.
func reset(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // without it a FIN: the answer is lost all the same
			}
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// intercept counts r, adds the latency and waits out the first matching
// fault's delay. It returns the fault (nil when none applies), or true when
// the client or the fake gave up during the delay.
func (in *Injector) intercept(r *http.Request) (*Fault, bool) {
	if in.Latency > 0 {
		time.Sleep(in.Latency)
	}
	in.mu.Lock()
	in.lazy()
	in.counts[r.Method+" "+r.URL.Path]++
	f := in.match(r)
	closed := in.closed
	in.mu.Unlock()
	if f == nil {
		return nil, false
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return nil, true
		case <-closed:
			return nil, true
		}
	}
	return f, false
}

// match returns the first fault for r and uses one of its hits. Callers hold mu.
func (in *Injector) match(r *http.Request) *Fault {
	client, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := time.Now()
	in.faults = slices.DeleteFunc(in.faults, func(f *Fault) bool { return !f.Until.IsZero() && !now.Before(f.Until) })
	for i, f := range in.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.Path) && (f.From == "" || f.From == client) {
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					in.faults = append(in.faults[:i], in.faults[i+1:]...)
				}
			}
			return f
		}
	}
	return nil
}
