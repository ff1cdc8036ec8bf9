package param

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzParam feeds one value to the three value parsers every parameter
// goes through (integers, booleans, endpoint origins) and checks what they
// promise: an accepted integer is within its range and formats back to
// itself, an accepted boolean survives a round trip, an accepted origin is
// its own canonical form and takes the provider's paths, and every refusal
// is a *Error whose message starts with the parameter's name.
func FuzzParam(f *testing.F) {
	for _, s := range []struct {
		name, v string
		lo, hi  int
	}{
		{"arp_count", "5", 0, 1000},
		{"arp_count", "1000", 0, 1000},
		{"arp_count", "1001", 0, 1000},
		{"arp_count", "-1", 0, 1000},
		{"arp_interval", "0", 1, 60000},
		{"arp_interval", " 200 ", 1, 60000},
		{"arp_count_refresh", "1e3", 0, 1000},
		{"droplet_id", "2147483647", 1, 1<<31 - 1},
		{"droplet_id", "2147483648", 1, 1<<31 - 1},
		{"linode_id", "+42", 1, 1<<31 - 1},
		{"claim_interval", "86400", 0, 86400},
		{"claim_interval", "9223372036854775808", 0, 86400},
		{"nodad", "yes", 0, 1},
		{"nodad", " Off ", 0, 1},
		{"check_link_status", "perhaps", 0, 1},
		{"api_url", "https://api.digitalocean.com", 0, 0},
		{"api_url", "http://127.0.0.1:8080", 0, 0},
		{"api_url", "http://[::1]:9000", 0, 0},
		{"metadata_url", "http://169.254.169.254/metadata/v1", 0, 0},
		{"api_url", "https://user:pw@api.linode.com", 0, 0},
		{"api_url", "ftp://example.org", 0, 0},
		{"api_url", "https://example.org?x=1", 0, 0},
		{"api_url", "api.linode.com", 0, 0},
		{"auth_url", "https://auth.eu-frankfurt-1.oraclecloud.com", 0, 0},
	} {
		f.Add(s.name, s.v, s.lo, s.hi)
	}
	f.Fuzz(func(t *testing.T, name, v string, lo, hi int) {
		if lo > hi {
			lo, hi = hi, lo
		}
		named := func(what string, err error) {
			t.Helper()
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("%s(%q, %q): %T %v, want a *param.Error", what, name, v, err, err)
			}
			if !strings.HasPrefix(err.Error(), name+"=") {
				t.Fatalf("%s(%q, %q): %q does not start with %q", what, name, v, err, name+"=")
			}
		}

		// Integers.
		n, err := ParseInt(name, v, lo, hi)
		want, aerr := strconv.Atoi(strings.TrimSpace(v))
		if err == nil {
			if n < lo || n > hi || aerr != nil || n != want {
				t.Fatalf("ParseInt(%q, %d, %d) = %d, outside the range or not the value", v, lo, hi, n)
			}
			if back, err := ParseInt(name, strconv.Itoa(n), lo, hi); err != nil || back != n {
				t.Fatalf("ParseInt(%d) after ParseInt(%q): %d, %v", n, v, back, err)
			}
		} else {
			named("ParseInt", err)
			if aerr == nil && want >= lo && want <= hi {
				t.Fatalf("ParseInt(%q, %d, %d) refused an integer in range: %v", v, lo, hi, err)
			}
			if !strings.Contains(err.Error(), "use "+name+"=<"+strconv.Itoa(lo)+"-"+strconv.Itoa(hi)+">") {
				t.Fatalf("ParseInt(%q): %q does not give the range", v, err)
			}
		}

		// Booleans.
		b, err := ParseBool(name, v)
		if err == nil {
			if back, err := ParseBool(name, strconv.FormatBool(b)); err != nil || back != b {
				t.Fatalf("ParseBool(%q) = %v, but %v parses as %v, %v", v, b, strconv.FormatBool(b), back, err)
			}
			if w := strings.ToLower(strings.TrimSpace(v)); len(w) > 5 || len(w) == 0 {
				t.Fatalf("ParseBool(%q) = %v: not one of ocf_is_true's spellings", v, b)
			}
		} else {
			named("ParseBool", err)
			if !strings.Contains(err.Error(), name+"=true") {
				t.Fatalf("ParseBool(%q): %q does not name the fix", v, err)
			}
		}

		// Origins.
		o, err := ParseOrigin(name, v)
		if err != nil {
			named("ParseOrigin", err)
			return
		}
		u, perr := url.Parse(o)
		rest, _ := strings.CutPrefix(o, u.Scheme+"://")
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" ||
			u.User != nil || rest == o || strings.ContainsAny(rest, "/?#@") {
			t.Fatalf("ParseOrigin(%q) = %q: not an http(s) origin (%v)", v, o, perr)
		}
		if again, err := ParseOrigin(name, o); err != nil || again != o {
			t.Fatalf("ParseOrigin(%q) = %q, which gives %q, %v: not canonical", v, o, again, err)
		}
		// The providers append their versioned paths to the origin.
		p, err := url.Parse(o + "/metadata/v1/id")
		if err != nil || p.Host != u.Host || p.Path != "/metadata/v1/id" {
			t.Fatalf("ParseOrigin(%q) = %q: %q + a path is %v, %v", v, o, o, p, err)
		}
	})
}
