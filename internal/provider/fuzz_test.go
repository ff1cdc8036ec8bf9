package provider

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cloudvip/floatip/ocf"
)

// FuzzAPIError reads an error answer the way every provider does: the
// wait a 429 asks for (Retry-After, or a rate-limit reset time), the
// one-line error for logs and exit reasons, and its classification. The
// wait is never negative and never shorter than the server asked (up to
// Duration's range); the error is one line of valid text starting with the
// HTTP status, its message cut to 200 bytes; a permanent failure never
// exits 0; a 429 waits what the server asked; the status survives Wrap.
func FuzzAPIError(f *testing.F) {
	for _, s := range []struct {
		status                     int
		code, msg, reqID           string
		retryAfter, reset, resetAs string
		attempt                    int
	}{
		{429, "", "API Rate limit exceeded", "", "1", "", "Ratelimit-Reset", 1},
		{429, "", "too many requests", "", "", "1893456000", "Ratelimit-Reset", 1},
		{429, "TooManyRequests", "", "", "60", "", "", 3},
		{429, "", "", "", "9223372037", "", "", 1},
		{429, "", "", "", "18446744074", "", "", 1},
		{429, "", "", "", "-5", "9223372036854775807", "Ratelimit-Reset", 1},
		{422, "unprocessable_entity", "Droplet already has a pending event.", "e4cb2c5e-6cb1-4a8a-9f6c-5f8f2d3c1a10", "", "", "", 1},
		{409, "Conflict", "The private IP is being updated.", "1A2B3C4D5E/6F7A8B9C0D/1E2F3A4B5C", "", "", "", 2},
		{404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found.", "opc-1", "", "", "", 1},
		{401, "NotAuthenticated", "The required information to complete authentication was not provided.", "", "", "", "", 2},
		{400, "", "Only Linodes in the same region can share IPs.", "", "", "", "", 1},
		{503, "", "<html>\n<body>\n<h1>503 Service Unavailable</h1>\n</body>\n</html>\n", "", "", "", "", 1},
		{500, "Internal\nError", strings.Repeat("é", 150), "req\r\n42", "", "", "", 1},
		{0, "", "", "", "", "", "", 0},
	} {
		f.Add(s.status, s.code, s.msg, s.reqID, s.retryAfter, s.reset, s.resetAs, s.attempt)
	}
	f.Fuzz(func(t *testing.T, status int, code, msg, reqID, retryAfter, reset, resetAs string, attempt int) {
		h := http.Header{}
		if retryAfter != "" {
			h["Retry-After"] = []string{retryAfter}
		}
		if resetAs != "" {
			h[http.CanonicalHeaderKey(resetAs)] = []string{reset}
		}
		ra := RetryAfter(h, resetAs)
		if ra < 0 {
			t.Fatalf("Retry-After %q, %s %q: wait %v", retryAfter, resetAs, reset, ra)
		}
		if s, err := strconv.Atoi(retryAfter); err == nil && s >= 0 {
			want := time.Duration(1<<63 - 1)
			if s <= int((1<<63-1)/time.Second) {
				want = time.Duration(s) * time.Second
			}
			if ra != want {
				t.Fatalf("Retry-After %q: wait %v, want %v", retryAfter, ra, want)
			}
		} else if epoch, err := strconv.ParseInt(reset, 10, 64); err == nil && resetAs != "" &&
			epoch > time.Now().Unix()+2 && epoch < time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() && ra <= 0 {
			t.Fatalf("%s %q, a time to come: no wait", resetAs, reset)
		}

		e := &APIError{Status: status, Code: code, Msg: msg, RequestID: reqID, RetryAfter: ra}
		s := e.Error()
		if !strings.HasPrefix(s, "HTTP "+strconv.Itoa(status)) || strings.ContainsAny(s, "\n\r") {
			t.Fatalf("%+v: %q is not one line starting with the status", e, s)
		}
		if utf8.ValidString(code) && utf8.ValidString(msg) && utf8.ValidString(reqID) && !utf8.ValidString(s) {
			t.Fatalf("%+v: %q is not valid UTF-8", e, s)
		}
		if _, rest, ok := strings.Cut(s, ": "); ok && len(strings.Join(strings.Fields(msg), " ")) > 200 && !strings.Contains(rest, "...") {
			t.Fatalf("%+v: the message is not cut: %q", e, s)
		}
		if len(s) > len("HTTP ")+20+len(code)+len(reqID)+len(" (request )")+2+203 {
			t.Fatalf("%+v: %d bytes: %q", e, len(s), s)
		}

		v := Classify(e, attempt, nil)
		if !v.Retry && v.Status == ocf.Success {
			t.Fatalf("%+v attempt %d: a permanent failure that exits 0", e, attempt)
		}
		if status == http.StatusTooManyRequests && (!v.Retry || v.After != ra) {
			t.Fatalf("429 with Retry-After %q: %+v, want a retry after %v", retryAfter, v, ra)
		}
		werr := Wrap("digitalocean", "get reserved IP 192.0.2.1", ocf.WithStatus(v.Status, e))
		var back *APIError
		if ocf.StatusOf(werr) != ocf.StatusOf(ocf.WithStatus(v.Status, e)) || !errors.As(werr, &back) || back != e {
			t.Fatalf("Wrap lost the status or the error: %v", werr)
		}
		if strings.ContainsAny(werr.Error(), "\n\r") {
			t.Fatalf("Wrap: %q is not one line", werr)
		}
	})
}
