package provider

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/param"
	"github.com/cloudvip/floatip/ocf"
)

func TestRetry(t *testing.T) {
	transient := errors.New("connection reset")
	for _, tc := range []struct {
		name     string
		fails    int // attempts that fail before success
		verdict  Verdict
		budget   time.Duration
		status   ocf.Status
		attempts int
	}{
		{"succeeds after two failures", 2, Verdict{Retry: true}, 2 * time.Second, ocf.Success, 3},
		{"permanent failure stops at once", 5, Verdict{Status: ocf.ErrConfigured}, 2 * time.Second, ocf.ErrConfigured, 1},
		{"server wait past the deadline gives up at once", 5, Verdict{Retry: true, After: time.Minute}, 2 * time.Second, ocf.ErrGeneric, 1},
		{"transient until the deadline", 1000, Verdict{Retry: true}, 700 * time.Millisecond, ocf.ErrGeneric, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.budget)
			defer cancel()
			n := 0
			t0 := time.Now()
			err := Retry(ctx, func(context.Context) error {
				n++
				if n <= tc.fails {
					return transient
				}
				return nil
			}, func(error, int) Verdict { return tc.verdict })
			if ocf.StatusOf(err) != tc.status {
				t.Fatalf("status %v (%v), want %v", ocf.StatusOf(err), err, tc.status)
			}
			if tc.attempts > 0 && n != tc.attempts {
				t.Fatalf("%d attempts, want %d", n, tc.attempts)
			}
			if time.Since(t0) > tc.budget {
				t.Fatalf("ran past the deadline: %v", time.Since(t0))
			}
			if err != nil && !errors.Is(err, transient) {
				t.Fatalf("the last error is lost: %v", err)
			}
		})
	}
}

func TestParamsMerge(t *testing.T) {
	set := Set{
		{Name: "b", Params: []param.Spec{APIURL("b", "https://b.example"), TokenFile("b")}},
		{Name: "a", Params: []param.Spec{APIURL("a", "https://a.example"), {Name: "only_a", Type: "string"}}},
	}
	if s, ok := set.Lookup("a"); !ok || s.Name != "a" || strings.Join(set.Names(), ",") != "a,b" {
		t.Fatalf("lookup %v %v, names %v", s, ok, set.Names())
	}
	got := set.Params()
	if len(got) != 3 || got[0].Name != "api_url" || strings.Join(got[0].Providers, ",") != "a,b" {
		t.Fatalf("merge: %+v", got)
	}
	if d := got[0].Description(); !strings.Contains(d, "https://a.example (a), https://b.example (b)") {
		t.Fatalf("per-provider defaults: %s", d)
	}
	if got[0].Default != "" {
		t.Fatal("a default that differs per provider must leave the meta-data default empty")
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("  secret-token\n"), 0o400)
	if tok, err := ReadToken(good); err != nil || tok != "secret-token" {
		t.Fatalf("%q %v", tok, err)
	}
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o700)
	if _, err := ReadToken(sub); ocf.StatusOf(err) != ocf.ErrInstalled {
		t.Fatalf("a directory: %v", err)
	}
}

func TestCheckEndpoint(t *testing.T) {
	t.Setenv(ForbidRealEndpoints, "")
	if err := CheckEndpoint("api_url", "https://real", "https://real"); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ForbidRealEndpoints, "1")
	if err := CheckEndpoint("api_url", "https://real", "https://real"); err == nil {
		t.Fatal("real endpoint allowed in a test run")
	}
	if err := CheckEndpoint("api_url", "http://127.0.0.1:9", "https://real"); err != nil {
		t.Fatal(err)
	}
}

// Values gives a parameter's value, else the default the provider's own
// table gives: per-provider defaults first, then the plain one.
func TestValues(t *testing.T) {
	params := []param.Spec{APIURL("a", "https://a.example"), {Name: "mode", Type: "string", Default: "share"}, {Name: "id", Type: "integer"}}
	v := NewValues("a", params, func(n string) (string, bool) { return map[string]string{"id": "7", "mode": ""}[n], n != "api_url" })
	if v.String("api_url") != "https://a.example" || v.String("mode") != "share" || v.String("id") != "7" {
		t.Fatalf("%q %q %q", v.String("api_url"), v.String("mode"), v.String("id"))
	}
	if v.Set("mode") || !v.Set("id") || v.Default("api_url") != "https://a.example" {
		t.Fatal("Set or Default")
	}
}
