# tickline — build, test and measure. `make help` lists the targets.
GO        ?= go
BIN       := bin/tickline
PKGS      := ./...
# A count, not a duration: a duration -fuzztime races Go's fuzz coordinator at the deadline
# and fails with a bare "context deadline exceeded" (golang/go#75804, unfixed in go1.26).
FUZZTIME  ?= 500000x
STATICCHECK_VERSION := v0.8.2

.PHONY: help build test race lint fuzz bench demo ci tools clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/tickline
	$(GO) build -o $(BIN) ./cmd/tickline

test: ## run every test with the race detector (the README's test command)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

race: test ## alias of test: tests always run with -race

lint: tools ## go vet, gofmt and staticcheck
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$$($(GO) env GOPATH)/bin/staticcheck $(PKGS)

fuzz: ## run every fuzz target for FUZZTIME executions each
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run XXX -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

bench: build ## run the benchmark harnesses, write bench/results/ and the README baseline block
	$(GO) run ./bench/cmd/benchrun -out bench/results -readme README.md

demo: build ## run the whole pipeline locally on embedded defaults
	$(BIN) demo

tools: ## install staticcheck (pinned)
	@test -x $$($(GO) env GOPATH)/bin/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

ci: lint test ## what .ci/run runs after installing system packages

clean:
	rm -rf bin
