package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
)

// inspectFor bounds check's reads of the cloud.
const inspectFor = 10 * time.Second

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
	if j.speaker != nil {
		if err := j.speaker.Ready(ctx); err != nil {
			out = append(out, provider.Fail("routing daemon", err))
		} else {
			out = append(out, provider.Pass("routing daemon", "answers on its vty socket"))
		}
	}
	if !j.isCloud() {
		return out
	}
	out = append(out, proxyTrap(os.Getenv))
	in, ok := j.cloud.(provider.Inspector)
	if !ok {
		return out
	}
	// A preflight answers in seconds: retries of a transient error (a
	// proxy refusing, an endpoint down) stop at inspectFor, not at --timeout.
	ictx, icancel := context.WithTimeout(ctx, inspectFor)
	defer icancel()
	cloud := in.Inspect(ictx, j.IP)
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

// proxyTrap: the metadata service is plain HTTP on 169.254.169.254; with
// an HTTP proxy in the environment that NO_PROXY does not exempt it from,
// its requests go to the proxy, which answers for the proxy's host, not
// this instance. Go's own rules decide (golang.org/x/net/http/httpproxy,
// what net/http uses: NO_PROXY before no_proxy, HTTPS_PROXY only for
// https), read afresh from getenv.
func proxyTrap(getenv func(string) string) provider.Finding {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := getenv(k); v != "" {
				return v
			}
		}
		return ""
	}
	cfg := &httpproxy.Config{HTTPProxy: first("HTTP_PROXY", "http_proxy"), HTTPSProxy: first("HTTPS_PROXY", "https_proxy"),
		NoProxy: first("NO_PROXY", "no_proxy")}
	target := &url.URL{Scheme: "http", Host: metadataIP.String()}
	p, err := cfg.ProxyFunc()(target)
	switch {
	case err != nil:
		// Neither err nor the value: a proxy URL may carry a password, and
		// one that does not parse cannot be redacted.
		return provider.Fail("proxy", ocf.Errorf(ocf.ErrConfigured, "HTTP_PROXY (or http_proxy) is not a valid proxy URL; fix or unset it"))
	case p != nil:
		return provider.Fail("proxy", ocf.Errorf(ocf.ErrConfigured,
			"requests to the metadata service (%s) would go through the proxy at %s; add %s to NO_PROXY", metadataIP, p.Host, metadataIP))
	case cfg.HTTPProxy != "" || cfg.HTTPSProxy != "":
		return provider.Pass("proxy", fmt.Sprintf("a proxy is set; the metadata service (%s) is reached directly", metadataIP))
	}
	return provider.Pass("proxy", "no HTTP(S)_PROXY set")
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
