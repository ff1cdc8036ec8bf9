package oci

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/common/auth"
	"github.com/oracle/oci-go-sdk/v65/core"

	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
)

// iamHint names the policy a dynamic group needs (OCI's policy reference:
// UpdatePrivateIp needs PRIVATE_IP_UPDATE and VNIC_ASSIGN/VNIC_UNASSIGN).
const iamHint = `the dynamic group likely lacks "Allow dynamic-group <group> to use private-ips in compartment <c>" and "... to use vnics in compartment <c>"`

// api returns the VirtualNetwork client, authenticating on first use. The
// SDK authenticates while it builds the client (instance principals: the
// token request), which ignores contexts, so it runs in a goroutine that
// the deadline can abandon.
func (o *OCI) api(ctx context.Context) (*core.VirtualNetworkClient, error) {
	if o.client != nil {
		return o.client, nil
	}
	cp, err := o.credentials(ctx)
	if err != nil {
		return nil, err
	}
	type built struct {
		c   core.VirtualNetworkClient
		err error
	}
	ch := make(chan built, 1)
	go func() {
		c, err := core.NewVirtualNetworkClientWithConfigurationProvider(cp)
		ch <- built{c, err}
	}()
	var b built
	select {
	case b = <-ch:
	case <-ctx.Done():
		if o.Auth == "config_file" {
			return nil, ocf.Errorf(ocf.ErrGeneric, "oci: config-file authentication did not finish before the deadline")
		}
		return nil, ocf.Errorf(ocf.ErrGeneric, "oci: instance principal token: none before the deadline (the token service is failing or slow)")
	}
	if b.err != nil {
		if o.Auth == "config_file" {
			return nil, ocf.Errorf(ocf.ErrInstalled, "oci: oci_config %s profile %s: %w", o.Config, o.Profile, b.err)
		}
		// A token fetch that fails is transient: resource-agents issue
		// #2020 is such blips turned into failovers.
		return nil, ocf.Errorf(ocf.ErrGeneric, "oci: instance principal token: %w", b.err)
	}
	if _, isCached := cp.(sessionProvider); o.Auth == "instance_principal" && !isCached {
		o.saveSession(cp)
	}
	c := b.c
	if o.API != "" {
		c.Host = o.API
	}
	c.Configuration.CircuitBreaker = nil
	c.Configuration.RetryPolicy = nil
	c.HTTPClient = deadlineDispatcher{c.HTTPClient}
	o.client = &c
	return o.client, nil
}

// The SDK runs every call in a goroutine (common.Retry) and, when the
// call's context ends first, returns the response variable that goroutine
// is still writing: a data race (go test -race sees it when a deadline cuts
// a request short; oci-go-sdk v65.129.0 and v65.130.0). So the SDK gets a
// context that never ends, and the caller's context reaches the HTTP
// request through deadlineDispatcher: the request fails at the deadline
// and the SDK's goroutine returns before the SDK reads its result.
type callerContext struct{}

// sdkContext is ctx for an SDK call: no deadline or cancellation of its
// own, ctx itself carried for deadlineDispatcher.
func sdkContext(ctx context.Context) context.Context {
	return context.WithValue(context.WithoutCancel(ctx), callerContext{}, ctx)
}

// deadlineDispatcher sends each request under the caller's context that
// sdkContext carries.
type deadlineDispatcher struct{ common.HTTPRequestDispatcher }

func (d deadlineDispatcher) Do(req *http.Request) (*http.Response, error) {
	if ctx, ok := req.Context().Value(callerContext{}).(context.Context); ok {
		req = req.WithContext(ctx)
	}
	return d.HTTPRequestDispatcher.Do(req)
}

// credentials is the configuration the client signs with: the config file,
// the instance-principal session cached for this boot, or the instance's
// certificates from the metadata service, read within ctx (the SDK's own
// lookup retries for minutes).
func (o *OCI) credentials(ctx context.Context) (common.ConfigurationProvider, error) {
	if o.Auth == "config_file" {
		if _, err := os.Stat(o.Config); errors.Is(err, fs.ErrNotExist) {
			return nil, ocf.Errorf(ocf.ErrInstalled, "oci: oci_config %s does not exist; write the OCI config for root there or use oci_auth=instance_principal", o.Config)
		} else if err != nil {
			return nil, ocf.Errorf(ocf.ErrPerm, "oci: oci_config %s: %w", o.Config, err)
		}
		return common.CustomProfileConfigProvider(o.Config, o.Profile), nil
	}
	if cached := o.cachedSession(); cached != nil {
		o.cached = true
		return cached, nil
	}
	var got [4][]byte // region, certificate, key, intermediate
	for i, path := range []string{"instance/region", "identity/cert.pem", "identity/key.pem", "identity/intermediate.pem"} {
		b, err := o.imds(ctx, path)
		if err != nil {
			return nil, err
		}
		got[i] = b
	}
	if o.AuthURL != "" {
		// read by the SDK's federation client
		if err := os.Setenv("OCI_SDK_AUTH_CLIENT_REGION_URL", o.AuthURL); err != nil {
			return nil, fmt.Errorf("oci: auth_url: %w", err)
		}
	}
	region := common.StringToRegion(strings.TrimSpace(string(got[0])))
	cp, err := auth.InstancePrincipalConfigurationWithCerts(region, got[1], nil, got[2], [][]byte{got[3]})
	if err != nil {
		return nil, fmt.Errorf("oci: instance principal certificates: %w", err)
	}
	return cp, nil
}

// apiErr cuts the SDK's service error (several lines with troubleshooting
// tips) to the status, code, message and opc-request-id.
func apiErr(err error) error {
	var se common.ServiceError
	if !errors.As(err, &se) {
		return err
	}
	return &provider.APIError{Status: se.GetHTTPStatusCode(), Code: se.GetCode(), Msg: se.GetMessage(), RequestID: se.GetOpcRequestID(), Err: err}
}

// httpStatus is the HTTP status of a service error, 0 for other errors.
func httpStatus(err error) int {
	var se common.ServiceError
	if errors.As(err, &se) {
		return se.GetHTTPStatusCode()
	}
	return 0
}

// classify is the kit's classifier with OCI's meanings: 409 (a conflicting
// or still-running change) is retried, 404 NotAuthorizedOrNotFound is how
// OCI refuses a missing policy (as 401: exit 4 after a second try), and 400
// is the request refused as it stands. OCI documents no Retry-After.
func classify(err error, attempt int) provider.Verdict {
	return provider.Classify(err, attempt, func(e *provider.APIError, attempt int) (provider.Verdict, bool) {
		switch e.Status {
		case http.StatusConflict:
			return provider.Verdict{Retry: true}, true
		case http.StatusUnauthorized, http.StatusNotFound:
			return provider.Verdict{Retry: attempt < 2, Status: ocf.ErrPerm}, true
		case http.StatusBadRequest:
			return provider.Verdict{Status: ocf.ErrConfigured}, true
		}
		return provider.Verdict{}, false
	})
}

func (o *OCI) wrap(what string, err error) error {
	if ocf.StatusOf(err) == ocf.ErrPerm {
		o.dropSession() // a refused token must not be reused by the next action
		return provider.Wrap(Name, what+" ("+iamHint+")", err)
	}
	return provider.Wrap(Name, what, err)
}

// addr is a private IP or IPv6 object as both APIs describe it.
type addr struct {
	id, vnic string
	primary  bool // a VNIC's primary private IP, which never moves
}

// lookup finds ip in subnet (nil when it does not exist), following pages.
func (o *OCI) lookup(ctx context.Context, c *core.VirtualNetworkClient, ip netip.Addr, subnet string) (*addr, error) {
	var found *addr
	var page *string
	for {
		var next *string
		err := provider.Retry(ctx, func(ctx context.Context) error {
			s, sub := ip.String(), subnet
			ctx = sdkContext(ctx)
			if ip.Is4() {
				r, err := c.ListPrivateIps(ctx, core.ListPrivateIpsRequest{IpAddress: &s, SubnetId: &sub, Page: page})
				for _, p := range r.Items {
					if deref(p.IpAddress) == s && p.Id != nil {
						found = &addr{id: *p.Id, vnic: deref(p.VnicId), primary: p.IsPrimary != nil && *p.IsPrimary}
					}
				}
				next = r.OpcNextPage
				return apiErr(err)
			}
			r, err := c.ListIpv6s(ctx, core.ListIpv6sRequest{IpAddress: &s, SubnetId: &sub, Page: page})
			for _, p := range r.Items {
				a, perr := netip.ParseAddr(deref(p.IpAddress))
				if perr != nil {
					return provider.Malformed("list %s: an IPv6 object with ipAddress %q", s, deref(p.IpAddress))
				}
				if a == ip && p.Id != nil {
					found = &addr{id: *p.Id, vnic: deref(p.VnicId)}
				}
			}
			next = r.OpcNextPage
			return apiErr(err)
		}, classify)
		if err != nil {
			return nil, o.wrap("list "+ip.String(), err)
		}
		if found != nil || next == nil {
			return found, nil
		}
		page = next
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// subnetOf asks which subnet a VNIC is in (GetVnic; the metadata service
// only knows the CIDR).
func (o *OCI) subnetOf(ctx context.Context, c *core.VirtualNetworkClient, vnic string) (string, error) {
	if o.subnet != "" {
		return o.subnet, nil
	}
	err := provider.Retry(ctx, func(ctx context.Context) error {
		r, err := c.GetVnic(sdkContext(ctx), core.GetVnicRequest{VnicId: &vnic})
		if err != nil {
			return apiErr(err)
		}
		if deref(r.SubnetId) == "" {
			return provider.Malformed("VNIC %s: the answer has no subnetId", vnic)
		}
		o.subnet = *r.SubnetId
		return nil
	}, classify)
	if err != nil {
		return "", o.wrap("get VNIC "+vnic, err)
	}
	return o.subnet, nil
}

// Claim moves ip to this instance's VNIC: nothing when it is already
// there, UpdatePrivateIp when another VNIC in the subnet has it,
// CreatePrivateIp when nobody does.
func (o *OCI) claim(ctx context.Context, ip netip.Addr) error {
	c, vnic, subnet, err := o.prepare(ctx, ip)
	if err != nil {
		return err
	}
	cur, err := o.lookup(ctx, c, ip, subnet)
	if err != nil {
		return err
	}
	if cur != nil && cur.vnic == vnic {
		o.env.Log.Infof("oci: %s is already on VNIC %s", ip, vnic)
		return nil
	}
	if cur != nil && cur.primary {
		return ocf.Errorf(ocf.ErrConfigured, "oci: %s is the primary private IP of VNIC %s and cannot move; use a secondary private IP as the VIP", ip, cur.vnic)
	}
	from := "nowhere (created)"
	if cur != nil {
		from = "VNIC " + cur.vnic
	}
	s := ip.String()
	done := false
	err = provider.Retry(ctx, func(ctx context.Context) error {
		err := o.write(ctx, c, ip, vnic, cur)
		if httpStatus(err) != http.StatusConflict {
			return err
		}
		// A write whose answer was lost (reset, timeout) may have happened:
		// carry on from what the cloud says now.
		now, lerr := o.lookup(ctx, c, ip, subnet)
		if lerr != nil {
			return lerr
		}
		if now != nil && now.vnic == vnic {
			done = true
			return nil
		}
		cur = now
		return err
	}, classify)
	if err != nil {
		if ocf.StatusOf(err) == ocf.ErrConfigured {
			// 400: this VNIC cannot hold the address (another subnet): a
			// fact about this node, not the configuration everywhere.
			return ocf.WithStatus(ocf.ErrInstalled, fmt.Errorf("oci: VNIC %s cannot hold %s: %w: %w", vnic, s, err, provider.ErrCannotHold))
		}
		return o.wrap("move "+s+" to VNIC "+vnic, err)
	}
	o.moved = true
	if done {
		o.env.Log.Infof("oci: %s is on VNIC %s (an earlier attempt's answer was lost)", ip, vnic)
		return nil
	}
	o.env.Log.Infof("oci: %s moved from %s to VNIC %s", ip, from, vnic)
	return nil
}

// prepare is what every call needs: the VNIC for ip, the authenticated
// client and the VNIC's subnet.
func (o *OCI) prepare(ctx context.Context, ip netip.Addr) (c *core.VirtualNetworkClient, vnic, subnet string, err error) {
	if vnic, err = o.vnicID(ctx, ip); err != nil {
		return nil, "", "", err
	}
	if c, err = o.api(ctx); err != nil {
		return nil, "", "", err
	}
	subnet, err = o.subnetOf(ctx, c, vnic)
	return c, vnic, subnet, err
}

// write moves ip to vnic: UpdatePrivateIp/UpdateIpv6 when cur exists,
// CreatePrivateIp/CreateIpv6 when nobody has it.
func (o *OCI) write(ctx context.Context, c *core.VirtualNetworkClient, ip netip.Addr, vnic string, cur *addr) error {
	s := ip.String()
	ctx = sdkContext(ctx)
	var err error
	switch {
	case cur != nil && ip.Is4():
		_, err = c.UpdatePrivateIp(ctx, core.UpdatePrivateIpRequest{PrivateIpId: &cur.id, UpdatePrivateIpDetails: core.UpdatePrivateIpDetails{VnicId: &vnic}})
	case cur != nil:
		_, err = c.UpdateIpv6(ctx, core.UpdateIpv6Request{Ipv6Id: &cur.id, UpdateIpv6Details: core.UpdateIpv6Details{VnicId: &vnic}})
	case ip.Is4():
		_, err = c.CreatePrivateIp(ctx, core.CreatePrivateIpRequest{CreatePrivateIpDetails: core.CreatePrivateIpDetails{VnicId: &vnic, IpAddress: &s}})
	default:
		_, err = c.CreateIpv6(ctx, core.CreateIpv6Request{CreateIpv6Details: core.CreateIpv6Details{VnicId: &vnic, IpAddress: &s}})
	}
	return apiErr(err)
}

// Check asks which VNIC holds ip.
func (o *OCI) check(ctx context.Context, ip netip.Addr) (provider.Holder, error) {
	c, vnic, subnet, err := o.prepare(ctx, ip)
	if err != nil {
		return provider.Holder{}, err
	}
	cur, err := o.lookup(ctx, c, ip, subnet)
	if err != nil {
		return provider.Holder{}, err
	}
	owner := ""
	if cur != nil {
		owner = cur.vnic
	}
	return provider.HolderOf(owner, vnic, vnicName), nil
}

// Validate finds the VNIC, authenticates and reads the VNIC's subnet.
func (o *OCI) validate(ctx context.Context, ip netip.Addr) error {
	_, _, _, err := o.prepare(ctx, ip)
	return err
}

// Inspect is floatip check: the VNIC for the address (from the metadata
// service unless vnic_id), authentication, a read of the VNIC (a refusal
// names the IAM statements), the address in its subnet and where it is.
func (o *OCI) Inspect(ctx context.Context, ip netip.Addr) []provider.Finding {
	var out []provider.Finding
	vnic, mac, _, err := o.vnic(ctx, ip)
	if o.VnicID != "" && err != nil {
		vnic, mac, err = o.VnicID, "", nil // vnic_id needs no metadata
	}
	if err != nil {
		return append(out, provider.Fail("metadata", err))
	}
	out = append(out, provider.Pass("metadata", fmt.Sprintf("VNIC %s (MAC %s)", vnic, mac)))
	var h provider.Holder
	err = o.fresh(func() error {
		c, vnic, subnet, err := o.prepare(ctx, ip)
		if err != nil {
			return err
		}
		out = append(out, provider.Pass("credentials", fmt.Sprintf("%s authenticated; VNIC in subnet %s", o.Auth, subnet)))
		cur, err := o.lookup(ctx, c, ip, subnet)
		if err != nil {
			return err
		}
		owner := ""
		if cur != nil {
			owner = cur.vnic
		}
		h = provider.HolderOf(owner, vnic, vnicName)
		return nil
	})
	if err != nil {
		return append(out, provider.Fail("credentials", err))
	}
	return append(out, provider.Pass("write permission", "not visible without writing: the policy needs "+iamHint[strings.Index(iamHint, `"`):]),
		provider.Pass("cloud", h.String()))
}

// Target tells the agent where to bind ip: the interface with the VNIC's
// MAC and the subnet's prefix (provider.LocalFinder).
func (o *OCI) Target(ctx context.Context, ip netip.Addr) (mac string, prefix int, err error) {
	_, mac, prefix, err = o.vnic(ctx, ip)
	return mac, prefix, err
}

// fresh retries op once with a new token when a cached one was refused
// (revoked, or the token service restarted): a stale cache must never ban
// a node.
func (o *OCI) fresh(op func() error) error {
	err := op()
	if err != nil && o.cached && ocf.StatusOf(err) == ocf.ErrPerm {
		o.env.Log.Infof("oci: the cached instance-principal token was refused; getting a new one")
		o.client, o.cached, o.subnet = nil, false, ""
		err = op()
	}
	return err
}

// vnicName names a holder.
func vnicName(id string) string { return "VNIC " + id }

// Moved reports whether the last Claim updated or created the address.
func (o *OCI) Moved() bool { return o.moved }

// Claim moves ip to this instance's VNIC: nothing when it is already
// there, UpdatePrivateIp when another VNIC in the subnet has it,
// CreatePrivateIp when nobody does.
func (o *OCI) Claim(ctx context.Context, ip netip.Addr) error {
	o.moved = false
	return o.fresh(func() error { return o.claim(ctx, ip) })
}

// Check asks which VNIC holds ip.
func (o *OCI) Check(ctx context.Context, ip netip.Addr) (h provider.Holder, err error) {
	err = o.fresh(func() error { h, err = o.check(ctx, ip); return err })
	return h, err
}

// Validate finds the VNIC, authenticates and reads the VNIC's subnet.
func (o *OCI) Validate(ctx context.Context, ip netip.Addr) error {
	return o.fresh(func() error { return o.validate(ctx, ip) })
}
