package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PollEvery is the client's request interval.
const PollEvery = 20 * time.Millisecond

// Poll requests url every PollEvery with a short timeout and writes one
// line per request: "<unix-nanos> <latency-µs> ok <body>" or
// "<unix-nanos> <latency-µs> err <error>", the time being the request's
// start. One request at a time, unless overlap: then every tick starts a
// request whatever the others are doing, so a request stuck on a dead
// node (up to 250 ms) does not hide the first one that would succeed. It
// runs in the client namespace until its output is closed.
func Poll(url string, overlap bool, out io.Writer) {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: 200 * time.Millisecond}).DialContext}
	cl := &http.Client{Transport: tr, Timeout: 250 * time.Millisecond}
	w := bufio.NewWriter(out)
	var mu sync.Mutex
	failed := false
	one := func(t0 time.Time) {
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := cl.Do(req)
		status, body := "ok", ""
		if err != nil {
			status, body = "err", strings.ReplaceAll(err.Error(), "\n", " ")
		} else {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
			resp.Body.Close()
			body = strings.TrimSpace(string(b))
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%d %d %s %s\n", t0.UnixNano(), time.Since(t0).Microseconds(), status, body)
		failed = failed || w.Flush() != nil
	}
	for t0 := range time.Tick(PollEvery) {
		mu.Lock()
		done := failed
		mu.Unlock()
		if done {
			return
		}
		if overlap {
			go one(t0)
		} else {
			one(t0)
		}
	}
}

// Reply is one client request.
type Reply struct {
	At      time.Time
	Latency time.Duration
	OK      bool
	Body    string // the answering node, or the error
}

// ParseReply reads one Poll line.
func ParseReply(line string) (Reply, bool) {
	f := strings.SplitN(line, " ", 4)
	if len(f) < 3 {
		return Reply{}, false
	}
	ns, err1 := strconv.ParseInt(f[0], 10, 64)
	us, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return Reply{}, false
	}
	r := Reply{At: time.Unix(0, ns), Latency: time.Duration(us) * time.Microsecond, OK: f[2] == "ok"}
	if len(f) == 4 {
		r.Body = f[3]
	}
	return r, true
}
