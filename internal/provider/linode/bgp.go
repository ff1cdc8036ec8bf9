package linode

// BGP mode (Linode's BGP data centers): the address is shared as in share
// mode, bound on lo, and announced to Linode's route servers by the node's
// FRR bgpd, which floatip drives through its vty socket. The route servers
// prefer community 65000:1 (primary) to 65000:2 (secondary); floatip
// announces as primary from the node holding the resource and withdraws
// on stop, so only one node announces at a time and a dead node's route
// lasts only until its hold timer expires.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudvip/floatip/internal/frr"
	"github.com/cloudvip/floatip/internal/param"
	"github.com/cloudvip/floatip/internal/provider"
	"github.com/cloudvip/floatip/ocf"
)

// Linode's route servers' side of the sessions (its failover guide and
// lelastic): the Linode speaks as ASN 65001 to ASN 65000 at
// 2600:3c0f:<data center id>:34::1-4, multihop.
const (
	LocalASN   = 65001
	RemoteASN  = 65000
	Primary    = "65000:1"
	Secondary  = "65000:2"
	peerGroup  = "FLOATIP"
	routeMap   = "floatip-primary"
	peerPrefix = "2600:3c0f"
)

// DataCenters maps a region to its data center id, the third group of its
// route servers' addresses (as Linode's cloud controller manager knows them).
var DataCenters = map[string]int{
	"us-central": 2, "us-west": 3, "us-southeast": 4, "us-east": 6, "eu-west": 7,
	"ap-south": 9, "eu-central": 10, "ap-northeast": 11, "ap-west": 14, "ca-central": 15,
	"ap-southeast": 16, "us-iad": 17, "us-ord": 18, "fr-par": 19, "us-sea": 20,
	"br-gru": 21, "nl-ams": 22, "se-sto": 23, "es-mad": 24, "in-maa": 25,
	"jp-osa": 26, "it-mil": 27, "us-mia": 28, "id-cgk": 29, "us-lax": 30,
	"gb-lon": 44, "au-mel": 45, "in-bom-2": 46, "de-fra-2": 47, "sg-sin-2": 48, "jp-tyo-3": 49,
}

// BGPParams are the parameters of linode_mode=bgp.
var BGPParams = []param.Spec{
	{Name: "linode_dc_id", Type: "integer",
		Short: "Data center id (linode_mode=bgp)",
		Long:  "linode_mode=bgp: the data center id that names Linode's route servers (2600:3c0f:<id>:34::1-4). Default: from this Linode's region."},
	{Name: "bgp_peers", Type: "string",
		Short: "Route servers (linode_mode=bgp)",
		Long:  "linode_mode=bgp: the route servers' addresses, comma-separated. Default: 2600:3c0f:<linode_dc_id>:34::1 to ::4."},
	{Name: "bgp_hold", Type: "integer", Default: "9",
		Short: "BGP hold time in seconds (linode_mode=bgp)",
		Long:  "linode_mode=bgp: hold time of the sessions with the route servers (keepalive a third of it); a dead node's route lasts this long. 9 is lelastic's. 0 disables it (keepalives too)."},
	{Name: "bgp_bfd", Type: "boolean", Default: "false",
		Short: "BFD on the sessions (linode_mode=bgp)",
		Long:  "linode_mode=bgp: run BFD on the sessions (FRR's bfdd must run), so a dead node's route goes in about a second. Linode does not document BFD on its route servers."},
	{Name: "frr_vty_dir", Type: "string", Default: frr.DefaultDir,
		Short: "FRR's vty socket directory (linode_mode=bgp)",
		Long:  "linode_mode=bgp: the directory of FRR's bgpd.vty, through which floatip configures bgpd."},
}

// BGP is a parsed bgp-mode configuration.
type BGP struct {
	DC     int          // 0: from the region
	Peers  []netip.Addr // nil: from DC
	Hold   int
	BFD    bool
	VTYDir string
}

// parseBGP reads the bgp-mode parameters (syntax only).
func parseBGP(v provider.Values) (*BGP, error) {
	b := &BGP{VTYDir: v.String("frr_vty_dir")}
	var err error
	if v.Set("linode_dc_id") {
		if b.DC, err = param.ParseInt("linode_dc_id", v.String("linode_dc_id"), 1, 65535); err != nil {
			return nil, err
		}
	}
	if b.Hold, err = param.ParseInt("bgp_hold", v.String("bgp_hold"), 0, 65535); err != nil {
		return nil, err
	}
	if b.Hold > 0 && b.Hold < 3 {
		return nil, param.Errorf("bgp_hold=%d is below BGP's minimum of 3 seconds; use 3 or more (0 disables it)", b.Hold)
	}
	if b.BFD, err = param.ParseBool("bgp_bfd", v.String("bgp_bfd")); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(b.VTYDir) {
		return nil, param.Errorf("frr_vty_dir=%s is not an absolute path", b.VTYDir)
	}
	if s := v.String("bgp_peers"); v.Set("bgp_peers") {
		for _, f := range strings.Split(s, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(f))
			if err != nil || a.Zone() != "" {
				return nil, param.Errorf("bgp_peers=%s: %q is not an IP address; give the route servers' addresses, comma-separated", s, strings.TrimSpace(f))
			}
			b.Peers = append(b.Peers, a)
		}
	}
	return b, nil
}

// needsRegion reports whether the peers come from this Linode's region.
func (b *BGP) needsRegion() bool { return b.Peers == nil && b.DC == 0 }

// peers returns the route servers: the parameter, or the data center's.
func (b *BGP) peers(region string) ([]netip.Addr, error) {
	if b.Peers != nil {
		return b.Peers, nil
	}
	dc := b.DC
	if dc == 0 {
		var ok bool
		if dc, ok = DataCenters[region]; !ok {
			return nil, ocf.Errorf(ocf.ErrConfigured, "linode: region %q has no known data center id; set linode_dc_id (or bgp_peers)", region)
		}
	}
	var out []netip.Addr
	for i := 1; i <= 4; i++ {
		out = append(out, netip.MustParseAddr(fmt.Sprintf("%s:%d:34::%d", peerPrefix, dc, i)))
	}
	return out, nil
}

// Sessions are the bgpd configuration lines for the sessions with peers,
// as Linode's guide has them (ASN 65001, the route servers as one
// multihop peer group, both address families) plus the timers and the
// route map that marks what floatip announces as primary. They are what
// a node's frr.conf should hold so standby nodes have their sessions up
// before they take over; start applies them where they are missing.
func (b *BGP) Sessions(peers []netip.Addr) []string {
	l := []string{
		fmt.Sprintf("router bgp %d", LocalASN),
		" no bgp ebgp-requires-policy",
		// The IPv6 announcement is the shared range, while only one
		// address of it is bound: no route in the table matches it.
		" no bgp network import-check",
		" neighbor " + peerGroup + " peer-group",
		fmt.Sprintf(" neighbor %s remote-as %d", peerGroup, RemoteASN),
		" neighbor " + peerGroup + " ebgp-multihop 10",
		" neighbor " + peerGroup + " capability extended-nexthop",
		// A session that drops is retried every 5 s, not FRR's 120.
		" neighbor " + peerGroup + " timers connect 5",
	}
	l = append(l, fmt.Sprintf(" neighbor %s timers %d %d", peerGroup, b.Hold/3, b.Hold))
	if b.BFD {
		l = append(l, " neighbor "+peerGroup+" bfd")
	}
	for _, p := range peers {
		l = append(l, fmt.Sprintf(" neighbor %s peer-group %s", p, peerGroup))
	}
	for _, af := range []string{"ipv4", "ipv6"} {
		l = append(l, " address-family "+af+" unicast", "  neighbor "+peerGroup+" activate", " exit-address-family")
	}
	return append(l, "exit", "route-map "+routeMap+" permit 10", " set community "+Primary, "exit")
}

// Config is what a node's frr.conf needs for these sessions (without any
// address: floatip adds the one it holds), to append to Debian's.
func (b *BGP) Config(peers []netip.Addr) string {
	var s strings.Builder
	fmt.Fprintf(&s, "! floatip frr-config: sessions with Linode's route servers (linode_mode=bgp)\n")
	for _, l := range b.Sessions(peers) {
		s.WriteString(l + "\n")
	}
	// zebra's: the route servers are reached through the default route.
	s.WriteString("ipv6 nht resolve-via-default\n")
	return s.String()
}

// afi is the address family of p as bgpd names it.
func afi(p netip.Prefix) string {
	if p.Addr().Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// speaker is the bgp-mode provider.Speaker.
type speaker struct{ l *Linode }

// Speaker returns the provider's speaker in bgp mode, nil otherwise.
func (l *Linode) Speaker() provider.Speaker {
	if l.bgp == nil {
		return nil
	}
	return speaker{l}
}

// Config is the frr.conf text for this Linode's sessions (the data
// center's route servers, from its region unless set).
func (s speaker) Config(ctx context.Context) (string, error) {
	region := ""
	if s.l.bgp.needsRegion() {
		var err error
		if _, region, err = s.l.identity(ctx); err != nil {
			return "", err
		}
	}
	peers, err := s.l.bgp.peers(region)
	if err != nil {
		return "", err
	}
	return s.l.bgp.Config(peers), nil
}

func (s speaker) dial(ctx context.Context) (*frr.VTY, error) {
	v, err := frr.Dial(ctx, s.l.bgp.VTYDir, "bgpd")
	if errors.Is(err, frr.ErrNotRunning) {
		return nil, ocf.WithStatus(ocf.ErrInstalled, fmt.Errorf("linode: bgp: %w (enable bgpd in /etc/frr/daemons and start frr, or set frr_vty_dir)", err))
	}
	if err != nil {
		return nil, ocf.WithStatus(ocf.ErrGeneric, fmt.Errorf("linode: bgp: %w", err))
	}
	return v, nil
}

// Ready checks that bgpd answers on its vty socket.
func (s speaker) Ready(ctx context.Context) error {
	v, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = v.Close() }()
	_, err = sessions(ctx, v)
	return err
}

// Announce makes bgpd announce ip's prefix as primary: the sessions are
// configured where they are missing, the network statement added, and the
// route confirmed in bgpd's table.
func (s speaker) Announce(ctx context.Context, ip netip.Addr) error {
	pfx, err := s.l.announcedPrefix(ctx, ip)
	if err != nil {
		return err
	}
	_, region, err := s.l.identity(ctx)
	if err != nil {
		return err
	}
	peers, err := s.l.bgp.peers(region)
	if err != nil {
		return err
	}
	v, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = v.Close() }()
	if missing, err := missingPeers(ctx, v, peers); err != nil {
		return err
	} else if len(missing) > 0 {
		s.l.env.Log.Warnf("linode: bgp: bgpd has no session with %v; configuring them now (put `floatip frr-config` in frr.conf on every node so standby nodes are ready before they take over)", missing)
		if err := v.Configure(ctx, s.l.bgp.Sessions(peers)); err != nil {
			return ocf.WithStatus(ocf.ErrConfigured, fmt.Errorf("linode: bgp: configure the sessions in bgpd: %w", err))
		}
	}
	if err := v.Configure(ctx, []string{fmt.Sprintf("router bgp %d", LocalASN), " address-family " + afi(pfx) + " unicast",
		fmt.Sprintf("  network %s route-map %s", pfx, routeMap)}); err != nil {
		return ocf.WithStatus(ocf.ErrConfigured, fmt.Errorf("linode: bgp: announce %s: %w", pfx, err))
	}
	// bgpd takes the statement at once but processes it a moment later.
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, 200*time.Millisecond) {
		r, err := lookup(ctx, v, ip)
		if err != nil {
			return err
		}
		if r.ours(pfx) {
			s.l.env.Log.Infof("linode: bgp: announcing %s with community %s", pfx, Primary)
			return nil
		}
		select {
		case <-ctx.Done():
			return ocf.Errorf(ocf.ErrGeneric, "linode: bgp: %s configured in bgpd but not in its table before the deadline", pfx)
		case <-time.After(pause):
		}
	}
}

// Withdraw removes floatip's network statements covering ip. It never
// calls Linode's API; bgpd not running announces nothing: withdrawn.
func (s speaker) Withdraw(ctx context.Context, ip netip.Addr) error {
	v, err := s.dial(ctx)
	if errors.Is(err, frr.ErrNotRunning) {
		s.l.env.Log.Infof("linode: bgp: bgpd is not running; nothing announces %s", ip)
		return nil
	}
	if err != nil {
		return err
	}
	defer func() { _ = v.Close() }()
	nets, err := networks(ctx, v)
	if err != nil {
		return ocf.WithStatus(ocf.ErrGeneric, err)
	}
	for _, p := range nets {
		if !p.Contains(ip) {
			continue
		}
		if err := v.Configure(ctx, []string{fmt.Sprintf("router bgp %d", LocalASN), " address-family " + afi(p) + " unicast",
			fmt.Sprintf("  no network %s route-map %s", p, routeMap)}); err != nil {
			return ocf.WithStatus(ocf.ErrGeneric, fmt.Errorf("linode: bgp: withdraw %s: %w", p, err))
		}
		s.l.env.Log.Infof("linode: bgp: withdrew %s", p)
	}
	return nil
}

// Announced is the monitor's question: does bgpd announce ip as primary
// (and, deep, is a session with a route server established)? No is 7.
func (s speaker) Announced(ctx context.Context, ip netip.Addr, deep bool) error {
	v, err := s.dial(ctx)
	if err != nil {
		return ocf.WithStatus(ocf.NotRunning, err)
	}
	defer func() { _ = v.Close() }()
	r, err := lookup(ctx, v, ip)
	if err != nil {
		return err
	}
	if !r.ours(netip.Prefix{}) {
		return ocf.Errorf(ocf.NotRunning, "linode: bgp: bgpd does not announce %s as primary", ip)
	}
	if !deep {
		return nil
	}
	peers, err := sessions(ctx, v)
	if err != nil {
		return err
	}
	for p, st := range peers {
		if st == "Established" {
			s.l.env.Log.Debugf("linode: bgp: session with %s established", p)
			return nil
		}
	}
	return ocf.Errorf(ocf.NotRunning, "linode: bgp: no session with a route server is established (%v): nothing carries the announcement of %s", peers, ip)
}

// route is bgpd's answer to "show bgp <afi> unicast <ip> json".
type route struct {
	Prefix string `json:"prefix"`
	Paths  []struct {
		Sourced   bool `json:"sourced"`
		Community struct {
			List []string `json:"list"`
		} `json:"community"`
	} `json:"paths"`
}

// ours reports whether the route is this node's own, marked primary (and
// is pfx, when given).
func (r *route) ours(pfx netip.Prefix) bool {
	if pfx.IsValid() && r.Prefix != pfx.String() {
		return false
	}
	for _, p := range r.Paths {
		if p.Sourced && has(p.Community.List, Primary) {
			return true
		}
	}
	return false
}

func lookup(ctx context.Context, v *frr.VTY, ip netip.Addr) (*route, error) {
	fam := "ipv4"
	if ip.Is6() {
		fam = "ipv6"
	}
	out, err := v.Show(ctx, fmt.Sprintf("show bgp %s unicast %s json", fam, ip))
	if err != nil {
		return nil, ocf.WithStatus(ocf.ErrGeneric, fmt.Errorf("linode: bgp: %w", err))
	}
	var r route
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return nil, ocf.Errorf(ocf.ErrGeneric, "linode: bgp: bgpd's route for %s: %v", ip, err)
	}
	return &r, nil
}

// sessions returns each configured peer's state (any address family).
func sessions(ctx context.Context, v *frr.VTY) (map[string]string, error) {
	out, err := v.Show(ctx, "show bgp summary json")
	if err != nil {
		return nil, ocf.WithStatus(ocf.ErrGeneric, fmt.Errorf("linode: bgp: %w", err))
	}
	var sum map[string]struct {
		Peers map[string]struct {
			State string `json:"state"`
		} `json:"peers"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		return nil, ocf.Errorf(ocf.ErrGeneric, "linode: bgp: bgpd's summary: %v", err)
	}
	peers := map[string]string{}
	for _, af := range sum {
		for p, st := range af.Peers {
			peers[p] = st.State
		}
	}
	return peers, nil
}

// missingPeers are the peers bgpd has no session configured with.
func missingPeers(ctx context.Context, v *frr.VTY, want []netip.Addr) ([]netip.Addr, error) {
	have, err := sessions(ctx, v)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, p := range want {
		if _, ok := have[p.String()]; !ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// networks are the prefixes floatip announces (network statements with
// its route map) in bgpd's running configuration.
func networks(ctx context.Context, v *frr.VTY) ([]netip.Prefix, error) {
	if _, err := v.Run(ctx, "enable"); err != nil {
		return nil, err
	}
	out, err := v.Run(ctx, "show running-config")
	if err != nil {
		return nil, err
	}
	var nets []netip.Prefix
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "network" && f[2] == "route-map" && f[3] == routeMap {
			if p, err := netip.ParsePrefix(f[1]); err == nil {
				nets = append(nets, p)
			}
		}
	}
	return nets, nil
}

// announcedPrefix is what bgp mode announces for ip: ip/32 for IPv4, the
// shared range that holds it for IPv6.
func (l *Linode) announcedPrefix(ctx context.Context, ip netip.Addr) (netip.Prefix, error) {
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32), nil
	}
	return l.sharedRange(ctx, ip)
}
