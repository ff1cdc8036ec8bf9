// Package all registers every provider this build supports.
package all

import (
	_ "github.com/cloudvip/floatip/internal/provider/digitalocean"
	_ "github.com/cloudvip/floatip/internal/provider/linode"
	_ "github.com/cloudvip/floatip/internal/provider/oci"
)
