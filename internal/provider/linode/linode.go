// Package linode moves a Linode (Akamai) IPv4 address with linodego, in
// one of two modes. share (the default): make sure the address is in this
// Linode's shared set (read, merge, write: the share call replaces the
// whole set), then the agent binds and announces it; on the Linode that
// owns the address nothing is shared. assign: move the address to this
// Linode and wait until the API lists it here. linodego's own retries are
// off (it retries 429s forever); every call is bounded by the OCF deadline.
package linode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/linode/linodego"

	"github.com/cloudvip/floatip/internal/param"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/runstate"
	"github.com/cloudvip/floatip/ocf"
)

// Name is the provider's name.
const Name = "linode"

// Defaults.
const (
	DefaultAPI      = "https://api.linode.com"
	DefaultMetadata = "http://169.254.169.254"
)

// Params are the provider's parameters.
var Params = append([]param.Spec{
	provider.APIURL(Name, DefaultAPI),
	provider.MetadataURL(Name, DefaultMetadata),
	provider.TokenFile(Name),
	{Name: "linode_id", Type: "integer",
		Short: "This Linode's id",
		Long:  "This Linode's id. Default: from the metadata service (/v1/instance), once per boot."},
	{Name: "linode_mode", Type: "string", Default: "share",
		Short: "share, bgp or assign",
		Long: "share: keep the address in this Linode's shared set and bind it (ARP data centers). " +
			"bgp: share it, bind it on lo and have FRR's bgpd announce it to Linode's route servers as primary (BGP data centers; see the bgp_ parameters). " +
			"assign: move the address to this Linode (IPv4 only; slow: Linode says up to a minute or two). " +
			"An IPv6 address is one of a shared range: the range is what is shared and, in bgp mode, announced."},
}, append(BGPParams, provider.Intervals()...)...)

// Spec describes the provider.
var Spec = &provider.Spec{
	Name:   Name,
	Cloud:  true,
	Params: Params,
	Local:  local,
	Open:   open,
}

// local: IPv6 addresses (of a shared range, routed to the Linode) go on
// lo as /128; IPv4 ones where the on-link route says.
func local(ip netip.Addr) provider.Local {
	if ip.Is6() {
		return provider.Local{Bind: true, NIC: "lo", Prefix: 128}
	}
	return provider.Local{Bind: true}
}

// Local: in bgp mode the address goes on lo as /32 (or /128) too; what
// reaches it is the route bgpd announces.
func (l *Linode) Local(ip netip.Addr) provider.Local {
	if l.bgp != nil {
		return provider.Local{Bind: true, NIC: "lo", Prefix: ip.BitLen()}
	}
	return local(ip)
}

var (
	_ provider.Placer       = (*Linode)(nil)
	_ provider.Speaking     = (*Linode)(nil)
	_ provider.Provider     = (*Linode)(nil)
	_ provider.Inspector    = (*Linode)(nil)
	_ provider.MoveReporter = (*Linode)(nil)
)

// Linode is the provider.
type Linode struct {
	API, Metadata, TokenFile, Mode string
	ID                             int
	region                         string
	bgp                            *BGP // linode_mode=bgp
	env                            provider.Env
	client                         *linodego.Client
	moved                          bool // the last Claim shared or assigned
}

func open(get func(string) (string, bool), env provider.Env) (provider.Provider, error) {
	v := provider.NewValues(Name, Params, get)
	l := &Linode{env: env, TokenFile: v.String("token_file"), Mode: v.String("linode_mode")}
	var err error
	if l.API, err = param.ParseOrigin("api_url", v.String("api_url")); err != nil {
		return nil, err
	}
	if l.Metadata, err = param.ParseOrigin("metadata_url", v.String("metadata_url")); err != nil {
		return nil, err
	}
	switch l.Mode {
	case "share", "assign":
	case "bgp":
		if l.bgp, err = parseBGP(v); err != nil {
			return nil, err
		}
	default:
		return nil, param.Errorf("linode_mode=%s is unknown; use share, bgp or assign", l.Mode)
	}
	if v.Set("linode_id") {
		if l.ID, err = param.ParseInt("linode_id", v.String("linode_id"), 1, 1<<31-1); err != nil {
			return nil, err
		}
	}
	if !filepath.IsAbs(l.TokenFile) {
		return nil, param.Errorf("token_file=%s is not an absolute path", l.TokenFile)
	}
	if err := provider.CheckEndpoint("api_url", l.API, v.Default("api_url")); err != nil {
		return nil, err
	}
	if l.ID == 0 || !l.idOnly() {
		if err := provider.CheckEndpoint("metadata_url", l.Metadata, v.Default("metadata_url")); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// api returns the client; linodego's retries are off so provider.Retry and
// the deadline decide.
func (l *Linode) api() (*linodego.Client, error) {
	if l.client != nil {
		return l.client, nil
	}
	tok, err := provider.ReadToken(l.TokenFile)
	if err != nil {
		return nil, err
	}
	// linodego (resty) adjusts the client it is given: its own, sharing the
	// process's transport.
	c := linodego.NewClient(&http.Client{Transport: provider.Client().Transport})
	c.SetToken(tok)
	c.SetBaseURL(l.API)
	c.SetRetryCount(0)
	c.SetLogger(quiet{})
	l.client = &c
	return l.client, nil
}

// idOnly reports whether this Linode's id is all the metadata service
// could add (its region matters to assign, and to bgp mode without a data
// center id or peers).
func (l *Linode) idOnly() bool {
	return l.Mode == "share" || (l.bgp != nil && !l.bgp.needsRegion())
}

type quiet struct{}

func (quiet) Errorf(string, ...any) {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Debugf(string, ...any) {}

// prepare is what every call needs: the client (the token read), this
// Linode's id and its region.
func (l *Linode) prepare(ctx context.Context) (*linodego.Client, int, string, error) {
	c, err := l.api()
	if err != nil {
		return nil, 0, "", err
	}
	me, region, err := l.identity(ctx)
	return c, me, region, err
}

// identity returns this Linode's id and region: the parameter, the values
// kept for this boot, or the metadata service (PUT /v1/token, GET
// /v1/instance).
func (l *Linode) identity(ctx context.Context) (int, string, error) {
	if l.ID != 0 && (l.region != "" || l.idOnly()) {
		return l.ID, l.region, nil
	}
	type instance struct {
		ID     int    `json:"id"`
		Region string `json:"region"`
	}
	cache := provider.BootCache(l.env.Cache)
	var cached instance
	if cache.Load("linode.instance", &cached) && cached.ID > 0 && (l.ID == 0 || l.ID == cached.ID) {
		l.ID, l.region = cached.ID, cached.Region
		return l.ID, l.region, nil
	}
	// The answer alone: nothing of a cache that was not used (another
	// Linode's region) may fill what the answer leaves out.
	var inst instance
	tok, err := provider.Metadata(ctx, http.MethodPut, l.Metadata+"/v1/token", http.Header{"Metadata-Token-Expiry-Seconds": {"300"}})
	var b []byte
	if err == nil {
		b, err = provider.Metadata(ctx, http.MethodGet, l.Metadata+"/v1/instance",
			http.Header{"Metadata-Token": {strings.TrimSpace(string(tok))}, "Accept": {"application/json"}})
	}
	if err == nil && (json.Unmarshal(b, &inst) != nil || inst.ID <= 0) {
		err = ocf.Errorf(ocf.ErrGeneric, "/v1/instance answered without an id")
	}
	if err != nil {
		return 0, "", fmt.Errorf("linode: this Linode's id from the metadata service (set linode_id to skip it): %w", err)
	}
	if l.ID != 0 && l.ID != inst.ID {
		return 0, "", ocf.Errorf(ocf.ErrConfigured, "linode: linode_id=%d but the metadata service says this is Linode %d", l.ID, inst.ID)
	}
	l.ID, l.region = inst.ID, inst.Region
	cache.Store(l.env.Log, "linode.instance", inst)
	return l.ID, l.region, nil
}

// classify is the kit's classifier; for Linode a 400 is the request
// refused as it stands (wrong on every node unless wrap finds otherwise).
func classify(err error, attempt int) provider.Verdict {
	return provider.Classify(err, attempt, func(e *provider.APIError, _ int) (provider.Verdict, bool) {
		return provider.Verdict{Status: ocf.ErrConfigured}, e.Status == http.StatusBadRequest
	})
}

// apiErr cuts linodego's error to the status and the API's reasons (Linode
// gives no request id).
func apiErr(err error) error {
	var le *linodego.Error
	if !errors.As(err, &le) || le.Code < 100 {
		return err
	}
	var h http.Header
	if le.Response != nil {
		h = le.Response.Header
	}
	return &provider.APIError{Status: le.Code, Msg: le.Message, RetryAfter: provider.RetryAfter(h, ""), Err: err}
}

func (l *Linode) wrap(what string, err error) error {
	if ocf.StatusOf(err) == ocf.ErrPerm {
		return ocf.WithStatus(ocf.ErrPerm, fmt.Errorf("linode: %s: the API refused the token in %s (%w); it needs Linodes and IPs read/write scope", what, l.TokenFile, err))
	}
	if ocf.StatusOf(err) == ocf.ErrConfigured && strings.Contains(strings.ToLower(err.Error()), "region") {
		// A 400 about regions: this Linode cannot hold the address, a fact
		// about this node (Linodes in other regions may be in the cluster).
		return ocf.WithStatus(ocf.ErrInstalled, fmt.Errorf("linode: %s: %w: %w", what, err, provider.ErrCannotHold))
	}
	return provider.Wrap(Name, what, err)
}

// ips reads this Linode's addresses: owned (its IPv4 addresses and the
// IPv6 ranges routed to it) and shared (the IPv4 addresses and IPv6 ranges
// shared with it, as the share call names them: the whole set a write
// must keep).
func (l *Linode) ips(ctx context.Context, c *linodego.Client, id int) (owned, shared []string, err error) {
	err = provider.Retry(ctx, func(ctx context.Context) error {
		r, err := c.GetInstanceIPAddresses(ctx, id)
		if err != nil {
			return apiErr(err)
		}
		// Without the ipv4 object the shared set is unknown, and writing a
		// set built from it would drop what others shared.
		if r == nil || r.IPv4 == nil {
			return provider.Malformed("IPs of Linode %d: the answer has no ipv4", id)
		}
		owned, shared = nil, nil
		for _, a := range append(append([]*linodego.InstanceIP{}, r.IPv4.Public...), r.IPv4.Private...) {
			if a == nil || a.Address == "" {
				return provider.Malformed("IPs of Linode %d: an address without address", id)
			}
			owned = append(owned, a.Address)
		}
		for _, a := range r.IPv4.Shared {
			if a == nil || a.Address == "" {
				return provider.Malformed("IPs of Linode %d: a shared address without address", id)
			}
			shared = append(shared, a.Address)
		}
		ro, rs, err := globalRanges(id, r.IPv6)
		if err != nil {
			return err
		}
		owned, shared = append(owned, ro...), append(shared, rs...)
		return nil
	}, classify)
	if err != nil {
		return nil, nil, l.wrap(fmt.Sprintf("IPs of Linode %d", id), err)
	}
	return owned, shared, nil
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// linodeName names a holder.
func linodeName(id int) string { return fmt.Sprintf("Linode %d", id) }

// Moved reports whether the last Claim shared or assigned the address.
func (l *Linode) Moved() bool { return l.moved }

// Claim makes ip usable here (share) or moves it here (assign).
func (l *Linode) Claim(ctx context.Context, ip netip.Addr) error {
	l.moved = false
	if err := l.supports(ip); err != nil {
		return err
	}
	c, me, region, err := l.prepare(ctx)
	if err != nil {
		return err
	}
	s := ip.String()
	if l.shares() && ip.Is6() {
		return l.claim6(ctx, c, me, ip)
	}
	if l.shares() {
		return l.share(ctx, c, me, s)
	}
	owned, _, err := l.ips(ctx, c, me)
	if err != nil {
		return err
	}
	if has(owned, s) {
		l.env.Log.Infof("linode: %s is already owned by Linode %d", s, me)
		return nil
	}
	err = provider.Retry(ctx, func(ctx context.Context) error {
		return apiErr(c.InstancesAssignIPs(ctx, linodego.LinodesAssignIPsOptions{Region: region,
			Assignments: []linodego.LinodeIPAssignment{{Address: s, LinodeID: me}}}))
	}, classify)
	if err != nil {
		return l.wrap(fmt.Sprintf("assign %s to Linode %d", s, me), err)
	}
	l.moved = true
	// The move shows under this Linode after a while: poll within the deadline.
	for pause := 100 * time.Millisecond; ; pause = min(2*pause, 2*time.Second) {
		owned, _, err := l.ips(ctx, c, me)
		if err != nil {
			return err
		}
		if has(owned, s) {
			l.env.Log.Infof("linode: %s assigned to Linode %d", s, me)
			return nil
		}
		select {
		case <-ctx.Done():
			return ocf.Errorf(ocf.ErrGeneric, "linode: %s assigned to Linode %d but not listed there before the deadline (moves can take a minute or two: raise the start timeout)", s, me)
		case <-time.After(pause):
		}
	}
}

// share adds s (an IPv4 address, or an IPv6 range by its address without
// prefix length) to this Linode's shared set. The share call replaces the
// whole set, IPv4 addresses and IPv6 ranges together, so the
// read-merge-write runs under a per-Linode lock on this node (two VIPs
// started at once would otherwise each drop the other), and the set is
// read back after writing: a write someone else replaced, or that the API
// answered without applying, is merged again.
func (l *Linode) share(ctx context.Context, c *linodego.Client, me int, s string) error {
	if l.env.Cache != "" {
		lk, err := runstate.Dir(l.env.Cache).Lock(ctx, fmt.Sprintf("linode-%d-share", me))
		if err != nil {
			return fmt.Errorf("linode: shared set of Linode %d: %w", me, err)
		}
		defer lk.Unlock()
	}
	what := s // an IPv4 address, or an IPv6 range by its address
	if strings.Contains(s, ":") {
		what = "range " + s
	}
	for attempt := 1; ; attempt++ {
		owned, shared, err := l.ips(ctx, c, me)
		if err != nil {
			return err
		}
		if has(owned, s) || has(shared, s) {
			if attempt > 1 {
				l.env.Log.Infof("linode: %s shared with Linode %d (shared set now %v)", what, me, shared)
			} else {
				l.env.Log.Infof("linode: %s is already %s Linode %d", what, map[bool]string{true: "owned by", false: "shared with"}[has(owned, s)], me)
			}
			return nil
		}
		if attempt > 1 {
			// Give a slow read-back (or another writer) time before writing
			// again: every round is two requests against the rate limit.
			l.env.Log.Warnf("linode: %s is not in Linode %d's shared set after writing it; merging again", what, me)
			t := time.NewTimer(min(100*time.Millisecond<<(attempt-2), 2*time.Second))
			select {
			case <-ctx.Done():
				t.Stop()
				return ocf.Errorf(ocf.ErrGeneric, "linode: %s: shared with Linode %d but not confirmed before the deadline", what, me)
			case <-t.C:
			}
		}
		set := append(append([]string{}, shared...), s)
		err = provider.Retry(ctx, func(ctx context.Context) error {
			return apiErr(c.ShareIPAddresses(ctx, linodego.IPAddressesShareOptions{IPs: set, LinodeID: me}))
		}, classify)
		if err != nil {
			return l.wrap(fmt.Sprintf("share %s with Linode %d", what, me), err)
		}
		l.moved = true
		if ctx.Err() != nil {
			return ocf.Errorf(ocf.ErrGeneric, "linode: %s: shared with Linode %d but not confirmed before the deadline", what, me)
		}
	}
}

// Check: share (and bgp) mode, is ip still shared with (or owned by) us,
// for IPv6 its range; assign mode, who owns it.
func (l *Linode) Check(ctx context.Context, ip netip.Addr) (provider.Holder, error) {
	if err := l.supports(ip); err != nil {
		return provider.Holder{}, err
	}
	c, me, _, err := l.prepare(ctx)
	if err != nil {
		return provider.Holder{}, err
	}
	s := ip.String()
	if l.shares() && ip.Is6() {
		return l.check6(ctx, c, me, ip)
	}
	if l.shares() {
		owned, shared, err := l.ips(ctx, c, me)
		if err != nil {
			return provider.Holder{}, err
		}
		if has(owned, s) || has(shared, s) {
			return provider.Holder{Where: provider.Here}, nil
		}
		return provider.Holder{Where: provider.Nobody}, nil
	}
	owner, err := l.owner(ctx, c, s)
	if err != nil {
		return provider.Holder{}, err
	}
	return provider.HolderOf(owner, me, linodeName), nil
}

// owner asks which Linode owns s (404: not an address of this account).
func (l *Linode) owner(ctx context.Context, c *linodego.Client, s string) (int, error) {
	var owner int
	err := provider.Retry(ctx, func(ctx context.Context) error {
		a, err := c.GetIPAddress(ctx, s)
		if err != nil {
			return apiErr(err)
		}
		if a == nil || a.Address != s {
			return provider.Malformed("IP %s: the answer is not that address", s)
		}
		owner = a.LinodeID
		return nil
	}, classify)
	if err != nil {
		return 0, l.wrap("get "+s, err)
	}
	return owner, nil
}

// Inspect is floatip check: the token file, this Linode, its IPs with the
// token, the address in the account, and where it is routed.
func (l *Linode) Inspect(ctx context.Context, ip netip.Addr) []provider.Finding {
	if err := l.supports(ip); err != nil {
		return []provider.Finding{provider.Fail("address", err)}
	}
	if _, err := provider.ReadToken(l.TokenFile); err != nil {
		return []provider.Finding{provider.Fail("token file", err)}
	}
	out := []provider.Finding{provider.Pass("token file", l.TokenFile+": root only, one token")}
	c, me, region, err := l.prepare(ctx)
	if err != nil {
		return append(out, provider.Fail("metadata", err))
	}
	out = append(out, provider.Pass("metadata", fmt.Sprintf("this is Linode %d %s", me, region)))
	owned, shared, err := l.ips(ctx, c, me)
	if err != nil {
		return append(out, provider.Fail("credentials", err))
	}
	out = append(out, provider.Pass("credentials", fmt.Sprintf("the API took the token (%d own and %d shared addresses or ranges)", len(owned), len(shared))))
	if ip.Is6() {
		return append(out, l.inspect6(ctx, c, me, ip)...)
	}
	s := ip.String()
	owner, err := l.owner(ctx, c, s)
	if err != nil {
		return append(out, provider.Fail("address", err))
	}
	out = append(out, provider.Pass("address", fmt.Sprintf("%s is Linode %d's", s, owner)))
	var h provider.Holder
	switch {
	case has(owned, s) || (l.shares() && has(shared, s)):
		h = provider.Holder{Where: provider.Here}
	case l.shares():
		h = provider.Holder{Where: provider.Nobody}
	default:
		h = provider.HolderOf(owner, me, linodeName)
	}
	return append(out, provider.Pass("cloud", h.String()))
}

// Validate reads the token, identifies the Linode, reads its IPs and
// looks the address (for IPv6, a range that holds it) up in the account.
func (l *Linode) Validate(ctx context.Context, ip netip.Addr) error {
	if err := l.supports(ip); err != nil {
		return err
	}
	c, me, _, err := l.prepare(ctx)
	if err != nil {
		return err
	}
	if _, _, err = l.ips(ctx, c, me); err != nil {
		return err
	}
	if ip.Is6() {
		_, err = l.sharedRange(ctx, ip)
		return err
	}
	_, err = l.owner(ctx, c, ip.String()) // the address is the account's
	return err
}
