package agent

import (
	"errors"
	"fmt"
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
	"github.com/cloudvip/floatip/internal/runstate"
	"golang.org/x/sys/unix"
)

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
		_ = conn.Close() // the send's error is the one to report
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
	// Only the state directory: the announcer reads nothing else from its
	// environment, and it outlives the action by seconds, so it must not
	// carry the agent's (Pacemaker's OCF_RESKEY_* parameters, whatever the
	// cluster manager or a user exported) in /proc/<pid>/environ.
	cmd.Env = []string{"HA_RSCTMP=" + string(a.State)}
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
	_ = cmd.Process.Release() // detached: nothing to wait for
}

// stillBound reports whether ip is on the interface ifindex. When netlink
// cannot tell, it answers false: a missed repeat is harmless, a stale one
// is not.
func stillBound(ip netip.Addr, ifindex int) bool {
	h, err := netvip.Open()
	if err != nil {
		return false
	}
	defer h.Close()
	a, err := h.Find(ip, &netvip.Link{Index: ifindex})
	return err == nil && a != nil && !a.DADFailed
}

// RunAnnouncer is the detached child started by announce. Arguments: ip,
// interface index, MAC, count and interval in milliseconds; fd 3 is the
// packet socket and, when count > 0, fd 4 the announcer lock. Its first
// announcement goes out one interval after start's. SIGTERM (from stop)
// ends it between two sends: it releases the lock, which tells stop that
// nothing more will be sent, and exits. It also ends when the address is no
// longer bound on the interface.
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
	// Record ourselves too: start may die (or fail to write) before it
	// records us, and stop finds announcers by this record.
	if err := state.WritePID(ip.String(), os.Getpid()); err != nil {
		fmt.Fprintf(os.Stderr, "announcer: %v\n", err)
	}
	release := func() {
		_ = unix.Flock(int(lock.Fd()), unix.LOCK_UN) // exit releases it too
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
		// Never announce an address this node no longer holds: it may have
		// moved, and our MAC would pull its traffic back here.
		if !stillBound(ip, ifindex) {
			return nil
		}
		if err := an.Once(); err != nil {
			return err
		}
	}
	return nil
}
