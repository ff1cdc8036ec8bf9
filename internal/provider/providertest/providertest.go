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
