package provider

// The provider kit: what every cloud provider needs around its SDK, written
// once. A provider turns its SDK's errors into *APIError (status, code,
// message, request id, Retry-After), classifies them with Classify and its
// few overrides, reads its metadata service with Metadata, keeps per-boot
// facts in a BootCache, names holders with HolderOf and wraps errors with
// Wrap.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cloudvip/floatip/ocf"
)

var client = sync.OnceValue(func() *http.Client { return &http.Client{Transport: Transport()} })

// Client is the process's one HTTP client: every provider call and
// metadata read of an action shares its connections.
func Client() *http.Client { return client() }

// Override classifies what a provider's cloud means differently from plain
// HTTP (DigitalOcean's 422 "pending event", OCI's 409 and its 404
// NotAuthorizedOrNotFound); ok false leaves e to Classify's defaults.
type Override func(e *APIError, attempt int) (v Verdict, ok bool)

// Classify is the one classifier of failed cloud calls. Anything that is
// not an HTTP answer (connection refused or reset, timeouts, malformed
// answers) is retried. Answers: 429 waits for e.RetryAfter (when the
// provider documents the header) or backs off; 408 and 5xx are retried;
// 401 and 403 get one more try (a blip), then exit 4; 404 exits 6; the rest
// exit 1 at once.
func Classify(err error, attempt int, over Override) Verdict {
	var e *APIError
	if !errors.As(err, &e) {
		return Verdict{Retry: true}
	}
	if over != nil {
		if v, ok := over(e, attempt); ok {
			return v
		}
	}
	switch s := e.Status; {
	case s == http.StatusTooManyRequests:
		return Verdict{Retry: true, After: e.RetryAfter}
	case s == http.StatusRequestTimeout || s >= 500:
		return Verdict{Retry: true}
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return Verdict{Retry: attempt < 2, Status: ocf.ErrPerm}
	case s == http.StatusNotFound:
		return Verdict{Status: ocf.ErrConfigured}
	}
	return Verdict{Status: ocf.ErrGeneric}
}

// RetryAfter reads Retry-After in seconds, else (when reset names one) a
// rate-limit reset header holding a Unix time; 0 when neither says.
func RetryAfter(h http.Header, reset string) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		if s > int(math.MaxInt64/time.Second) {
			return math.MaxInt64 // past any deadline (it would wrap round)
		}
		return time.Duration(s) * time.Second
	}
	if reset == "" {
		return 0
	}
	if epoch, err := strconv.ParseInt(h.Get(reset), 10, 64); err == nil {
		if d := time.Until(time.Unix(epoch, 0)); d > 0 {
			return d
		}
	}
	return 0
}

// Wrap names the provider and the call and keeps err's status and chain:
// "oci: update private ip 10.0.0.5: HTTP 409 Conflict: ...".
func Wrap(provider, call string, err error) error {
	if err == nil {
		return nil
	}
	return ocf.WithStatus(ocf.StatusOf(err), fmt.Errorf("%s: %s: %w", provider, call, err))
}

// HolderOf maps the cloud's owner of an address to a Holder: the zero
// owner is nobody, me is here, anyone else is named by name.
func HolderOf[T comparable](owner, me T, name func(T) string) Holder {
	var none T
	switch owner {
	case none:
		return Holder{Where: Nobody}
	case me:
		return Holder{Where: Here}
	}
	return Holder{Where: Elsewhere, Other: name(owner)}
}

// Metadata sends method to url (an instance metadata service) with header
// and returns the body of its 200 answer, retrying anything else within
// ctx: a metadata service that is down is transient (exit 1 at the
// deadline), never a verdict.
func Metadata(ctx context.Context, method, url string, header http.Header) ([]byte, error) {
	var body []byte
	err := Retry(ctx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, method, url, nil)
		if err != nil {
			return ocf.WithStatus(ocf.ErrConfigured, err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := Client().Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("metadata %s %s: HTTP %d", method, url, resp.StatusCode)
		}
		return err
	}, func(error, int) Verdict { return Verdict{Retry: true} })
	return body, err
}

// BootCache keeps facts that do not change while the machine runs (an
// instance id, an auth session) as JSON files in the state directory,
// which /run empties at boot. Files are root-only; "" keeps nothing.
type BootCache string

func (c BootCache) path(name string) string {
	return filepath.Join(string(c), "floatip-"+name)
}

// Load reads name into v; false when there is nothing usable (absent,
// unreadable, readable by others, or not the JSON of v).
func (c BootCache) Load(name string, v any) bool {
	if c == "" {
		return false
	}
	p := c.path(name)
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm()&0o077 != 0 {
		return false
	}
	b, err := os.ReadFile(p)
	return err == nil && json.Unmarshal(b, v) == nil
}

// Store writes v as name, atomically (a temporary file renamed over it),
// mode 0600. A failure costs the next action a lookup, not this one its
// result: it is a warning.
func (c BootCache) Store(log Logger, name string, v any) {
	if c == "" {
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		err = c.write(c.path(name), b)
	}
	if err != nil {
		log.Warnf("boot cache %s: %v", name, err)
	}
}

func (c BootCache) write(p string, b []byte) error {
	if err := os.MkdirAll(string(c), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(string(c), filepath.Base(p)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p) // CreateTemp made it 0600
}

// Drop forgets name (the cloud refused it).
func (c BootCache) Drop(name string) {
	if c != "" {
		os.Remove(c.path(name))
	}
}
