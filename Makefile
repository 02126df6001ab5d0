# tether: build, demo, test, generate. Every target installs what it needs.

GO      ?= go
BIN     := $(CURDIR)/bin
PLUGINS := $(BIN)/plugins
TOOLS   := $(BIN)/tools

BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
STATICCHECK_VERSION        := v0.8.2

# The repository's other modules, each vetted and staticchecked by lint. The
# tether module requires none of them (check-gomod).
MODULES := compat test/kubeenv test/kubecluster test/downstream

.PHONY: all build demo test node-deps test-grpc test-kube test-downstream kube-binaries kube-up bench-kube test-short generate check-generated tools lint check-gomod bench bench-fast bench-obs bench-catalog bench-report bench-compat fuzz clean

all: build

## build: the tether CLI, the example plugins and hosts, into ./bin
build:
	@mkdir -p $(PLUGINS)
	$(GO) build -buildvcs=auto -o $(BIN)/tether ./cmd/tether
	$(GO) build -o $(PLUGINS)/greeter-en ./examples/greeter/plugins/greeter-en
	$(GO) build -o $(PLUGINS)/greeter-fr ./examples/greeter/plugins/greeter-fr
	$(GO) build -o $(PLUGINS)/greeter-v2 ./examples/greeter/plugins/greeter-v2
	$(GO) build -o $(PLUGINS)/greeter-counter ./examples/multi/plugin
	$(GO) build -o $(BIN)/greeter-host ./examples/greeter/host
	$(GO) build -o $(BIN)/greeter-host-v2 ./examples/greeter/host-v2
	$(GO) build -o $(BIN)/multi-host ./examples/multi/host
	$(GO) build -o $(PLUGINS)/kv ./examples/kv/plugin
	$(GO) build -o $(BIN)/kv-host ./examples/kv/host
	$(GO) build -o $(PLUGINS)/driver ./examples/driver/plugin
	$(GO) build -o $(BIN)/driver-host ./examples/driver/host

## demo: build everything and run the greeter host against both plugins
demo: build
	$(BIN)/greeter-host $(PLUGINS)/greeter-en $(PLUGINS)/greeter-fr

## test: every test, with the race detector, after checking generated code is current and lint is clean
## (the Kubernetes binaries are built first, once per machine: the kube tests run a real control plane);
## the root and compat modules run twice: hosts on the fast local transport (the default), then on gRPC
test: check-generated lint kube-binaries node-deps
	$(GO) test -race -count=1 -timeout 20m ./...
	cd compat && $(GO) test -race -count=1 -timeout 10m ./...
	$(MAKE) test-grpc
	$(MAKE) test-downstream
	$(MAKE) test-kube

## node-deps: the npm packages of the Node.js example plugin (examples/greeter/plugins/greeter-node),
## exactly as its package-lock.json pins them; a no-op while they are installed and the lock is unchanged
NODE_PLUGIN := examples/greeter/plugins/greeter-node
node-deps: $(NODE_PLUGIN)/node_modules/.package-lock.json
$(NODE_PLUGIN)/node_modules/.package-lock.json: $(NODE_PLUGIN)/package.json $(NODE_PLUGIN)/package-lock.json
	cd $(NODE_PLUGIN) && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

## test-grpc: the root and compat modules' tests with the fast transport off (TETHER_TRANSPORT=grpc)
test-grpc: node-deps
	TETHER_TRANSPORT=grpc $(GO) test -race -count=1 -timeout 20m ./...
	cd compat && TETHER_TRANSPORT=grpc $(GO) test -race -count=1 -timeout 10m ./...

## test-downstream: a module outside this repository requires tether (served from a local module
## proxy), lists its module graph, builds a host and a plugin, and installs the CLI at that version
test-downstream:
	cd test/downstream && $(GO) test -race -count=1 -timeout 10m ./...

## test-kube: the Kubernetes test environment's tests, then the kube runtime's tests against a real
## control plane (test/kubecluster); builds the control plane first
test-kube: kube-binaries
	cd test/kubeenv && $(GO) test -race -count=1 -timeout 15m ./...
	cd test/kubecluster && $(GO) test -race -count=1 -timeout 15m ./...

## kube-binaries: build etcd and the Kubernetes control plane once into the user cache directory
kube-binaries:
	cd test/kubeenv && $(GO) run ./cmd/kube-binaries

# The images kube-up's node agent runs: the example greeter plugins, as docs/kubernetes.md's quick
# start names them.
KUBE_IMAGES := tether.test/greeter-en:v1=$(PLUGINS)/greeter-en tether.test/greeter-fr:v1=$(PLUGINS)/greeter-fr \
	tether.test/greeter-v2:v2=$(PLUGINS)/greeter-v2

## kube-up: start a control plane on loopback with a node agent running the example plugins' images,
## and leave it running; builds bin/tether, links bin/kubectl (the same version) and prints KUBECONFIG
## (docs/kubernetes.md's quick start)
kube-up: kube-binaries
	@mkdir -p $(PLUGINS)
	$(GO) build -buildvcs=auto -o $(BIN)/tether ./cmd/tether
	$(GO) build -o $(PLUGINS)/greeter-en ./examples/greeter/plugins/greeter-en
	$(GO) build -o $(PLUGINS)/greeter-fr ./examples/greeter/plugins/greeter-fr
	$(GO) build -o $(PLUGINS)/greeter-v2 ./examples/greeter/plugins/greeter-v2
	cd test/kubeenv && $(GO) run ./cmd/kube-binaries -link-kubectl $(BIN)/kubectl
	cd test/kubeenv && $(GO) run ./cmd/kube-up $(addprefix -image ,$(KUBE_IMAGES))

## bench-kube: the kube runtime against a real control plane: calls/s over 1, 3 and 5 pods, and the time
## from a slice change to the first call on the new pod, over 20 changes (a few minutes)
bench-kube: kube-binaries
	cd test/kubecluster && $(GO) test -run '^$$' -bench BenchmarkKube -benchtime 1x -count 1 -timeout 20m .

## bench: the benchmarks, tether beside raw grpc-go (about 2 minutes on 2 cores)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s -count 3 -timeout 20m ./bench/

## bench-fast: the fast local transport beside the floor (a raw Unix-socket ping-pong), raw grpc-go and
## tether over gRPC, all sides of each benchmark paired in one run (about 5 minutes on 2 loaded cores)
bench-fast:
	$(GO) test -run '^$$' -count 3 ./bench/ -bench '^BenchmarkFastUnaryLatency$$' -benchtime 20000x
	$(GO) test -run '^$$' -count 3 ./bench/ -bench '^BenchmarkFastThroughput16$$' -benchtime 64000x
	$(GO) test -run '^$$' -count 3 ./bench/ -bench '^BenchmarkFast(LargeEcho1MiB|Stream64KiB)$$' -benchtime 320x
	$(GO) test -run '^$$' -count 3 ./bench/ -bench '^BenchmarkFastCallback$$' -benchtime 5000x
	$(GO) test -run '^$$' -count 3 ./bench/ -bench '^BenchmarkFastStartToFirstCall$$' -benchtime 50x
	$(GO) test -run '^$$' -count 3 ./bench/ -bench '^BenchmarkFastIdleFootprint$$' -benchtime 1x

## bench-obs: tracing on and metrics on, each beside both off and raw grpc-go, all sides paired in one run
bench-obs:
	$(GO) test -run '^$$' -count 3 ./bench/ -bench '^BenchmarkObsUnaryLatency$$' -benchtime 20000x
	$(GO) test -run '^$$' -count 3 ./bench/ -bench '^BenchmarkObsThroughput16$$' -benchtime 64000x
	$(GO) test -run '^$$' -count 3 ./bench/ -bench '^BenchmarkObsCallback$$' -benchtime 5000x

## bench-catalog: time and host memory to load 100 plugins, beside bare exec + grpc-go
bench-catalog:
	$(GO) test -run '^$$' -bench Load100 -benchtime 5x -count 1 ./catalog/

## bench-report: the same measurements as a Markdown table with ratios
bench-report:
	$(GO) run ./bench/cmd/benchreport

## bench-compat: tether beside hashicorp/go-plugin (the separate compat module)
bench-compat:
	cd compat && $(GO) test -run '^$$' -bench . -benchtime 1s -count 3 -timeout 20m .

## fuzz: a short run of each fuzz target
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseHandshake -fuzztime 30s .
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/logfwd
	$(GO) test -run '^$$' -fuzz FuzzParseManifest -fuzztime 30s ./discover
	$(GO) test -run '^$$' -fuzz FuzzParseManifest -fuzztime 30s ./daemon
	$(GO) test -run '^$$' -fuzz FuzzDecodeFrame -fuzztime 30s ./internal/fastrpc

## generate: regenerate protobuf code from proto/ and examples/*/proto
generate: tools
	PATH=$(TOOLS):$$PATH $(TOOLS)/buf generate

## check-generated: fail when committed generated code differs from what generate makes
check-generated: generate
	@if [ -n "$$(git status --porcelain -- '*.pb.go')" ]; then \
		echo "generated protobuf code is stale: run 'make generate' and commit the result"; \
		git status --porcelain -- '*.pb.go'; exit 1; fi

tools: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc

$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) GOOS= GOARCH= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## lint: gofmt, go vet and staticcheck in every module, the root package's light dependencies and
## the root go.mod (check-gomod); then no Linux-only mechanism in a shared file of any module (osleak), and the
## tether module and compat built and vetted for linux, darwin, windows and freebsd on amd64 and
## arm64, staticchecked for each OS on amd64 (.ci/lint-os; arm64 shares every file with amd64)
lint: check-gomod $(TOOLS)/staticcheck
	@if $(GO) list -deps . | grep -q '^k8s.io/'; then echo "the root package must not depend on k8s.io modules"; exit 1; fi
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	@for m in $(MODULES); do \
		echo "cd $$m && vet && staticcheck"; \
		(cd $$m && $(GO) vet ./... && $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...) || exit 1; \
	done
	@for m in . $(MODULES); do echo "osleak $$m"; $(GO) run ./internal/tools/osleak $$m || exit 1; done
	GO=$(GO) .ci/lint-os $(TOOLS)/staticcheck

## check-gomod: the root go.mod is tidy, has no replace directive (go install MODULE@VERSION refuses
## a module with one) and requires no module of this repository (downstream builds could not resolve it)
check-gomod:
	@if $(GO) mod edit -print | grep -n '=>'; then \
		echo "go.mod: no replace directive allowed: go install github.com/tetherplug/tether/cmd/tether@VERSION refuses a module whose go.mod has one"; exit 1; fi
	@if $(GO) mod edit -print | grep -v '^module ' | grep -n 'github.com/tetherplug/tether'; then \
		echo "go.mod: the tether module must not require a module of this repository (put tests that need one in a module of their own under test/)"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod: not tidy: run 'go mod tidy'"; exit 1; }

clean:
	rm -rf $(BIN)
