// Package provider defines what a cloud provider does for floatip and keeps
// the registry of providers. A provider answers three questions, each
// bounded by the caller's context deadline: claim the address for this
// instance, say who the cloud routes it to, and check the local
// environment. Providers never import the agent or each other.
package provider

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"github.com/cloudvip/floatip/internal/param"
)

// Where says who the cloud routes an address to.
type Where int

const (
	Here      Where = iota // this instance
	Elsewhere              // another instance (Holder.Other names it)
	Nobody                 // no instance
)

// Holder is the answer of Check (kept as JSON for the cached depth-10
// check).
type Holder struct {
	Where Where  `json:"where"`
	Other string `json:"other,omitempty"` // "droplet 42" when Where is Elsewhere
}

func (h Holder) String() string {
	switch h.Where {
	case Here:
		return "here"
	case Elsewhere:
		return "taken by " + h.Other
	}
	return "routed to nobody"
}

// Provider moves an address in one cloud. Errors carry their OCF status
// (ocf.Errorf); an error without one is a transient failure (OCF 1).
type Provider interface {
	// Claim makes the cloud route ip to this instance and returns once the
	// cloud confirms it. Idempotent: no write when ip is already here.
	Claim(ctx context.Context, ip netip.Addr) error
	// Check asks the cloud who it routes ip to.
	Check(ctx context.Context, ip netip.Addr) (Holder, error)
	// Validate checks credentials, the metadata service and the address
	// with the cloud (validate-all at level 10).
	Validate(ctx context.Context, ip netip.Addr) error
}

// MoveReporter is implemented by providers that can say whether their
// last Claim changed the cloud (an assign, share, update or create) or
// found the address already here; claim_interval counts only moves.
type MoveReporter interface {
	Moved() bool
}

// LocalFinder is implemented by providers whose metadata says where the
// address belongs on the node (OCI: the interface with the VNIC's MAC, the
// subnet's prefix). The agent asks it at start and validate-all level 10
// when nic (or cidr_netmask) is not set; monitors and stop never do.
type LocalFinder interface {
	Target(ctx context.Context, ip netip.Addr) (mac string, prefix int, err error)
}

// Speaker announces an address with a routing protocol, for clouds whose
// routers learn the holder from the node itself (Linode's BGP data
// centers). The agent announces after binding and withdraws before
// unbinding. Errors carry their OCF status.
type Speaker interface {
	// Ready checks the speaker is there to talk to (start checks it
	// before the cloud; a missing one is ErrInstalled: this node only).
	Ready(ctx context.Context) error
	// Announce makes this node announce ip, and returns once it does.
	Announce(ctx context.Context, ip netip.Addr) error
	// Withdraw ends the announcement; a speaker that is not running
	// announces nothing, which is success. It never calls the cloud.
	Withdraw(ctx context.Context, ip netip.Addr) error
	// Announced is nil when this node announces ip (deep: and a session
	// carries it), a NotRunning error when it does not.
	Announced(ctx context.Context, ip netip.Addr, deep bool) error
}

// Speaking is implemented by providers that announce through a Speaker in
// some configurations; Speaker returns nil in the others.
type Speaking interface {
	Speaker() Speaker
}

// Placer is implemented by providers whose binding depends on their
// parameters (Linode's bgp mode binds on lo); it overrides Spec.Local.
type Placer interface {
	Local(ip netip.Addr) Local
}

// Local says whether and where the agent binds the address on the node.
// NIC and Prefix are defaults that the nic and cidr_netmask parameters
// override; empty/0 means "from the on-link route", as for provider none.
type Local struct {
	Bind   bool
	NIC    string
	Prefix int
}

// Logger is what providers log through (ocf.Logger satisfies it).
type Logger interface {
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
}

// Env is what a provider gets from the agent.
type Env struct {
	Log Logger
	// Cache is a node-local directory for facts that never change while
	// the machine runs (an instance id), cleared at boot.
	Cache string
}

// Spec describes a provider statically.
type Spec struct {
	Name string
	// Cloud is false for the plain-LAN provider: nothing to claim, no
	// claim record, no cloud check.
	Cloud bool
	// Params are the provider's own parameters, including shared ones
	// (api_url, ...) with their per-provider defaults.
	Params []param.Spec
	// Local tells where ip is bound on the node.
	Local func(ip netip.Addr) Local
	// Open parses the provider's parameters (syntax only: no network, no
	// files) and returns a provider; malformed values are *param.Error.
	Open func(get func(name string) (string, bool), env Env) (Provider, error)
}

// Set is the providers a build supports (internal/provider/all lists
// them): no registry filled by init functions, so what is linked in is
// what the list names.
type Set []*Spec

// Lookup returns the provider called name.
func (s Set) Lookup(name string) (*Spec, bool) {
	for _, p := range s {
		if p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// Names lists the providers, sorted.
func (s Set) Names() []string {
	out := make([]string, 0, len(s))
	for _, p := range s {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

// Params merges every provider's parameters into one list, in provider
// name order: a parameter several providers share appears once, with all
// their names and per-provider defaults.
func (s Set) Params() []param.Spec {
	var out []param.Spec
	index := map[string]int{}
	for _, n := range s.Names() {
		spec, _ := s.Lookup(n)
		for _, p := range spec.Params {
			i, seen := index[p.Name]
			if !seen {
				p.Providers = []string{n}
				defs := map[string]string{}
				for k, v := range p.ProviderDefaults {
					defs[k] = v
				}
				p.ProviderDefaults = defs
				index[p.Name] = len(out)
				out = append(out, p)
				continue
			}
			out[i].Providers = append(out[i].Providers, n)
			for k, v := range p.ProviderDefaults {
				out[i].ProviderDefaults[k] = v
			}
		}
	}
	for i := range out {
		if len(out[i].ProviderDefaults) == 0 {
			out[i].ProviderDefaults = nil
		}
	}
	return out
}

// Values reads one provider's parameters: the value set, else the default
// the provider's table gives, so no default is typed twice.
type Values struct {
	provider string
	specs    []param.Spec
	get      func(string) (string, bool)
}

// NewValues reads the parameters params of provider name from get.
func NewValues(name string, params []param.Spec, get func(string) (string, bool)) Values {
	return Values{provider: name, specs: params, get: get}
}

// Default is the table's default of parameter name for this provider.
func (v Values) Default(name string) string {
	for _, p := range v.specs {
		if p.Name == name {
			if d, ok := p.ProviderDefaults[v.provider]; ok {
				return d
			}
			return p.Default
		}
	}
	panic(fmt.Sprintf("provider %s has no parameter %s", v.provider, name))
}

// String is parameter name's value, or its default when unset or empty.
func (v Values) String(name string) string {
	if s, ok := v.get(name); ok && s != "" {
		return s
	}
	return v.Default(name)
}

// Set reports whether parameter name has a non-empty value.
func (v Values) Set(name string) bool {
	s, ok := v.get(name)
	return ok && s != ""
}
