package fakecloud

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestFaultScope: a fault hits only its client, and ends at Until.
func TestFaultScope(t *testing.T) {
	var in Injector
	in.Inject(Fault{Path: "/metadata/", Status: 503, From: "192.0.2.7"})
	in.Inject(Fault{Path: "/v2/", Status: 429, Until: time.Now().Add(150 * time.Millisecond)})
	serve := func(path, from string) int {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = from + ":40000"
		w := httptest.NewRecorder()
		in.Serve(w, r, func(w http.ResponseWriter, f *Fault) { w.WriteHeader(f.Status) }, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
		return w.Code
	}
	for _, c := range []struct {
		path, from string
		want       int
	}{
		{"/metadata/v1/id", "192.0.2.7", 503},
		{"/metadata/v1/id", "192.0.2.8", 200},
		{"/v2/reserved_ips", "192.0.2.8", 429},
	} {
		if got := serve(c.path, c.from); got != c.want {
			t.Errorf("%s from %s: %d, want %d", c.path, c.from, got, c.want)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if got := serve("/v2/reserved_ips", "192.0.2.8"); got != 200 {
		t.Errorf("after Until: %d, want 200", got)
	}
	if got := serve("/metadata/v1/id", "192.0.2.7"); got != 503 {
		t.Errorf("the unbounded fault ended: %d", got)
	}
}
