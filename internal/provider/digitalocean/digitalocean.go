// Package digitalocean moves DigitalOcean reserved IPs (IPv4 and IPv6) with
// godo: assign the address to this droplet and wait until the action
// completes. Reserved IPv4 is routed to the droplet's anchor IP, so nothing
// is bound locally; reserved IPv6 is routed to the droplet and bound on lo
// as a /128.
package digitalocean

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"golang.org/x/oauth2"

	"github.com/cloudvip/floatip/internal/param"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
)

// Name is the provider's name in the provider parameter.
const Name = "digitalocean"

// Real endpoints: the defaults.
const (
	DefaultAPI      = "https://api.digitalocean.com"
	DefaultMetadata = "http://169.254.169.254"
)

// Params are the provider's parameters.
var Params = append([]param.Spec{
	provider.APIURL(Name, DefaultAPI),
	provider.MetadataURL(Name, DefaultMetadata),
	provider.TokenFile(Name),
	{Name: "droplet_id", Type: "integer",
		Short: "This droplet's id",
		Long:  "This droplet's id. Default: asked from the metadata service (/metadata/v1/id) once per boot."},
}, provider.Intervals()...)

// Spec describes the provider.
var Spec = &provider.Spec{
	Name:   Name,
	Cloud:  true,
	Params: Params,
	Local: func(ip netip.Addr) provider.Local {
		if ip.Is4() {
			return provider.Local{} // routed to the anchor IP
		}
		return provider.Local{Bind: true, NIC: "lo", Prefix: 128}
	},
	Open: open,
}

var (
	_ provider.Provider     = (*DO)(nil)
	_ provider.Inspector    = (*DO)(nil)
	_ provider.MoveReporter = (*DO)(nil)
)

// DO is the provider.
type DO struct {
	API, Metadata string
	TokenFile     string
	DropletID     int // 0: from metadata
	env           provider.Env
	client        *godo.Client
	moved         bool // the last Claim assigned
}

func open(get func(string) (string, bool), env provider.Env) (provider.Provider, error) {
	v := provider.NewValues(Name, Params, get)
	d := &DO{env: env, TokenFile: v.String("token_file")}
	var err error
	if d.API, err = param.ParseOrigin("api_url", v.String("api_url")); err != nil {
		return nil, err
	}
	if d.Metadata, err = param.ParseOrigin("metadata_url", v.String("metadata_url")); err != nil {
		return nil, err
	}
	if v.Set("droplet_id") {
		if d.DropletID, err = param.ParseInt("droplet_id", v.String("droplet_id"), 1, 1<<31-1); err != nil {
			return nil, err
		}
	}
	if err := provider.CheckEndpoint("api_url", d.API, v.Default("api_url")); err != nil {
		return nil, err
	}
	if d.DropletID == 0 {
		if err := provider.CheckEndpoint("metadata_url", d.Metadata, v.Default("metadata_url")); err != nil {
			return nil, err
		}
	}
	if !filepath.IsAbs(d.TokenFile) {
		return nil, param.Errorf("token_file=%s is not an absolute path", d.TokenFile)
	}
	return d, nil
}

// api returns the godo client, reading the token on first use. godo's own
// retries stay off: Retry below bounds every wait by the OCF deadline.
func (d *DO) api() (*godo.Client, error) {
	if d.client != nil {
		return d.client, nil
	}
	tok, err := provider.ReadToken(d.TokenFile)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: &oauth2.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}),
		Base:   provider.Client().Transport,
	}}
	c, err := godo.New(hc, godo.SetBaseURL(d.API), godo.SetUserAgent("floatip"))
	if err != nil {
		return nil, fmt.Errorf("digitalocean: client: %w", err)
	}
	d.client = c
	return c, nil
}

// prepare is what every call needs: the client (the token read) and this
// droplet's id.
func (d *DO) prepare(ctx context.Context) (*godo.Client, int, error) {
	c, err := d.api()
	if err != nil {
		return nil, 0, err
	}
	me, err := d.droplet(ctx)
	return c, me, err
}

// droplet returns this droplet's id: the parameter, the id cached for this
// boot, or the metadata service's answer.
func (d *DO) droplet(ctx context.Context) (int, error) {
	if d.DropletID != 0 {
		return d.DropletID, nil
	}
	cache := provider.BootCache(d.env.Cache)
	// Into a local: a cached id that is no droplet's (0, -5) must not
	// stay behind as this droplet's for the next call.
	var cached int
	if cache.Load("digitalocean.droplet-id", &cached) && cached > 0 {
		d.DropletID = cached
		return cached, nil
	}
	b, err := provider.Metadata(ctx, http.MethodGet, d.Metadata+"/metadata/v1/id", nil)
	if err != nil {
		return 0, fmt.Errorf("digitalocean: droplet id from the metadata service (set droplet_id to skip it): %w", err)
	}
	id, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || id <= 0 {
		return 0, ocf.Errorf(ocf.ErrGeneric, "digitalocean: metadata %s/metadata/v1/id answered %q, not a droplet id", d.Metadata, b)
	}
	d.DropletID = id
	cache.Store(d.env.Log, "digitalocean.droplet-id", id)
	return id, nil
}

// classify is the kit's classifier plus DigitalOcean's 422 "... already
// has a pending event", which a retry outlasts.
func classify(err error, attempt int) provider.Verdict {
	return provider.Classify(err, attempt, func(e *provider.APIError, _ int) (provider.Verdict, bool) {
		pending := e.Status == http.StatusUnprocessableEntity && strings.Contains(strings.ToLower(e.Msg), "pending")
		return provider.Verdict{Retry: true}, pending
	})
}

// apiErr cuts godo's error (method, URL, status, message) to the status,
// message and request id; a 429 waits for Retry-After or the rate-limit
// reset DigitalOcean sends.
func apiErr(err error) error {
	var er *godo.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return err
	}
	return &provider.APIError{Status: er.Response.StatusCode, Msg: er.Message, RequestID: er.RequestID,
		RetryAfter: provider.RetryAfter(er.Response.Header, "Ratelimit-Reset"), Err: err}
}

// holder asks who the reserved IP is assigned to.
func (d *DO) holder(ctx context.Context, c *godo.Client, ip netip.Addr) (int, error) {
	var id int
	err := provider.Retry(ctx, func(ctx context.Context) error {
		id = 0
		var d *godo.Droplet
		if ip.Is4() {
			r, _, err := c.ReservedIPs.Get(ctx, ip.String())
			if err != nil {
				return apiErr(err)
			}
			if r == nil || r.IP == "" {
				return provider.Malformed("reserved IP %s: the answer has no reserved_ip", ip)
			}
			d = r.Droplet
		} else {
			r, _, err := c.ReservedIPV6s.Get(ctx, ip.String())
			if err != nil {
				return apiErr(err)
			}
			if r == nil || r.IP == "" {
				return provider.Malformed("reserved IPv6 %s: the answer has no reserved_ipv6", ip)
			}
			d = r.Droplet
		}
		if d != nil {
			if d.ID <= 0 {
				return provider.Malformed("reserved IP %s: the droplet in the answer has no id", ip)
			}
			id = d.ID
		}
		return nil
	}, classify)
	switch ocf.StatusOf(err) {
	case ocf.ErrConfigured:
		return 0, provider.Wrap(Name, fmt.Sprintf("%s is not a reserved IP of this account (check ip and the token's account)", ip), err)
	case ocf.ErrPerm:
		return 0, provider.Wrap(Name, fmt.Sprintf("the API refused the token in %s (it needs read and write scope)", d.TokenFile), err)
	}
	return id, provider.Wrap(Name, "get reserved IP "+ip.String(), err)
}

// dropletName names a holder.
func dropletName(id int) string { return fmt.Sprintf("droplet %d", id) }

// Moved reports whether the last Claim assigned the address.
func (d *DO) Moved() bool { return d.moved }

// Claim assigns ip to this droplet and waits for the action to complete.
func (d *DO) Claim(ctx context.Context, ip netip.Addr) error {
	d.moved = false
	c, me, err := d.prepare(ctx)
	if err != nil {
		return err
	}
	cur, err := d.holder(ctx, c, ip)
	if err != nil {
		return err
	}
	if cur == me {
		d.env.Log.Infof("digitalocean: %s is already assigned to droplet %d", ip, me)
		return nil
	}
	var act *godo.Action
	t0 := time.Now()
	err = provider.Retry(ctx, func(ctx context.Context) error {
		var err error
		if ip.Is4() {
			act, _, err = c.ReservedIPActions.Assign(ctx, ip.String(), me)
		} else {
			act, _, err = c.ReservedIPV6Actions.Assign(ctx, ip.String(), me)
		}
		return apiErr(err)
	}, classify)
	if err != nil {
		return fmt.Errorf("digitalocean: assign %s to droplet %d: %w", ip, me, err)
	}
	d.moved = true
	if act == nil || act.ID == 0 {
		// Accepted, but the answer names no action: ask the IP itself.
		d.env.Log.Warnf("digitalocean: assign %s: the answer has no action; confirming through the reserved IP", ip)
		act = &godo.Action{Status: "unknown"}
		err = d.waitHolder(ctx, c, ip, me)
	} else {
		err = d.wait(ctx, c, ip, me, act)
	}
	if err != nil {
		return err
	}
	from := "nobody"
	if cur != 0 {
		from = fmt.Sprintf("droplet %d", cur)
	}
	d.env.Log.Infof("digitalocean: %s moved from %s to droplet %d (action %d, %v)", ip, from, me, act.ID, time.Since(t0).Round(time.Millisecond))
	return nil
}

// wait polls the assign action until it completes, quickly at first (25,
// 50, 100 ... 1000 ms apart): a reserved IP move usually finishes within a
// second or two, and a failover waits for it.
func (d *DO) wait(ctx context.Context, c *godo.Client, ip netip.Addr, me int, act *godo.Action) error {
	pause := 25 * time.Millisecond
	for act.Status != godo.ActionCompleted {
		if act.Status == "errored" {
			return ocf.Errorf(ocf.ErrGeneric, "digitalocean: assign %s to droplet %d: action %d errored", ip, me, act.ID)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ocf.Errorf(ocf.ErrGeneric, "digitalocean: assign %s to droplet %d: action %d still %s at the deadline", ip, me, act.ID, act.Status)
		case <-t.C:
		}
		pause = min(2*pause, time.Second)
		id := act.ID
		err := provider.Retry(ctx, func(ctx context.Context) error {
			var err error
			var a *godo.Action
			if ip.Is4() {
				a, _, err = c.ReservedIPActions.Get(ctx, ip.String(), id)
			} else {
				a, _, err = c.Actions.Get(ctx, id) // godo has no reserved IPv6 action GET
			}
			if err == nil && (a == nil || a.ID != id) {
				return provider.Malformed("action %d: the answer has no action", id)
			}
			if err == nil {
				act = a
			}
			return apiErr(err)
		}, classify)
		if ocf.StatusOf(err) == ocf.ErrConfigured {
			// Some actions (BYOIP) cannot be read back: ask the IP itself.
			return d.waitHolder(ctx, c, ip, me)
		}
		if err != nil {
			return fmt.Errorf("digitalocean: assign %s: action %d: %w", ip, id, err)
		}
	}
	return nil
}

// waitHolder polls the reserved IP until it names me, within ctx.
func (d *DO) waitHolder(ctx context.Context, c *godo.Client, ip netip.Addr, me int) error {
	for pause := 25 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		holder, err := d.holder(ctx, c, ip)
		if err != nil {
			return err
		}
		if holder == me {
			return nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ocf.Errorf(ocf.ErrGeneric, "digitalocean: assign %s to droplet %d: not assigned at the deadline", ip, me)
		case <-t.C:
		}
	}
}

// Check asks the API who holds ip.
func (d *DO) Check(ctx context.Context, ip netip.Addr) (provider.Holder, error) {
	c, me, err := d.prepare(ctx)
	if err != nil {
		return provider.Holder{}, err
	}
	id, err := d.holder(ctx, c, ip)
	if err != nil {
		return provider.Holder{}, err
	}
	return provider.HolderOf(id, me, dropletName), nil
}

// Inspect is floatip check: the token file, the droplet, the API with the
// token and the address, and where the address is routed. DigitalOcean
// shows no token scopes: write scope can only be seen by writing.
func (d *DO) Inspect(ctx context.Context, ip netip.Addr) []provider.Finding {
	if _, err := provider.ReadToken(d.TokenFile); err != nil {
		return []provider.Finding{provider.Fail("token file", err)}
	}
	out := []provider.Finding{provider.Pass("token file", d.TokenFile+": root only, one token")}
	c, me, err := d.prepare(ctx)
	if err != nil {
		return append(out, provider.Fail("metadata", err))
	}
	out = append(out, provider.Pass("metadata", fmt.Sprintf("this is droplet %d", me)))
	holder, err := d.holder(ctx, c, ip)
	if err != nil {
		return append(out, provider.Fail("credentials and address", err))
	}
	h := provider.HolderOf(holder, me, dropletName)
	return append(out, provider.Pass("credentials and address", fmt.Sprintf("the API took the token; %s is a reserved IP of the account", ip)),
		provider.Pass("write scope", "not visible without writing: the token needs read and write scope (reserved IP assign)"),
		provider.Pass("cloud", h.String()))
}

// Validate reads the token, finds the droplet and looks the IP up.
func (d *DO) Validate(ctx context.Context, ip netip.Addr) error {
	c, _, err := d.prepare(ctx)
	if err != nil {
		return err
	}
	_, err = d.holder(ctx, c, ip)
	return err
}
