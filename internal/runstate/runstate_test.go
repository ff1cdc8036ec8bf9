package runstate

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
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
	if got := d.Running("192.0.2.1", "sleep", "30"); got != pid {
		t.Fatalf("Running = %d, want %d", got, pid)
	}
	if got := d.Running("192.0.2.1", "192.0.2.2"); got != 0 {
		t.Fatalf("a PID whose command line lacks the marks must not count: %d", got)
	}
	if err := d.Stop("192.0.2.1", time.Second, "sleep", "30"); err != nil {
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
	if err := d.Stop("x", time.Millisecond, "_announce"); err != nil {
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
	if err := d.Stop("192.0.2.9", 100*time.Millisecond, "sleep", "30"); err != nil {
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
