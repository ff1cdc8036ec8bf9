package fakecloud

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// JSON answers status with v as JSON under contentType (clouds differ:
// Linode's clients want exactly "application/json", DigitalOcean sends a
// charset).
func JSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Source is the client's address: the fakes' metadata services tell
// instances apart by it, as a real one answers each instance its own.
func Source(r *http.Request) netip.Addr {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// Window is a sliding rate-limit window: at most Limit requests per Per.
// It is not safe for concurrent use: the fakes hold their lock.
type Window struct {
	Limit int
	Per   time.Duration
	hits  []time.Time
}

// prune forgets requests older than Per.
func (w *Window) prune(now time.Time) {
	keep := w.hits[:0]
	for _, t := range w.hits {
		if now.Sub(t) < w.Per {
			keep = append(keep, t)
		}
	}
	w.hits = keep
}

// Full reports whether another request at now would exceed the limit.
func (w *Window) Full(now time.Time) bool {
	w.prune(now)
	return len(w.hits) >= w.Limit
}

// Add records a request at now.
func (w *Window) Add(now time.Time) { w.hits = append(w.hits, now) }

// Remaining is how many more requests fit at now.
func (w *Window) Remaining(now time.Time) int {
	w.prune(now)
	return max(0, w.Limit-len(w.hits))
}

// ResetAt is when the oldest request leaves the window (now+Per when
// empty): the reset a cloud reports.
func (w *Window) ResetAt(now time.Time) time.Time {
	w.prune(now)
	if len(w.hits) == 0 {
		return now.Add(w.Per)
	}
	return w.hits[0].Add(w.Per)
}

// Reset empties the window.
func (w *Window) Reset() { w.hits = nil }

// RetryAfter is the whole seconds until reset, at least 1.
func RetryAfter(now, reset time.Time) int {
	s := int((reset.Sub(now) + time.Second - 1) / time.Second)
	return max(1, s)
}
