package ocifake

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
)

// signer signs requests the way the SDK does, with a key the fake knows.
func signer(t *testing.T, f *Fake) common.HTTPRequestSigner {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	cp := common.NewRawConfigurationProvider("ocid1.tenancy.oc1..t", "ocid1.user.oc1..u", "xx-fake-1", "aa:bb", pemKey, nil)
	f.AddAPIKey("ocid1.tenancy.oc1..t/ocid1.user.oc1..u/aa:bb", &key.PublicKey)
	return common.DefaultRequestSigner(cp)
}

func TestSigningPagingAndErrors(t *testing.T) {
	f := New("ocid1.tenancy.oc1..t", "xx-fake-1")
	f.PageSize = 2
	s := f.AddSubnet("10.0.0.0/24", "")
	_, v := f.AddInstance("127.0.0.1", s, "10.0.0.2", "02:00:00:00:00:02")
	for _, ip := range []string{"10.0.0.10", "10.0.0.11", "10.0.0.12"} {
		f.AddIP(ip, v)
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	sign := signer(t, f)
	get := func(path string, signed bool) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Date", "Sun, 22 Nov 2026 00:00:00 GMT")
		if signed {
			if err := sign.Sign(req); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}
	// Unsigned: refused with OCI's error shape and a request id.
	resp, body := get("/20160918/vnics/"+v.ID, false)
	var e struct{ Code, Message string }
	json.Unmarshal(body, &e)
	if resp.StatusCode != 401 || e.Code != "NotAuthenticated" || resp.Header.Get("opc-request-id") == "" {
		t.Fatalf("unsigned: %d %s", resp.StatusCode, body)
	}
	// Signed: four private IPs on the VNIC in pages of two.
	var all []string
	page := ""
	for i := 0; i < 5; i++ {
		path := "/20160918/privateIps?vnicId=" + v.ID
		if page != "" {
			path += "&page=" + page
		}
		resp, body = get(path, true)
		if resp.StatusCode != 200 {
			t.Fatalf("list: %d %s", resp.StatusCode, body)
		}
		var items []struct{ IPAddress string }
		json.Unmarshal(body, &items)
		for _, it := range items {
			all = append(all, it.IPAddress)
		}
		if page = resp.Header.Get("opc-next-page"); page == "" {
			break
		}
	}
	if len(all) != 4 {
		t.Fatalf("paged listing returned %v, want 4 addresses", all)
	}
	// A tampered signature is refused.
	req, _ := http.NewRequest("GET", srv.URL+"/20160918/vnics/"+v.ID, nil)
	sign.Sign(req)
	req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), `signature="`, `signature="AAAA`, 1))
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Fatalf("tampered signature accepted: %d", resp.StatusCode)
	}
	// IMDS wants its header.
	req, _ = http.NewRequest("GET", srv.URL+"/opc/v2/vnics/", nil)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Fatalf("IMDS without Authorization: %d", resp.StatusCode)
	}
}
