package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
)

// Preflight is floatip check: everything start needs, looked at without
// changing anything, one finding per step. It stops at the first failure
// of a step the next ones depend on.
func (a *Agent) Preflight(ctx context.Context) []provider.Finding {
	j, err := a.parse()
	if err != nil {
		return []provider.Finding{provider.Fail("parameters", err)}
	}
	out := []provider.Finding{provider.Pass("parameters", fmt.Sprintf("ip=%s provider=%s", j.IP, j.Provider))}
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	local, bound := a.inspectLocal(ctx, j)
	out = append(out, local...)
	out = append(out, stateDir(string(a.State)))
	if !j.isCloud() {
		return out
	}
	out = append(out, proxyTrap(os.Getenv))
	in, ok := j.cloud.(provider.Inspector)
	if !ok {
		return out
	}
	cloud := in.Inspect(ctx, j.IP)
	out = append(out, cloud...)
	if len(cloud) == 0 {
		return out
	}
	if last := cloud[len(cloud)-1]; last.OK && last.Check == "cloud" {
		out = append(out, agreement(j, bound, last.Detail))
	}
	return out
}

// inspectLocal: root and where the address would be bound, and whether it
// is bound now.
func (a *Agent) inspectLocal(ctx context.Context, j *job) ([]provider.Finding, bool) {
	if !j.local.Bind {
		return []provider.Finding{provider.Pass("interface", "none: the cloud routes the address to this instance")}, false
	}
	var out []provider.Finding
	if a.netAdmin() {
		out = append(out, provider.Pass("root", "CAP_NET_ADMIN"))
	} else {
		out = append(out, provider.Fail("root", ocf.Errorf(ocf.ErrInstalled, "floatip needs root (CAP_NET_ADMIN) to bind addresses; run it as root")))
	}
	h, err := a.openNet()
	if err != nil {
		return append(out, provider.Fail("interface and route", err)), false
	}
	defer h.Close()
	t, err := resolve(ctx, h, j)
	if err != nil {
		return append(out, provider.Fail("interface and route", err)), false
	}
	out = append(out, provider.Pass("interface and route", fmt.Sprintf("%s/%d on %s", j.IP, t.prefix, t.link.Name)))
	cur, err := find(h, j)
	return out, err == nil && cur != nil
}

// stateDir: where locks and records go.
func stateDir(p string) provider.Finding {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return provider.Pass("state directory", p+" (created at the first start)")
	case err != nil:
		return provider.Fail("state directory", ocf.Errorf(ocf.ErrPerm, "%s: %w", p, err))
	case !fi.IsDir():
		return provider.Fail("state directory", ocf.Errorf(ocf.ErrInstalled, "%s is not a directory; remove it or set HA_RSCTMP", p))
	}
	return provider.Pass("state directory", p)
}

// metadataIP is where the instance metadata services answer.
var metadataIP = netip.MustParseAddr("169.254.169.254")

// proxyTrap: an HTTP(S) proxy in the environment that NO_PROXY does not
// exempt the metadata service from sends its requests to the proxy, which
// answers for the proxy's host, not this instance.
func proxyTrap(getenv func(string) string) provider.Finding {
	proxy := ""
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if v := getenv(k); v != "" {
			proxy = k
			break
		}
	}
	if proxy == "" {
		return provider.Pass("proxy", "no HTTP(S)_PROXY set")
	}
	for _, k := range []string{"NO_PROXY", "no_proxy"} {
		for _, e := range strings.Split(getenv(k), ",") {
			if exempts(strings.TrimSpace(e)) {
				return provider.Pass("proxy", fmt.Sprintf("%s is set and %s exempts %s", proxy, k, metadataIP))
			}
		}
	}
	return provider.Fail("proxy", ocf.Errorf(ocf.ErrConfigured,
		"%s is set but NO_PROXY does not cover %s: the metadata service would be asked through the proxy; add %s to NO_PROXY", proxy, metadataIP, metadataIP))
}

func exempts(e string) bool {
	if e == "*" || e == metadataIP.String() {
		return true
	}
	if _, n, err := net.ParseCIDR(e); err == nil {
		return n.Contains(metadataIP.AsSlice())
	}
	return false
}

// agreement compares the kernel with the cloud's answer.
func agreement(j *job, bound bool, cloud string) provider.Finding {
	here := cloud == (provider.Holder{Where: provider.Here}).String()
	switch {
	case !j.local.Bind:
		return provider.Pass("this node and the cloud", "the cloud says "+cloud)
	case bound && !here:
		return provider.Fail("this node and the cloud", ocf.Errorf(ocf.ErrGeneric, "%s is bound here but the cloud says %s; run floatip up (or start the resource) to claim it, or floatip down", j.IP, cloud))
	case bound:
		return provider.Pass("this node and the cloud", "bound here and the cloud agrees")
	}
	return provider.Pass("this node and the cloud", "not bound here; the cloud says "+cloud)
}
