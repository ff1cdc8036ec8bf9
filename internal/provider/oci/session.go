package oci

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/cloudvip/floatip/internal/provider"
)

// Each agent action is a new process, and an instance-principal token costs
// a fresh 2048-bit session key (about 100 ms of CPU here) plus four
// metadata requests and a token request. The token and its session key are
// therefore kept, root-only, in the node's state directory (tmpfs, cleared
// at boot) until shortly before the token expires, as the OCI CLI keeps
// session tokens in ~/.oci/sessions.

// session is the cached token.
type session struct {
	Token   string `json:"token"`
	Key     []byte `json:"key"` // PKCS#1 DER
	Region  string `json:"region"`
	Tenancy string `json:"tenancy"`
	Expires int64  `json:"expires"`
}

// sessionProvider signs with a cached instance-principal session.
type sessionProvider struct {
	s   session
	key *rsa.PrivateKey
}

func (p sessionProvider) PrivateRSAKey() (*rsa.PrivateKey, error) { return p.key, nil }
func (p sessionProvider) KeyID() (string, error)                  { return "ST$" + p.s.Token, nil }
func (p sessionProvider) TenancyOCID() (string, error)            { return p.s.Tenancy, nil }
func (p sessionProvider) UserOCID() (string, error)               { return "", nil }
func (p sessionProvider) KeyFingerprint() (string, error)         { return "", nil }
func (p sessionProvider) Region() (string, error)                 { return p.s.Region, nil }
func (p sessionProvider) AuthType() (common.AuthConfig, error) {
	return common.AuthConfig{AuthType: common.InstancePrincipal}, nil
}

// sessionMargin is how long before expiry a cached token is replaced.
const sessionMargin = 5 * time.Minute

// sessionName is the session's file in the boot cache.
const sessionName = "oci.session"

// cachedSession returns a provider for a cached token that is still good.
func (o *OCI) cachedSession() common.ConfigurationProvider {
	var s session
	if !provider.BootCache(o.env.Cache).Load(sessionName, &s) || time.Until(time.Unix(s.Expires, 0)) < sessionMargin {
		return nil
	}
	key, err := x509.ParsePKCS1PrivateKey(s.Key)
	if err != nil {
		return nil
	}
	return sessionProvider{s: s, key: key}
}

// saveSession keeps the token the SDK obtained for the next actions.
func (o *OCI) saveSession(cp common.ConfigurationProvider) {
	keyID, err1 := cp.KeyID()
	key, err2 := cp.PrivateRSAKey()
	region, err3 := cp.Region()
	tenancy, err4 := cp.TenancyOCID()
	token, ok := strings.CutPrefix(keyID, "ST$")
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || !ok {
		return
	}
	exp := tokenExpiry(token)
	if exp.IsZero() {
		return
	}
	provider.BootCache(o.env.Cache).Store(o.env.Log, sessionName,
		session{Token: token, Key: x509.MarshalPKCS1PrivateKey(key), Region: region, Tenancy: tenancy, Expires: exp.Unix()})
}

// dropSession forgets the cached token (the service refused it).
func (o *OCI) dropSession() { provider.BootCache(o.env.Cache).Drop(sessionName) }

// tokenExpiry reads exp from a JWT's payload (the signature is the token
// service's business).
func tokenExpiry(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Exp int64 `json:"exp"`
	}
	if err != nil || json.Unmarshal(b, &c) != nil || c.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(c.Exp, 0)
}
