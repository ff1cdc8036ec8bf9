package fakecloud

import (
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := Window{Limit: 2, Per: time.Minute}
	for i := 0; i < 2; i++ {
		if w.Full(t0) {
			t.Fatalf("full after %d of 2", i)
		}
		w.Add(t0.Add(time.Duration(i) * time.Second))
	}
	if !w.Full(t0.Add(2*time.Second)) || w.Remaining(t0.Add(2*time.Second)) != 0 {
		t.Fatal("a third request fits a window of 2")
	}
	if r := w.ResetAt(t0.Add(2 * time.Second)); !r.Equal(t0.Add(time.Minute)) {
		t.Fatalf("reset %v, want when the oldest leaves", r)
	}
	if RetryAfter(t0.Add(2*time.Second), w.ResetAt(t0.Add(2*time.Second))) != 58 {
		t.Fatal("Retry-After")
	}
	if w.Full(t0.Add(time.Minute)) || w.Remaining(t0.Add(time.Minute)) != 1 {
		t.Fatal("the oldest request did not leave the window")
	}
}
