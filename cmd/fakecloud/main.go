// Command fakecloud runs a local fake of a cloud API and metadata service as
// a real HTTP server, for the demo and the cluster lab: the fakes tell
// instances apart by the client's source address. It never contacts a real
// cloud.
//
//	fakecloud --provider digitalocean --listen 10.250.0.100:8080 \
//	    --token-file /etc/cloudvip/digitalocean.token \
//	    --droplet 10.250.0.1=201 --droplet 10.250.0.2=202 \
//	    --ip 203.0.113.50 --ip 2001:db8:50::1 --action-time 500ms
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/cloudvip/floatip/internal/fakecloud/dofake"
)

func main() {
	var (
		prov       = pflag.String("provider", "digitalocean", "which API to fake (digitalocean)")
		listen     = pflag.String("listen", "127.0.0.1:8080", "address to serve on")
		tokenFile  = pflag.String("token-file", "", "file holding the token the API accepts (required)")
		droplets   = pflag.StringArray("droplet", nil, "client-address=droplet-id, repeatable")
		ips        = pflag.StringArray("ip", nil, "reserved IP (v4 or v6), unassigned at start, repeatable")
		region     = pflag.String("region", "fra1", "region of the reserved IPs")
		actionTime = pflag.Duration("action-time", 0, "how long an assign action stays in-progress")
		latency    = pflag.Duration("latency", 0, "added to every answer")
		quiet      = pflag.Bool("quiet", false, "do not log requests")
	)
	pflag.Parse()
	if *prov != "digitalocean" {
		log.Fatalf("fakecloud: --provider=%s: only digitalocean is faked so far", *prov)
	}
	if *tokenFile == "" {
		log.Fatal("fakecloud: --token-file is required")
	}
	tok, err := os.ReadFile(*tokenFile)
	if err != nil {
		log.Fatalf("fakecloud: --token-file: %v", err)
	}
	f := dofake.New(strings.TrimSpace(string(tok)))
	f.ActionTime, f.Latency = *actionTime, *latency
	for _, d := range *droplets {
		addr, id, ok := strings.Cut(d, "=")
		n, err := strconv.Atoi(id)
		if !ok || err != nil {
			log.Fatalf("fakecloud: --droplet %q: want address=id", d)
		}
		f.AddDroplet(n, addr)
	}
	for _, ip := range *ips {
		f.AddIP(ip, *region, 0)
	}
	var h http.Handler = f
	if !*quiet {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := time.Now()
			f.ServeHTTP(w, r)
			fmt.Printf("%s %s %s %s %v [%s]\n", t.Format("15:04:05.000"), r.RemoteAddr, r.Method, r.URL.Path, time.Since(t).Round(time.Microsecond), f.Snapshot())
		})
	}
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("fakecloud: %s API and metadata on http://%s", *prov, *listen)
	log.Fatal(srv.ListenAndServe())
}
