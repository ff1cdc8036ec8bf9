package runstate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLockSerialises(t *testing.T) {
	d := Dir(t.TempDir())
	l, err := d.Lock(context.Background(), "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.Lock(ctx, "192.0.2.1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock on the same IP: %v, want a deadline", err)
	}
	other, err := d.Lock(context.Background(), "2001:db8::1")
	if err != nil {
		t.Fatalf("a different IP must not wait: %v", err)
	}
	other.Unlock()
	go func() { time.Sleep(30 * time.Millisecond); l.Unlock() }()
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	l2, err := d.Lock(ctx2, "192.0.2.1")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Unlock()
}

func TestRunningAndStop(t *testing.T) {
	d := Dir(t.TempDir())
	// A stand-in announcer: sleep with our marks in its command line.
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary")
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	pid := cmd.Process.Pid
	if err := d.WritePID("192.0.2.1", pid); err != nil {
		t.Fatal(err)
	}
	// cmd.Start returns when the kernel releases the vfork parent, before
	// the child's new command line is set up: wait for exec to finish.
	execd(t, pid, "sleep")
	if got := d.Running("192.0.2.1", "sleep", "30"); got != pid {
		t.Fatalf("Running = %d, want %d", got, pid)
	}
	if got := d.Running("192.0.2.1", "192.0.2.2"); got != 0 {
		t.Fatalf("a PID whose command line lacks the marks must not count: %d", got)
	}
	if err := d.Stop(context.Background(), "192.0.2.1", time.Second, "sleep", "30"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("process still running after Stop")
	}
	if _, err := os.Stat(d.PIDFile("192.0.2.1")); !os.IsNotExist(err) {
		t.Fatalf("PID file left: %v", err)
	}
	// A record naming someone else's PID is never signalled.
	os.WriteFile(d.PIDFile("x"), []byte(strconv.Itoa(os.Getpid())), 0o644)
	if err := d.Stop(context.Background(), "x", time.Millisecond, "_announce"); err != nil {
		t.Fatal(err)
	}
	// Remove only deletes a record that still names the caller.
	d.WritePID("y", 12345)
	d.Remove("y", 999)
	if _, err := os.Stat(d.PIDFile("y")); err != nil {
		t.Fatal("Remove deleted another process's record")
	}
	d.Remove("y", 12345)
	if _, err := os.Stat(d.PIDFile("y")); !os.IsNotExist(err) {
		t.Fatal("Remove kept its own record")
	}
}

// TestStopWaitsForTheLock: an announcer that ignores SIGTERM and holds the
// announcer lock is killed, and Stop returns once the lock is free.
func TestStopWaitsForTheLock(t *testing.T) {
	d := Dir(t.TempDir())
	l, err := d.TryLockAnnouncer("192.0.2.9")
	if err != nil || l == nil {
		t.Fatalf("lock: %v", err)
	}
	cmd := exec.Command("sh", "-c", `trap "" TERM; exec sleep 30`)
	cmd.ExtraFiles = []*os.File{l.File()}
	if err := cmd.Start(); err != nil {
		t.Skip("no sh")
	}
	l.Unlock() // the child's copy keeps it locked
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	if again, _ := d.TryLockAnnouncer("192.0.2.9"); again != nil {
		t.Fatal("the child's inherited lock is not held")
	}
	d.WritePID("192.0.2.9", cmd.Process.Pid)
	for end := time.Now().Add(2 * time.Second); d.Running("192.0.2.9", "sleep", "30") == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("stand-in announcer never exec'd sleep")
		}
	}
	t0 := time.Now()
	if err := d.Stop(context.Background(), "192.0.2.9", 100*time.Millisecond, "sleep", "30"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took < 100*time.Millisecond {
		t.Fatalf("Stop returned after %v, before SIGTERM's grace ran out", took)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("SIGKILL did not end the announcer")
	}
}

// execd waits until pid runs prog (its command line is set).
func execd(t *testing.T, pid int, prog string) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.HasPrefix(string(b), prog+"\x00") {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("process %d never exec'd %s", pid, prog)
		}
	}
}

// lockedChild starts cmd holding the announcer lock for id, as start hands
// it to the announcer, and returns a channel closed when cmd exits.
func lockedChild(t *testing.T, d Dir, id string, cmd *exec.Cmd) chan struct{} {
	t.Helper()
	l, err := d.TryLockAnnouncer(id)
	if err != nil || l == nil {
		t.Fatalf("lock: %v", err)
	}
	cmd.ExtraFiles = []*os.File{l.File()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l.Unlock() // the child's copy keeps it locked
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	return done
}

// An announcer whose PID start never recorded still holds the lock: Stop
// says so after grace instead of returning at once, finds it when the
// record appears late, and never waits past its context.
func TestStopWithoutRecordedPID(t *testing.T) {
	d := Dir(t.TempDir())
	const id = "192.0.2.8"
	sleeper := exec.Command("sleep", "30")
	done := lockedChild(t, d, id, sleeper)
	execd(t, sleeper.Process.Pid, "sleep")
	t0 := time.Now()
	err := d.Stop(context.Background(), id, 200*time.Millisecond, "sleep", "30")
	if !errors.Is(err, ErrUnknownAnnouncer) || time.Since(t0) < unrecordedWait {
		t.Fatalf("Stop = %v after %v; want ErrUnknownAnnouncer after looking for a record", err, time.Since(t0))
	}
	select {
	case <-done:
		t.Fatal("an unknown holder was signalled")
	default:
	}

	// The record turns up while Stop waits (the announcer writes its own).
	go func() {
		time.Sleep(unrecordedWait / 2)
		d.WritePID(id, sleeper.Process.Pid)
	}()
	if err := d.Stop(context.Background(), id, time.Second, "sleep", "30"); err != nil {
		t.Fatalf("Stop with a late record: %v", err)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the late-recorded announcer still runs")
	}

	// A holder that ignores SIGTERM and is not ours to kill: ctx bounds Stop.
	other := exec.Command("sh", "-c", `trap "" TERM; exec sleep 30`)
	lockedChild(t, d, "192.0.2.7", other)
	d.WritePID("192.0.2.7", other.Process.Pid)
	execd(t, other.Process.Pid, "sleep")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 = time.Now()
	err = d.Stop(ctx, "192.0.2.7", time.Hour, "sleep", "30")
	if err == nil || time.Since(t0) > time.Second {
		t.Fatalf("Stop = %v after %v; want the context's error at about 100ms", err, time.Since(t0))
	}
}
