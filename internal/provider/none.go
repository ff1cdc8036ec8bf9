package provider

import (
	"context"
	"net/netip"
)

// none is the plain-LAN provider: nothing to claim, always bind locally.
type none struct{}

func (none) Claim(context.Context, netip.Addr) error { return nil }
func (none) Check(context.Context, netip.Addr) (Holder, error) {
	return Holder{Where: Here}, nil
}
func (none) Validate(context.Context, netip.Addr) error { return nil }

// None is the plain-LAN provider.
var None = &Spec{
	Name:  "none",
	Local: func(netip.Addr) Local { return Local{Bind: true} },
	Open:  func(func(string) (string, bool), Env) (Provider, error) { return none{}, nil },
}

var _ Provider = none{}
