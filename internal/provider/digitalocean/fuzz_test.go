package digitalocean

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
)

// FuzzDropletID checks how this droplet's id is found: from the boot
// cache when it holds a positive id (no metadata request), else from the
// metadata service's /metadata/v1/id answer, which must be a positive
// integer; the id found is kept in the cache and a later action reads it
// back without asking; a bad answer is a one-line error quoting it; and
// asking twice answers the same.
func FuzzDropletID(f *testing.F) {
	for _, s := range []struct{ answer, cache string }{
		{"3164494", ""},
		{"3164494\n", ""},
		{" 42 ", "42"},
		{"42", "17"},
		{"2147483647", ""},
		{"9223372036854775807", ""},
		{"0", ""},
		{"-5", ""},
		{"", ""},
		{`{"droplet_id":42}`, ""},
		{"<html>\n<body>404 page not found</body>\n</html>", ""},
		{"42", "-5"},
		{"x", "-5"},
		{"42", `"42"`},
		{"42", "4.2e1"},
		{"42", "null"},
	} {
		f.Add([]byte(s.answer), []byte(s.cache))
	}
	var body atomic.Pointer[[]byte]
	var asked atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.URL.Path != "/metadata/v1/id" {
			http.NotFound(w, r)
			return
		}
		w.Write(*body.Load())
	}))
	f.Cleanup(srv.Close)
	dir := f.TempDir()
	cacheFile := filepath.Join(dir, "floatip-digitalocean.droplet-id")
	f.Fuzz(func(t *testing.T, answer, cache []byte) {
		if len(answer)+len(cache) > 256 {
			return // see maxInput in ../linode/fuzz_test.go
		}
		body.Store(&answer)
		asked.Store(0)
		os.Remove(cacheFile)
		if len(cache) > 0 {
			if err := os.WriteFile(cacheFile, cache, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		d := &DO{Metadata: srv.URL, env: provider.Env{Log: &logs{}, Cache: dir}}
		id, err := d.droplet(ctx)
		id2, err2 := d.droplet(ctx)
		if id != id2 || (err == nil) != (err2 == nil) {
			t.Fatalf("answer %q, cache %q: %d %v, then %d %v", answer, cache, id, err, id2, err2)
		}

		var cached int
		if json.Unmarshal(cache, &cached) == nil && cached > 0 {
			if err != nil || id != cached || asked.Load() != 0 {
				t.Fatalf("cache %q: %d %v after %d metadata requests, want the cached id and none", cache, id, err, asked.Load())
			}
			return
		}
		want, aerr := strconv.Atoi(strings.TrimSpace(string(answer)))
		if aerr != nil || want <= 0 {
			if err == nil || ocf.StatusOf(err) != ocf.ErrGeneric || strings.ContainsAny(err.Error(), "\n\r") || !strings.Contains(err.Error(), strconv.Quote(string(answer))) {
				t.Fatalf("answer %q: %d %v (%v), want a one-line transient error quoting it", answer, id, err, ocf.StatusOf(err))
			}
			return
		}
		if err != nil || id != want {
			t.Fatalf("answer %q: %d %v, want %d", answer, id, err, want)
		}
		// Kept for the next action, which asks nobody.
		asked.Store(0)
		again := &DO{Metadata: srv.URL, env: provider.Env{Log: &logs{}, Cache: dir}}
		if id, err := again.droplet(ctx); err != nil || id != want || asked.Load() != 0 {
			t.Fatalf("answer %q: the next action read %d %v after %d requests, want %d from the cache", answer, id, err, asked.Load(), want)
		}
	})
}
