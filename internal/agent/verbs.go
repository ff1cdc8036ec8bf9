package agent

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
	{"keepalived-fifo", "", "[--map INSTANCE=FILE]... [--dir DIR] [--timeout 60s] FIFO",
		"consume keepalived's notify FIFO (run as vrrp_notify_fifo_script): MASTER and MASTER_RX_LOWER_PRI run up, BACKUP, FAULT and STOP run down, in order, one at a time"},
	{"version", "", "", "print the version (also --version)"},
}
