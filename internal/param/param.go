// Package param describes resource parameters once, so that the meta-data,
// the README's parameter reference and validation all come from one table.
package param

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/cloudvip/floatip/ocf"
)

// Spec is one parameter as users see it.
type Spec struct {
	Name     string
	Type     string // string, integer or boolean (ra-api-1.dtd's content types)
	Default  string // "" when none, or when it differs per provider
	Required bool
	Unique   bool
	// Providers lists the providers that use the parameter; nil means all.
	Providers []string
	// ProviderDefaults holds defaults that differ per provider: they are
	// spelled out in the description and Default stays empty.
	ProviderDefaults map[string]string
	Short            string
	Long             string
}

// Description is Long plus the per-provider defaults.
func (s Spec) Description() string {
	if len(s.ProviderDefaults) == 0 {
		return s.Long
	}
	names := make([]string, 0, len(s.ProviderDefaults))
	for n := range s.ProviderDefaults {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s (%s)", s.ProviderDefaults[n], n)
	}
	return s.Long + " Default: " + strings.Join(parts, ", ") + "."
}

// Meta converts specs to OCF meta-data parameters.
func Meta(specs []Spec) []ocf.MetaParam {
	out := make([]ocf.MetaParam, 0, len(specs))
	for _, s := range specs {
		long := s.Description()
		if len(s.Providers) > 0 {
			long += fmt.Sprintf(" (provider: %s)", strings.Join(s.Providers, ", "))
		}
		out = append(out, ocf.MetaParam{
			Name: s.Name, Required: s.Required, Unique: s.Unique,
			LongDesc: long, ShortDesc: s.Short, Type: s.Type, Default: s.Default,
		})
	}
	return out
}

// Markdown renders specs as the README's parameter reference table.
func Markdown(specs []Spec) string {
	var b strings.Builder
	b.WriteString("| parameter | type | default | providers | description |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, s := range specs {
		def := "—"
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		if s.Required {
			def = "required"
		}
		prov := "all"
		if len(s.Providers) > 0 {
			prov = strings.Join(s.Providers, ", ")
		}
		desc := strings.ReplaceAll(s.Description(), "|", `\|`)
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.Name, s.Type, def, prov, desc)
	}
	return b.String()
}

// Error is a malformed parameter value (OCF_ERR_CONFIGURED where it
// counts): one line that names the parameter and the fix.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// Errorf returns an *Error.
func Errorf(format string, args ...any) error { return &Error{fmt.Sprintf(format, args...)} }

// ParseBool accepts the spellings resource-agents' ocf_is_true accepts.
func ParseBool(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on", "y":
		return true, nil
	case "0", "false", "no", "off", "n":
		return false, nil
	}
	return false, Errorf("%s=%q is not a boolean; use %s=true or %s=false", name, v, name, name)
}

// ParseOrigin checks an endpoint parameter: an origin only,
// scheme://host[:port] with http or https, no path, query or credentials
// (the provider appends its own versioned paths).
func ParseOrigin(name, v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", Errorf("%s=%s is not an http(s) origin; use %s=https://host[:port]", name, v, name)
	}
	// Built back as a URL, so a host that needed escaping (an IPv6 zone,
	// [fe80::1%25eth0]) keeps it and the providers' paths can follow.
	origin := (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", Errorf("%s=%s has a path, query or credentials; give the origin only (%s), the provider adds its own paths", name, v, origin)
	}
	return origin, nil
}

// ParseInt parses an integer in [lo, hi].
func ParseInt(name, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, Errorf("%s=%s is not an integer; use %s=<%d-%d>", name, v, name, lo, hi)
	}
	if n < lo || n > hi {
		return 0, Errorf("%s=%d is out of range; use %s=<%d-%d>", name, n, name, lo, hi)
	}
	return n, nil
}

// Roff renders specs as a man page's parameter list (.TP entries).
func Roff(specs []Spec) string {
	var b strings.Builder
	for _, s := range specs {
		var attrs []string
		attrs = append(attrs, s.Type)
		switch {
		case s.Required:
			attrs = append(attrs, "required")
		case s.Default != "":
			attrs = append(attrs, "default "+s.Default)
		}
		if len(s.Providers) > 0 {
			attrs = append(attrs, "provider "+strings.Join(s.Providers, ", "))
		}
		fmt.Fprintf(&b, ".TP\n\\fB%s\\fR (%s)\n%s\n", RoffEscape(s.Name), RoffEscape(strings.Join(attrs, "; ")), RoffEscape(s.Description()))
	}
	return b.String()
}

// RoffEscape makes text safe inside a roff line: backslashes, hyphens
// (which roff would print as hyphens, not as the minus of an option) and
// a leading period or quote.
func RoffEscape(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
