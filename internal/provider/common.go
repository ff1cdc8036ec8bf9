package provider

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudvip/floatip/internal/param"
	"github.com/cloudvip/floatip/ocf"
)

// Parameters several providers share. Each provider lists the ones it uses
// with its own default; Params merges them.

// APIURL is the api_url parameter with the provider's default endpoint.
func APIURL(name, def string) param.Spec {
	return param.Spec{Name: "api_url", Type: "string", ProviderDefaults: map[string]string{name: def},
		Short: "API endpoint (origin)",
		Long:  "Origin of the provider's API, scheme://host[:port] with no path: the provider adds its versioned paths. Set it for a proxy or a local fake."}
}

// MetadataURL is the metadata_url parameter.
func MetadataURL(name, def string) param.Spec {
	return param.Spec{Name: "metadata_url", Type: "string", ProviderDefaults: map[string]string{name: def},
		Short: "Metadata service (origin)",
		Long:  "Origin of the instance metadata service, scheme://host[:port] with no path, where the provider finds this instance's identity."}
}

// TokenFile is the token_file parameter.
func TokenFile(name string) param.Spec {
	return param.Spec{Name: "token_file", Type: "string", ProviderDefaults: map[string]string{name: DefaultTokenFile(name)},
		Short: "File holding the API token",
		Long:  "File holding the API token, readable by root only (mode 0600 or 0400). There is no token parameter: parameters are visible to anyone who can read the cluster configuration. The token never appears in any output."}
}

// DefaultTokenFile is /etc/cloudvip/<provider>.token.
func DefaultTokenFile(name string) string { return "/etc/cloudvip/" + name + ".token" }

// ClaimInterval is the claim_interval parameter.
var ClaimInterval = param.Spec{Name: "claim_interval", Type: "integer", Default: "5",
	Short: "Seconds between two moves to this node",
	Long:  "This node never moves the address to itself twice within this many seconds: a start (or floatip up) that would move it again sooner waits until the interval has passed, bounded by its timeout, so a flapping cluster or VRRP instance cannot burn the cloud's rate limit. A start that finds the address already here never waits. The time of the last move is kept across stop and down. 0 turns it off."}

// KeepInterval is the keep_interval parameter.
var KeepInterval = param.Spec{Name: "keep_interval", Type: "integer", Default: "10",
	Short: "Seconds between the keeper's cloud checks (floatip up)",
	Long:  "floatip up (run by keepalived, ucarp or a person) leaves a keeper behind: while this node holds the address (until floatip down), it asks the cloud every this many seconds whether the address still routes here and claims it again if not (claim_interval applies). It mends what VRRP engines leave: a backup that was master for a moment and whose claim landed last. Pacemaker's start starts none (its depth-10 monitor does this job). 0: no keeper."}

// CloudCheckInterval is the cloud_check_interval parameter.
var CloudCheckInterval = param.Spec{Name: "cloud_check_interval", Type: "integer", Default: "60",
	Short: "Seconds between cloud checks",
	Long:  "A depth-10 monitor (OCF_CHECK_LEVEL=10) asks the cloud whether the address still routes here at most once per this many seconds and answers from the last result in between, which keeps API use far below the providers' rate limits. 0 asks on every depth-10 monitor."}

// TakebackGuard is the takeback_guard parameter: the split-brain rule.
var TakebackGuard = param.Spec{Name: "takeback_guard", Type: "integer", Default: "60",
	Short: "Seconds a node lets another holder keep an address it lost",
	Long:  "When a depth-10 monitor finds the address taken by another holder, Pacemaker restarts the resource, and a start would move it back. In a cluster split without fencing both halves do that in turn, moving the address back and forth and burning the API's rate limit. So a start within this many seconds of this node's monitor seeing the address taken by another holder fails (exit 1, no cloud write) if the cloud still routes it there: start-failure-is-fatal bans this node, the other half keeps the address, and failure-timeout lets this node try again later. A start that finds the address routed here or to nobody goes ahead. 0 turns it off."}

// Intervals are the timing parameters every cloud provider takes, last in
// its table: how often to check, to move, to keep, and how long to leave
// an address taken by another holder.
func Intervals() []param.Spec {
	return []param.Spec{CloudCheckInterval, ClaimInterval, KeepInterval, TakebackGuard}
}

// ForbidRealEndpoints names the environment variable the test harness sets:
// then a provider refuses its real (default) endpoints, so a test that
// forgot to point one at a fake fails loudly instead of calling a cloud.
const ForbidRealEndpoints = "FLOATIP_FORBID_REAL_ENDPOINTS"

// CheckEndpoint refuses url when it is the real endpoint def and the test
// harness forbids real endpoints.
func CheckEndpoint(name, url, def string) error {
	if url == def && os.Getenv(ForbidRealEndpoints) != "" {
		return param.Errorf("%s=%s is the real endpoint and %s is set (a test run): point %s at the fake", name, url, ForbidRealEndpoints, name)
	}
	return nil
}

// ReadToken reads a root-only token file. A missing or empty file is a
// node-local installation problem (ERR_INSTALLED); a file others can read,
// or one this process cannot read, is ERR_PERM. The token is never part of
// an error.
func ReadToken(path string) (string, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", ocf.Errorf(ocf.ErrInstalled, "token_file %s does not exist; write the API token there (owner root, mode 0600)", path)
	case errors.Is(err, fs.ErrPermission):
		return "", ocf.Errorf(ocf.ErrPerm, "token_file %s cannot be read (permission denied); floatip runs as root", path)
	case err != nil:
		return "", ocf.Errorf(ocf.ErrInstalled, "token_file %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return "", ocf.Errorf(ocf.ErrInstalled, "token_file %s is not a regular file", path)
	case fi.Mode().Perm()&0o077 != 0:
		return "", ocf.Errorf(ocf.ErrPerm, "token_file %s is readable by group or others (mode %04o); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", ocf.Errorf(ocf.ErrPerm, "token_file %s cannot be read: %v", path, errors.Unwrap(err))
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", ocf.Errorf(ocf.ErrInstalled, "token_file %s must hold exactly one token (it is empty or has several words)", path)
	}
	return tok, nil
}

// Transport is the HTTP transport providers use: short connect and
// response-header timeouts, so a dead endpoint costs seconds, not the
// whole deadline, before the retry loop tries again.
func Transport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ResponseHeaderTimeout = 15 * time.Second
	return t
}

// ErrCannotHold marks a fact about this node, not the configuration: the
// cloud cannot give the address to this instance (another subnet, region or
// availability domain). Start exits 5, so only this node is banned; a
// depth-10 monitor says 7.
var ErrCannotHold = errors.New("this instance cannot hold the address")

// ErrMalformed marks a successful HTTP answer without the object it should
// carry (an API glitch, a proxy answering "{}"). It is transient: retried
// within the deadline, then exit 1, never a panic or a verdict.
var ErrMalformed = errors.New("malformed answer")

// Malformed says what was missing from an answer.
func Malformed(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrMalformed)
}

// APIError is an SDK's error cut to one line for logs and exit reasons:
// the HTTP status, the cloud's error code and message, the request id
// where the cloud gives one. Err keeps the SDK's error for classifiers.
type APIError struct {
	Status    int
	Code, Msg string
	RequestID string
	// RetryAfter is the wait a 429 asks for, where the provider documents
	// a header for it (0: back off).
	RetryAfter time.Duration
	Err        error
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	// Every part comes from the answer: each is folded onto the one line.
	if code := oneLine(e.Code, 200); code != "" {
		b.WriteString(" " + code)
	}
	if msg := oneLine(e.Msg, 200); msg != "" {
		b.WriteString(": " + msg)
	}
	if id := oneLine(e.RequestID, 200); id != "" {
		b.WriteString(" (request " + id + ")")
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// oneLine folds s onto one line of at most n bytes (plus "..."), never
// cutting a character in two.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "..."
	}
	return s
}

// Verdict classifies a failed attempt.
type Verdict struct {
	Retry bool
	// After is a wait the server asked for (Retry-After, rate-limit reset);
	// 0 means exponential backoff.
	After time.Duration
	// Status is the exit code of a permanent failure.
	Status ocf.Status
}

// Retry runs op until it succeeds, fails permanently, or the next attempt
// would start after ctx's deadline; then it returns the last error as
// ERR_GENERIC. Backoff doubles from 100 ms to 2 s with jitter, so several
// nodes retrying do not march in step. classify sees the attempt number
// (1-based) so a provider can give auth errors a second chance only.
func Retry(ctx context.Context, op func(context.Context) error, classify func(err error, attempt int) Verdict) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		var oe *ocf.Error
		if errors.As(err, &oe) {
			return err // already classified by op
		}
		v := classify(err, attempt)
		if !v.Retry {
			return ocf.WithStatus(v.Status, err)
		}
		wait := v.After
		if wait <= 0 {
			wait = backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, 2*time.Second)
		}
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
			return ocf.WithStatus(ocf.ErrGeneric, fmt.Errorf("%w (gave up after %d attempts: the next would start after the deadline)", err, attempt))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ocf.WithStatus(ocf.ErrGeneric, fmt.Errorf("%w (gave up after %d attempts: %v)", err, attempt, ctx.Err()))
		case <-t.C:
		}
	}
}
