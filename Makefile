# floatip: see README.md. `make test` needs root (network namespaces,
# installing the agent where Pacemaker's tools look for it).
GO      ?= go
BIN     := bin/floatip
OCFDIR  ?= /usr/lib/ocf/resource.d/cloudvip
DESTDIR ?=
export CGO_ENABLED := 0
# Checks only, never in go.mod (so the shipped binary never changes for them).
GOLANGCI_LINT := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

# Debian packages the tests, the demo and the benchmarks use.
DEBS := resource-agents pacemaker-cli-utils pcs crmsh libxml2-utils iproute2 time pacemaker corosync nftables keepalived ucarp

.PHONY: all deps build lab install uninstall test unit lint e2e bench bench-failover demo clean

all: build

# Installs the Debian packages when a tool is missing (root, Debian 12).
deps:
	@for c in ip ocf-tester crm_resource pcs crm xmllint /usr/bin/time keepalived ucarp; do \
		command -v $$c >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBS) >/dev/null; \
	fi

build:
	$(GO) build -trimpath -ldflags='-s -w' -o $(BIN) ./cmd/floatip

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

# golangci-lint v2 with .ci/golangci.yml (also in make test).
lint:
	$(GO) run $(GOLANGCI_LINT) run --config .ci/golangci.yml ./...

# Every test that needs no root (no namespaces, no Pacemaker): under a minute.
unit:
	$(GO) test -count=1 ./ocf/... ./internal/param/... ./internal/announce/... ./internal/agent/... ./internal/provider/... ./internal/fakecloud/... ./internal/runstate/...

# floatip against ocf:heartbeat:IPaddr2 in one namespace (root). Never in CI.
bench: deps build
	$(GO) test -p 1 -count=1 -run '^$$' -bench . -benchtime=$(or $(BENCHTIME),200x) ./cmd/floatip/ | tee testdata/bench-last.txt

# The cluster lab (root): 3 Pacemaker + Corosync nodes in namespaces, a
# client and a fake cloud; a node holding the VIP is killed.
demo: deps install lab
	bin/floatip-lab demo --svg failover.svg $(DEMOFLAGS)

# One failover per scenario and provider: Pacemaker in one shared lab, then
# keepalived (3 nodes) and ucarp (2 nodes) driving floatip (also in make test).
e2e: deps install
	$(GO) test -count=1 -v -run 'TestE2E|TestKeepalived|TestUcarp' -timeout 30m ./internal/lab

# 20 hard-kill failovers per configuration, floatip against IPaddr2. Never in CI.
bench-failover: deps install lab
	bin/floatip-lab bench-failover $(BENCHFLAGS)

clean:
	rm -rf bin
