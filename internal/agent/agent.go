// Package agent implements floatip's OCF actions: parse and validate the
// parameters, then start = bind locally and announce, stop = unbind,
// monitor = local check.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/cloudvip/floatip/internal/announce"
	"github.com/cloudvip/floatip/internal/netvip"
	"github.com/cloudvip/floatip/internal/param"
	"github.com/cloudvip/floatip/internal/runstate"
	"github.com/cloudvip/floatip/ocf"
	"golang.org/x/sys/unix"
)

// Name is the agent's type name.
const Name = "floatip"

// Version is the agent's own version, shown in meta-data.
var Version = "0.1.0"

// AnnounceCommand is the hidden first argument that runs the background
// announcer. It cannot collide with an OCF action or a CLI subcommand.
const AnnounceCommand = "_announce"

// Agent runs one OCF action.
type Agent struct {
	Env   *ocf.Env
	Log   *ocf.Logger
	Out   io.Writer // meta-data and usage go here
	State runstate.Dir
	// Self is the executable started as the background announcer.
	Self string
	// Deadline bounds start and stop (see ocf.Env.Deadline). Monitor takes
	// no timer at all: a pending timer wakes Go's netpoller, a measurable
	// cost on a path that runs every few seconds.
	Deadline time.Time
}

// bounded returns ctx limited by a.Deadline.
func (a *Agent) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.Deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, a.Deadline)
}

// Usage is printed for usage/help and before exiting 3 on an unknown action.
const Usage = `usage: floatip {start|stop|monitor|status|meta-data|validate-all|usage|help}

floatip is the OCF resource agent ocf:cloudvip:floatip. Pacemaker passes its
parameters as OCF_RESKEY_<name> environment variables; see "floatip meta-data".
`

// Run performs the action in a.Env and returns nil or an error that carries
// its OCF status (see ocf.StatusOf).
func (a *Agent) Run(ctx context.Context) error {
	switch a.Env.Action {
	case "meta-data":
		x, err := Metadata().XML()
		if err != nil {
			return err
		}
		_, err = a.Out.Write(x)
		return err
	case "usage", "help":
		fmt.Fprint(a.Out, Usage)
		return nil
	case "validate-all":
		return a.validate()
	case "start":
		return a.start(ctx)
	case "stop":
		return a.stop(ctx)
	case "monitor", "status":
		return a.monitor(ctx)
	}
	fmt.Fprint(a.Out, Usage)
	return ocf.Errorf(ocf.ErrUnimplemented, "action %q is not implemented", a.Env.Action)
}

// Metadata describes the agent for the meta-data action.
func Metadata() *ocf.Metadata {
	return &ocf.Metadata{
		Name:    Name,
		Version: Version,
		LongDesc: "floatip moves a virtual IP address to the node it runs on: it claims the address " +
			"from the cloud provider (provider=none on a plain LAN), binds it through netlink and " +
			"announces it with gratuitous ARP (IPv4) or unsolicited neighbour advertisements (IPv6). " +
			"It replaces ocf:heartbeat:IPaddr2 and shares its parameter names where they mean the same.",
		ShortDesc: "Virtual IP address for LANs and clouds",
		Params:    param.Meta(Specs()),
		Actions: []ocf.MetaAction{
			{Name: "start", Timeout: 20 * time.Second},
			{Name: "stop", Timeout: 20 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Depth: 0},
			{Name: "meta-data", Timeout: 5 * time.Second},
			{Name: "validate-all", Timeout: 20 * time.Second},
		},
	}
}

func (a *Agent) parse() (*Config, error) {
	c, warns, err := Parse(a.Env.Param)
	for _, w := range warns {
		a.Log.Warnf("%s", w)
	}
	if err != nil {
		return nil, ocf.WithStatus(ocf.ErrConfigured, err)
	}
	return c, nil
}

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
func resolve(h *netvip.Handle, c *Config) (target, error) {
	var t target
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

func (a *Agent) validate() error {
	c, err := a.parse()
	if err != nil {
		return err
	}
	if a.Env.CheckLevel < 10 {
		return nil
	}
	if !hasNetAdmin() {
		return ocf.Errorf(ocf.ErrInstalled, "floatip needs root (CAP_NET_ADMIN) to bind addresses")
	}
	h, err := netvip.Open()
	if err != nil {
		return ocf.WithStatus(ocf.ErrInstalled, err)
	}
	defer h.Close()
	_, err = resolve(h, c)
	return err
}

func (a *Agent) lock(ctx context.Context, c *Config) (*runstate.Lock, error) {
	l, err := a.State.Lock(ctx, c.IP.String())
	if err != nil {
		return nil, ocf.WithStatus(ocf.ErrGeneric, err)
	}
	return l, nil
}

func (a *Agent) start(ctx context.Context) error {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	c, err := a.parse()
	if err != nil {
		return err
	}
	h, err := netvip.Open()
	if err != nil {
		return err
	}
	defer h.Close()
	t, err := resolve(h, c)
	if err != nil {
		return err
	}
	lk, err := a.lock(ctx, c)
	if err != nil {
		return err
	}
	defer lk.Unlock()

	cur, err := h.Find(c.IP, nil)
	if err != nil {
		return err
	}
	if cur != nil && cur.Link.Index != t.link.Index {
		return ocf.Errorf(ocf.ErrGeneric, "%s is already bound to %s, not %s; remove it there or set nic=%s", c.IP, cur.Link.Name, t.link.Name, cur.Link.Name)
	}
	if cur != nil && cur.DADFailed {
		a.Log.Warnf("%s on %s is left in dadfailed state; removing it and trying again", c.IP, cur.Link.Name)
		if err := h.Del(cur); err != nil {
			return err
		}
		cur = nil
	}
	if cur != nil {
		if c.CheckLink && !cur.Link.CarrierOK() {
			return ocf.Errorf(ocf.ErrGeneric, "%s is bound but %s is down (operstate %s)", c.IP, cur.Link.Name, cur.Link.Oper)
		}
		a.Log.Infof("%s/%d already on %s", c.IP, cur.Prefix, cur.Link.Name)
		return nil
	}
	if !hasNetAdmin() {
		return ocf.Errorf(ocf.ErrInstalled, "floatip needs root (CAP_NET_ADMIN) to bind %s", c.IP)
	}
	if err := h.SetUp(t.link); err != nil {
		return err
	}
	if c.CheckLink {
		l, err := h.LinkByName(t.link.Name)
		if err != nil {
			return err
		}
		if !l.CarrierOK() {
			return ocf.Errorf(ocf.ErrGeneric, "%s has no carrier (operstate %s); not binding %s", l.Name, l.Oper, c.IP)
		}
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

// announce sends the first of n announcements now and leaves the rest to a
// detached child, so start returns as soon as the address is usable and a
// peer still sees every repeat. The child inherits the packet socket (its
// close is slow, see announce.PacketConn.File) and, while it may send, the
// announcer lock that stop waits for. Failures are warnings: the address is
// bound and serves; a ban of this node would not fix the link.
func (a *Agent) announce(c *Config, l netvip.Link, n int) {
	if n <= 0 || l.MAC == nil {
		if n > 0 {
			a.Log.Debugf("%s has no link-layer address; no announcements", l.Name)
		}
		return
	}
	id := c.IP.String()
	var lock *runstate.Lock
	if n > 1 {
		var err error
		if lock, err = a.State.TryLockAnnouncer(id); err != nil {
			a.Log.Warnf("%v", err)
		} else if lock == nil {
			a.Log.Debugf("an announcer for %s is still running; sending one announcement", id)
			n = 1
		}
	}
	if lock != nil {
		defer lock.Unlock()
	}
	conn, err := announce.Open(l.Index)
	if err != nil {
		a.Log.Warnf("%v", err)
		return
	}
	an := &announce.Announcer{Conn: conn, MAC: l.MAC, IP: c.IP}
	if err := an.Once(); err != nil {
		conn.Close()
		a.Log.Warnf("%v", err)
		return
	}
	rest := n - 1
	if lock == nil {
		rest = 0 // the child only takes the socket's slow close off our hands
	}
	sock := conn.File()
	defer sock.Close()
	cmd := exec.Command(a.Self, AnnounceCommand, id, strconv.Itoa(l.Index), l.MAC.String(),
		strconv.Itoa(rest), strconv.Itoa(c.ARPInterval))
	cmd.ExtraFiles = []*os.File{sock}
	if lock != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, lock.File())
	}
	// Own session: Pacemaker kills the agent's process group on timeout,
	// and the repeats must not hold the agent's stdout/stderr open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = append(os.Environ(), "HA_RSCTMP="+string(a.State))
	if err := cmd.Start(); err != nil {
		a.Log.Warnf("start announcer: %v", err)
		return
	}
	if rest > 0 {
		if err := a.State.WritePID(id, cmd.Process.Pid); err != nil {
			a.Log.Warnf("record announcer: %v", err)
		}
		a.Log.Debugf("announcer %d sends %d more for %s every %d ms", cmd.Process.Pid, rest, id, c.ARPInterval)
	}
	cmd.Process.Release()
}

func (a *Agent) stop(ctx context.Context) error {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	c, err := a.parse()
	if err != nil {
		// Nothing this configuration could have bound: stopped.
		a.Log.Warnf("stop with invalid parameters: %v; nothing to remove", err)
		return nil
	}
	lk, err := a.lock(ctx, c)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	id := c.IP.String()
	if err := a.State.Stop(id, time.Second, AnnounceCommand, id); err != nil {
		a.Log.Warnf("%v", err)
	}
	h, err := netvip.Open()
	if err != nil {
		return err
	}
	defer h.Close()
	var on *netvip.Link
	if c.NIC != "" {
		l, err := h.LinkByName(c.NIC)
		if errors.Is(err, netvip.ErrNoLink) {
			a.Log.Infof("nic %s does not exist; %s is not bound", c.NIC, c.IP)
			return nil
		}
		if err != nil {
			return err
		}
		on = &l
	}
	cur, err := h.Find(c.IP, on)
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

// monitor answers from local state only: 0 when the address is on the nic
// (with a working link when check_link_status), 7 otherwise.
func (a *Agent) monitor(ctx context.Context) error {
	probe := a.Env.IsProbe()
	c, err := a.parse()
	if err != nil {
		if probe {
			return ocf.WithStatus(ocf.NotRunning, err)
		}
		return err
	}
	h, err := netvip.Open()
	if err != nil {
		return err
	}
	defer h.Close()
	var on *netvip.Link
	if c.NIC != "" {
		l, err := h.LinkByName(c.NIC)
		if errors.Is(err, netvip.ErrNoLink) {
			return ocf.Errorf(ocf.NotRunning, "nic %s does not exist", c.NIC)
		}
		if err != nil {
			return err
		}
		on = &l
	}
	cur, err := h.Find(c.IP, on)
	if err != nil {
		return err
	}
	switch {
	case cur == nil:
		return ocf.Errorf(ocf.NotRunning, "%s is not bound", c.IP)
	case cur.DADFailed:
		return ocf.Errorf(ocf.NotRunning, "%s on %s failed duplicate address detection", c.IP, cur.Link.Name)
	case c.CheckLink && !cur.Link.CarrierOK():
		return ocf.Errorf(ocf.NotRunning, "%s is on %s but the link is down (operstate %s)", c.IP, cur.Link.Name, cur.Link.Oper)
	}
	if c.ARPRefresh > 0 && !probe {
		a.announce(c, cur.Link, c.ARPRefresh)
	}
	return nil
}

// RunAnnouncer is the detached child started by announce. Arguments: ip,
// interface index, MAC, count and interval in milliseconds; fd 3 is the
// packet socket and, when count > 0, fd 4 the announcer lock. Its first
// announcement goes out one interval after start's. SIGTERM (from stop)
// ends it between two sends: it releases the lock, which tells stop that
// nothing more will be sent, and exits.
func RunAnnouncer(state runstate.Dir, args []string) error {
	if len(args) != 5 {
		return fmt.Errorf("announcer: want ip ifindex mac count interval")
	}
	sock := os.NewFile(3, "packet")
	defer sock.Close() // last reference: the slow close happens here
	ip, err := netip.ParseAddr(args[0])
	ifindex, err1 := strconv.Atoi(args[1])
	mac, err2 := net.ParseMAC(args[2])
	n, err3 := strconv.Atoi(args[3])
	ms, err4 := strconv.Atoi(args[4])
	if err := errors.Join(err, err1, err2, err3, err4); err != nil || n < 0 || ms < 1 {
		return fmt.Errorf("announcer: bad arguments %q", args)
	}
	if n == 0 {
		return nil
	}
	lock := os.NewFile(4, "lock")
	release := func() {
		unix.Flock(int(lock.Fd()), unix.LOCK_UN)
		state.Remove(ip.String(), os.Getpid())
	}
	defer release()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	an := &announce.Announcer{Conn: announce.FromFile(sock, ifindex), MAC: mac, IP: ip}
	tick := time.NewTicker(time.Duration(ms) * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-term:
			return nil
		case <-tick.C:
		}
		if err := an.Once(); err != nil {
			return err
		}
	}
	return nil
}
