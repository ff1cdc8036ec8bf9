// Package all lists the providers this build supports.
package all

import (
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/provider/digitalocean"
	"github.com/cloudvip/floatip/internal/provider/linode"
	"github.com/cloudvip/floatip/internal/provider/oci"
)

// Providers is every provider, plain LAN included.
var Providers = provider.Set{provider.None, digitalocean.Spec, linode.Spec, oci.Spec}
