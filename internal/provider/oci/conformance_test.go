package oci

import (
	"net/netip"
	"testing"

	"github.com/cloudvip/floatip/internal/fakecloud/ocifake"
	"github.com/cloudvip/floatip/internal/provider/providertest"
)

func TestConformance(t *testing.T) {
	var other string
	setup := func(t *testing.T) *providertest.World {
		w := newWorld(t)
		w.f.AddIP("10.0.0.102", w.a)
		w.f.AddIP("10.0.0.101", w.b)
		other = "VNIC " + w.b.ID
		return &providertest.World{
			P:    w.open(t, nil),
			Fake: w.f,
			// A free address in the subnet is created here; every address
			// of the subnet is the account's, so there is no Unknown.
			Here: netip.MustParseAddr("10.0.0.102"), Other: netip.MustParseAddr("10.0.0.101"), OtherName: other,
			Free: netip.MustParseAddr("10.0.0.100"), CannotHold: netip.MustParseAddr("10.0.1.5"),
			Writes:   func() int { return w.f.Count("POST /20160918/") + w.f.Count("PUT /20160918/") },
			API:      "/20160918/",
			Metadata: "/opc/v2/",
		}
	}
	setup(t) // names the other VNIC
	providertest.Conformance(t, setup, providertest.Expect{
		CheckOther: "taken by " + other,
		Refused: []ocifake.Fault{
			{Path: "/20160918/", Status: 401, Code: "NotAuthenticated"},
			{Path: "/20160918/", Status: 404, Code: "NotAuthorizedOrNotFound"},
		},
	})
}
