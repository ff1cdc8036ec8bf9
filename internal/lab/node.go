package lab

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// NodeInit is PID 1 of a node's PID namespace (run by unshare inside the
// node's network namespace, with fresh mount, UTS and IPC namespaces). It
// gives the node its own /run, /dev/shm, /sys and Pacemaker/Corosync state
// directories, starts FRR (in a BGP lab), corosync and pacemakerd, reaps
// orphans, and on SIGTERM stops Pacemaker (which stops the resources) and
// then Corosync (FRR ends with the PID namespace).
func NodeInit(name, dir string) error {
	// First: the kernel drops a signal PID 1 of a namespace has no handler
	// for (Lab.Stop sends it again, for the moment before this).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGTERM, unix.SIGINT)
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if err := nodeMounts(dir); err != nil {
		return err
	}
	if err := startFRR(dir); err != nil { // BGP lab: before Pacemaker can start floatip here
		return fmt.Errorf("frr: %w", err)
	}
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
			reapAll()
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
	if err := privateMounts(); err != nil {
		return err
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

// privateMounts gives the node its own /run, /dev/shm and /sys.
func privateMounts() error {
	for _, m := range []struct{ src, dst, fstype, data string }{
		{"tmpfs", "/run", "tmpfs", "mode=0755"}, {"tmpfs", "/dev/shm", "tmpfs", "mode=1777"}, {"sysfs", "/sys", "sysfs", ""},
	} {
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, m.data); err != nil {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	return nil
}

// engineStarted marks, in the engine log, where a node's engine (re)started.
const engineStarted = "-- engine started"

// VRRPInit is PID 1 of a node without Pacemaker: its own /run, /dev/shm
// and /sys, the web service, and the engine ConfigureVRRP wrote to
// engine.json (none yet: just the web service), whose output goes to
// engine.log stamped with the time each line arrives. On SIGTERM it stops
// the engine and waits for what the engine left running (floatip releasing
// the address) before it exits.
func VRRPInit(name, dir string) error {
	sig := make(chan os.Signal, 1) // first, as in NodeInit
	signal.Notify(sig, unix.SIGTERM, unix.SIGINT)
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if err := privateMounts(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	web := exec.Command(self, "_web")
	if err := web.Start(); err != nil {
		return fmt.Errorf("web: %w", err)
	}
	engine, err := startEngine(dir)
	if err != nil {
		return err
	}
	reap := time.NewTicker(200 * time.Millisecond)
	for {
		select {
		case <-sig:
			if engine != nil {
				_ = engine.Process.Signal(unix.SIGTERM)
				waitGone(engine.Process.Pid, 15*time.Second)
			}
			waitOthers(web.Process.Pid, 15*time.Second)
			return nil
		case <-reap.C:
			reapAll()
		}
	}
}

// startEngine starts the command in dir/engine.json, if any, its output
// stamped into dir/engine.log.
func startEngine(dir string) (*exec.Cmd, error) {
	b, err := os.ReadFile(filepath.Join(dir, "engine.json"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	var argv []string
	if err == nil {
		err = json.Unmarshal(b, &argv)
	}
	if err != nil || len(argv) == 0 {
		return nil, fmt.Errorf("engine.json: %v", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "engine.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "%d %s\n", time.Now().UnixNano(), engineStarted)
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", argv[0], err)
	}
	w.Close()
	go func() {
		defer logf.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			fmt.Fprintf(logf, "%d %s\n", time.Now().UnixNano(), sc.Text())
		}
	}()
	return cmd, nil
}

func reapAll() {
	for {
		var ws unix.WaitStatus
		if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); pid <= 0 || err != nil {
			return
		}
	}
}

// waitOthers reaps until no process but PID 1 and keep is left, at most d.
func waitOthers(keep int, d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		reapAll()
		ents, _ := os.ReadDir("/proc")
		left := false
		for _, e := range ents {
			if pid, err := strconv.Atoi(e.Name()); err == nil && pid != 1 && pid != keep && alive(pid) {
				left = true
				break
			}
		}
		if !left {
			return
		}
	}
}
