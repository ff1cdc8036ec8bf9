package agent

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cloudvip/floatip/internal/param"
	"github.com/cloudvip/floatip/internal/provider/all"
)

// Config is the validated, typed form of the resource parameters.
type Config struct {
	IP            netip.Addr
	Prefix        int  // valid when PrefixSet
	PrefixSet     bool // false: taken from the on-link route
	NIC           string
	Label         string // iflabel, without the "nic:" part
	Broadcast     string // "" (computed), "+", "-" or an IPv4 address
	PreferredLft  uint32 // seconds; Forever by default
	NoDAD         bool
	NoPrefixRoute bool
	ARPCount      int
	ARPInterval   int // milliseconds
	ARPRefresh    int
	CheckLink     bool
	Provider      string
}

// Forever is the netlink encoding of an infinite address lifetime.
const Forever = ^uint32(0)

// ifNameMax is IFNAMSIZ-1: the longest interface name and address label.
const ifNameMax = 15

type coreParam struct {
	param.Spec
	set func(c *Config, v string) error
}

var core = []coreParam{
	{param.Spec{Name: "ip", Type: "string", Required: true, Unique: true,
		Short: "Virtual IPv4 or IPv6 address",
		Long:  "The virtual IP address to move, IPv4 (192.0.2.10) or IPv6 (2001:db8::10), without prefix length or zone."},
		setIP},
	{param.Spec{Name: "cidr_netmask", Type: "string",
		Short: "Prefix length",
		Long:  "Prefix length of the address (24, 64). Default: the prefix of the on-link route that contains ip. A dotted IPv4 netmask (255.255.255.0) is accepted with a warning."},
		setPrefix},
	{param.Spec{Name: "nic", Type: "string",
		Short: "Network interface",
		Long:  "Interface to bind the address to. Default: the interface of the on-link route that contains ip. Required (with cidr_netmask) for an address outside every on-link subnet."},
		setNIC},
	{param.Spec{Name: "iflabel", Type: "string",
		Short: "IPv4 address label",
		Long:  "IPv4 only: label the address nic:iflabel (at most 15 characters in all), as ifconfig-era tools show it."},
		setLabel},
	{param.Spec{Name: "broadcast", Type: "string",
		Short: "IPv4 broadcast address",
		Long:  "IPv4 only: broadcast address, or '+' / '-' to set / reset the host bits of the prefix (as ip-address(8) and IPaddr2 do: '-' gives the network address). Default: '+' for prefixes up to /30, none for /31 and /32."},
		setBroadcast},
	{param.Spec{Name: "preferred_lft", Type: "string", Default: "forever",
		Short: "IPv6 preferred lifetime",
		Long:  "IPv6 only: preferred lifetime in seconds, or 'forever'. 0 keeps the address from being chosen as a source address."},
		setPreferredLft},
	{param.Spec{Name: "nodad", Type: "boolean", Default: "false",
		Short: "Skip IPv6 duplicate address detection",
		Long:  "IPv6 only: add the address without duplicate address detection, so start does not wait for DAD (and cannot detect a duplicate)."},
		boolSetter("nodad", func(c *Config, b bool) { c.NoDAD = b })},
	{param.Spec{Name: "noprefixroute", Type: "boolean", Default: "false",
		Short: "Do not add a prefix route",
		Long:  "Add the address without the kernel's prefix route for its subnet."},
		boolSetter("noprefixroute", func(c *Config, b bool) { c.NoPrefixRoute = b })},
	{param.Spec{Name: "arp_count", Type: "integer", Default: "5",
		Short: "Announcements at start",
		Long:  "How many announcements start sends: IPv4 gratuitous ARP (a request and a reply each), IPv6 unsolicited neighbour advertisements with the Override flag. 0 sends none. The first goes out before start returns, the rest from a background process."},
		intSetter("arp_count", 0, 1000, func(c *Config, n int) { c.ARPCount = n })},
	{param.Spec{Name: "arp_interval", Type: "integer", Default: "200",
		Short: "Milliseconds between announcements",
		Long:  "Milliseconds between two announcements (honoured, unlike IPaddr2's send_arp which sends one per second)."},
		intSetter("arp_interval", 1, 60000, func(c *Config, n int) { c.ARPInterval = n })},
	{param.Spec{Name: "arp_count_refresh", Type: "integer", Default: "0",
		Short: "Announcements on each monitor",
		Long:  "How many announcements each monitor of a running address sends, to repair stale ARP/neighbour caches (after a split brain, say). 0 sends none."},
		intSetter("arp_count_refresh", 0, 1000, func(c *Config, n int) { c.ARPRefresh = n })},
	{param.Spec{Name: "check_link_status", Type: "boolean", Default: "true",
		Short: "Fail when the link is down",
		Long:  "Consider the address not running when its interface is down or has no carrier (operstate DOWN or LOWERLAYERDOWN)."},
		boolSetter("check_link_status", func(c *Config, b bool) { c.CheckLink = b })},
	{param.Spec{Name: "provider", Type: "string", Default: "none",
		Short: "Cloud provider",
		Long:  "Which cloud moves the address: 'none' on a plain LAN (bind and announce only), 'digitalocean' for a reserved IP (IPv4 or IPv6), 'oci' for an Oracle Cloud secondary private IP or IPv6, 'linode' for a shared or assigned Linode IPv4, or a shared IPv6 range, announced over BGP in Linode's BGP data centers (linode_mode)."},
		setProvider},
}

// Specs is the parameter table in meta-data order: the core parameters,
// then the providers' (see all.Providers.Params).
func Specs() []param.Spec {
	out := make([]param.Spec, 0, len(core))
	for _, p := range core {
		out = append(out, p.Spec)
	}
	return append(out, all.Providers.Params()...)
}

func perr(format string, args ...any) error { return param.Errorf(format, args...) }

// Parse checks the syntax of every parameter (no netlink, no files) and
// returns the typed config plus warnings for accepted oddities. get returns
// a parameter's value and whether it was set.
func Parse(get func(name string) (string, bool)) (*Config, []string, error) {
	c := &Config{PreferredLft: Forever}
	var warns []string
	for _, p := range core {
		v, ok := get(p.Name)
		if p.Name == "ip" {
			if !ok {
				return nil, nil, perr("ip is required; set ip=<address>, e.g. ip=192.0.2.10")
			}
		} else if !ok || v == "" {
			if p.Default == "" {
				continue
			}
			v = p.Default
		}
		if p.Name == "cidr_netmask" && strings.Contains(v, ".") {
			warns = append(warns, fmt.Sprintf("cidr_netmask=%s is a dotted netmask; use the prefix length instead", v))
		}
		if err := p.set(c, v); err != nil {
			return nil, nil, err
		}
	}
	if err := c.crossCheck(&warns); err != nil {
		return nil, nil, err
	}
	return c, warns, nil
}

func (c *Config) crossCheck(warns *[]string) error {
	v4 := c.IP.Is4()
	if !v4 {
		if c.Label != "" {
			return perr("iflabel is for IPv4 only (IPv6 addresses have no labels); remove iflabel")
		}
		if c.Broadcast != "" {
			return perr("broadcast is for IPv4 only; remove broadcast")
		}
	} else {
		if c.NoDAD {
			*warns = append(*warns, "nodad has no effect on an IPv4 address")
		}
		if c.PreferredLft != Forever {
			*warns = append(*warns, "preferred_lft has no effect on an IPv4 address")
		}
	}
	if c.IP.Is6() && c.IP.IsLinkLocalUnicast() && c.NIC == "" {
		// Every link has fe80::/64: only nic can say which one.
		return perr("ip=%s is an IPv6 link-local address; set nic to the interface it belongs to", c.IP)
	}
	if c.Label != "" && c.NIC != "" && len(c.NIC)+1+len(c.Label) > ifNameMax {
		return perr("iflabel=%s makes the label %s:%s longer than the kernel's %d characters; shorten iflabel", c.Label, c.NIC, c.Label, ifNameMax)
	}
	return nil
}

func setIP(c *Config, v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return perr("ip is empty; set ip=<address>, e.g. ip=192.0.2.10")
	}
	if strings.Contains(v, "%") {
		return perr("ip=%s has a zone; give the address alone and the interface in nic", v)
	}
	if strings.Contains(v, "/") {
		return perr("ip=%s has a prefix length; give it in cidr_netmask", v)
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return perr("ip=%s is not an IPv4 or IPv6 address; set ip=<address>, e.g. ip=192.0.2.10", v)
	}
	switch {
	case a.Is4In6():
		return perr("ip=%s is an IPv4-mapped IPv6 address; use ip=%s", v, a.Unmap())
	case a.IsUnspecified():
		return perr("ip=%s is the unspecified address; set ip to the virtual address", v)
	case a.IsMulticast():
		return perr("ip=%s is a multicast address; set ip to a unicast address", v)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return perr("ip=%s is the broadcast address; set ip to a unicast address", v)
	}
	c.IP = a
	return nil
}

func setPrefix(c *Config, v string) error {
	v = strings.TrimSpace(v)
	if strings.Contains(v, ".") {
		m, err := netip.ParseAddr(v)
		if err != nil || !m.Is4() {
			return perr("cidr_netmask=%s is not a prefix length; use e.g. cidr_netmask=24", v)
		}
		b := m.As4()
		n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		ones := 0
		for n&0x80000000 != 0 {
			ones++
			n <<= 1
		}
		if n != 0 {
			return perr("cidr_netmask=%s is not a contiguous netmask; use a prefix length, e.g. cidr_netmask=24", v)
		}
		if !c.IP.Is4() {
			return perr("cidr_netmask=%s is an IPv4 netmask but ip is IPv6; use a prefix length, e.g. 64", v)
		}
		if ones < 1 {
			// VIP/0 would add an on-link 0.0.0.0/0 route over the node's own.
			return perr("cidr_netmask=%s is a /0 netmask; use 1-32, e.g. cidr_netmask=24", v)
		}
		c.Prefix, c.PrefixSet = ones, true
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return perr("cidr_netmask=%s is not a prefix length; use e.g. cidr_netmask=24 (IPv4) or 64 (IPv6)", v)
	}
	if n < 1 || n > c.IP.BitLen() {
		return perr("cidr_netmask=%d is out of range for %s; use 1-%d", n, c.IP, c.IP.BitLen())
	}
	c.Prefix, c.PrefixSet = n, true
	return nil
}

// validIfName follows the kernel's dev_valid_name: 1-15 bytes, not "." or
// "..", no '/', ':' or whitespace.
func validIfName(s string) bool {
	if s == "" || len(s) > ifNameMax || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n\r\v\f")
}

func setNIC(c *Config, v string) error {
	if strings.Contains(v, ":") {
		return perr("nic=%s: the nic:label form is not supported; set nic=%s and iflabel=%s", v, v[:strings.Index(v, ":")], v[strings.Index(v, ":")+1:])
	}
	if !validIfName(v) {
		return perr("nic=%q is not a valid interface name (1-15 characters, no '/', ':' or spaces)", v)
	}
	c.NIC = v
	return nil
}

func setLabel(c *Config, v string) error {
	// The label is "nic:iflabel"; the shortest nic has one character.
	if len(v) > ifNameMax-2 {
		return perr("iflabel=%s is longer than the kernel allows (nic:iflabel must fit in %d characters); shorten iflabel", v, ifNameMax)
	}
	if strings.ContainsAny(v, "/: \t\n") {
		return perr("iflabel=%q has a '/', ':' or space; use letters, digits, '-', '_' or '.'", v)
	}
	c.Label = v
	return nil
}

func setBroadcast(c *Config, v string) error {
	if v == "+" || v == "-" {
		c.Broadcast = v
		return nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() {
		return perr("broadcast=%s is not an IPv4 address, '+' or '-'", v)
	}
	c.Broadcast = a.String()
	return nil
}

func setPreferredLft(c *Config, v string) error {
	if v == "forever" {
		c.PreferredLft = Forever
		return nil
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(v, "sec"), 10, 32)
	if err != nil || uint32(n) == Forever {
		return perr("preferred_lft=%s is not a number of seconds or 'forever'", v)
	}
	c.PreferredLft = uint32(n)
	return nil
}

func setProvider(c *Config, v string) error {
	if _, ok := all.Providers.Lookup(v); !ok {
		return perr("provider=%s is unknown; use one of: %s", v, strings.Join(all.Providers.Names(), ", "))
	}
	c.Provider = v
	return nil
}

func intSetter(name string, lo, hi int, set func(*Config, int)) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := param.ParseInt(name, v, lo, hi)
		if err != nil {
			return err
		}
		set(c, n)
		return nil
	}
}

func boolSetter(name string, set func(*Config, bool)) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := param.ParseBool(name, v)
		if err != nil {
			return err
		}
		set(c, b)
		return nil
	}
}
