// Package runstate keeps the node-local facts an agent needs between
// invocations under /run/resource-agents (HA_RSCTMP): a per-IP lock and the
// PID of the background announcer. /run is emptied at boot, which is right
// for both: after a reboot nothing runs.
package runstate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultDir is resource-agents' HA_RSCTMP.
const DefaultDir = "/run/resource-agents"

// Dir is a state directory.
type Dir string

// FromEnv returns HA_RSCTMP when set, DefaultDir otherwise.
func FromEnv() Dir {
	if d := os.Getenv("HA_RSCTMP"); d != "" {
		return Dir(d)
	}
	return DefaultDir
}

// key turns an address (or any id) into a file-name-safe stem.
func key(id string) string { return "floatip-" + strings.NewReplacer("/", "_", ":", "_").Replace(id) }

func (d Dir) path(id, suffix string) string { return filepath.Join(string(d), key(id)+suffix) }

func (d Dir) ensure() error {
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	return nil
}

// Lock is a held flock.
type Lock struct{ f *os.File }

// Lock takes the exclusive lock for id, waiting until ctx ends. It
// serialises actions on one address on this node (two resources on one IP,
// or CLI hooks racing the cluster).
func (d Dir) Lock(ctx context.Context, id string) (*Lock, error) {
	return d.lock(ctx, id, ".lock", true)
}

// LockAnnouncer takes the lock the background announcer for id holds while
// it may still send, waiting until ctx ends.
func (d Dir) LockAnnouncer(ctx context.Context, id string) (*Lock, error) {
	return d.lock(ctx, id, ".announce.lock", true)
}

// TryLockAnnouncer takes the announcer lock if it is free; nil, nil when an
// announcer holds it.
func (d Dir) TryLockAnnouncer(id string) (*Lock, error) {
	return d.lock(context.Background(), id, ".announce.lock", false)
}

// TryLockKeeper takes the lock of floatip up's keeper for id; nil, nil
// when a keeper runs (one is enough).
func (d Dir) TryLockKeeper(id string) (*Lock, error) {
	return d.lock(context.Background(), id, ".keep.lock", false)
}

func (d Dir) lock(ctx context.Context, id, suffix string, wait bool) (*Lock, error) {
	if err := d.ensure(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(d.path(id, suffix), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EROFS) {
		// A read-only state directory: a lock file that exists still
		// locks (flock needs no write access), so stop can still run.
		f, err = os.OpenFile(d.path(id, suffix), os.O_RDONLY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", id, err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &Lock{f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", id, err)
		}
		if !wait {
			f.Close()
			return nil, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: held by another process: %w", id, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// File is the locked file, to hand to a child process: the flock belongs to
// the open file, so the child keeps it after this process closes its copy.
func (l *Lock) File() *os.File { return l.f }

// Unlock releases the lock (or this process's share of it).
func (l *Lock) Unlock() { l.f.Close() }

// PIDFile is where the background announcer for id records its PID.
func (d Dir) PIDFile(id string) string { return d.path(id, ".announce.pid") }

// WritePID records pid for id.
func (d Dir) WritePID(id string, pid int) error {
	if err := d.ensure(); err != nil {
		return err
	}
	return os.WriteFile(d.PIDFile(id), []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// Running returns the recorded PID for id if that process is still alive
// and its command line contains every string in marks (so a recycled PID is
// never mistaken for ours), or 0.
func (d Dir) Running(id string, marks ...string) int {
	b, err := os.ReadFile(d.PIDFile(id))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0
	}
	args := bytes.Split(bytes.TrimRight(cmd, "\x00"), []byte{0})
	for _, m := range marks {
		found := false
		for _, a := range args {
			if string(a) == m {
				found = true
				break
			}
		}
		if !found {
			return 0
		}
	}
	return pid
}

// ErrUnknownAnnouncer says the announcer lock is held but no recorded PID
// names its holder (start died before recording it, or the record could
// not be written): Stop cannot signal it.
var ErrUnknownAnnouncer = errors.New("an announcer holds its lock but its PID is not recorded")

// unrecordedWait is how long Stop looks for a record while the lock is
// held: the announcer records itself as it starts, long before a stop.
const unrecordedWait = 100 * time.Millisecond

// Stop ends the recorded announcer for id (checked with marks as in
// Running) and removes the record. It returns nil once the announcer lock
// is free, that is, once nothing more can be sent: an announcer answers
// SIGTERM by unlocking and exiting; one still holding the lock grace after
// SIGTERM gets SIGKILL, whose exit releases it too. It does not wait for
// the process to be gone (closing its packet socket takes the kernel an RCU
// grace period, about 10 ms, which need not delay a stop). When the lock is
// held and no PID turns up within 100 ms (or grace if shorter), it returns ErrUnknownAnnouncer;
// every wait also ends with ctx.
func (d Dir) Stop(ctx context.Context, id string, grace time.Duration, marks ...string) error {
	defer os.Remove(d.PIDFile(id))
	var termed int
	var since time.Time // SIGTERM sent, or (no PID yet) first seen locked
	killed := false
	for {
		// A recorded announcer is signalled even if the lock looks free: it
		// may be between its start and taking over the lock's file.
		if pid := d.Running(id, marks...); pid != 0 && pid != termed {
			if err := unix.Kill(pid, unix.SIGTERM); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("stop announcer %d: %w", pid, err)
			}
			termed, since, killed = pid, time.Now(), false
		}
		l, err := d.TryLockAnnouncer(id)
		if err != nil {
			return err
		}
		if l != nil {
			l.Unlock()
			return nil
		}
		now := time.Now()
		pid := d.Running(id, marks...)
		switch {
		case pid != 0 && !killed && now.Sub(since) >= grace:
			_ = unix.Kill(pid, unix.SIGKILL) // gone already is fine: the lock decides
			killed = true
		case pid == 0 && since.IsZero():
			since = now
		case pid == 0 && termed == 0 && now.Sub(since) >= min(grace, unrecordedWait):
			return ErrUnknownAnnouncer
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("announcer for %s still holds its lock: %w", id, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// WaitAnnouncer waits until the announcer lock for id is free or ctx ends.
func (d Dir) WaitAnnouncer(ctx context.Context, id string) error {
	l, err := d.LockAnnouncer(ctx, id)
	if err != nil {
		return err
	}
	l.Unlock()
	return nil
}

// Remove deletes the PID record for id if it still names pid (the announcer
// cleaning up after itself must not remove a newer record).
func (d Dir) Remove(id string, pid int) {
	b, err := os.ReadFile(d.PIDFile(id))
	if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pid) {
		os.Remove(d.PIDFile(id))
	}
}

// Put records data of kind for id, atomically (write, then rename).
func (d Dir) Put(id, kind string, data []byte) error {
	if err := d.ensure(); err != nil {
		return err
	}
	p := d.path(id, "."+kind)
	tmp := p + ".tmp"
	err := os.WriteFile(tmp, data, 0o644)
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp) // a full directory: no half-written leftover
		return fmt.Errorf("record %s: %w", kind, err)
	}
	return nil
}

// CheckWritable makes sure records can be written (not a read-only or
// full directory): it writes a record-sized file and removes it.
func (d Dir) CheckWritable() error {
	if err := d.ensure(); err != nil {
		return err
	}
	f, err := os.CreateTemp(string(d), ".floatip-check-*")
	if err != nil {
		return fmt.Errorf("state directory %s is not writable: %w", d, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, 256))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("state directory %s is not writable: %w", d, err)
	}
	return nil
}

// Get returns the record of kind for id and when it was written.
func (d Dir) Get(id, kind string) ([]byte, time.Time, error) {
	p := d.path(id, "."+kind)
	fi, err := os.Stat(p)
	if err != nil {
		return nil, time.Time{}, err
	}
	b, err := os.ReadFile(p)
	return b, fi.ModTime(), err
}

// Del removes the record of kind for id; a missing record is fine.
func (d Dir) Del(id, kind string) error {
	if err := os.Remove(d.path(id, "."+kind)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s record: %w", kind, err)
	}
	return nil
}
