// Package ocifake is a local fake of the Oracle Cloud endpoints floatip
// uses: the VirtualNetwork API (vnics, privateIps, ipv6), the instance
// metadata service v2 and the instance-principal federation endpoint
// (/v1/x509). It answers with OCI's error shape ({"code","message"} and
// opc-request-id), pages lists with opc-next-page, refuses moves across
// subnets and moves of a primary IP, and checks that every API request is
// signed: with an API key it knows (config-file auth) or with the session
// key of a token it issued (instance principals). Instances are told apart
// by the client's source address.
package ocifake

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudvip/floatip/internal/fakecloud"
)

// Fault is an injected failure (see fakecloud.Fault).
type Fault = fakecloud.Fault

// Fake is the whole service in one http.Handler.
type Fake struct {
	fakecloud.Injector
	Tenancy, Region, Compartment string
	// PageSize bounds list answers (opc-next-page carries the rest).
	PageSize int
	// OnMove, if set, is called (with the fake locked) when an address is
	// created on or moved to a VNIC.
	OnMove func(ip netip.Addr, vnic string)

	mu        sync.Mutex
	ca        *x509.Certificate
	caKey     *rsa.PrivateKey
	caPEM     []byte
	instances map[netip.Addr]*Instance
	vnics     map[string]*Vnic
	subnets   map[string]*Subnet
	ips       map[string]*IP // private IPs and IPv6, by id
	apiKeys   map[string]*rsa.PublicKey
	sessions  map[string]*rsa.PublicKey
	seq       int
}

// Subnet is a regional subnet.
type Subnet struct {
	ID    string
	CIDR  netip.Prefix
	CIDR6 netip.Prefix // may be invalid
}

// Instance is a compute instance with its VNICs and identity.
type Instance struct {
	ID      string
	Vnics   []*Vnic
	certPEM []byte
	keyPEM  []byte
}

// Vnic is a virtual NIC.
type Vnic struct {
	ID, SubnetID, MAC string
	Primary           netip.Addr // its primary private IP
	instance          *Instance
}

// IP is a private IPv4 or an IPv6 address object.
type IP struct {
	ID, VnicID, SubnetID string
	Addr                 netip.Addr
	Primary              bool
}

// New returns an empty fake for a tenancy and region.
func New(tenancy, region string) *Fake {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake OCI intermediate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ca, _ := x509.ParseCertificate(der)
	return &Fake{Tenancy: tenancy, Region: region, Compartment: "ocid1.compartment.oc1..fake", PageSize: 100,
		ca: ca, caKey: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		instances: map[netip.Addr]*Instance{}, vnics: map[string]*Vnic{}, subnets: map[string]*Subnet{},
		ips: map[string]*IP{}, apiKeys: map[string]*rsa.PublicKey{}, sessions: map[string]*rsa.PublicKey{}}
}

func (f *Fake) id(kind string) string {
	f.seq++
	return fmt.Sprintf("ocid1.%s.oc1.fake.%04d", kind, f.seq)
}

// AddSubnet creates a subnet; cidr6 may be "".
func (f *Fake) AddSubnet(cidr, cidr6 string) *Subnet {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &Subnet{ID: f.id("subnet"), CIDR: netip.MustParsePrefix(cidr)}
	if cidr6 != "" {
		s.CIDR6 = netip.MustParsePrefix(cidr6)
	}
	f.subnets[s.ID] = s
	return s
}

// AddInstance creates an instance whose metadata answers requests from
// client address from, with one primary VNIC in subnet s holding primary
// and carrying mac.
func (f *Fake) AddInstance(from string, s *Subnet, primary, mac string) (*Instance, *Vnic) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := &Instance{ID: f.id("instance")}
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(f.seq) + 10), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		Subject: pkix.Name{CommonName: in.ID, OrganizationalUnit: []string{"opc-certtype:instance", "opc-instance:" + in.ID,
			"opc-compartment:" + f.Compartment, "opc-tenant:" + f.Tenancy}},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, f.ca, &key.PublicKey, f.caKey)
	in.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	in.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	f.instances[netip.MustParseAddr(from)] = in
	v := f.addVnic(in, s, primary, mac)
	return in, v
}

func (f *Fake) addVnic(in *Instance, s *Subnet, primary, mac string) *Vnic {
	v := &Vnic{ID: f.id("vnic"), SubnetID: s.ID, MAC: mac, Primary: netip.MustParseAddr(primary), instance: in}
	in.Vnics = append(in.Vnics, v)
	f.vnics[v.ID] = v
	ip := &IP{ID: f.id("privateip"), VnicID: v.ID, SubnetID: s.ID, Addr: v.Primary, Primary: true}
	f.ips[ip.ID] = ip
	return v
}

// AddVnic gives an instance a further VNIC in subnet s.
func (f *Fake) AddVnic(in *Instance, s *Subnet, primary, mac string) *Vnic {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addVnic(in, s, primary, mac)
}

// AddIP creates a secondary private IP (or IPv6) on vnic (nil: nowhere yet is
// not allowed by OCI for private IPs, so vnic must be set).
func (f *Fake) AddIP(addr string, v *Vnic) *IP {
	f.mu.Lock()
	defer f.mu.Unlock()
	kind := "privateip"
	a := netip.MustParseAddr(addr)
	if a.Is6() {
		kind = "ipv6"
	}
	ip := &IP{ID: f.id(kind), VnicID: v.ID, SubnetID: v.SubnetID, Addr: a}
	f.ips[ip.ID] = ip
	return ip
}

// AddAPIKey accepts requests signed with keyID (tenancy/user/fingerprint)
// and the key's public half (config-file auth).
func (f *Fake) AddAPIKey(keyID string, pub *rsa.PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apiKeys[keyID] = pub
}

// Move puts ip on VNIC v at once (test set-up: "moved by hand").
func (f *Fake) Move(addr string, v *Vnic) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ip := range f.ips {
		if ip.Addr == netip.MustParseAddr(addr) {
			ip.VnicID = v.ID
		}
	}
}

// Vnic returns the VNIC with id (nil when none).
func (f *Fake) Vnic(id string) *Vnic {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.vnics[id]
}

// Holder returns the VNIC holding addr ("" when none).
func (f *Fake) Holder(addr string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := netip.MustParseAddr(addr)
	for _, ip := range f.ips {
		if ip.Addr == a {
			return ip.VnicID
		}
	}
	return ""
}

// ForgetSessions drops every issued token, as a restarted token service
// would.
func (f *Fake) ForgetSessions() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions = map[string]*rsa.PublicKey{}
}

func (f *Fake) fail(w http.ResponseWriter, status int, code, msg string) {
	fakecloud.JSON(w, status, "application/json", map[string]string{"code": code, "message": msg})
}

func reply(w http.ResponseWriter, status int, v any) {
	fakecloud.JSON(w, status, "application/json", v)
}

// ServeHTTP routes metadata (/opc/v2), federation (/v1/x509) and API
// (/20160918) requests.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seq++
	w.Header().Set("opc-request-id", fmt.Sprintf("fake/%d", f.seq))
	f.mu.Unlock()
	f.Serve(w, r, f.writeFault, f.route)
}

func (f *Fake) route(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	switch {
	case strings.HasPrefix(r.URL.Path, "/opc/v2/"):
		f.metadata(w, r)
	case r.URL.Path == "/v1/x509":
		f.federate(w, r, body)
	case strings.HasPrefix(r.URL.Path, "/20160918/"):
		f.api(w, r, body)
	default:
		f.fail(w, 404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found.")
	}
}

// writeFault answers an injected fault in OCI's error shape.
func (f *Fake) writeFault(w http.ResponseWriter, fl *Fault) {
	code := fl.Code
	if code == "" {
		code = http.StatusText(fl.Status)
	}
	f.fail(w, fl.Status, code, "injected fault")
}

func (f *Fake) instanceFor(r *http.Request) *Instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.instances[fakecloud.Source(r)]
}

// metadata is IMDS v2: it needs "Authorization: Bearer Oracle" and refuses
// forwarded requests, like the real one.
func (f *Fake) metadata(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer Oracle" {
		f.fail(w, 401, "NotAuthenticated", "IMDS v2 needs Authorization: Bearer Oracle")
		return
	}
	if r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Forwarded-Host") != "" {
		f.fail(w, 403, "Forbidden", "forwarded requests are refused")
		return
	}
	in := f.instanceFor(r)
	if in == nil {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/opc/v2/"), "/") {
	case "instance":
		reply(w, 200, map[string]any{"id": in.ID, "region": "fake", "canonicalRegionName": f.Region,
			"compartmentId": f.Compartment, "availabilityDomain": "fake:AD-1", "shape": "VM.Standard.E4.Flex"})
	case "instance/region":
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, f.Region)
	case "vnics":
		var out []map[string]any
		for _, v := range in.Vnics {
			s := f.subnets[v.SubnetID]
			m := map[string]any{"vnicId": v.ID, "privateIp": v.Primary.String(), "macAddr": v.MAC,
				"subnetCidrBlock": s.CIDR.String(), "virtualRouterIp": s.CIDR.Addr().Next().String(), "vlanTag": 0}
			if s.CIDR6.IsValid() {
				var v6 []string
				for _, ip := range f.ips {
					if ip.VnicID == v.ID && ip.Addr.Is6() {
						v6 = append(v6, ip.Addr.String())
					}
				}
				m["ipv6Addresses"], m["ipv6SubnetCidrBlock"] = v6, s.CIDR6.String()
			}
			out = append(out, m)
		}
		reply(w, 200, out)
	case "identity/cert.pem":
		w.Write(in.certPEM)
	case "identity/key.pem":
		w.Write(in.keyPEM)
	case "identity/intermediate.pem":
		w.Write(f.caPEM)
	default:
		http.NotFound(w, r)
	}
}

// federate is the instance-principal token endpoint: the request must be
// signed with the leaf certificate's key (keyId tenancy/fed-x509-sha256/
// fingerprint) and the certificate must come from this fake's CA. The
// token is a JWT with exp; the session public key in the request then
// verifies API requests signed with keyId ST$<token>.
func (f *Fake) federate(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Certificate string `json:"certificate"`
		PublicKey   string `json:"publicKey"`
	}
	if r.Method != http.MethodPost || json.Unmarshal(body, &req) != nil {
		f.fail(w, 400, "InvalidParameter", "bad federation request")
		return
	}
	der, err1 := base64.StdEncoding.DecodeString(req.Certificate)
	cert, err2 := x509.ParseCertificate(der)
	pubDER, err3 := base64.StdEncoding.DecodeString(req.PublicKey)
	pub, err4 := x509.ParsePKIXPublicKey(pubDER)
	session, ok := pub.(*rsa.PublicKey)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || !ok {
		f.fail(w, 400, "InvalidParameter", "certificate or publicKey malformed")
		return
	}
	if err := cert.CheckSignatureFrom(f.ca); err != nil {
		f.fail(w, 401, "NotAuthenticated", "certificate not issued by the instance CA")
		return
	}
	sig, err := parseSignature(r.Header.Get("Authorization"))
	sum := sha256.Sum256(der)
	var fp []string
	for _, b := range sum {
		fp = append(fp, fmt.Sprintf("%02x", b))
	}
	if err != nil || sig.keyID != f.Tenancy+"/fed-x509-sha256/"+strings.Join(fp, ":") {
		f.fail(w, 401, "NotAuthenticated", "federation request not signed with the certificate's key")
		return
	}
	if err := sig.verify(r, body, cert.PublicKey.(*rsa.PublicKey)); err != nil {
		f.fail(w, 401, "NotAuthenticated", "federation signature: "+err.Error())
		return
	}
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{"sub": cert.Subject.CommonName, "iss": "authService.oracle.com",
		"exp": time.Now().Add(20 * time.Minute).Unix(), "iat": time.Now().Unix(), "tenant": f.Tenancy})
	token := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString([]byte("fake"))
	f.mu.Lock()
	f.sessions[token] = session
	f.mu.Unlock()
	reply(w, 200, map[string]string{"token": token})
}

// authenticate verifies an API request's signature.
func (f *Fake) authenticate(r *http.Request, body []byte) error {
	sig, err := parseSignature(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	f.mu.Lock()
	var pub *rsa.PublicKey
	if tok, ok := strings.CutPrefix(sig.keyID, "ST$"); ok {
		pub = f.sessions[tok]
	} else {
		pub = f.apiKeys[sig.keyID]
	}
	f.mu.Unlock()
	if pub == nil {
		return fmt.Errorf("unknown keyId %.40q", sig.keyID)
	}
	return sig.verify(r, body, pub)
}

func (f *Fake) api(w http.ResponseWriter, r *http.Request, body []byte) {
	if err := f.authenticate(r, body); err != nil {
		f.fail(w, 401, "NotAuthenticated", "The required information to complete authentication was not provided or was incorrect: "+err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/20160918/"), "/"), "/")
	notFound := func() {
		f.fail(w, 404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found.")
	}
	switch {
	case len(parts) == 2 && parts[0] == "vnics" && r.Method == http.MethodGet:
		v := f.vnics[parts[1]]
		if v == nil {
			notFound()
			return
		}
		reply(w, 200, map[string]any{"id": v.ID, "subnetId": v.SubnetID, "privateIp": v.Primary.String(), "macAddress": v.MAC,
			"isPrimary": v == v.instance.Vnics[0], "compartmentId": f.Compartment, "availabilityDomain": "fake:AD-1",
			"lifecycleState": "AVAILABLE", "timeCreated": "2026-01-01T00:00:00.000Z"})
	case len(parts) == 1 && (parts[0] == "privateIps" || parts[0] == "ipv6") && r.Method == http.MethodGet:
		f.list(w, r, parts[0] == "ipv6")
	case len(parts) == 1 && (parts[0] == "privateIps" || parts[0] == "ipv6") && r.Method == http.MethodPost:
		f.create(w, body, parts[0] == "ipv6")
	case len(parts) == 2 && (parts[0] == "privateIps" || parts[0] == "ipv6"):
		ip := f.ips[parts[1]]
		if ip == nil || ip.Addr.Is6() != (parts[0] == "ipv6") {
			notFound()
			return
		}
		switch r.Method {
		case http.MethodGet:
			reply(w, 200, f.ipJSON(ip))
		case http.MethodPut:
			f.update(w, ip, body)
		default:
			notFound()
		}
	default:
		notFound()
	}
}

func (f *Fake) ipJSON(ip *IP) map[string]any {
	m := map[string]any{"id": ip.ID, "ipAddress": ip.Addr.String(), "vnicId": ip.VnicID, "subnetId": ip.SubnetID,
		"compartmentId": f.Compartment, "timeCreated": "2026-01-01T00:00:00.000Z", "ipState": "ASSIGNED", "lifetime": "EPHEMERAL"}
	if ip.Addr.Is6() {
		m["lifecycleState"], m["displayName"] = "AVAILABLE", ip.Addr.String()
	} else {
		m["isPrimary"], m["availabilityDomain"] = ip.Primary, "fake:AD-1"
	}
	return m
}

// list answers GET privateIps|ipv6 filtered by ipAddress, subnetId and
// vnicId, in pages of PageSize with opc-next-page.
func (f *Fake) list(w http.ResponseWriter, r *http.Request, v6 bool) {
	q := r.URL.Query()
	if q.Get("ipAddress") == "" && q.Get("vnicId") == "" && q.Get("subnetId") == "" {
		f.fail(w, 400, "InvalidParameter", "one of ipAddress, subnetId or vnicId is required")
		return
	}
	if q.Get("ipAddress") != "" && q.Get("subnetId") == "" && q.Get("vnicId") == "" {
		f.fail(w, 400, "InvalidParameter", "ipAddress needs subnetId or vnicId")
		return
	}
	var match []*IP
	for _, ip := range f.ips {
		if ip.Addr.Is6() != v6 ||
			(q.Get("ipAddress") != "" && ip.Addr.String() != q.Get("ipAddress")) ||
			(q.Get("subnetId") != "" && ip.SubnetID != q.Get("subnetId")) ||
			(q.Get("vnicId") != "" && ip.VnicID != q.Get("vnicId")) {
			continue
		}
		match = append(match, ip)
	}
	sort.Slice(match, func(i, j int) bool { return match[i].ID < match[j].ID })
	start, _ := strconv.Atoi(q.Get("page"))
	size := f.PageSize
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n < size {
		size = n
	}
	end := min(start+size, len(match))
	if start > len(match) {
		start = len(match)
	}
	if end < len(match) {
		w.Header().Set("opc-next-page", strconv.Itoa(end))
	}
	out := []map[string]any{}
	for _, ip := range match[start:end] {
		out = append(out, f.ipJSON(ip))
	}
	reply(w, 200, out)
}

func (f *Fake) create(w http.ResponseWriter, body []byte, v6 bool) {
	var req struct {
		VnicID    string `json:"vnicId"`
		IPAddress string `json:"ipAddress"`
	}
	if json.Unmarshal(body, &req) != nil || req.VnicID == "" {
		f.fail(w, 400, "InvalidParameter", "vnicId is required")
		return
	}
	v := f.vnics[req.VnicID]
	if v == nil {
		f.fail(w, 404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found.")
		return
	}
	a, err := netip.ParseAddr(req.IPAddress)
	s := f.subnets[v.SubnetID]
	cidr := s.CIDR
	if v6 {
		cidr = s.CIDR6
	}
	if err != nil || a.Is6() != v6 || !cidr.IsValid() || !cidr.Contains(a) {
		f.fail(w, 400, "InvalidParameter", fmt.Sprintf("%s is not in the VNIC's subnet %s", req.IPAddress, cidr))
		return
	}
	for _, ip := range f.ips {
		if ip.Addr == a {
			f.fail(w, 409, "Conflict", fmt.Sprintf("%s is already assigned", a))
			return
		}
	}
	kind := "privateip"
	if v6 {
		kind = "ipv6"
	}
	ip := &IP{ID: f.id(kind), VnicID: v.ID, SubnetID: v.SubnetID, Addr: a}
	f.ips[ip.ID] = ip
	if f.OnMove != nil {
		f.OnMove(a, v.ID)
	}
	reply(w, 200, f.ipJSON(ip))
}

// update moves an address to another VNIC, in the same subnet only, and
// never a VNIC's primary address.
func (f *Fake) update(w http.ResponseWriter, ip *IP, body []byte) {
	var req struct {
		VnicID string `json:"vnicId"`
	}
	if json.Unmarshal(body, &req) != nil {
		f.fail(w, 400, "InvalidParameter", "bad body")
		return
	}
	if req.VnicID != "" {
		v := f.vnics[req.VnicID]
		switch {
		case v == nil:
			f.fail(w, 404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found.")
			return
		case ip.Primary:
			f.fail(w, 400, "InvalidParameter", "A primary private IP cannot be moved to another VNIC.")
			return
		case v.SubnetID != ip.SubnetID:
			f.fail(w, 400, "InvalidParameter", "The private IP and the VNIC must be in the same subnet.")
			return
		}
		if ip.VnicID != v.ID && f.OnMove != nil {
			defer f.OnMove(ip.Addr, v.ID)
		}
		ip.VnicID = v.ID
	}
	w.Header().Set("etag", fmt.Sprintf("%x", f.seq))
	reply(w, 200, f.ipJSON(ip))
}
