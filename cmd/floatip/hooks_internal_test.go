package main

import (
	"context"
	"testing"
)

func TestParseFifoLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want fifoEvent
		ok   bool
	}{
		{`INSTANCE "VI_1" MASTER 100`, fifoEvent{"VI_1", "MASTER"}, true},
		{`INSTANCE "VI_2" MASTER_RX_LOWER_PRI 100`, fifoEvent{"VI_2", "MASTER_RX_LOWER_PRI"}, true},
		{`GROUP "VG_1" MASTER`, fifoEvent{}, false},
		{`RS 192.0.2.1:80 UP`, fifoEvent{}, false},
		{``, fifoEvent{}, false},
	} {
		got, ok := parseFifoLine(tc.line)
		if ok != tc.ok || (tc.want != (fifoEvent{}) && got != tc.want) {
			t.Errorf("%q: %+v %v", tc.line, got, ok)
		}
	}
	for state, verb := range map[string]string{"MASTER": "up", "MASTER_RX_LOWER_PRI": "up", "BACKUP": "down", "FAULT": "down", "STOP": "down"} {
		if got, ok := verbFor(state); !ok || got != verb {
			t.Errorf("%s -> %q", state, got)
		}
	}
	if _, ok := verbFor("DELETED"); ok {
		t.Error("an unknown state maps to a verb")
	}
}

// Events run in order, one at a time; one that a later event for the same
// instance supersedes is skipped, other instances are not affected.
func TestFifoQueueSupersedes(t *testing.T) {
	q := newFifoQueue()
	for _, e := range []fifoEvent{{"VI_1", "MASTER"}, {"VI_2", "MASTER"}, {"VI_1", "BACKUP"}, {"VI_1", "FAULT"}} {
		q.put(e)
	}
	q.close()
	var ran, skipped []fifoEvent
	for {
		e, s, ok := q.take()
		skipped = append(skipped, s...)
		if !ok {
			break
		}
		ran = append(ran, e)
	}
	if len(ran) != 2 || ran[0] != (fifoEvent{"VI_2", "MASTER"}) || ran[1] != (fifoEvent{"VI_1", "FAULT"}) {
		t.Fatalf("ran %+v", ran)
	}
	if len(skipped) != 2 || skipped[0] != (fifoEvent{"VI_1", "MASTER"}) || skipped[1] != (fifoEvent{"VI_1", "BACKUP"}) {
		t.Fatalf("skipped %+v", skipped)
	}
}

// A release of the instance whose claim runs cancels that claim (it may be
// waiting out claim_interval); other instances and other claims do not.
func TestFifoQueueCancelsSupersededClaim(t *testing.T) {
	for _, tc := range []struct {
		running, next fifoEvent
		cancelled     bool
	}{
		{fifoEvent{"VI_1", "MASTER"}, fifoEvent{"VI_1", "BACKUP"}, true},
		{fifoEvent{"VI_1", "MASTER_RX_LOWER_PRI"}, fifoEvent{"VI_1", "FAULT"}, true},
		{fifoEvent{"VI_1", "MASTER"}, fifoEvent{"VI_1", "MASTER_RX_LOWER_PRI"}, false},
		{fifoEvent{"VI_1", "MASTER"}, fifoEvent{"VI_2", "BACKUP"}, false},
		{fifoEvent{"VI_1", "BACKUP"}, fifoEvent{"VI_1", "MASTER"}, false},
	} {
		q := newFifoQueue()
		ctx, done := q.begin(context.Background(), tc.running)
		q.put(tc.next)
		if got := ctx.Err() != nil; got != tc.cancelled {
			t.Errorf("%v running, %v arrives: cancelled %v, want %v", tc.running, tc.next, got, tc.cancelled)
		}
		done()
		if ctx.Err() == nil {
			t.Error("done does not end the context")
		}
	}
}
