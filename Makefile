# floatip: see README.md. `make test` needs root (network namespaces,
# installing the agent where Pacemaker's tools look for it).
GO      ?= go
BIN     := bin/floatip
OCFDIR  ?= /usr/lib/ocf/resource.d/cloudvip
DESTDIR ?=
export CGO_ENABLED := 0
# One version (internal/agent.Version): a tagged commit is its tag, any other
# build <version>~git<commit date>.<hash>, set with -ldflags -X.
BASE_VERSION := $(shell sed -n 's/^var Version = "\(.*\)"$$/\1/p' internal/agent/agent.go)
GIT_TAG  := $(shell git describe --exact-match --tags --match 'v*' 2>/dev/null)
GIT_HASH := $(shell git rev-parse --short=7 HEAD 2>/dev/null)
GIT_DATE := $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d 2>/dev/null)
VERSION  ?= $(if $(GIT_TAG),$(patsubst v%,%,$(GIT_TAG)),$(if $(GIT_HASH),$(BASE_VERSION)~git$(GIT_DATE).$(GIT_HASH),$(BASE_VERSION)))
# Reproducible: no paths, no build id, the commit's time in the packages.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH
BUILDFLAGS := -trimpath -buildvcs=false -ldflags='-s -w -buildid= -X github.com/cloudvip/floatip/internal/agent.Version=$(VERSION)'
NFPM   := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
DIST   ?= dist
ARCHES := amd64 arm64
# Checks only, never in go.mod (so the shipped binary never changes for them).
GOLANGCI_LINT := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

# Debian packages the tests, the demo and the benchmarks use.
DEBS := resource-agents pacemaker-cli-utils pcs crmsh libxml2-utils iproute2 time pacemaker corosync nftables keepalived ucarp frr \
	lintian rpm qemu-user-static man-db gcc libc6-dev

# The packages whose tests need no root (make unit, make race).
UNIT_PKGS := ./ocf/... ./internal/param/... ./internal/announce/... ./internal/agent/... ./internal/provider/... \
	./internal/fakecloud/... ./internal/runstate/...

# Every fuzz target, package:Target, one a line; make fuzz runs them one
# after another for FUZZTIME each (go test -fuzz takes one target at a time).
FUZZ_TARGETS := \
	ocf:FuzzEnv \
	internal/param:FuzzParam \
	internal/agent:FuzzParse \
	internal/agent:FuzzValidate \
	internal/agent:FuzzConfigFile \
	internal/provider:FuzzAPIError \
	internal/provider/digitalocean:FuzzDropletID \
	internal/provider/linode:FuzzIdentity \
	internal/provider/linode:FuzzShare \
	internal/provider/oci:FuzzSession \
	internal/provider/oci:FuzzVnics \
	internal/provider/oci:FuzzLookup \
	internal/runstate:FuzzRecords
FUZZTIME ?= 2m
FUZZFLAGS ?= -parallel 1

.PHONY: all deps build lab install uninstall test unit lint e2e bench bench-failover bench-bgp chaos soak demo clean package package-test
.PHONY: race fuzz bench-baseline idle-soak

all: build

# Installs the Debian packages when a tool is missing (root, Debian 12).
deps:
	@for c in ip ocf-tester crm_resource pcs crm xmllint /usr/bin/time keepalived ucarp /usr/lib/frr/bgpd lintian rpm qemu-aarch64-static man gcc; do \
		command -v $$c >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBS) >/dev/null; \
	fi

build:
	$(GO) build $(BUILDFLAGS) -o $(BIN) ./cmd/floatip

lab:
	$(GO) build -trimpath -ldflags='-s -w' -o bin/floatip-lab ./cmd/floatip-lab

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(OCFDIR)/floatip

uninstall:
	rm -f $(DESTDIR)$(OCFDIR)/floatip

# Everything CI runs. Root tests share namespaces' global state, hence -p 1.
test: deps install
	$(GO) vet ./...
	test -z "$$(gofmt -l cmd internal ocf)" || { gofmt -l cmd internal ocf; exit 1; }
	$(GO) run $(GOLANGCI_LINT) run --config .ci/golangci.yml ./...
	$(GO) test -p 1 -count=1 -timeout 30m ./...
	$(MAKE) race
	$(MAKE) fuzz FUZZTIME=2s
	$(MAKE) package-test

# golangci-lint v2 with .ci/golangci.yml (also in make test).
lint:
	$(GO) run $(GOLANGCI_LINT) run --config .ci/golangci.yml ./...

# Every test that needs no root (no namespaces, no Pacemaker): under a minute.
unit:
	$(GO) test -count=1 $(UNIT_PKGS)

# The same tests under the race detector (cgo: gcc and libc6-dev, which
# make deps installs; the rest of the build stays CGO_ENABLED=0).
race:
	CGO_ENABLED=1 $(GO) test -race -count=1 $(UNIT_PKGS)

# Each fuzz target in turn for FUZZTIME (make test: 2s each; .ci/fuzz). A
# failing input lands in the package's testdata/fuzz/<Target>/: fix the
# code and keep the file as a regression seed (go test runs every seed).
fuzz:
	GO=$(GO) FUZZFLAGS='$(FUZZFLAGS)' .ci/fuzz $(FUZZTIME) $(FUZZ_TARGETS)

# floatip against ocf:heartbeat:IPaddr2 in one namespace (root). Never in CI.
bench: deps build
	$(GO) test -p 1 -count=1 -run '^$$' -bench . -benchtime=$(or $(BENCHTIME),200x) ./cmd/floatip/ | tee testdata/bench-last.txt

# The monitor of this tree against the floatip of BASE (a commit), side by
# side in one loop: what a change adds to every action.
BASE ?= HEAD~1
bench-baseline: deps
	rm -rf $(DIST)/baseline && git worktree add --detach $(DIST)/baseline $(BASE)
	cd $(DIST)/baseline && CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o ../floatip-baseline ./cmd/floatip
	git worktree remove --force $(DIST)/baseline
	FLOATIP_BENCH_BASELINE=$(abspath $(DIST))/floatip-baseline $(GO) test -p 1 -count=1 -run '^$$' -bench 'Monitor|Binary|PeakRSS' \
		-benchtime=$(or $(BENCHTIME),200x) -v ./cmd/floatip/ | grep -E 'baseline|Benchmark|ratio'

# The cluster lab (root): 3 Pacemaker + Corosync nodes in namespaces, a
# client and a fake cloud; a node holding the VIP is killed. FAST=1: the
# README's fast-failover timing (also for bench-failover and idle-soak).
demo: deps install lab
	bin/floatip-lab demo --svg failover.svg $(if $(FAST),--fast) $(DEMOFLAGS)

# One failover per scenario and provider: Pacemaker in one shared lab, then
# keepalived (3 nodes) and ucarp (2 nodes) driving floatip, and a Linode BGP
# data center (FRR route server) (also in make test).
e2e: deps install
	$(GO) test -count=1 -v -run 'TestE2E|TestFastFailover|TestChaos|TestKeepalived|TestUcarp|TestBGP' -timeout 30m ./internal/lab

# 20 hard-kill failovers per configuration, floatip against IPaddr2. Never in CI.
bench-failover: deps install lab
	bin/floatip-lab bench-failover $(if $(FAST),--fast) $(BENCHFLAGS)
	bin/floatip-lab timing $(TIMINGFLAGS)

# Idle soaks under load (a CPU hog on every core, then an I/O-heavy job)
# counting membership changes and resource moves, per Corosync setting.
idle-soak: deps install lab
	bin/floatip-lab idle $(if $(FAST),--fast) $(IDLEFLAGS)

# Hard-kill failovers in a Linode BGP data center (an FRR route server in
# the lab): bgp mode with hold 9 s, 3 s and BFD, share mode (ARP) beside
# them, 10 each. Never in CI.
bench-bgp: deps install lab
	bin/floatip-lab bgp $(BGPFLAGS)

# Cloud faults during failovers (every scenario, DigitalOcean, OCI, Linode)
# and the two-node split brain with takeback_guard off and on. Never in CI.
chaos: deps install lab
	bin/floatip-lab chaos $(CHAOSFLAGS)

# 100 hard-kill failovers rotating providers and victims (the DC too),
# sampled every 200 ms. Never in CI.
soak: deps install lab
	bin/floatip-lab soak $(SOAKFLAGS)

# .deb and .rpm for amd64 and arm64 (nfpm, .ci/nfpm.yaml) with SHA256SUMS.
package:
	rm -rf $(DIST) && mkdir -p $(DIST)/man $(DIST)/doc
	for a in $(ARCHES); do GOOS=linux GOARCH=$$a $(GO) build $(BUILDFLAGS) -o $(DIST)/$$a/floatip ./cmd/floatip || exit 1; done
	for p in ocf_cloudvip_floatip.7 floatip.8; do \
		sed '1s/"floatip $(BASE_VERSION)"/"floatip $(VERSION)"/' testdata/man/$$p | gzip -9n > $(DIST)/man/$$p.gz; done
	gzip -9n < README.md > $(DIST)/doc/README.md.gz
	printf '%s\n' 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' 'Upstream-Name: floatip' \
		'Source: https://github.com/cloudvip/floatip' '' 'Files: *' 'Copyright: 2026 the floatip authors' 'License: Apache-2.0' \
		' On Debian systems the full text of the Apache License 2.0 is in' ' /usr/share/common-licenses/Apache-2.0.' > $(DIST)/doc/copyright
	printf 'floatip (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- floatip maintainers <floatip@example.org>  %s\n' \
		'$(VERSION)' '$(GIT_HASH)' "$$(TZ=UTC date -d @$(SOURCE_DATE_EPOCH) '+%a, %d %b %Y %H:%M:%S +0000')" | gzip -9n > $(DIST)/doc/changelog.gz
	for a in $(ARCHES); do \
		sed -e 's|$${DIST}|$(DIST)|g' -e "s|\$${ARCH}|$$a|g" -e 's|$${VERSION}|$(VERSION)|g' .ci/nfpm.yaml > $(DIST)/nfpm-$$a.yaml && \
		for f in deb rpm; do $(GO) run $(NFPM) package --config $(DIST)/nfpm-$$a.yaml --packager $$f --target $(DIST)/ || exit 1; done; done
	cd $(DIST) && sha256sum *.deb *.rpm > SHA256SUMS && cat SHA256SUMS

# The packages installed, upgraded and removed on this machine (root), then
# make install again: run last by make test.
package-test:
	$(GO) test -tags packagetest -count=1 -v -timeout 10m ./internal/pkgtest

clean:
	rm -rf bin dist
