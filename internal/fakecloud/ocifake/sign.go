package ocifake

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// signature is a parsed draft-cavage HTTP signature (OCI's request signing).
type signature struct {
	keyID   string
	headers []string
	sig     []byte
}

func parseSignature(h string) (*signature, error) {
	if !strings.HasPrefix(h, "Signature ") {
		return nil, errors.New("no Signature authorization")
	}
	s := &signature{}
	for _, part := range splitParams(strings.TrimPrefix(h, "Signature ")) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch k {
		case "keyId":
			s.keyID = v
		case "headers":
			s.headers = strings.Fields(v)
		case "algorithm":
			if v != "rsa-sha256" {
				return nil, fmt.Errorf("algorithm %q", v)
			}
		case "signature":
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("signature: %w", err)
			}
			s.sig = b
		}
	}
	if s.keyID == "" || len(s.sig) == 0 || len(s.headers) == 0 {
		return nil, errors.New("keyId, headers and signature are required")
	}
	return s, nil
}

// splitParams splits k="v",k="v" on commas outside quotes.
func splitParams(s string) []string {
	var out []string
	start, quoted := 0, false
	for i, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// verify checks the signature of r against pub; body is the request body
// (its SHA-256 must match x-content-sha256 when that header is signed).
func (s *signature) verify(r *http.Request, body []byte, pub *rsa.PublicKey) error {
	var lines []string
	for _, h := range s.headers {
		switch h {
		case "(request-target)":
			lines = append(lines, "(request-target): "+strings.ToLower(r.Method)+" "+r.URL.RequestURI())
		case "host":
			lines = append(lines, "host: "+r.Host)
		default:
			lines = append(lines, h+": "+r.Header.Get(h))
		}
	}
	need := []string{"date", "(request-target)"}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		need = append(need, "x-content-sha256", "content-length")
		sum := sha256.Sum256(body)
		if r.Header.Get("X-Content-Sha256") != base64.StdEncoding.EncodeToString(sum[:]) {
			return errors.New("x-content-sha256 does not match the body")
		}
	}
	for _, n := range need {
		found := false
		for _, h := range s.headers {
			found = found || h == n
		}
		if !found {
			return fmt.Errorf("header %q is not signed", n)
		}
	}
	digest := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], s.sig)
}
