package linode

import (
	"net/netip"
	"testing"

	"github.com/cloudvip/floatip/internal/fakecloud/linodefake"
	"github.com/cloudvip/floatip/internal/provider/providertest"
)

func TestConformance(t *testing.T) {
	for _, mode := range []string{"share", "assign"} {
		t.Run(mode, func(t *testing.T) {
			want := providertest.Expect{
				CheckOther: "taken by Linode 102",
				RetryAfter: true,
				Refused:    []linodefake.Fault{{Path: "/v4/", Status: 401}, {Path: "/v4/", Status: 403}},
			}
			if mode == "share" {
				// Sharing is per Linode: another's address is not ours
				// until shared, and the owner keeps it.
				want.CheckOther = "routed to nobody"
			}
			providertest.Conformance(t, func(t *testing.T) *providertest.World {
				f, url := world(t)
				here := "198.51.100.20" // shared with us
				if mode == "assign" {
					here = "198.51.100.1" // ours
				}
				return &providertest.World{
					P:    openL(t, url, map[string]string{"linode_mode": mode}),
					Fake: f,
					Here: netip.MustParseAddr(here), Other: netip.MustParseAddr("198.51.100.10"), OtherName: "Linode 102",
					Unknown: netip.MustParseAddr("198.51.100.99"), CannotHold: netip.MustParseAddr("203.0.113.40"),
					Writes:   func() int { return f.Count("POST") },
					API:      "/v4/",
					Metadata: "/v1/",
				}
			}, want)
		})
	}
}
