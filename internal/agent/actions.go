package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"time"

	"github.com/cloudvip/floatip/internal/netvip"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/runstate"
	"github.com/cloudvip/floatip/ocf"
)

// Records under the state directory.
const (
	claimRecord = "claim"      // written by start, removed by stop: "running here"
	checkRecord = "cloudcheck" // the last depth-10 answer from the cloud
	movedRecord = "moved"      // when this node last claimed; stop keeps it (claim_interval)
	lostRecord  = "lost"       // who took the address from this node, and when (takeback_guard)
)

func (a *Agent) validate(ctx context.Context) error {
	j, err := a.parse()
	if err != nil {
		return err
	}
	a.warnUnused(j)
	if a.Env.CheckLevel < 10 {
		return nil
	}
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	if j.local.Bind {
		if !a.netAdmin() {
			return ocf.Errorf(ocf.ErrInstalled, "floatip needs root (CAP_NET_ADMIN) to bind addresses")
		}
		h, err := a.openNet()
		if err != nil {
			return err
		}
		defer h.Close()
		if _, err := resolve(ctx, h, j); err != nil {
			return err
		}
	}
	if err := a.speakerReady(ctx, j); err != nil {
		return err
	}
	return j.cloud.Validate(ctx, j.IP)
}

// speakerReady checks the routing daemon a speaking provider announces
// through (nil without one).
func (a *Agent) speakerReady(ctx context.Context, j *job) error {
	if j.speaker == nil {
		return nil
	}
	return j.speaker.Ready(ctx)
}

// start claims the address in the cloud, then binds and announces it where
// the provider binds. Everything local that can fail is checked before the
// cloud is touched; a bind that fails after the claim leaves the cloud as
// it is (the next start, here or elsewhere, claims again).
func (a *Agent) start(ctx context.Context) error {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	j, err := a.parse()
	if err != nil {
		return err
	}
	a.warnUnused(j)
	var t target
	var h Net
	if j.local.Bind {
		if h, err = a.openNet(); err != nil {
			return err
		}
		defer h.Close()
		if t, err = resolve(ctx, h, j); err != nil {
			return err
		}
		if _, err := a.ready(h, j.Config, t); err != nil {
			return err
		}
	}
	if err := a.speakerReady(ctx, j); err != nil {
		return err // before the cloud: nothing claimed for a node that cannot announce
	}
	lk, err := a.lock(ctx, j)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if err := a.State.CheckWritable(); err != nil {
		// Before the cloud: a start that could not record its claim
		// would leave the address moved but unknown to monitor and stop.
		return ocf.WithStatus(ocf.ErrInstalled, err)
	}
	if j.isCloud() {
		if err := a.guard(ctx, j); err != nil {
			return err
		}
		if err := a.claim(ctx, j); err != nil {
			return err
		}
		a.forget(j, checkRecord)
		a.forget(j, lostRecord)
		rec := fmt.Sprintf("provider=%s\nclaimed=%s\n", j.Provider, time.Now().UTC().Format(time.RFC3339Nano))
		if err := a.State.Put(j.id(), claimRecord, []byte(rec)); err != nil {
			return ocf.WithStatus(ocf.ErrGeneric, err)
		}
	}
	if !j.local.Bind {
		return nil
	}
	if err := a.bind(ctx, h, j, t); err != nil {
		if j.isCloud() {
			a.forget(j, claimRecord)
			return ocf.WithStatus(ocf.ErrGeneric, fmt.Errorf("%s is claimed in the cloud but not bound here: %w", j.IP, err))
		}
		return err
	}
	if j.speaker != nil {
		// After the bind: traffic the announcement draws finds the address.
		// A failure leaves the claim record, so Pacemaker's stop cleans up.
		return j.speaker.Announce(ctx, j.IP)
	}
	return nil
}

// stop is local only: end the announcer, remove the address where the
// provider binds it, forget the claim. It never calls the cloud: the next
// start elsewhere claims the address, and stop must succeed when the cloud
// is unreachable.
func (a *Agent) stop(ctx context.Context) error {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	j, err := a.parse()
	if err != nil {
		// Nothing this configuration could have bound: stopped.
		a.Log.Warnf("stop with invalid parameters: %v; nothing to remove", err)
		return nil
	}
	lk, err := a.lock(ctx, j)
	if (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) && !a.holdsAnything(j) {
		// Not root (ocf-tester, a user's check), or a read-only state
		// directory where no start could have run: nothing to remove.
		a.Log.Infof("%s is not bound and not claimed here; already stopped", j.IP)
		return nil
	}
	if err != nil {
		return err
	}
	defer lk.Unlock()
	err = a.State.Stop(ctx, j.id(), time.Second, AnnounceCommand, j.id())
	unknown := errors.Is(err, runstate.ErrUnknownAnnouncer)
	if err != nil && !unknown {
		a.Log.Warnf("%v", err)
	}
	if j.speaker != nil {
		// Before the unbind: no route may lead here to a missing address.
		if err := j.speaker.Withdraw(ctx, j.IP); err != nil {
			return err
		}
	}
	if j.local.Bind {
		h, err := a.openNet()
		if err != nil {
			// Whether the address is there cannot be told: not stopped.
			return ocf.WithStatus(ocf.ErrGeneric, err)
		}
		defer h.Close()
		if err := a.unbind(h, j); err != nil {
			return err
		}
	}
	if unknown {
		// It checks the address before each send: now that it is gone, it
		// ends at its next tick.
		a.Log.Warnf("%v; waiting for it to see %s is gone", err, j.IP)
		if err := a.State.WaitAnnouncer(ctx, j.id()); err != nil {
			a.Log.Warnf("%v", err)
		}
	}
	a.forget(j, checkRecord)
	if err := a.State.Del(j.id(), claimRecord); err != nil {
		// Nothing here carries traffic any more (the address is gone, the
		// announcer ended, and the cloud follows the next start), so this
		// is no reason to fence the node or block the resource: stopped.
		// Until the record goes, a probe here reports the address running
		// and Pacemaker stops it again.
		a.Log.Errorf("%s is stopped, but its claim record stays: %v; fix the state directory %s", j.IP, err, a.State)
	}
	return nil
}

// validClaim reports whether b is a claim record start wrote for provider.
func validClaim(b []byte, provider string) bool {
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 || lines[0] != "provider="+provider {
		return false
	}
	at, ok := strings.CutPrefix(lines[1], "claimed=")
	_, err := time.Parse(time.RFC3339Nano, at)
	return ok && err == nil
}

// forget removes a record that only saves work (a cached answer) or
// that the caller is already failing over; a failure is a warning.
func (a *Agent) forget(j *job, kind string) {
	if err := a.State.Del(j.id(), kind); err != nil {
		a.Log.Warnf("%v", err)
	}
}

// holdsAnything reports whether this node has anything of j to remove: a
// claim record or the bound address. When it cannot tell, it says yes.
func (a *Agent) holdsAnything(j *job) bool {
	if _, _, err := a.State.Get(j.id(), claimRecord); j.isCloud() && !errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if !j.local.Bind {
		return false
	}
	h, err := a.openNet()
	if err != nil {
		return true
	}
	defer h.Close()
	cur, err := find(h, j)
	if errors.Is(err, netvip.ErrNoLink) {
		return false
	}
	return err != nil || cur != nil
}

// monitor answers from local state: the claim record (cloud providers) and
// the bound address (where the provider binds). At depth 10 it also asks
// the cloud, at most once per cloud_check_interval.
func (a *Agent) monitor(ctx context.Context) error {
	probe := a.Env.IsProbe()
	j, err := a.parse()
	if err != nil {
		if probe {
			return ocf.WithStatus(ocf.NotRunning, err)
		}
		return err
	}
	if j.isCloud() {
		b, _, err := a.State.Get(j.id(), claimRecord)
		if err != nil {
			return ocf.Errorf(ocf.NotRunning, "%s is not claimed on this node", j.IP)
		}
		if !validClaim(b, j.Provider) {
			// Not what start writes (truncated, or edited by hand): not
			// running, so Pacemaker recovers it and start writes it anew.
			return ocf.Errorf(ocf.NotRunning, "%s: the claim record in %s is corrupt (want provider=%s); treating the address as not claimed here", j.IP, a.State, j.Provider)
		}
	}
	var refresh *netvip.Addr
	if j.local.Bind {
		h, err := a.openNet()
		if err != nil {
			return ocf.WithStatus(ocf.NotRunning, err) // a local prerequisite: 7 (interfaces.md)
		}
		cur, err := a.bound(h, j)
		h.Close()
		if err != nil {
			return err
		}
		if j.ARPRefresh > 0 && !probe {
			refresh = cur
		}
	}
	if j.speaker != nil {
		ctx, cancel := a.bounded(ctx)
		err := j.speaker.Announced(ctx, j.IP, a.Env.CheckLevel >= 10 && !probe)
		cancel()
		if err != nil {
			return err
		}
	}
	if a.Env.CheckLevel >= 10 && !probe && j.isCloud() {
		// Before any refresh: never announce what the cloud gives another node.
		if err := a.cloudCheck(ctx, j); err != nil {
			return err
		}
	}
	if refresh != nil {
		a.announce(j.Config, refresh.Link, j.ARPRefresh)
	}
	return nil
}

// cloudCheck asks the cloud who holds the address, or reuses an answer
// younger than cloud_check_interval. Another holder or none is 7; a cloud
// that cannot answer is not a reason to fail over (0 with a warning), except
// one that says the address does not exist (7).
func (a *Agent) cloudCheck(ctx context.Context, j *job) error {
	if b, at, err := a.State.Get(j.id(), checkRecord); err == nil && time.Since(at) >= 0 && time.Since(at) < j.checkEvery {
		if h, ok := cachedHolder(b); ok {
			return verdict(j, h, true)
		}
	}
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	h, err := j.cloud.Check(ctx, j.IP)
	if err != nil {
		if ocf.StatusOf(err) == ocf.ErrConfigured || errors.Is(err, provider.ErrCannotHold) {
			return ocf.WithStatus(ocf.NotRunning, err)
		}
		a.Log.Warnf("cloud check failed, keeping the resource running: %v", err)
		return nil
	}
	if b, err := json.Marshal(h); err == nil {
		if err := a.State.Put(j.id(), checkRecord, b); err != nil {
			a.Log.Warnf("%v", err)
		}
		if h.Where == provider.Elsewhere {
			if err := a.State.Put(j.id(), lostRecord, b); err != nil {
				a.Log.Warnf("%v", err)
			}
		}
	}
	return verdict(j, h, false)
}

// cachedHolder reads a cached depth-10 answer; one without a known "where"
// ({} or null would decode as "here") is no answer: the cloud is asked.
func cachedHolder(b []byte) (provider.Holder, bool) {
	var raw struct {
		Where *provider.Where `json:"where"`
		Other string          `json:"other"`
	}
	if json.Unmarshal(b, &raw) != nil || raw.Where == nil || *raw.Where < provider.Here || *raw.Where > provider.Nobody {
		return provider.Holder{}, false
	}
	return provider.Holder{Where: *raw.Where, Other: raw.Other}, true
}

func verdict(j *job, h provider.Holder, cached bool) error {
	if h.Where == provider.Here {
		return nil
	}
	from := ""
	if cached {
		from = " (cached answer)"
	}
	return ocf.Errorf(ocf.NotRunning, "%s: the cloud says %s%s", j.IP, h, from)
}

// guard is the split-brain rule (takeback_guard): a start soon after this
// node's monitor saw another holder take the address does not take it
// back while the cloud still routes it there. In a split cluster without
// fencing each half's depth-10 monitor would otherwise see the other's
// claim, fail, and have Pacemaker restart and re-claim, in turn, for as
// long as the split lasts. Failing the start (no write) bans this node
// (start-failure-is-fatal) and leaves the address with the other half.
func (a *Agent) guard(ctx context.Context, j *job) error {
	b, at, err := a.State.Get(j.id(), lostRecord)
	if err != nil || j.guard <= 0 {
		return nil
	}
	if age(at) >= j.guard {
		a.forget(j, lostRecord)
		return nil
	}
	var lost provider.Holder
	if json.Unmarshal(b, &lost) != nil || lost.Where != provider.Elsewhere {
		a.Log.Warnf("%s: unreadable %s record; ignored", j.IP, lostRecord)
		a.forget(j, lostRecord)
		return nil
	}
	h, err := j.cloud.Check(ctx, j.IP)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "takeback_guard=%d: %s was taken from this node %v ago and the cloud cannot say where it is now; not taking it back: %v",
			int(j.guard.Seconds()), j.IP, age(at).Round(time.Second), err)
	}
	if h.Where != provider.Elsewhere {
		return nil
	}
	return ocf.Errorf(ocf.ErrGeneric, "takeback_guard=%d: %s was taken from this node by %s %v ago and the cloud still routes it to %s; not taking it back for another %v (a split cluster would move it back and forth; see README, Split brain)",
		int(j.guard.Seconds()), j.IP, lost.Other, age(at).Round(time.Second), h.Other, (j.guard - age(at)).Round(time.Second))
}

// claim makes the cloud route the address here, at most once per
// claim_interval: a move sooner after this node's last one waits out the
// interval (bounded by the deadline), so a flapping cluster or VRRP
// instance cannot burn the cloud's rate limit. An address already here is
// never waited for: the cloud is asked first.
func (a *Agent) claim(ctx context.Context, j *job) error {
	here := false // known to be routed here already: not a move
	if _, at, err := a.State.Get(j.id(), movedRecord); err == nil && j.claimEvery > 0 && age(at) < j.claimEvery {
		h, err := j.cloud.Check(ctx, j.IP)
		here = err == nil && h.Where == provider.Here
		// The check may have taken a while: what is left of the interval
		// is measured after it.
		if wait := j.claimEvery - age(at); !here && wait > 0 {
			if err := a.waitInterval(ctx, j, wait); err != nil {
				return err
			}
		}
	}
	if err := j.cloud.Claim(ctx, j.IP); err != nil {
		return err
	}
	if m, ok := j.cloud.(provider.MoveReporter); ok && !m.Moved() {
		here = true // found here: not a move
	}
	if !here {
		if err := a.State.Put(j.id(), movedRecord, []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n")); err != nil {
			a.Log.Warnf("%v", err)
		}
	}
	return nil
}

// age is how long ago t was, never negative: a record from before a
// clock step backwards counts as just written.
func age(t time.Time) time.Duration { return max(0, time.Since(t)) }

// waitInterval waits before a move inside claim_interval, or fails at once
// (transient) when the wait would pass the deadline.
func (a *Agent) waitInterval(ctx context.Context, j *job, wait time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
		return ocf.Errorf(ocf.ErrGeneric, "claim_interval=%d: this node moved %s here %v ago; the next move may start in %v, after this action's deadline",
			int(j.claimEvery.Seconds()), j.IP, (j.claimEvery - wait).Round(time.Millisecond), wait.Round(time.Millisecond))
	}
	a.Log.Infof("claim_interval=%d: this node moved %s here %v ago; waiting %v before moving it again",
		int(j.claimEvery.Seconds()), j.IP, (j.claimEvery - wait).Round(time.Millisecond), wait.Round(time.Millisecond))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ocf.Errorf(ocf.ErrGeneric, "claim_interval: %v", ctx.Err())
	case <-t.C:
		return nil
	}
}
