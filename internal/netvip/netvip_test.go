package netvip

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cloudvip/floatip/internal/nstest"
	"golang.org/x/sys/unix"
)

func open(t *testing.T) (*nstest.Pair, *Handle) {
	p := nstest.NewPair(t, "192.0.2.1/24", "2001:db8:1::1/64", "192.0.2.2/24", "2001:db8:1::2/64")
	h, err := nstest.In(p.Node, func() (*Handle, error) { return Open() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return p, h
}

func TestOnLinkRoute(t *testing.T) {
	p, h := open(t)
	nstest.Run(t, "ip", "-n", p.Node, "addr", "add", "198.51.100.1/28", "dev", p.NodeIf)
	// A wider route through a gateway must not count: it is not on-link.
	nstest.Run(t, "ip", "-n", p.Node, "route", "add", "198.51.100.0/24", "via", "192.0.2.2")
	nstest.Run(t, "ip", "-n", p.Node, "route", "add", "203.0.113.0/24", "via", "192.0.2.2")
	for _, tc := range []struct {
		ip     string
		prefix int
		err    error
	}{
		{"192.0.2.77", 24, nil},
		{"198.51.100.9", 28, nil},
		{"198.51.100.99", 0, ErrNoRoute},
		{"203.0.113.5", 0, ErrNoRoute},
		{"2001:db8:1::77", 64, nil},
		{"2001:db8:2::77", 0, ErrNoRoute},
	} {
		l, prefix, err := h.OnLinkRoute(netip.MustParseAddr(tc.ip), "")
		if !errors.Is(err, tc.err) || prefix != tc.prefix || (err == nil && l.Name != p.NodeIf) {
			t.Errorf("%s: %s/%d %v, want /%d %v", tc.ip, l.Name, prefix, err, tc.prefix, tc.err)
		}
	}
	if _, _, err := h.OnLinkRoute(netip.MustParseAddr("192.0.2.77"), "lo"); !errors.Is(err, ErrNoRoute) {
		t.Errorf("route restricted to lo: %v", err)
	}
	if _, err := h.LinkByName("nosuch0"); !errors.Is(err, ErrNoLink) {
		t.Errorf("missing link: %v", err)
	}
}

func TestAddFindDel(t *testing.T) {
	p, h := open(t)
	link, err := h.LinkByName(p.NodeIf)
	if err != nil || link.MAC == nil || !link.CarrierOK() {
		t.Fatalf("link %+v %v", link, err)
	}
	for _, tc := range []struct {
		spec Spec
		show string // in `ip -o addr show`
	}{
		{Spec{IP: netip.MustParseAddr("192.0.2.10"), Prefix: 24, Label: p.NodeIf + ":v"}, "inet 192.0.2.10/24 brd 192.0.2.255 scope global secondary " + p.NodeIf + ":v"},
		// '+' and '-' set and reset the host bits, as `ip addr add ... brd -` does.
		{Spec{IP: netip.MustParseAddr("192.0.2.11"), Prefix: 24, Broadcast: "-"}, "inet 192.0.2.11/24 brd 192.0.2.0 scope global secondary"},
		{Spec{IP: netip.MustParseAddr("192.0.2.13"), Prefix: 25, Broadcast: "+"}, "inet 192.0.2.13/25 brd 192.0.2.127 scope global " + p.NodeIf},
		{Spec{IP: netip.MustParseAddr("198.51.100.14"), Prefix: 32, Broadcast: "-"}, "inet 198.51.100.14/32 scope global " + p.NodeIf},
		{Spec{IP: netip.MustParseAddr("192.0.2.12"), Prefix: 24, Broadcast: "192.0.2.127", NoPrefixRoute: true}, "inet 192.0.2.12/24 brd 192.0.2.127 scope global secondary noprefixroute"},
		{Spec{IP: netip.MustParseAddr("2001:db8:1::10"), Prefix: 64, NoDAD: true, PreferredLft: 0}, "inet6 2001:db8:1::10/64 scope global nodad deprecated"},
		{Spec{IP: netip.MustParseAddr("2001:db8:1::11"), Prefix: 128, NoDAD: true, PreferredLft: ^uint32(0)}, "inet6 2001:db8:1::11/128 scope global nodad"},
	} {
		tc.spec.Link = link
		if err := h.Add(tc.spec); err != nil {
			t.Fatal(err)
		}
		if err := h.Add(tc.spec); !errors.Is(err, unix.EEXIST) {
			t.Fatalf("second add: %v, want EEXIST", err)
		}
		if out := nstest.Addrs(t, p.Node, p.NodeIf); !strings.Contains(out, tc.show) {
			t.Fatalf("want %q in:\n%s", tc.show, out)
		}
		a, err := h.Find(tc.spec.IP, nil)
		if err != nil || a == nil || a.Prefix != tc.spec.Prefix || a.Link.Index != link.Index {
			t.Fatalf("find %s: %+v %v", tc.spec.IP, a, err)
		}
		if err := h.Del(a); err != nil {
			t.Fatal(err)
		}
		if err := h.Del(a); err != nil {
			t.Fatalf("deleting an absent address must succeed: %v", err)
		}
		if a, err := h.Find(tc.spec.IP, &link); a != nil || err != nil {
			t.Fatalf("still there: %+v %v", a, err)
		}
	}
}

func TestWaitDAD(t *testing.T) {
	p, h := open(t)
	link, _ := h.LinkByName(p.NodeIf)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ok := netip.MustParseAddr("2001:db8:1::20")
	if err := h.Add(Spec{IP: ok, Prefix: 64, Link: link, PreferredLft: ^uint32(0)}); err != nil {
		t.Fatal(err)
	}
	if a, _ := h.Find(ok, &link); a == nil || !a.Tentative {
		t.Fatalf("fresh address should be tentative: %+v", a)
	}
	if a, err := h.WaitDAD(ctx, ok, link); err != nil || a.Tentative {
		t.Fatalf("DAD: %+v %v", a, err)
	}
	dup := netip.MustParseAddr("2001:db8:1::2") // the peer's
	if err := h.Add(Spec{IP: dup, Prefix: 64, Link: link, PreferredLft: ^uint32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.WaitDAD(ctx, dup, link); !errors.Is(err, ErrDADFailed) {
		t.Fatalf("duplicate: %v, want ErrDADFailed", err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()
	third := netip.MustParseAddr("2001:db8:1::21")
	h.Add(Spec{IP: third, Prefix: 64, Link: link, PreferredLft: ^uint32(0)})
	if _, err := h.WaitDAD(short, third, link); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
}
