// Package dofake is a local fake of the DigitalOcean API parts floatip uses
// (reserved IPv4 and IPv6, their assign/unassign actions, action status)
// and of the droplet metadata service, following the published contract
// (../shared/openapi/digitalocean.yaml): paths, bodies, status codes,
// asynchronous actions, error shapes and rate-limit headers. It refuses
// what the real API refuses: a wrong token, unknown IPs, a second action
// while one is pending, a second reserved IPv4 on one droplet, and requests
// over the rate limit. Tests inject latency and faults.
package dofake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud"
)

// Fault is an injected failure (see fakecloud.Fault).
type Fault = fakecloud.Fault

// Fake is the API and metadata service in one http.Handler.
type Fake struct {
	fakecloud.Injector
	seq atomic.Int64 // X-Request-Id
	// Token is the bearer token the API accepts.
	Token string
	// ActionTime is how long an action stays "in-progress".
	ActionTime time.Duration
	// PerMinute and PerHour are the rate limits (DigitalOcean: 250, 5000).
	PerMinute, PerHour int
	// FailActions makes the next N actions end "errored".
	FailActions int
	// OnRoute, if set, is called (with the fake locked) whenever a reserved
	// IP starts routing to another droplet (0: none), so a lab can move
	// the data plane with it.
	OnRoute func(ip netip.Addr, droplet int)

	mu       sync.Mutex
	now      func() time.Time
	ips      map[netip.Addr]*reserved
	actions  map[int]*action
	nextID   int
	droplets map[netip.Addr]int // metadata: client address -> droplet id
	known    map[int]bool       // droplets that exist
	hour     fakecloud.Window   // requests for the rate limits
	minute   fakecloud.Window
}

type reserved struct {
	ip      netip.Addr
	region  string
	droplet int
	pending int // action id, 0 when none
}

type action struct {
	ID        int
	ip        netip.Addr
	typ       string // assign_ip or unassign_ip
	droplet   int
	started   time.Time
	done      bool
	errored   bool
	completed time.Time
}

// New returns a fake with DigitalOcean's rate limits and token tok.
func New(tok string) *Fake {
	return &Fake{Token: tok, PerMinute: 250, PerHour: 5000, now: time.Now,
		ips: map[netip.Addr]*reserved{}, actions: map[int]*action{}, nextID: 1000,
		droplets: map[netip.Addr]int{}, known: map[int]bool{}}
}

// AddIP creates a reserved IP (v4 or v6) in region, assigned to droplet (0: none).
func (f *Fake) AddIP(ip string, region string, droplet int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := netip.MustParseAddr(ip)
	f.ips[a] = &reserved{ip: a, region: region, droplet: droplet}
	if droplet != 0 {
		f.known[droplet] = true
	}
}

// AddDroplet makes droplet id exist; metadata requests from client address
// from (may be invalid: no metadata) are answered with id.
func (f *Fake) AddDroplet(id int, from string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.known[id] = true
	if from != "" {
		f.droplets[netip.MustParseAddr(from)] = id
	}
}

// Advance completes the actions whose time has come, as any request would.
func (f *Fake) Advance() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance()
}

// Holder returns the droplet ip is assigned to now (0: none).
func (f *Fake) Holder(ip string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance()
	if r := f.ips[netip.MustParseAddr(ip)]; r != nil {
		return r.droplet
	}
	return 0
}

// Assign routes ip to droplet at once (test set-up: "moved by hand").
func (f *Fake) Assign(ip string, droplet int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.ips[netip.MustParseAddr(ip)]
	if old := r.droplet; old != droplet {
		r.droplet = droplet
		if f.OnRoute != nil {
			f.OnRoute(r.ip, droplet)
		}
	}
}

// ResetCounts zeroes the request counters and the rate-limit window.
func (f *Fake) ResetCounts() {
	f.Injector.ResetCounts()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hour.Reset()
	f.minute.Reset()
}

// advance completes the actions whose time has come. Callers hold mu.
func (f *Fake) advance() {
	now := f.now()
	for _, a := range f.actions {
		if a.done || now.Sub(a.started) < f.ActionTime {
			continue
		}
		a.done, a.completed = true, now
		r := f.ips[a.ip]
		if r.pending == a.ID {
			r.pending = 0
		}
		if a.errored {
			continue
		}
		old := r.droplet
		if a.typ == "assign_ip" {
			r.droplet = a.droplet
		} else {
			r.droplet = 0
		}
		if f.OnRoute != nil && r.droplet != old {
			f.OnRoute(r.ip, r.droplet)
		}
	}
}

type apiError struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

func (f *Fake) fail(w http.ResponseWriter, code int, id, msg string) {
	fakecloud.JSON(w, code, "application/json", apiError{ID: id, Message: msg, RequestID: w.Header().Get("X-Request-Id")})
}

func reply(w http.ResponseWriter, code int, v any) {
	fakecloud.JSON(w, code, "application/json; charset=utf-8", v)
}

// ServeHTTP answers API (/v2/...) and metadata (/metadata/v1/...) requests.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// DigitalOcean names every answer; errors repeat it as request_id.
	w.Header().Set("X-Request-Id", fmt.Sprintf("fake-%d", f.seq.Add(1)))
	f.Serve(w, r, f.writeFault, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/metadata/") {
			f.metadata(w, r)
			return
		}
		f.api(w, r)
	})
}

// writeFault answers an injected fault in DigitalOcean's error shape.
func (f *Fake) writeFault(w http.ResponseWriter, fl *Fault) {
	if fl.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(fl.RetryAfter))
	}
	f.fail(w, fl.Status, errorID(fl.Status), http.StatusText(fl.Status))
}

func errorID(code int) string {
	switch code {
	case 401:
		return "unauthorized"
	case 403:
		return "forbidden"
	case 404:
		return "not_found"
	case 422:
		return "unprocessable_entity"
	case 429:
		return "too_many_requests"
	}
	return "server_error"
}

func (f *Fake) metadata(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	id, ok := f.droplets[fakecloud.Source(r)]
	f.mu.Unlock()
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	switch r.URL.Path {
	case "/metadata/v1/id":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, id)
	case "/metadata/v1.json":
		reply(w, 200, map[string]any{"droplet_id": id, "region": "fra1"})
	default:
		http.NotFound(w, r)
	}
}

// rateLimit records the request and sets DigitalOcean's headers; false
// when the request is over the limit (answered with 429). Callers hold mu.
func (f *Fake) rateLimit(w http.ResponseWriter) bool {
	now := f.now()
	f.hour.Limit, f.hour.Per = f.PerHour, time.Hour
	f.minute.Limit, f.minute.Per = f.PerMinute, time.Minute
	h := w.Header()
	h.Set("Ratelimit-Limit", strconv.Itoa(f.PerHour))
	h.Set("Ratelimit-Reset", strconv.FormatInt(f.hour.ResetAt(now).Unix(), 10))
	if f.minute.Full(now) {
		h.Set("Ratelimit-Remaining", strconv.Itoa(f.hour.Remaining(now)))
		h.Set("Retry-After", strconv.Itoa(fakecloud.RetryAfter(now, f.minute.ResetAt(now))))
		return false
	}
	if f.hour.Full(now) {
		h.Set("Ratelimit-Remaining", "0")
		h.Set("Retry-After", strconv.Itoa(fakecloud.RetryAfter(now, f.hour.ResetAt(now))))
		return false
	}
	f.hour.Add(now)
	f.minute.Add(now)
	h.Set("Ratelimit-Remaining", strconv.Itoa(f.hour.Remaining(now)))
	return true
}

func (f *Fake) api(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+f.Token || f.Token == "" {
		f.fail(w, 401, "unauthorized", "Unable to authenticate you")
		return
	}
	if !f.rateLimit(w) {
		f.fail(w, 429, "too_many_requests", "API rate limit exceeded.")
		return
	}
	f.advance()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "v2" && parts[1] == "actions" && r.Method == http.MethodGet:
		f.getAction(w, parts[2], nil)
	case len(parts) >= 3 && parts[0] == "v2" && (parts[1] == "reserved_ips" || parts[1] == "reserved_ipv6"):
		v6 := parts[1] == "reserved_ipv6"
		ip, err := netip.ParseAddr(parts[2])
		res := f.ips[ip]
		if err != nil || res == nil || ip.Is6() != v6 {
			f.fail(w, 404, "not_found", "The resource you were accessing could not be found.")
			return
		}
		switch {
		case len(parts) == 3 && r.Method == http.MethodGet:
			f.getIP(w, res)
		case len(parts) == 4 && parts[3] == "actions" && r.Method == http.MethodPost:
			f.postAction(w, r, res)
		case len(parts) == 5 && parts[3] == "actions" && r.Method == http.MethodGet && !v6:
			f.getAction(w, parts[4], res)
		default:
			f.fail(w, 404, "not_found", "The resource you were accessing could not be found.")
		}
	default:
		f.fail(w, 404, "not_found", "The resource you were accessing could not be found.")
	}
}

func (f *Fake) dropletJSON(id int) any {
	if id == 0 {
		return nil
	}
	return map[string]any{"id": id, "name": fmt.Sprintf("droplet-%d", id), "status": "active"}
}

func (f *Fake) getIP(w http.ResponseWriter, res *reserved) {
	if res.ip.Is4() {
		reply(w, 200, map[string]any{"reserved_ip": map[string]any{
			"ip":         res.ip.String(),
			"region":     map[string]any{"slug": res.region, "name": res.region, "available": true, "sizes": []string{}, "features": []string{}},
			"droplet":    f.dropletJSON(res.droplet),
			"locked":     res.pending != 0,
			"project_id": "746c6152-2fa2-11ed-92d3-27aaa54e4988",
		}})
		return
	}
	reply(w, 200, map[string]any{"reserved_ipv6": map[string]any{
		"ip":          res.ip.String(),
		"region_slug": res.region,
		"reserved_at": "2026-01-01T00:00:00Z",
		"droplet":     f.dropletJSON(res.droplet),
	}})
}

func (f *Fake) postAction(w http.ResponseWriter, r *http.Request, res *reserved) {
	var req struct {
		Type      string `json:"type"`
		DropletID *int   `json:"droplet_id"`
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || json.NewDecoder(r.Body).Decode(&req) != nil {
		f.fail(w, 400, "bad_request", "The request body is not valid JSON.")
		return
	}
	if res.pending != 0 {
		f.fail(w, 422, "unprocessable_entity", "The reserved IP already has a pending event.")
		return
	}
	a := &action{ID: f.nextID, ip: res.ip, started: f.now()}
	switch req.Type {
	case "assign":
		if req.DropletID == nil {
			f.fail(w, 422, "unprocessable_entity", "droplet_id is required for an assign action.")
			return
		}
		if !f.known[*req.DropletID] {
			f.fail(w, 422, "unprocessable_entity", "Droplet could not be found.")
			return
		}
		if res.ip.Is4() {
			for _, o := range f.ips {
				if o != res && o.ip.Is4() && o.droplet == *req.DropletID {
					f.fail(w, 422, "unprocessable_entity", "The droplet already has a reserved IP assigned.")
					return
				}
			}
		}
		a.typ, a.droplet = "assign_ip", *req.DropletID
	case "unassign":
		a.typ = "unassign_ip"
	default:
		f.fail(w, 422, "unprocessable_entity", "type must be assign or unassign.")
		return
	}
	if f.FailActions > 0 {
		f.FailActions--
		a.errored = true
	}
	f.nextID++
	f.actions[a.ID] = a
	res.pending = a.ID
	if f.ActionTime <= 0 {
		f.advance() // an instant action is already done when the POST answers
	}
	reply(w, 201, map[string]any{"action": f.actionJSON(a)})
}

func (f *Fake) getAction(w http.ResponseWriter, idS string, res *reserved) {
	id, err := strconv.Atoi(idS)
	a := f.actions[id]
	if err != nil || a == nil || (res != nil && a.ip != res.ip) {
		f.fail(w, 404, "not_found", "The resource you were accessing could not be found.")
		return
	}
	reply(w, 200, map[string]any{"action": f.actionJSON(a)})
}

func (f *Fake) actionJSON(a *action) map[string]any {
	status := "in-progress"
	var completed any
	if a.done {
		status = "completed"
		if a.errored {
			status = "errored"
		}
		completed = a.completed.UTC().Format(time.RFC3339)
	}
	region := f.ips[a.ip].region
	kind := "reserved_ip"
	if a.ip.Is6() {
		kind = "reserved_ipv6"
	}
	// resource_id is an integer in the contract: the IPv4 address as a number.
	rid := 0
	if a.ip.Is4() {
		b := a.ip.As4()
		rid = int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	}
	return map[string]any{
		"id": a.ID, "status": status, "type": a.typ,
		"started_at": a.started.UTC().Format(time.RFC3339), "completed_at": completed,
		"resource_id": rid, "resource_type": kind,
		"region":      map[string]any{"slug": region, "name": region, "available": true, "sizes": []string{}, "features": []string{}},
		"region_slug": region,
	}
}

// Snapshot lists every reserved IP and its droplet, for logs.
func (f *Fake) Snapshot() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance()
	var out []string
	for ip, r := range f.ips {
		out = append(out, fmt.Sprintf("%s->%d", ip, r.droplet))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
