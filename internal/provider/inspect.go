package provider

import (
	"context"
	"net/netip"

	"github.com/cloudvip/floatip/ocf"
)

// Finding is one step of floatip check: what was looked at, whether it
// is ready, and for a failure the exit code of its class and the fix
// (the detail of an error says both).
type Finding struct {
	Check  string     `json:"check"`
	OK     bool       `json:"ok"`
	Detail string     `json:"detail"`
	Status ocf.Status `json:"status,omitempty"`
}

// Pass is a finding that is ready.
func Pass(check, detail string) Finding { return Finding{Check: check, OK: true, Detail: detail} }

// Fail is a finding that is not, with err's class.
func Fail(check string, err error) Finding {
	return Finding{Check: check, Detail: err.Error(), Status: ocf.StatusOf(err)}
}

// Inspector is implemented by cloud providers for floatip check: each step
// start needs (credentials, identity, the address, where the cloud routes
// it), read-only, one finding each, stopping at the first failure.
type Inspector interface {
	Inspect(ctx context.Context, ip netip.Addr) []Finding
}
