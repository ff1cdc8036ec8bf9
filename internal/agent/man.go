package agent

import (
	"fmt"
	"strings"

	"github.com/cloudvip/floatip/internal/param"
)

// The man pages, rendered from the parameter table, the actions and the
// verbs (golden files under testdata/man, rewritten by go test -update).

func manHeader(b *strings.Builder, name, section, title string) {
	// No date: two builds of one version give the same page.
	fmt.Fprintf(b, ".TH %s %s \"\" \"floatip %s\" \"%s\"\n", strings.ToUpper(name), section, Version, title)
}

func para(b *strings.Builder, text ...string) {
	for _, t := range text {
		fmt.Fprintf(b, ".PP\n%s\n", param.RoffEscape(t))
	}
}

func example(b *strings.Builder, lines ...string) {
	b.WriteString(".PP\n.nf\n.RS 4\n")
	for _, l := range lines {
		b.WriteString(param.RoffEscape(l) + "\n")
	}
	b.WriteString(".RE\n.fi\n")
}

func items(b *strings.Builder, rows [][2]string) {
	for _, r := range rows {
		fmt.Fprintf(b, ".TP\n\\fB%s\\fR\n%s\n", param.RoffEscape(r[0]), param.RoffEscape(r[1]))
	}
}

// ocfExits are the agent's exit codes and when each happens.
var ocfExits = [][2]string{
	{"0 OCF_SUCCESS", "done; monitor: the address is bound here (and claimed, for a cloud provider)"},
	{"1 OCF_ERR_GENERIC", "a transient failure: the cloud, the lock, the link; Pacemaker may retry here"},
	{"2 OCF_ERR_ARGS", "no action given"},
	{"3 OCF_ERR_UNIMPLEMENTED", "an unknown action"},
	{"4 OCF_ERR_PERM", "a credential refused or unreadable"},
	{"5 OCF_ERR_INSTALLED", "a missing prerequisite on this node: interface, route, root, token file; the cloud cannot give the address to this node"},
	{"6 OCF_ERR_CONFIGURED", "a malformed or missing parameter, or one the cloud rejects for every node"},
	{"7 OCF_NOT_RUNNING", "monitor: not bound or not claimed here, or (depth 10) the cloud routes the address elsewhere"},
}

// ManOCF is ocf_cloudvip_floatip(7).
func ManOCF() string {
	var b strings.Builder
	manHeader(&b, "ocf_cloudvip_floatip", "7", "OCF resource agents")
	b.WriteString(".SH NAME\nocf_cloudvip_floatip \\- virtual IP address for LANs and clouds\n")
	b.WriteString(".SH SYNOPSIS\n\\fBfloatip\\fR [\\fBstart\\fR | \\fBstop\\fR | \\fBmonitor\\fR | \\fBstatus\\fR | \\fBmeta\\-data\\fR | \\fBvalidate\\-all\\fR | \\fBusage\\fR | \\fBhelp\\fR]\n")
	m := Metadata()
	b.WriteString(".SH DESCRIPTION\n")
	para(&b, m.LongDesc,
		"Installed as /usr/lib/ocf/resource.d/cloudvip/floatip. Pacemaker passes the parameters as OCF_RESKEY_<name> environment variables. The same binary is also a command, floatip(8), for keepalived, ucarp and people.")
	b.WriteString(".SH SUPPORTED PARAMETERS\n")
	b.WriteString(param.Roff(Specs()))
	b.WriteString(".SH SUPPORTED ACTIONS\n")
	var acts [][2]string
	for _, a := range m.Actions {
		d := fmt.Sprintf("timeout %v", a.Timeout)
		if a.Interval > 0 {
			d += fmt.Sprintf(", interval %v, depth %d", a.Interval, a.Depth)
		}
		acts = append(acts, [2]string{a.Name, d})
	}
	items(&b, acts)
	para(&b, "start claims the address in the cloud, binds it and announces it (gratuitous ARP, unsolicited neighbour advertisements); stop is local only and never calls the cloud; monitor reads local state only, and at depth 10 also asks the cloud, at most once per cloud_check_interval.")
	b.WriteString(".SH EXIT CODES\n")
	items(&b, ocfExits)
	b.WriteString(".SH EXAMPLES\n")
	para(&b, "A LAN address, with pcs or crm:")
	example(&b, "pcs resource create vip ocf:cloudvip:floatip ip=192.0.2.10 cidr_netmask=24 op monitor interval=10s",
		"crm configure primitive vip ocf:cloudvip:floatip params ip=192.0.2.10 cidr_netmask=24 op monitor interval=10s")
	para(&b, "A DigitalOcean reserved IP; the token (read and write scope) in a root-only file on every node, never in the CIB:")
	example(&b, "install -m 0600 /dev/stdin /etc/cloudvip/digitalocean.token",
		"pcs resource create vip ocf:cloudvip:floatip ip=203.0.113.50 provider=digitalocean \\",
		"    token_file=/etc/cloudvip/digitalocean.token op start timeout=60s op monitor interval=10s")
	para(&b, "An Oracle Cloud secondary private IP, with instance principals: a dynamic group of the cluster's instances and the policy \"Allow dynamic-group <group> to use private-ips in compartment <c>\" and \"... to use vnics in compartment <c>\":")
	example(&b, "pcs resource create vip ocf:cloudvip:floatip ip=10.0.0.60 provider=oci op start timeout=60s op monitor interval=10s")
	para(&b, "A Linode shared address (IP sharing, keepalived-style, mode share) or one moved between Linodes (mode assign); the token (IPs read/write, Linodes read) in a root-only file:")
	example(&b, "pcs resource create vip ocf:cloudvip:floatip ip=192.0.2.70 provider=linode linode_mode=share \\",
		"    token_file=/etc/cloudvip/linode.token op start timeout=60s op monitor interval=10s")
	para(&b, "floatip check, run on each node with the same parameters, tells what is missing before the first failover.")
	b.WriteString(".SH FILES\n")
	items(&b, [][2]string{
		{"/usr/lib/ocf/resource.d/cloudvip/floatip", "the agent"},
		{"/run/resource-agents", "per-address locks, claim records and announcer PIDs (HA_RSCTMP)"},
		{"/etc/cloudvip", "token files and config files (root only)"},
	})
	b.WriteString(".SH SEE ALSO\n\\fBfloatip\\fR(8), \\fBocf_heartbeat_IPaddr2\\fR(7), \\fBpcs\\fR(8), \\fBcrm\\fR(8)\n")
	return b.String()
}

// ManCLI is floatip(8).
func ManCLI() string {
	var b strings.Builder
	manHeader(&b, "floatip", "8", "System Administration")
	b.WriteString(".SH NAME\nfloatip \\- move a virtual IP address to this node, for keepalived, ucarp and people\n")
	b.WriteString(".SH SYNOPSIS\n")
	for _, v := range Verbs {
		fmt.Fprintf(&b, ".br\n\\fBfloatip %s\\fR %s\n", param.RoffEscape(v.Name), param.RoffEscape(v.Usage))
	}
	b.WriteString(".br\n\\fBfloatip\\-ucarp\\-up\\fR | \\fBfloatip\\-ucarp\\-down\\fR \\fIINTERFACE ADDRESS\\fR [\\fICONFIG\\fR]\n")
	b.WriteString(".SH DESCRIPTION\n")
	para(&b, "floatip is the OCF resource agent ocf:cloudvip:floatip (see ocf_cloudvip_floatip(7)) and, through these verbs, a command for keepalived, ucarp and people. The verbs run the agent's own actions, under the same per-address lock, with the same parameters and exit codes.")
	b.WriteString(".SH VERBS\n")
	var vs [][2]string
	for _, v := range Verbs {
		vs = append(vs, [2]string{v.Name, v.Short})
	}
	items(&b, vs)
	b.WriteString(".SH OPTIONS\n")
	para(&b, "Every parameter of ocf_cloudvip_floatip(7) is a flag: --cidr-netmask and --cidr_netmask are the same. Tokens stay in token_file: there is no token flag.")
	items(&b, [][2]string{
		{"--config FILE", "name=value lines with parameter names (# comments); flags win; a file others may write is refused"},
		{"--timeout DURATION", "how long the verb may take, in the role of Pacemaker's op timeout (default 60s)"},
		{"--json", "show and check: one JSON object"},
		{"--local", "show: look at this node only"},
	})
	b.WriteString(".SH EXIT STATUS\n")
	items(&b, [][2]string{
		{"0", "done"}, {"1", "a transient failure (the cloud, the lock, the link): try again"},
		{"2", "usage: an unknown flag or argument"},
		{"4", "a credential refused or unreadable, or a config file others may write"},
		{"5", "a missing prerequisite: interface, route, root, token or config file"},
		{"6", "bad configuration: a malformed or missing parameter, an unknown key in the config file"},
		{"7", "show: not here, and the cloud agrees"}, {"10", "show: this node and the cloud disagree"},
	})
	b.WriteString(".SH KEEPALIVED\n")
	para(&b, "Run floatip as keepalived's notify FIFO consumer; events run in order, one at a time, each bounded by --timeout. In global_defs:")
	example(&b, "script_user root", "enable_script_security", "vrrp_notify_fifo /run/keepalived-notify.fifo",
		"vrrp_notify_fifo_script \"/usr/sbin/floatip keepalived-fifo --map VI_1=/etc/cloudvip/vip.conf\"")
	para(&b, "and no virtual_ipaddress in the instance (state BACKUP and nopreempt on every node: each move is a cloud write). Without --map, instance VI_1 reads /etc/cloudvip/keepalived/VI_1.conf. An example is in /usr/share/doc/floatip/examples/keepalived.conf.")
	b.WriteString(".SH UCARP\n")
	example(&b, "ucarp --interface=eth0 --srcip=10.0.0.11 --vhid=10 --pass=secret --addr=10.0.0.200 \\",
		"    --advbase=1 --deadratio=3 --shutdown \\",
		"    --upscript=/usr/sbin/floatip-ucarp-up --downscript=/usr/sbin/floatip-ucarp-down \\",
		"    --xparam=/etc/cloudvip/ucarp.conf")
	para(&b, "ucarp waits for its scripts and sends no adverts meanwhile: keep advbase times deadratio above the provider's move time.")
	b.WriteString(".SH FILES\n")
	items(&b, [][2]string{
		{"/etc/cloudvip/vip.conf.example", "a commented config file"},
		{"/etc/cloudvip/keepalived/INSTANCE.conf", "keepalived-fifo's config file for an instance"},
		{"/usr/share/doc/floatip/examples", "keepalived and ucarp configurations"},
	})
	b.WriteString(".SH SEE ALSO\n\\fBocf_cloudvip_floatip\\fR(7), \\fBkeepalived.conf\\fR(5), \\fBucarp\\fR(8)\n")
	return b.String()
}
