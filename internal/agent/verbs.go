package agent

import (
	"context"

	"github.com/cloudvip/floatip/ocf"
)

// Verb is one verb of the command for people and VRRP engines.
type Verb struct {
	Name   string
	Action string // the agent action it runs; "" for verbs with their own code
	Usage  string // its arguments
	Short  string
}

// Verbs lists the CLI verbs: cmd/floatip dispatches on it and floatip(8)
// is rendered from it. None is an OCF action name.
var Verbs = []Verb{
	{"up", "start", "--ip ADDRESS [--config FILE] [--timeout 60s] [--PARAMETER VALUE ...]",
		"claim the address in the cloud, bind and announce it here (what start does), and leave a keeper for a cloud provider"},
	{"down", "stop", "--ip ADDRESS [--config FILE] [--timeout 60s]",
		"remove the address here; the cloud is left as it is (what stop does)"},
	{"show", "show", "--ip ADDRESS [--json] [--local] [--config FILE]",
		"where the address is bound, the claim record, the announcer and (unless --local) what the cloud says; exit 0 here, 7 not here, 10 inconsistent"},
	{"check", "check", "--ip ADDRESS [--json] [--config FILE]",
		"a preflight that changes nothing: parameters, root, interface and route, state directory, proxy, token, metadata, credentials, the address, the cloud against the kernel"},
	{"frr-config", "frr-config", "--ip ADDRESS --provider linode --linode-mode bgp [--config FILE] [...]",
		"print the FRR configuration (sessions with Linode's route servers) for /etc/frr/frr.conf on every node of a bgp-mode address; changes nothing"},
	{"keepalived-fifo", "", "[--map INSTANCE=FILE]... [--dir DIR] [--timeout 60s] FIFO",
		"consume keepalived's notify FIFO (run as vrrp_notify_fifo_script): MASTER and MASTER_RX_LOWER_PRI run up, BACKUP, FAULT and STOP run down, in order, one at a time"},
	{"version", "", "", "print the version (also --version)"},
}

// SpeakerConfigurer is a speaker that can print the routing daemon's
// configuration for its sessions (Linode's bgp mode: a node's frr.conf).
type SpeakerConfigurer interface {
	Config(ctx context.Context) (string, error)
}

// SpeakerConfig is floatip frr-config: the configuration every node's
// routing daemon should hold, so a standby node's sessions are up before
// it takes over. It changes nothing.
func (a *Agent) SpeakerConfig(ctx context.Context) (string, error) {
	j, err := a.parse()
	if err != nil {
		return "", err
	}
	c, ok := j.speaker.(SpeakerConfigurer)
	if !ok {
		return "", ocf.Errorf(ocf.ErrConfigured, "frr-config: provider=%s announces nothing over BGP; it is for provider=linode linode_mode=bgp", j.Provider)
	}
	ctx, cancel := a.bounded(ctx)
	defer cancel()
	return c.Config(ctx)
}
