// Package providertest holds what the providers' tests share: a logger
// that keeps its lines, a deadline bound to the test, and parameter lookup
// from a map.
package providertest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
)

// Log is a provider.Logger that keeps every line.
type Log struct {
	mu    sync.Mutex
	lines []string
}

func (l *Log) add(level, f string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+": "+fmt.Sprintf(f, a...))
}

// Debugf keeps a debug line.
func (l *Log) Debugf(f string, a ...any) { l.add("DEBUG", f, a...) }

// Infof keeps an info line.
func (l *Log) Infof(f string, a ...any) { l.add("INFO", f, a...) }

// Warnf keeps a warning.
func (l *Log) Warnf(f string, a ...any) { l.add("WARNING", f, a...) }

// String is every line kept so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// Deadline is a context that ends after d or with the test.
func Deadline(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Get looks parameters up in m, as the agent's environment would.
func Get(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Injector is what every fake embeds (fakecloud.Injector).
type Injector interface {
	Inject(fakecloud.Fault)
	ClearFaults()
	Count(prefix string) int
}

// Op is a provider call under test (Claim or Check of one address).
type Op func(ctx context.Context) error

// FeedMalformed answers the requests each fault matches with its malformed
// 200 body and runs every op that sends such a request: answered that way
// every time, it must fail as transient (OCF 1) before its deadline, never
// panic nor decide anything from the glitch; answered so once, it must
// succeed by retrying. Every fault must be met by some op.
func FeedMalformed(t *testing.T, in Injector, faults []fakecloud.Fault, ops map[string]Op) {
	t.Helper()
	for _, f := range faults {
		met := false
		for name, op := range ops {
			t.Run(fmt.Sprintf("%s %s %s %s", name, f.Method, f.Path, f.Body), func(t *testing.T) {
				defer in.ClearFaults()
				f.Times = 0
				in.Inject(f)
				before := in.Count(f.Method + " " + f.Path)
				err := run(t, op, 400*time.Millisecond)
				if in.Count(f.Method+" "+f.Path) == before {
					return // this op sends no such request
				}
				met = true
				if ocf.StatusOf(err) != ocf.ErrGeneric {
					t.Fatalf("malformed every time: %v (%v), want a transient failure (1)", err, ocf.StatusOf(err))
				}
				in.ClearFaults()
				f.Times = 1
				in.Inject(f)
				if err := run(t, op, 5*time.Second); err != nil {
					t.Fatalf("malformed once: %v, want success after a retry", err)
				}
			})
		}
		if !met {
			t.Errorf("no op sent %s %s: the fault tests nothing", f.Method, f.Path)
		}
	}
}

// run calls op with a deadline and turns a panic into a test failure.
func run(t *testing.T, op Op, d time.Duration) (err error) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic on a malformed answer: %v", r)
		}
	}()
	return op(Deadline(t, d))
}

// Open opens spec's provider as the agent would: params (base, then extra
// on top) as its parameters, cache as its per-boot state directory ("" for
// a fresh one) and log (nil for a fresh one) as its logger.
func Open(t *testing.T, spec *provider.Spec, base, extra map[string]string, cache string, log provider.Logger) provider.Provider {
	t.Helper()
	params := map[string]string{}
	for _, m := range []map[string]string{base, extra} {
		for k, v := range m {
			params[k] = v
		}
	}
	if cache == "" {
		cache = t.TempDir()
	}
	if log == nil {
		log = &Log{}
	}
	p, err := spec.Open(Get(params), provider.Env{Log: log, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
