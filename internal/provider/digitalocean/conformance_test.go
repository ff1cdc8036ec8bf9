package digitalocean

import (
	"net/netip"
	"testing"

	"github.com/cloudvip/floatip/internal/fakecloud/dofake"
	"github.com/cloudvip/floatip/internal/provider/providertest"
)

func TestConformance(t *testing.T) {
	providertest.Conformance(t, func(t *testing.T) *providertest.World {
		f, url, l := world(t)
		// A droplet holds one reserved IPv4 at most: here and free are IPv6.
		f.AddIP("2001:db8:10::5", "fra1", 101)
		f.AddIP("2001:db8:10::6", "fra1", 0)
		return &providertest.World{
			P:    openDO(t, url, l, nil),
			Fake: f,
			Here: netip.MustParseAddr("2001:db8:10::5"), Other: netip.MustParseAddr("203.0.113.12"), OtherName: "droplet 103",
			Free: netip.MustParseAddr("2001:db8:10::6"), Unknown: netip.MustParseAddr("203.0.113.99"),
			Writes:   func() int { return f.Count("POST") },
			API:      "/v2/",
			Metadata: "/metadata/",
		}
	}, providertest.Expect{
		CheckOther: "taken by droplet 103",
		RetryAfter: true,
		Refused:    []dofake.Fault{{Path: "/v2/", Status: 401}, {Path: "/v2/", Status: 403}},
	})
}
