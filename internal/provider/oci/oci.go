// Package oci moves an Oracle Cloud secondary private IP (or IPv6) to this
// instance's VNIC with oci-go-sdk, in one process: the move the OCI CLI's
// `assign-private-ip --unassign-if-already-assigned` makes, without the
// CLI's seconds of start-up. Authentication is instance principals (the
// default) or the OCI config file; no key material is a parameter.
//
// Every network step is bounded by the OCF deadline: the metadata service
// and the certificates are fetched here with the caller's context (the
// SDK's own region lookup retries for minutes), the SDK's retries and
// circuit breaker are off, and retries happen in provider.Retry.
package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/core"

	"github.com/cloudvip/floatip/internal/param"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
)

// Name is the provider's name.
const Name = "oci"

// Defaults.
const (
	DefaultMetadata = "http://169.254.169.254"
	DefaultConfig   = "/root/.oci/config"
)

// Params are the provider's parameters.
var Params = append([]param.Spec{
	{Name: "oci_auth", Type: "string", Default: "instance_principal",
		Short: "OCI authentication",
		Long:  "instance_principal (a dynamic group and an IAM policy, no key on the node) or config_file (oci_config, oci_profile)."},
	{Name: "oci_config", Type: "string", Default: DefaultConfig,
		Short: "OCI config file",
		Long:  "The OCI CLI/SDK config file for oci_auth=config_file. /root/.oci/config by default because Pacemaker may run agents with HOME unset."},
	{Name: "oci_profile", Type: "string", Default: "DEFAULT",
		Short: "Profile in oci_config", Long: "The profile to use in oci_config."},
	{Name: "vnic_id", Type: "string",
		Short: "VNIC OCID",
		Long:  "This instance's VNIC to move the address to. Default: the VNIC, from the metadata service, whose subnet contains ip."},
	provider.APIURL(Name, "https://iaas.<region>.oraclecloud.com"),
	provider.MetadataURL(Name, DefaultMetadata),
	{Name: "auth_url", Type: "string", ProviderDefaults: map[string]string{Name: "https://auth.<region>.oraclecloud.com"},
		Short: "Federation endpoint (origin)",
		Long:  "Origin of the instance-principal token service, scheme://host[:port] with no path."},
}, provider.Intervals()...)

// Spec describes the provider.
var Spec = &provider.Spec{
	Name:   Name,
	Cloud:  true,
	Params: Params,
	Local:  func(netip.Addr) provider.Local { return provider.Local{Bind: true} },
	Open:   open,
}

var (
	_ provider.Provider     = (*OCI)(nil)
	_ provider.LocalFinder  = (*OCI)(nil)
	_ provider.Inspector    = (*OCI)(nil)
	_ provider.MoveReporter = (*OCI)(nil)
)

// OCI is the provider.
type OCI struct {
	Auth, Config, Profile  string
	VnicID                 string
	API, Metadata, AuthURL string
	env                    provider.Env

	vnics  []metaVnic
	client *core.VirtualNetworkClient
	cached bool   // client signs with a cached session token
	subnet string // of VnicID
	moved  bool   // the last Claim updated or created the address
}

// silentSDK is the SDK's logger: it logs nothing. At the level
// OCI_GO_SDK_DEBUG names ("verbose") the SDK's own logger dumps request and
// response bodies, the instance-principal session token among them, to
// stderr, which Pacemaker keeps in its log. floatip's debug switch is
// HA_debug, and its lines carry no secret.
type silentSDK struct{}

func (silentSDK) LogLevel() int                 { return 0 }
func (silentSDK) Log(int, string, ...any) error { return nil }

// silenceSDK sets the SDK's logger, a global, once per process: before any
// SDK goroutine runs. Set at every open, it raced with the goroutines of an
// earlier provider still at work (an abandoned token request; go test
// -race, the OCI tests, or the keeper's rounds).
var silenceSDK sync.Once

func open(get func(string) (string, bool), env provider.Env) (provider.Provider, error) {
	silenceSDK.Do(func() { common.SetSDKLogger(silentSDK{}) })
	v := provider.NewValues(Name, Params, get)
	o := &OCI{env: env, Auth: v.String("oci_auth"), Config: v.String("oci_config"),
		Profile: v.String("oci_profile"), VnicID: v.String("vnic_id")}
	if o.Auth != "instance_principal" && o.Auth != "config_file" {
		return nil, param.Errorf("oci_auth=%s is unknown; use instance_principal or config_file", o.Auth)
	}
	if o.VnicID != "" && !strings.HasPrefix(o.VnicID, "ocid1.vnic.") {
		return nil, param.Errorf("vnic_id=%s is not a VNIC OCID (ocid1.vnic....)", o.VnicID)
	}
	var err error
	// The API and token service defaults depend on the region: unset, the
	// SDK finds them.
	if v.Set("api_url") {
		if o.API, err = param.ParseOrigin("api_url", v.String("api_url")); err != nil {
			return nil, err
		}
	}
	if v.Set("auth_url") {
		if o.AuthURL, err = param.ParseOrigin("auth_url", v.String("auth_url")); err != nil {
			return nil, err
		}
	}
	if o.Metadata, err = param.ParseOrigin("metadata_url", v.String("metadata_url")); err != nil {
		return nil, err
	}
	if err := provider.CheckEndpoint("metadata_url", o.Metadata, v.Default("metadata_url")); err != nil {
		return nil, err
	}
	if os.Getenv(provider.ForbidRealEndpoints) != "" && (o.API == "" || (o.Auth == "instance_principal" && o.AuthURL == "")) {
		return nil, param.Errorf("api_url and auth_url default to the real endpoints and %s is set (a test run): point them at the fake", provider.ForbidRealEndpoints)
	}
	return o, nil
}

// metaVnic is one entry of IMDS /opc/v2/vnics/.
type metaVnic struct {
	VnicID    string `json:"vnicId"`
	PrivateIP string `json:"privateIp"`
	MAC       string `json:"macAddr"`
	Subnet    string `json:"subnetCidrBlock"`
	Subnet6   string `json:"ipv6SubnetCidrBlock"`
	IPv6      []string
}

// imds GETs a metadata path with IMDS v2's header, retried within ctx.
func (o *OCI) imds(ctx context.Context, path string) ([]byte, error) {
	body, err := provider.Metadata(ctx, http.MethodGet, o.Metadata+"/opc/v2/"+path, http.Header{"Authorization": {"Bearer Oracle"}})
	if err != nil {
		return nil, fmt.Errorf("oci: instance metadata: %w", err)
	}
	return body, nil
}

// vnic picks this instance's VNIC for ip: vnic_id, or the metadata
// service's VNIC whose subnet contains ip. It returns the VNIC's MAC and
// the subnet's prefix length too (0 when unknown).
func (o *OCI) vnic(ctx context.Context, ip netip.Addr) (id, mac string, prefix int, err error) {
	if o.vnics == nil {
		b, err := o.imds(ctx, "vnics/")
		if err != nil {
			return "", "", 0, err
		}
		// Into a fresh list: an answer that does not decode can leave part
		// of itself behind, which the next call must not take for the list.
		var vnics []metaVnic
		if err := json.Unmarshal(b, &vnics); err != nil {
			return "", "", 0, ocf.Errorf(ocf.ErrGeneric, "oci: metadata vnics: %w", err)
		}
		o.vnics = vnics
	}
	for _, v := range o.vnics {
		cidr := v.Subnet
		if ip.Is6() {
			cidr = v.Subnet6
		}
		p, err := netip.ParsePrefix(cidr)
		if o.VnicID != "" {
			if v.VnicID == o.VnicID {
				if err != nil {
					return v.VnicID, v.MAC, 0, nil
				}
				return v.VnicID, v.MAC, p.Bits(), nil
			}
			continue
		}
		if err == nil && p.Contains(ip) {
			return v.VnicID, v.MAC, p.Bits(), nil
		}
	}
	if o.VnicID != "" {
		return o.VnicID, "", 0, nil // not a VNIC of this instance per metadata: trust the parameter
	}
	return "", "", 0, ocf.WithStatus(ocf.ErrInstalled, fmt.Errorf("oci: no VNIC of this instance has a subnet containing %s (check ip, or set vnic_id): %w", ip, provider.ErrCannotHold))
}

// vnicID is the VNIC to move ip to: vnic_id without asking the metadata
// service (a start with vnic_id and nic set needs nothing from it), else
// the VNIC whose subnet contains ip.
func (o *OCI) vnicID(ctx context.Context, ip netip.Addr) (string, error) {
	if o.VnicID != "" {
		return o.VnicID, nil
	}
	id, _, _, err := o.vnic(ctx, ip)
	return id, err
}
