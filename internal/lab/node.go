package lab

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// NodeInit is PID 1 of a node's PID namespace (run by unshare inside the
// node's network namespace, with fresh mount, UTS and IPC namespaces). It
// gives the node its own /run, /dev/shm, /sys and Pacemaker/Corosync state
// directories, starts corosync and pacemakerd, reaps orphans, and on
// SIGTERM stops Pacemaker (which stops the resources) and then Corosync.
func NodeInit(name, dir string) error {
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if err := nodeMounts(dir); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGTERM, unix.SIGINT)
	env := append(os.Environ(), "PCMK_logfacility=none", "PCMK_logfile=/var/log/pacemaker/pacemaker.log",
		"PCMK_debug=no")
	cs := exec.Command("corosync", "-f")
	cs.Env = env
	if err := cs.Start(); err != nil {
		return fmt.Errorf("corosync: %w", err)
	}
	for i := 0; i < 200; i++ {
		if exec.Command("corosync-cfgtool", "-s").Run() == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	pm := exec.Command("pacemakerd")
	pm.Env = env
	if err := pm.Start(); err != nil {
		return fmt.Errorf("pacemakerd: %w", err)
	}
	fmt.Printf("node %s up: corosync %d, pacemakerd %d\n", name, cs.Process.Pid, pm.Process.Pid)
	reap := time.NewTicker(200 * time.Millisecond)
	for {
		select {
		case <-sig:
			// Best effort: waitGone bounds each, and PID 1's exit ends the rest.
			_ = exec.Command("pacemakerd", "--shutdown").Run()
			waitGone(pm.Process.Pid, 60*time.Second)
			_ = exec.Command("corosync-cfgtool", "-H", "--force").Run()
			waitGone(cs.Process.Pid, 10*time.Second)
			return nil
		case <-reap.C:
			for {
				var ws unix.WaitStatus
				pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}

// waitGone reaps pid (and any orphan) until it has exited or d passed.
func waitGone(pid int, d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		var ws unix.WaitStatus
		p, _ := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if p == pid || unix.Kill(pid, 0) != nil {
			return
		}
		if p <= 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// nodeDirs are bind-mounted from the node's directory in the lab.
var nodeDirs = []string{"/etc/corosync", "/var/lib/corosync", "/var/log/corosync", "/var/lib/pacemaker", "/var/log/pacemaker"}

// nodeMounts gives the node a private /run (corosync's pid file, /run/crm
// and /run/resource-agents with floatip's claim records must be per node),
// /dev/shm (libqb's ring buffers) and /sys, and binds its own Corosync and
// Pacemaker state directories from dir.
func nodeMounts(dir string) error {
	mounts := []struct{ src, dst, fstype, data string }{
		{"tmpfs", "/run", "tmpfs", "mode=0755"},
		{"tmpfs", "/dev/shm", "tmpfs", "mode=1777"},
		{"sysfs", "/sys", "sysfs", ""},
	}
	for _, m := range mounts {
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, m.data); err != nil {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	for _, d := range []string{"/run/lock", "/run/resource-agents"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, d := range nodeDirs {
		if err := unix.Mount(filepath.Join(dir, d), d, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", d, err)
		}
	}
	return nil
}
