package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/internal/runstate"
)

// KeepCommand is the hidden first argument of the keeper floatip up leaves
// behind; its other arguments are up's.
const KeepCommand = "_keep"

// ErrReleased ends a keeper: this node no longer holds the address.
var ErrReleased = errors.New("the address is no longer held here")

// Keeper is what a keeper needs to know: how often to ask the cloud (0:
// no keeper), and the lock that makes it the only one for its address.
type Keeper struct {
	Every time.Duration
	ID    string
	Lock  *runstate.Lock
}

// StartKeeping checks that a keeper is wanted (a cloud provider,
// keep_interval > 0) and takes the keeper lock; nil when none is wanted or
// one runs already.
func (a *Agent) StartKeeping() (*Keeper, error) {
	j, err := a.parse()
	if err != nil {
		return nil, err
	}
	if !j.isCloud() || j.keepEvery <= 0 {
		return nil, nil
	}
	lk, err := a.State.TryLockKeeper(j.id())
	if err != nil || lk == nil {
		return nil, err
	}
	return &Keeper{Every: j.keepEvery, ID: j.id(), Lock: lk}, nil
}

// Held reports whether this node still holds the address (its claim
// record): a local read, cheap enough to poll every second.
func (a *Agent) Held(id string) bool {
	_, _, err := a.State.Get(id, claimRecord)
	return err == nil
}

// KeepOnce is one round of the keeper, under the address's lock: while
// this node holds the address, ask the cloud, and when it routes the
// address elsewhere or nowhere, claim it again (claim_interval applies).
// It mends what VRRP engines leave behind: a node that was master for a
// moment and whose claim landed after the real master's. ErrReleased once
// down has run.
func (a *Agent) KeepOnce(ctx context.Context) error {
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	j, err := a.parse()
	if err != nil {
		return err
	}
	lk, err := a.lock(ctx, j)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	if !a.Held(j.id()) {
		return ErrReleased
	}
	h, err := j.cloud.Check(ctx, j.IP)
	if err != nil {
		return fmt.Errorf("keeper: %w", err)
	}
	if h.Where == provider.Here {
		return nil
	}
	a.Log.Warnf("%s is held here but the cloud says %s: claiming it again", j.IP, h)
	return a.claim(ctx, j)
}
