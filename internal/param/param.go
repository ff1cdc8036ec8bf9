// Package param describes resource parameters once, so that the meta-data,
// the README's parameter reference and validation all come from one table.
package param

import (
	"fmt"
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
	Short     string
	Long      string
}

// Meta converts specs to OCF meta-data parameters.
func Meta(specs []Spec) []ocf.MetaParam {
	out := make([]ocf.MetaParam, 0, len(specs))
	for _, s := range specs {
		long := s.Long
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
		desc := strings.ReplaceAll(s.Long, "|", `\|`)
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.Name, s.Type, def, prov, desc)
	}
	return b.String()
}

// ParseBool accepts the spellings resource-agents' ocf_is_true accepts.
func ParseBool(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on", "y":
		return true, nil
	case "0", "false", "no", "off", "n":
		return false, nil
	}
	return false, fmt.Errorf("%s=%q is not a boolean; use %s=true or %s=false", name, v, name, name)
}
