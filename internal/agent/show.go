package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
)

// Inconsistent is floatip show's exit code when this node and the cloud
// disagree (bound or claimed here, routed elsewhere).
const Inconsistent = 10

// Report is what floatip show tells of one address.
type Report struct {
	IP        string `json:"ip"`
	Provider  string `json:"provider"`
	Bound     string `json:"bound,omitempty"`   // "192.0.2.10/24 on eth0"
	Claimed   string `json:"claimed,omitempty"` // when start recorded its claim
	Announcer int    `json:"announcer_pid,omitempty"`
	Cloud     string `json:"cloud,omitempty"` // the cloud's answer; "" when not asked
	Here      bool   `json:"here"`
	Verdict   string `json:"verdict"`
	Exit      int    `json:"exit"` // 0 here and consistent, 7 not here and consistent, 10 inconsistent
}

// Show looks at the address on this node (bound, claim record, announcer)
// and, unless local, asks the cloud once. It changes nothing. A failed
// cloud read is returned as an error carrying its class's status.
func (a *Agent) Show(ctx context.Context, local bool) (*Report, error) {
	j, err := a.parse()
	if err != nil {
		return nil, err
	}
	r := &Report{IP: j.IP.String(), Provider: j.Provider}
	if _, at, err := a.State.Get(j.id(), claimRecord); err == nil && j.isCloud() {
		r.Claimed = at.UTC().Format(time.RFC3339)
	}
	r.Announcer = a.State.Running(j.id(), AnnounceCommand, j.id())
	if j.local.Bind {
		h, err := a.openNet()
		if err != nil {
			return nil, err
		}
		cur, err := find(h, j)
		h.Close()
		if err == nil && cur != nil {
			r.Bound = fmt.Sprintf("%s/%d on %s", cur.IP, cur.Prefix, cur.Link.Name)
		}
	}
	// Here: bound where the provider binds, and claimed for a cloud.
	r.Here = (!j.local.Bind || r.Bound != "") && (!j.isCloud() || r.Claimed != "")
	if local || !j.isCloud() {
		r.Verdict, r.Exit = localVerdict(r)
		return r, nil
	}
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	h, err := j.cloud.Check(ctx, j.IP)
	if err != nil {
		return r, err
	}
	r.Cloud = h.String()
	r.Verdict, r.Exit = cloudVerdict(r, h)
	return r, nil
}

func localVerdict(r *Report) (string, int) {
	if r.Here {
		return "here", int(ocf.Success)
	}
	return "not here", int(ocf.NotRunning)
}

func cloudVerdict(r *Report, h provider.Holder) (string, int) {
	switch {
	case r.Here && h.Where == provider.Here:
		return "here; the cloud agrees", int(ocf.Success)
	case r.Here || ((r.Bound != "" || r.Claimed != "") && h.Where != provider.Here):
		// Bound or claimed here while the cloud routes it elsewhere.
		return fmt.Sprintf("here, but the cloud says %s", h), Inconsistent
	case h.Where == provider.Here:
		// stop never unassigns: after down the cloud may still route here.
		return "not here; the cloud still routes it here (stop leaves the cloud as it is)", int(ocf.NotRunning)
	}
	return fmt.Sprintf("not here; the cloud says %s", h), int(ocf.NotRunning)
}
