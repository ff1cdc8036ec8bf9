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

// hasNetAdmin reports whether this process may change addresses.
func hasNetAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return os.Geteuid() == 0
	}
	return data[0].Effective&(1<<unix.CAP_NET_ADMIN) != 0
}

// target is where the address goes on this node.
type target struct {
	link   netvip.Link
	prefix int
	label  string
}

// resolve finds the interface and prefix for c on this node. Missing local
// prerequisites are ERR_INSTALLED; a label that does not fit the derived
// interface name is ERR_CONFIGURED.
func resolve(ctx context.Context, h *netvip.Handle, j *job) (target, error) {
	var t target
	// The provider's defaults (DigitalOcean IPv6: lo, /128; OCI: the VNIC's
	// interface and subnet from the metadata service) unless the
	// parameters say otherwise.
	c := *j.Config
	if c.NIC == "" {
		c.NIC = j.local.NIC
	}
	if !c.PrefixSet && j.local.Prefix > 0 {
		c.Prefix, c.PrefixSet = j.local.Prefix, true
	}
	if f, ok := j.cloud.(provider.LocalFinder); ok && (c.NIC == "" || !c.PrefixSet) {
		mac, prefix, err := f.Target(ctx, c.IP)
		if err != nil {
			return t, err
		}
		if c.NIC == "" && mac != "" {
			hw, err := net.ParseMAC(mac)
			if err != nil {
				return t, ocf.Errorf(ocf.ErrGeneric, "the metadata service gave MAC %q: %v", mac, err)
			}
			l, err := h.LinkByMAC(hw)
			if err != nil {
				return t, ocf.Errorf(ocf.ErrInstalled, "no interface of this node has MAC %s (the VNIC for %s); set nic", mac, c.IP)
			}
			c.NIC = l.Name
		}
		if !c.PrefixSet && prefix > 0 {
			c.Prefix, c.PrefixSet = prefix, true
		}
	}
	if c.NIC != "" {
		l, err := h.LinkByName(c.NIC)
		if errors.Is(err, netvip.ErrNoLink) {
			return t, ocf.Errorf(ocf.ErrInstalled, "nic=%s does not exist on this node; set nic to an existing interface", c.NIC)
		}
		if err != nil {
			return t, err
		}
		t.link = l
		if c.PrefixSet {
			t.prefix = c.Prefix
		} else {
			_, p, err := h.OnLinkRoute(c.IP, c.NIC)
			if errors.Is(err, netvip.ErrNoRoute) {
				return t, ocf.Errorf(ocf.ErrInstalled, "no on-link route on %s contains %s; set cidr_netmask", c.NIC, c.IP)
			}
			if err != nil {
				return t, err
			}
			t.prefix = p
		}
	} else {
		l, p, err := h.OnLinkRoute(c.IP, "")
		if errors.Is(err, netvip.ErrNoRoute) {
			return t, ocf.Errorf(ocf.ErrInstalled, "%s is outside every on-link subnet of this node; set nic and cidr_netmask", c.IP)
		}
		if err != nil {
			return t, err
		}
		t.link, t.prefix = l, p
		if c.PrefixSet && c.Prefix < p {
			// As IPaddr2: a wider prefix would add a route over the subnet's.
			return t, ocf.Errorf(ocf.ErrConfigured, "cidr_netmask=%d: /%d is wider than the on-link route %s on %s that contains %s; use cidr_netmask=%d or more, or set nic",
				c.Prefix, c.Prefix, netip.PrefixFrom(c.IP, p).Masked(), l.Name, c.IP, p)
		}
		if c.PrefixSet {
			t.prefix = c.Prefix
		}
	}
	if c.Label != "" {
		t.label = t.link.Name + ":" + c.Label
		if len(t.label) > ifNameMax {
			return t, ocf.Errorf(ocf.ErrConfigured, "iflabel=%s makes the label %s longer than the kernel's %d characters; shorten iflabel", c.Label, t.label, ifNameMax)
		}
	}
	return t, nil
}

// ready checks what binding needs on this node and brings the link up, as
// IPaddr2 does: the address is not on another interface, the caller may
// change addresses, and the link has a carrier (check_link_status). start
// runs it before the cloud is touched and again, under the lock, in bind.
// It returns the address when it is already bound on t's link.
func (a *Agent) ready(h *netvip.Handle, c *Config, t target) (*netvip.Addr, error) {
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
	if !hasNetAdmin() {
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
func (a *Agent) bind(ctx context.Context, h *netvip.Handle, j *job, t target) error {
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
func (a *Agent) unbind(h *netvip.Handle, j *job) error {
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
func (a *Agent) bound(h *netvip.Handle, j *job) (*netvip.Addr, error) {
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
func find(h *netvip.Handle, j *job) (*netvip.Addr, error) {
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

// openNet opens netlink; failing to is a missing local prerequisite.
func openNet() (*netvip.Handle, error) {
	h, err := netvip.Open()
	if err != nil {
		return nil, ocf.WithStatus(ocf.ErrInstalled, err)
	}
	return h, nil
}
