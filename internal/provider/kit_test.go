package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudvip/floatip/ocf"
)

func TestClassify(t *testing.T) {
	pending := func(e *APIError, _ int) (Verdict, bool) { return Verdict{Retry: true}, e.Status == 422 }
	for _, tc := range []struct {
		err     error
		attempt int
		over    Override
		want    Verdict
	}{
		{errors.New("connection reset"), 1, nil, Verdict{Retry: true}},
		{Malformed("no object"), 1, nil, Verdict{Retry: true}},
		{&APIError{Status: 429, RetryAfter: 3 * time.Second}, 1, nil, Verdict{Retry: true, After: 3 * time.Second}},
		{&APIError{Status: 503}, 1, nil, Verdict{Retry: true}},
		{&APIError{Status: 408}, 1, nil, Verdict{Retry: true}},
		{&APIError{Status: 401}, 1, nil, Verdict{Retry: true, Status: ocf.ErrPerm}},
		{&APIError{Status: 403}, 2, nil, Verdict{Status: ocf.ErrPerm}},
		{&APIError{Status: 404}, 1, nil, Verdict{Status: ocf.ErrConfigured}},
		{&APIError{Status: 422}, 1, nil, Verdict{Status: ocf.ErrGeneric}},
		{&APIError{Status: 422}, 1, pending, Verdict{Retry: true}},
		{fmt.Errorf("wrapped: %w", &APIError{Status: 500}), 1, pending, Verdict{Retry: true}},
	} {
		if got := Classify(tc.err, tc.attempt, tc.over); got != tc.want {
			t.Errorf("%v (attempt %d): %+v, want %+v", tc.err, tc.attempt, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	h := http.Header{}
	if d := RetryAfter(h, "Ratelimit-Reset"); d != 0 {
		t.Fatalf("no header: %v", d)
	}
	h.Set("Ratelimit-Reset", strconv.FormatInt(time.Now().Add(30*time.Second).Unix(), 10))
	if d := RetryAfter(h, "Ratelimit-Reset"); d < 28*time.Second || d > 30*time.Second {
		t.Fatalf("reset in 30 s: %v", d)
	}
	if d := RetryAfter(h, ""); d != 0 {
		t.Fatalf("a reset header the provider does not document: %v", d)
	}
	h.Set("Retry-After", "7")
	if d := RetryAfter(h, "Ratelimit-Reset"); d != 7*time.Second {
		t.Fatalf("Retry-After wins: %v", d)
	}
}

func TestHolderOf(t *testing.T) {
	name := func(id int) string { return fmt.Sprintf("droplet %d", id) }
	for _, tc := range []struct {
		owner int
		want  string
	}{{0, "routed to nobody"}, {7, "here"}, {9, "taken by droplet 9"}} {
		if got := HolderOf(tc.owner, 7, name).String(); got != tc.want {
			t.Errorf("owner %d: %s, want %s", tc.owner, got, tc.want)
		}
	}
}

func TestWrapKeepsStatusAndChain(t *testing.T) {
	inner := &APIError{Status: 404, Msg: "not found"}
	err := Wrap("oci", "get VNIC x", ocf.WithStatus(ocf.ErrConfigured, inner))
	var e *APIError
	if ocf.StatusOf(err) != ocf.ErrConfigured || !errors.As(err, &e) || err.Error() != "oci: get VNIC x: HTTP 404: not found" {
		t.Fatalf("%q (%v)", err, ocf.StatusOf(err))
	}
	if Wrap("oci", "x", nil) != nil {
		t.Fatal("Wrap(nil) must stay nil")
	}
}

func TestBootCache(t *testing.T) {
	dir := t.TempDir()
	c := BootCache(dir)
	log := &testLog{}
	var v struct{ ID int }
	if c.Load("x", &v) {
		t.Fatal("loaded from an empty cache")
	}
	c.Store(log, "x", map[string]int{"ID": 42})
	fi, err := os.Stat(filepath.Join(dir, "floatip-x"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache file: %v %v, want mode 0600", fi, err)
	}
	if !c.Load("x", &v) || v.ID != 42 {
		t.Fatalf("load: %+v", v)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	os.Chmod(filepath.Join(dir, "floatip-x"), 0o644)
	if c.Load("x", &v) {
		t.Fatal("loaded a file others can read (or write)")
	}
	c.Drop("x")
	if _, err := os.Stat(filepath.Join(dir, "floatip-x")); !os.IsNotExist(err) {
		t.Fatal("Drop kept the file")
	}
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o600)
	BootCache(filepath.Join(dir, "file")).Store(log, "y", 1) // not a directory
	if !strings.Contains(log.warned, "boot cache y") {
		t.Fatalf("a failed write is not a warning: %q", log.warned)
	}
	BootCache("").Store(log, "z", 1) // keeps nothing, says nothing
}

type testLog struct{ warned string }

func (*testLog) Debugf(string, ...any)      {}
func (*testLog) Infof(string, ...any)       {}
func (l *testLog) Warnf(f string, a ...any) { l.warned += fmt.Sprintf(f, a...) + "\n" }

// Metadata retries anything but a 200 within the deadline, then exits 1.
func TestMetadata(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Token") != "t" {
			w.WriteHeader(401)
			return
		}
		if n.Add(1) < 3 {
			w.WriteHeader(503)
			return
		}
		fmt.Fprint(w, "42")
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := Metadata(ctx, http.MethodGet, srv.URL+"/id", http.Header{"Metadata-Token": {"t"}})
	if err != nil || string(b) != "42" || n.Load() != 3 {
		t.Fatalf("%q %v after %d requests", b, err, n.Load())
	}
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Metadata(ctx, http.MethodGet, srv.URL+"/id", nil); ocf.StatusOf(err) != ocf.ErrGeneric {
		t.Fatalf("a metadata service refusing until the deadline: %v (%v)", err, ocf.StatusOf(err))
	}
}
