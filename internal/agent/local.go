package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/cloudvip/floatip/internal/netvip"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
	"golang.org/x/sys/unix"
)

// Net is the node's network as the agent uses it; *netvip.Handle is the
// real one (rtnetlink), tests give a fake.
type Net interface {
	LinkByName(name string) (netvip.Link, error)
	LinkByMAC(mac net.HardwareAddr) (netvip.Link, error)
	OnLinkRoute(ip netip.Addr, nic string) (netvip.Link, int, error)
	Find(ip netip.Addr, link *netvip.Link) (*netvip.Addr, error)
	Add(s netvip.Spec) error
	Del(a *netvip.Addr) error
	SetUp(l netvip.Link) error
	WaitDAD(ctx context.Context, ip netip.Addr, link netvip.Link) (*netvip.Addr, error)
	Close()
}

var _ Net = (*netvip.Handle)(nil)

// hasNetAdmin reports whether this process may change addresses.
func hasNetAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return os.Geteuid() == 0
	}
	return data[0].Effective&(1<<unix.CAP_NET_ADMIN) != 0
}

// openNet opens the node's network; failing to is a missing local
// prerequisite.
func (a *Agent) openNet() (Net, error) {
	if a.OpenNet != nil {
		return a.OpenNet()
	}
	h, err := netvip.Open()
	if err != nil {
		return nil, ocf.WithStatus(ocf.ErrInstalled, err)
	}
	return h, nil
}

// netAdmin reports whether this process may change addresses.
func (a *Agent) netAdmin() bool {
	if a.NetAdmin != nil {
		return a.NetAdmin()
	}
	return hasNetAdmin()
}

// placement is where the address goes, decided from the parameters alone:
// an interface by name or by MAC ("" and nil: the interface of the on-link
// route containing the address) and a prefix (0: that route's).
type placement struct {
	nic    string
	mac    net.HardwareAddr
	prefix int
}

// needsFinder reports whether the provider's own lookup (OCI: the VNIC's
// MAC and subnet from the metadata service) could still add to what the
// parameters and the provider's defaults give.
func needsFinder(c *Config, def provider.Local) bool {
	return (c.NIC == "" && def.NIC == "") || (!c.PrefixSet && def.Prefix == 0)
}

// place decides interface and prefix: the parameters first, then the
// provider's defaults (DigitalOcean IPv6: lo, /128), then what the
// provider found (foundMAC, foundPrefix: "" and 0 when it found nothing).
// It looks nothing up.
func place(c *Config, def provider.Local, foundMAC string, foundPrefix int) (placement, error) {
	p := placement{nic: c.NIC, prefix: c.Prefix}
	if !c.PrefixSet {
		p.prefix = 0
	}
	if p.nic == "" {
		p.nic = def.NIC
	}
	if p.prefix == 0 {
		p.prefix = def.Prefix
	}
	if p.nic == "" && foundMAC != "" {
		hw, err := net.ParseMAC(foundMAC)
		if err != nil {
			return p, ocf.Errorf(ocf.ErrGeneric, "the metadata service gave MAC %q: %v", foundMAC, err)
		}
		p.mac = hw
	}
	if p.prefix == 0 {
		p.prefix = foundPrefix
	}
	return p, nil
}

// target is where the address goes on this node.
type target struct {
	link   netvip.Link
	prefix int
	label  string
}

// resolve finds the interface and prefix for j on this node: place, then
// the lookups it leaves. Missing local prerequisites are ERR_INSTALLED; a
// label that does not fit the interface name, or a prefix wider than the
// on-link route, is ERR_CONFIGURED.
func resolve(ctx context.Context, h Net, j *job) (target, error) {
	var mac string
	var found int
	if f, ok := j.cloud.(provider.LocalFinder); ok && needsFinder(j.Config, j.local) {
		var err error
		if mac, found, err = f.Target(ctx, j.IP); err != nil {
			return target{}, err
		}
	}
	p, err := place(j.Config, j.local, mac, found)
	if err != nil {
		return target{}, err
	}
	t, err := locate(h, j.IP, p)
	if err != nil {
		return t, err
	}
	if j.Label != "" {
		t.label = t.link.Name + ":" + j.Label
		if len(t.label) > ifNameMax {
			return t, ocf.Errorf(ocf.ErrConfigured, "iflabel=%s makes the label %s longer than the kernel's %d characters; shorten iflabel", j.Label, t.label, ifNameMax)
		}
	}
	return t, nil
}

// locate looks p up on this node.
func locate(h Net, ip netip.Addr, p placement) (target, error) {
	t := target{prefix: p.prefix}
	var err error
	switch {
	case p.mac != nil:
		if t.link, err = h.LinkByMAC(p.mac); err != nil {
			return t, ocf.Errorf(ocf.ErrInstalled, "no interface of this node has MAC %s (the VNIC for %s); set nic", p.mac, ip)
		}
	case p.nic != "":
		t.link, err = h.LinkByName(p.nic)
		if errors.Is(err, netvip.ErrNoLink) {
			return t, ocf.Errorf(ocf.ErrInstalled, "nic=%s does not exist on this node; set nic to an existing interface", p.nic)
		}
		if err != nil {
			return t, err
		}
	default:
		l, routed, err := h.OnLinkRoute(ip, "")
		if errors.Is(err, netvip.ErrNoRoute) {
			return t, ocf.Errorf(ocf.ErrInstalled, "%s is outside every on-link subnet of this node; set nic and cidr_netmask", ip)
		}
		if err != nil {
			return t, err
		}
		t.link = l
		if p.prefix != 0 && p.prefix < routed {
			// As IPaddr2: a wider prefix would add a route over the subnet's.
			return t, ocf.Errorf(ocf.ErrConfigured, "cidr_netmask=%d: /%d is wider than the on-link route %s on %s that contains %s; use cidr_netmask=%d or more, or set nic",
				p.prefix, p.prefix, netip.PrefixFrom(ip, routed).Masked(), l.Name, ip, routed)
		}
		if p.prefix == 0 {
			t.prefix = routed
		}
		return t, nil
	}
	if t.prefix == 0 {
		_, routed, err := h.OnLinkRoute(ip, t.link.Name)
		if errors.Is(err, netvip.ErrNoRoute) {
			return t, ocf.Errorf(ocf.ErrInstalled, "no on-link route on %s contains %s; set cidr_netmask", t.link.Name, ip)
		}
		if err != nil {
			return t, err
		}
		t.prefix = routed
	}
	return t, nil
}

// ready checks what binding needs on this node and brings the link up, as
// IPaddr2 does: the address is not on another interface, the caller may
// change addresses, and the link has a carrier (check_link_status). start
// runs it before the cloud is touched and again, under the lock, in bind.
// It returns the address when it is already bound on t's link.
func (a *Agent) ready(h Net, c *Config, t target) (*netvip.Addr, error) {
	cur, err := h.Find(c.IP, nil)
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.Link.Index != t.link.Index {
		return nil, ocf.Errorf(ocf.ErrGeneric, "%s is already bound to %s, not %s; remove it there or set nic=%s", c.IP, cur.Link.Name, t.link.Name, cur.Link.Name)
	}
	if cur != nil && !cur.DADFailed {
		if c.CheckLink && !cur.Link.CarrierOK() {
			return nil, ocf.Errorf(ocf.ErrGeneric, "%s is bound but %s is down (operstate %s)", c.IP, cur.Link.Name, cur.Link.Oper)
		}
		return cur, nil
	}
	if !a.netAdmin() {
		return nil, ocf.Errorf(ocf.ErrInstalled, "floatip needs root (CAP_NET_ADMIN) to bind %s", c.IP)
	}
	if err := h.SetUp(t.link); err != nil {
		return nil, err
	}
	if c.CheckLink {
		l, err := h.LinkByName(t.link.Name)
		if err != nil {
			return nil, err
		}
		if !l.CarrierOK() {
			return nil, ocf.Errorf(ocf.ErrGeneric, "%s has no carrier (operstate %s); not binding %s", l.Name, l.Oper, c.IP)
		}
	}
	return cur, nil
}

// bind adds the address on this node, waits for DAD and announces it. It
// returns nil without changes when the address is already there.
func (a *Agent) bind(ctx context.Context, h Net, j *job, t target) error {
	c := j.Config
	cur, err := a.ready(h, c, t)
	if err != nil {
		return err
	}
	if cur != nil && cur.DADFailed {
		a.Log.Warnf("%s on %s is left in dadfailed state; removing it and trying again", c.IP, cur.Link.Name)
		if err := h.Del(cur); err != nil {
			return err
		}
		cur = nil
	}
	if cur != nil {
		a.Log.Infof("%s/%d already on %s", c.IP, cur.Prefix, cur.Link.Name)
		return nil
	}
	spec := netvip.Spec{IP: c.IP, Prefix: t.prefix, Link: t.link, Label: t.label, Broadcast: c.Broadcast,
		PreferredLft: c.PreferredLft, NoDAD: c.NoDAD, NoPrefixRoute: c.NoPrefixRoute}
	if err := h.Add(spec); err != nil {
		return err
	}
	got, err := h.Find(c.IP, &t.link)
	if err != nil {
		return err
	}
	if got == nil {
		return ocf.Errorf(ocf.ErrGeneric, "%s/%d was added to %s but the kernel does not list it", c.IP, t.prefix, t.link.Name)
	}
	if c.IP.Is6() && !c.NoDAD {
		if _, err := h.WaitDAD(ctx, c.IP, t.link); err != nil {
			_ = h.Del(got)
			if errors.Is(err, netvip.ErrDADFailed) {
				return ocf.Errorf(ocf.ErrGeneric, "%s: duplicate address detection failed on %s: another host on the link holds it; address removed (set nodad=true only if a stale owner is expected)", c.IP, t.link.Name)
			}
			return ocf.WithStatus(ocf.ErrGeneric, fmt.Errorf("%w; address removed", err))
		}
	}
	a.Log.Infof("bound %s/%d to %s", c.IP, t.prefix, t.link.Name)
	a.announce(c, t.link, c.ARPCount)
	return nil
}

// unbind removes the address (from nic when set); absent is success.
func (a *Agent) unbind(h Net, j *job) error {
	c := j.Config
	cur, err := find(h, j)
	if errors.Is(err, netvip.ErrNoLink) {
		a.Log.Infof("%v; %s is not bound", err, c.IP)
		return nil
	}
	if err != nil {
		return err
	}
	if cur == nil {
		a.Log.Infof("%s is not bound; already stopped", c.IP)
		return nil
	}
	if err := h.Del(cur); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "cannot remove %s/%d from %s: %v", c.IP, cur.Prefix, cur.Link.Name, err)
	}
	if again, err := h.Find(c.IP, &cur.Link); err != nil || again != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%s is still on %s after removal", c.IP, cur.Link.Name)
	}
	a.Log.Infof("removed %s/%d from %s", c.IP, cur.Prefix, cur.Link.Name)
	return nil
}

// bound checks the address on this node: nil when it serves, a NotRunning
// error saying why not otherwise.
func (a *Agent) bound(h Net, j *job) (*netvip.Addr, error) {
	c := j.Config
	cur, err := find(h, j)
	switch {
	case errors.Is(err, netvip.ErrNoLink):
		return nil, ocf.WithStatus(ocf.NotRunning, err)
	case err != nil:
		return nil, err
	case cur == nil:
		return nil, ocf.Errorf(ocf.NotRunning, "%s is not bound", c.IP)
	case cur.DADFailed:
		return nil, ocf.Errorf(ocf.NotRunning, "%s on %s failed duplicate address detection", c.IP, cur.Link.Name)
	case c.CheckLink && !cur.Link.CarrierOK():
		return nil, ocf.Errorf(ocf.NotRunning, "%s is on %s but the link is down (operstate %s)", c.IP, cur.Link.Name, cur.Link.Oper)
	}
	return cur, nil
}

// find looks the address up on the configured interface (nic, else the
// provider's default), or on any interface when neither names one. A
// named interface that does not exist is an error wrapping ErrNoLink.
func find(h Net, j *job) (*netvip.Addr, error) {
	nic := j.NIC
	if nic == "" {
		nic = j.local.NIC
	}
	var on *netvip.Link
	if nic != "" {
		l, err := h.LinkByName(nic)
		if err != nil {
			return nil, err
		}
		on = &l
	}
	return h.Find(j.IP, on)
}
